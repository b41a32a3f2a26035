"""Instructions per call of the benchmarks' workloads, counted by callgrind: repeatable whatever
else the machine is doing, and comparable between two trees of the library.

Each row runs in a fresh interpreter under ``valgrind --tool=callgrind`` twice, with 2 and with 22
calls after one untimed call; the difference divided by 20 is the count per call, start-up and
imports excluded. OpenBLAS runs on one thread and ``PYTHONHASHSEED`` is fixed.

    python benchmarks/instructions.py                       # every row, this tree
    python benchmarks/instructions.py --tree ../other-tree  # another checkout (a worktree)
    python benchmarks/instructions.py chain mlp             # some rows

Rows: ``chain`` (against.py's chain of 200 ops on a (4,) float32 tensor, forward and backward),
``mlp`` (5 training steps of mnist.py's 784-128-10 network on a random batch of 64: forward,
backward, SGD), ``jacrev:NxM``, ``jacobian:NxM``, ``jacfwd:NxM`` (jacobians.py's f from R^N to
R^M) and ``hessian`` (jacobians.py's g on R^200). Needs valgrind.
"""
from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

ROWS = ["chain", "mlp", "jacrev:1000x10", "jacobian:1000x10", "jacfwd:10x1000",
        "jacobian:10x1000", "jacrev:300x300", "jacobian:300x300", "hessian"]

# Runs inside the tree measured: argv is the tree, the row and the number of calls.
CHILD = r"""
import sys
import numpy as np
sys.path.insert(0, sys.argv[1])
from adcore import ops
row, calls = sys.argv[2], int(sys.argv[3])
rng = np.random.default_rng(0)
if row == "chain":
    from reverse import Tensor
    x0 = np.full((4,), 0.5, dtype=np.float32)
    def run():
        y = Tensor(x0, requires_grad=True)
        for i in range(200):
            k = i % 3
            y = y * 0.9 if k == 0 else y + 0.1 if k == 1 else y.tanh()
        y.sum().backward()
elif row == "mlp":
    from nn import Linear, Module, cross_entropy, relu
    from optim import SGD
    from reverse import Tensor
    class MLP(Module):
        def __init__(self):
            self.fc1 = Linear(784, 128)
            self.fc2 = Linear(128, 10)
        def forward(self, x):
            return self.fc2(relu(self.fc1(x)))
    model = MLP()
    opt = SGD(model.parameters(), lr=0.1)
    xb = Tensor(rng.random((64, 784), dtype=np.float32))
    yb = Tensor(rng.integers(0, 10, 64), dtype=np.int64)
    def run():
        for _ in range(5):
            loss = cross_entropy(model(xb), yb)
            loss.backward()
            opt.step()
            opt.zero_grad()
elif row == "hessian":
    from reverse import hessian
    A = rng.standard_normal((200, 200))
    x = rng.standard_normal(200)
    g = lambda x: ops.sum(ops.tanh(ops.matmul(A, x)) ** 2) + ops.sum(x ** 4)
    run = lambda: hessian(g)(x)
else:
    from forward import jacfwd
    from reverse import jacobian, jacrev
    name, sizes = row.split(":")
    n, m = map(int, sizes.split("x"))
    w1 = rng.standard_normal((256, n))
    w2 = rng.standard_normal((m, 256))
    x = rng.standard_normal(n)
    f = lambda x: ops.tanh(ops.matmul(w2, ops.tanh(ops.matmul(w1, x))))
    transform = {"jacrev": jacrev, "jacobian": jacobian, "jacfwd": jacfwd}[name]
    run = lambda: transform(f)(x)
run()
for _ in range(calls):
    run()
"""


def count(tree: Path, row: str, calls: int) -> int:
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", PYTHONHASHSEED="0")
    out = subprocess.run(["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null",
                          sys.executable, "-c", CHILD, str(tree), row, str(calls)],
                         env=env, capture_output=True, text=True, check=True)
    found = re.search(r"Collected : (\d+)", out.stderr)
    if found is None:
        raise RuntimeError(f"callgrind printed no count for {row}:\n{out.stderr[-2000:]}")
    return int(found.group(1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("rows", nargs="*", default=ROWS, help=f"rows to count (default: {ROWS})")
    parser.add_argument("--tree", type=Path, default=Path(__file__).resolve().parents[1],
                        help="the checkout to measure (default: this one)")
    args = parser.parse_args()
    if shutil.which("valgrind") is None:
        sys.exit("instructions.py needs valgrind (apt install valgrind)")
    print(f"instructions per call, {args.tree}")
    for row in args.rows:
        per_call = (count(args.tree, row, 22) - count(args.tree, row, 2)) / 20
        print(f"  {row:18s} {per_call / 1e6:9.3f} M")


if __name__ == "__main__":
    main()
