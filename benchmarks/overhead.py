"""Per-op overhead: a chain of elementwise ops (mul, add, tanh in turn), forward and backward.

Prints microseconds per op (forward + backward, median over repeats) for this library's Tensor,
for the chain's gradient compiled by ``jit(grad(...))`` (on numpy arrays; its one-time tracing and
compiling is printed apart), for the same chain written as plain numpy calls (forward, then the
hand-written backward), and,
when they are installed, for PyTorch (CPU, one thread) and HIPS autograd, all measured in this one
run. Next to each time, the peak memory of one more chain run under tracemalloc, untimed (n/a for
PyTorch, which allocates outside tracemalloc's sight).

    python benchmarks/overhead.py            # 200 ops on (4,), 100,000 on (), 200 on (1000, 1000)
    python benchmarks/overhead.py --quick    # fewer repeats
    python benchmarks/overhead.py --tune-malloc      # glibc keeps freed memory (see common.py)
    python benchmarks/overhead.py --blas-threads 0   # numpy's OpenBLAS as it comes (default 1)
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from common import (
    add_blas_option,
    add_malloc_option,
    blas_threads,
    header,
    paired_ratio,
    peak_mib,
    tune_malloc,
    turns,
)

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from adcore import ops
from reverse import Tensor, grad, jit

SCALE, SHIFT = 0.9, 0.1


def chain(y, n: int, tanh: Callable):
    """The chain itself, for any library: mul, add, tanh in turn."""
    for i in range(n):
        k = i % 3
        y = y * SCALE if k == 0 else y + SHIFT if k == 1 else tanh(y)
    return y


def chain_ours(x0: np.ndarray, n: int) -> Callable[[], None]:
    def run() -> None:
        chain(Tensor(x0, requires_grad=True), n, Tensor.tanh).sum().backward()
    return run


def chain_jit(x0: np.ndarray, n: int) -> Callable[[], None]:
    """The chain's gradient compiled by jit: traced and compiled here, before the timing (the time
    that takes is printed apart)."""
    step = jit(grad(lambda x: ops.sum(chain(x, n, ops.tanh))))
    start = time.perf_counter()
    step(x0)
    print(f"  (jit: tracing and compiling the {n}-op chain's gradient took "
          f"{time.perf_counter() - start:.2f} s, once)")
    return lambda: step(x0)


def chain_numpy(x0: np.ndarray, n: int) -> Callable[[], None]:
    """The same chain as plain numpy calls: forward, keeping what backward needs, then backward."""
    def run() -> None:
        saved = []
        y = x0
        for i in range(n):
            k = i % 3
            if k == 0:
                y = np.multiply(y, SCALE)
            elif k == 1:
                y = np.add(y, SHIFT)
            else:
                y = np.tanh(y)
                saved.append(y)
        g = np.ones_like(y)
        for i in reversed(range(n)):
            k = i % 3
            if k == 0:
                g = np.multiply(g, SCALE)
            elif k == 2:
                t = saved.pop()
                g = np.multiply(g, np.subtract(1.0, np.multiply(t, t)))
    return run


def chain_torch(x0: np.ndarray, n: int) -> Callable[[], None] | None:
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(1)

    def run() -> None:
        chain(torch.tensor(x0, requires_grad=True), n, torch.tanh).sum().backward()
    return run


def chain_autograd(x0: np.ndarray, n: int) -> Callable[[], None] | None:
    try:
        import autograd
        import autograd.numpy as anp
    except ImportError:
        return None

    g = autograd.grad(lambda x: anp.sum(chain(x, n, anp.tanh)))
    return lambda: g(x0)


def report(title: str, x0: np.ndarray, n: int, repeats: int) -> None:
    print(f"\n{title}: chain of {n} ops on shape {x0.shape} {x0.dtype}, forward + backward, "
          f"median of {repeats} taking turns; ratios are medians of each repeat's ratio; then the "
          f"peak memory of one more chain of each under tracemalloc, untimed")
    # (name, run, whether tracemalloc sees its allocations: PyTorch allocates outside it)
    runs = [("plain numpy calls (baseline)", chain_numpy(x0, n), True)]
    missing = []
    for name, make, traced in [("this library (Tensor)", chain_ours, True),
                               ("this library jit(grad), compiled", chain_jit, True),
                               ("PyTorch CPU", chain_torch, False),
                               ("HIPS autograd", chain_autograd, True)]:
        run = make(x0, n)
        if run is None:
            missing.append(name)
        else:
            runs.append((name, run, traced))
    times = turns([run for _, run, _ in runs], repeats)
    peaks = [peak_mib(run) if traced else None for _, run, traced in runs]
    torch_times = next((t for (name, _, _), t in zip(runs, times) if name == "PyTorch CPU"), None)
    for (name, _, _), ts, mib in zip(runs, times, peaks):
        us = statistics.median(ts) / n * 1e6
        memory = "n/a" if mib is None else f"{mib:.3f} MiB"
        vs_torch = "" if torch_times is None else f"{paired_ratio(ts, torch_times):5.2f} x PyTorch"
        print(f"  {name:32s} {us:9.2f} us/op {memory:>14s}   "
              f"{paired_ratio(ts, times[0]):5.2f} x numpy   {vs_torch}")
    for name in missing:
        print(f"  {name}: not installed")


def import_peers() -> None:
    """Import every installed peer before measuring, so that all chains run with the same heap (the
    garbage collector's full passes cost more the more objects a process holds); PyTorch on one
    thread."""
    for name in ("torch", "autograd"):
        try:
            module = __import__(name)
        except ImportError:
            continue
        if name == "torch":
            module.set_num_threads(1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats")
    add_blas_option(parser)
    add_malloc_option(parser)
    args = parser.parse_args()
    malloc = tune_malloc(args.tune_malloc)
    import_peers()
    print(header(blas_threads(args.blas_threads), peers=("torch", "autograd"), malloc=malloc))
    report("Small-array chain", np.full(4, 0.5, dtype=np.float32), 200, 50 if args.quick else 300)
    report("Scalar chain", np.array(0.5, dtype=np.float32), 100_000, 3 if args.quick else 7)
    report("Large-array chain", np.full((1000, 1000), 0.5, dtype=np.float32), 200,
           2 if args.quick else 7)


if __name__ == "__main__":
    main()
