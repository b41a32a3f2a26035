"""One training step (forward, backward, update) of micrograd's demo MLP: Value vs micrograd.

Both engines build the same 2-16-16-1 MLP (same initial weights) and take steps on the same 100
two-moons points; prints the median seconds per step over repeats, with the garbage collector on
(the default) and off, the ratio to micrograd measured in the same run, and the peak memory of one
more step under tracemalloc (untimed, with the collector in the same state). numpy's OpenBLAS runs
on one thread, as in the other scripts (the steps are scalar Python arithmetic).

    python benchmarks/value_mlp.py [--repeats 5]
"""
from __future__ import annotations

import argparse
import functools
import gc
import random
import sys
from pathlib import Path

from common import blas_threads, header, median_seconds, peak_mib

root = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(root), str(root / "examples")]

from micrograd_demo import MLP, make_moons, train_step


def micrograd_step():
    try:
        from micrograd.engine import Value as MValue
        from micrograd.nn import MLP as MMLP
    except ImportError:
        return None

    def step(model, X, y, lr):
        scores = [model([MValue(a), MValue(b)]) for a, b in X]
        losses = [(1 + -yi * si).relu() for yi, si in zip(y, scores)]
        loss = sum(losses) * (1.0 / len(losses)) + 1e-4 * sum(p * p for p in model.parameters())
        model.zero_grad()
        loss.backward()
        for p in model.parameters():
            p.data -= lr * p.grad
    return MMLP, step


def measure(make_model, step, X, y, repeats: int, gc_on: bool) -> tuple[float, float]:
    """(median seconds per step, peak MiB of one more step): the collector's debris collected
    before each step, the collector enabled or not during it."""
    random.seed(1337)
    model = make_model()

    def run() -> None:
        step(model, X, y, 0.1)

    run()  # warm up
    (gc.enable if gc_on else gc.disable)()
    try:
        seconds = median_seconds(run, repeats, warmup=0, collect=True)
        mib = peak_mib(run)
    finally:
        gc.enable()
    return seconds, mib


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    X, y = make_moons()
    print(header(blas_threads(1), peers=("micrograd",)))
    print(f"MLP 2-16-16-1, {len(X)} points, median of {args.repeats} steps")
    peer = micrograd_step()
    for gc_on in (True, False):
        ours, ours_mib = measure(functools.partial(MLP, 2, [16, 16, 1]), train_step, X, y,
                                 args.repeats, gc_on)
        line = (f"  gc {'on ' if gc_on else 'off'}: this library (Value) {ours:.3f} s/step "
                f"{ours_mib:.1f} MiB")
        if peer is not None:
            make_theirs, step = peer
            theirs, theirs_mib = measure(functools.partial(make_theirs, 2, [16, 16, 1]), step,
                                         X, y, args.repeats, gc_on)
            line += (f"   micrograd {theirs:.3f} s/step {theirs_mib:.1f} MiB   "
                     f"ratio {ours / theirs:.2f}")
        else:
            line += "   (micrograd not installed: pip install micrograd)"
        print(line)


if __name__ == "__main__":
    main()
