"""What the benchmark scripts share: numpy's BLAS threads, a median timer, peak memory by
tracemalloc in an untimed run, and the header line that says where and how a run was measured.

    from common import blas_threads, header, median_seconds, peak_mib, timed
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


def blas_threads(threads: int) -> str:
    """Set the thread count of the OpenBLAS that numpy's wheel ships (unless ``threads`` is 0) and
    describe it; other BLAS builds are left alone."""
    names = (("scipy_openblas_set_num_threads64_", "scipy_openblas_get_num_threads64_"),
             ("openblas_set_num_threads", "openblas_get_num_threads"))
    for path in glob.glob(os.path.join(os.path.dirname(np.__file__) + ".libs", "*openblas*")):
        try:
            lib = ctypes.CDLL(path)  # the copy numpy has loaded already
        except OSError:
            continue
        for set_name, get_name in names:
            setter, getter = getattr(lib, set_name, None), getattr(lib, get_name, None)
            if setter is not None and getter is not None:
                if threads > 0:
                    setter(threads)
                count = getter()
                return f"OpenBLAS, {count} thread{'s' if count != 1 else ''}"
    return "BLAS threads unknown, not set"


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


def header(blas: str, peers: Sequence[str] = ("torch", "jax")) -> str:
    """Platform, Python, numpy and its BLAS, the installed peers' versions (PyTorch's threads when
    it is imported already), the garbage collector's state and the date, on one line."""
    parts = [platform.platform(), f"Python {platform.python_version()}",
             f"numpy {np.__version__} ({blas})"]
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
