"""This checkout against another commit, in one run: per-op time of the Tensor chain in both.

The other commit is checked out into a temporary git worktree; both trees then run the same chain
(``overhead.py``'s: mul, add, tanh in turn, forward and backward) in fresh subprocesses, taking
turns, so that both see the same machine load. Prints the median and the best per-op time of each,
and their ratio three ways: of the medians, of the best runs, and the median of the ratios of each
round's pair (the steadiest when the machine's load changes during the run).

    python benchmarks/against.py c026288              # the (4,) chain, 7 rounds
    python benchmarks/against.py HEAD~3 --rounds 11 --shape 1000,1000 --ops 30
    python benchmarks/against.py HEAD~1 --blas-threads 0   # OpenBLAS as it comes (default 1)
"""
from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from common import add_blas_option

ROOT = Path(__file__).resolve().parents[1]

# Runs inside each tree; uses only the API that every commit has (Tensor, *, +, tanh, backward).
# numpy's OpenBLAS is set by this tree's common.py (argv[5] is this tree's benchmarks/ folder).
CHILD = r"""
import sys, time, statistics
import numpy as np
sys.path.insert(0, sys.argv[1])
sys.path.append(sys.argv[5])
from common import blas_threads
blas_threads(int(sys.argv[6]))
from reverse import Tensor
shape = tuple(int(s) for s in sys.argv[2].split(",") if s)
n, repeats = int(sys.argv[3]), int(sys.argv[4])
x0 = np.full(shape, 0.5, dtype=np.float32)
def run():
    y = Tensor(x0, requires_grad=True)
    for i in range(n):
        k = i % 3
        y = y * 0.9 if k == 0 else y + 0.1 if k == 1 else y.tanh()
    y.sum().backward()
run()
times = []
for _ in range(repeats):
    start = time.perf_counter()
    run()
    times.append(time.perf_counter() - start)
print(statistics.median(times) / n * 1e6)
"""


def measure(tree: Path, shape: str, n: int, repeats: int, blas: int) -> float:
    out = subprocess.run([sys.executable, "-c", CHILD, str(tree), shape, str(n), str(repeats),
                          str(ROOT / "benchmarks"), str(blas)],
                         check=True, capture_output=True, text=True)
    return float(out.stdout.strip())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("rev", help="the commit to compare against (e.g. c026288, HEAD~1)")
    parser.add_argument("--rounds", type=int, default=9, help="alternating runs of each tree")
    parser.add_argument("--shape", default="4", help="comma-separated shape of the chain's data")
    parser.add_argument("--ops", type=int, default=200, help="ops per chain")
    parser.add_argument("--repeats", type=int, default=100, help="chains per run (median)")
    add_blas_option(parser)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        other = Path(tmp) / "other"
        subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(other),
                        args.rev], check=True, capture_output=True)
        try:
            ours, theirs = [], []
            for _ in range(args.rounds):
                theirs.append(measure(other, args.shape, args.ops, args.repeats,
                                      args.blas_threads))
                ours.append(measure(ROOT, args.shape, args.ops, args.repeats, args.blas_threads))
        finally:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(other)],
                           check=False, capture_output=True)
    a, b = statistics.median(theirs), statistics.median(ours)
    paired = statistics.median(o / t for o, t in zip(ours, theirs))
    print(f"chain of {args.ops} ops on shape ({args.shape}) float32, forward + backward, "
          f"{args.rounds} alternating runs of {args.repeats} chains each")
    for name, runs in ((args.rev, theirs), ("this tree", ours)):
        print(f"  {name:>12s}: median {statistics.median(runs):8.2f} us/op, best {min(runs):8.2f}"
              f"   (runs: {', '.join(f'{t:.2f}' for t in runs)})")
    print(f"  this tree / {args.rev}: {b / a:.3f} (medians), {min(ours) / min(theirs):.3f} (best "
          f"runs), {paired:.3f} (median of paired rounds)")


if __name__ == "__main__":
    main()
