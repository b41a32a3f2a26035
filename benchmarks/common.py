"""What the benchmark scripts share: numpy's BLAS threads, glibc's malloc thresholds, a median
timer (alone, or taking turns between several runs), peak memory by tracemalloc in an untimed run,
and the header line that says where and how a run was measured.

    from common import blas_threads, header, median_seconds, peak_mib, timed, turns
"""
from __future__ import annotations

import argparse
import ctypes
import datetime
import gc
import glob
import importlib.metadata
import os
import platform
import statistics
import sys
import time
import tracemalloc
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

MIB = 1 << 20


def add_blas_option(parser: argparse.ArgumentParser) -> None:
    """The ``--blas-threads N`` option (default 1; 0 leaves OpenBLAS's own choice)."""
    parser.add_argument("--blas-threads", type=int, default=1,
                        help="threads of numpy's OpenBLAS (default 1, as PyTorch is run here; "
                        "0 leaves OpenBLAS's own choice)")


def blas_threads(threads: int, folder: str | None = None, owner: str = "") -> str:
    """Set the thread count of the OpenBLAS that numpy's wheel ships, or of the one in ``folder``
    (scipy's, say; ``owner`` names it), unless ``threads`` is 0, and describe it; other BLAS
    builds are left alone."""
    names = (("scipy_openblas_set_num_threads64_", "scipy_openblas_get_num_threads64_"),
             ("scipy_openblas_set_num_threads", "scipy_openblas_get_num_threads"),
             ("openblas_set_num_threads", "openblas_get_num_threads"))
    folder = folder or os.path.dirname(np.__file__) + ".libs"
    for path in glob.glob(os.path.join(folder, "*openblas*")):
        try:
            lib = ctypes.CDLL(path)  # the copy its package has loaded (or will load) already
        except OSError:
            continue
        for set_name, get_name in names:
            setter, getter = getattr(lib, set_name, None), getattr(lib, get_name, None)
            if setter is not None and getter is not None:
                if threads > 0:
                    setter(threads)
                count = getter()
                return f"{owner}OpenBLAS, {count} thread{'s' if count != 1 else ''}"
    return f"{owner}BLAS threads unknown, not set"


def import_torch() -> Any:
    """PyTorch on one thread, or None when it is not installed (the peers are optional)."""
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(1)
    return torch


def add_malloc_option(parser: argparse.ArgumentParser) -> None:
    """The ``--tune-malloc`` option: keep freed memory in the process (see ``tune_malloc``)."""
    parser.add_argument("--tune-malloc", action="store_true",
                        help="set glibc's mmap and trim thresholds to 64 and 256 MiB, so that "
                        "freed arrays are reused instead of returned to the system (applies to "
                        "every implementation in the run)")


def tune_malloc(tune: bool) -> str:
    """With ``tune``, set glibc's M_MMAP_THRESHOLD to 64 MiB and M_TRIM_THRESHOLD to 256 MiB for
    this process (what MALLOC_MMAP_THRESHOLD_=67108864 MALLOC_TRIM_THRESHOLD_=268435456 in the
    environment do). By default glibc hands the top of its heap back to the system once more than
    twice the largest recently freed block is free there, so a loop whose temporaries of a few
    hundred KiB are alive together faults their pages in again on every pass. Describes the
    setting, for the header line."""
    if not tune:
        return "glibc malloc defaults"
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return "malloc thresholds not set (no glibc)"
    m_trim_threshold, m_mmap_threshold = -1, -3
    ok = libc.mallopt(m_mmap_threshold, 64 << 20) and libc.mallopt(m_trim_threshold, 256 << 20)
    return "glibc mmap/trim thresholds 64/256 MiB" if ok else "mallopt refused the thresholds"


def turns(runs: Sequence[Callable[[], Any]], repeats: int, warmup: int = 1) -> list[list[float]]:
    """Seconds of ``repeats`` calls of each run, the runs taking turns within each repeat (so that
    a change in the machine's load reaches all of them alike), after ``warmup`` untimed rounds."""
    for _ in range(warmup):
        for run in runs:
            run()
    times: list[list[float]] = [[] for _ in runs]
    for _ in range(repeats):
        for run, out in zip(runs, times):
            out.append(timed(run))
    return times


def paired_ratio(times: Sequence[float], base: Sequence[float]) -> float:
    """The median over repeats of times[r] / base[r]: the steadiest ratio on a shared machine."""
    return statistics.median(t / b for t, b in zip(times, base))


def timed(run: Callable[[], Any], collect: bool = False) -> float:
    """Seconds for one call of ``run``; with ``collect``, the garbage collector's debris of earlier
    runs is collected first (untimed)."""
    if collect:
        gc.collect()
    start = time.perf_counter()
    run()
    return time.perf_counter() - start


def median_seconds(run: Callable[[], Any], repeats: int, warmup: int = 1,
                   collect: bool = False) -> float:
    """Median seconds of ``repeats`` calls of ``run``, after ``warmup`` untimed calls."""
    for _ in range(warmup):
        run()
    return statistics.median(timed(run, collect) for _ in range(repeats))


def peak_mib(run: Callable[[], Any]) -> float:
    """MiB: tracemalloc's peak during one untimed call of ``run``, above what it counted at the
    start. Sees what numpy and Python allocate, not PyTorch's or XLA's own allocators."""
    gc.collect()
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        run()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return (peak - base) / MIB


def header(blas: str, peers: Sequence[str] = ("torch", "jax"), malloc: str = "") -> str:
    """Platform, Python, numpy and its BLAS, the installed peers' versions (PyTorch's threads when
    it is imported already), the malloc setting, the garbage collector's state and the date, on
    one line."""
    parts = [platform.platform(), f"Python {platform.python_version()}",
             f"numpy {np.__version__} ({blas})"]
    if malloc:
        parts.append(malloc)
    for name in peers:
        try:
            version = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
        text = f"{name} {version}"
        if name == "torch" and "torch" in sys.modules:
            threads = sys.modules["torch"].get_num_threads()
            text += f" ({threads} thread{'s' if threads != 1 else ''})"
        parts.append(text)
    parts.append(f"gc {'on' if gc.isenabled() else 'off'}")
    parts.append(f"{datetime.datetime.now():%Y-%m-%d %H:%M}")
    return ", ".join(parts)
