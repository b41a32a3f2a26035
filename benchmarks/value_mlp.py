"""One training step (forward, backward, update) of micrograd's demo MLP: Value vs micrograd.

Both engines build the same 2-16-16-1 MLP (same initial weights) and take steps on the same 100 two-moons
points; prints the median seconds per step over repeats, with the garbage collector on (the default)
and off, and the ratio to micrograd measured in the same run.

    python benchmarks/value_mlp.py [--repeats 5]
"""
from __future__ import annotations

import argparse
import gc
import platform
import random
import statistics
import sys
import time
from pathlib import Path

root = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(root), str(root / "examples")]

from micrograd_demo import MLP, make_moons, train_step  # noqa: E402


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


def seconds_per_step(make_model, step, X, y, repeats: int, collect: bool) -> float:
    random.seed(1337)
    model = make_model()
    step(model, X, y, 0.1)  # warm up
    times = []
    (gc.enable if collect else gc.disable)()
    try:
        for _ in range(repeats):
            gc.collect()
            start = time.perf_counter()
            step(model, X, y, 0.1)
            times.append(time.perf_counter() - start)
    finally:
        gc.enable()
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    X, y = make_moons()
    print(f"{platform.platform()}, Python {platform.python_version()}; "
          f"MLP 2-16-16-1, {len(X)} points, median of {args.repeats} steps")
    peer = micrograd_step()
    for collect in (True, False):
        ours = seconds_per_step(lambda: MLP(2, [16, 16, 1]), train_step, X, y, args.repeats, collect)
        line = f"  gc {'on ' if collect else 'off'}: this library (Value) {ours:.3f} s/step"
        if peer is not None:
            MMLP, step = peer
            theirs = seconds_per_step(lambda: MMLP(2, [16, 16, 1]), step, X, y, args.repeats, collect)
            line += f"   micrograd {theirs:.3f} s/step   ratio {ours / theirs:.2f}"
        else:
            line += "   (micrograd not installed: pip install micrograd)"
        print(line)


if __name__ == "__main__":
    main()
