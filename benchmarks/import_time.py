"""Import time: numpy alone, then numpy with this library's adcore, forward and reverse (and nn).

Each import runs in a fresh interpreter (``python -c``), the variants taking turns, with bytecode
caching on as Python has it by default (PYTHONDONTWRITEBYTECODE is dropped from the children's
environment, and a first untimed run writes the .pyc files); prints the median wall time of each
over the runs and what the library adds on top of numpy's own import. ``python -X importtime``
shows where the time goes, module by module.

    python benchmarks/import_time.py              # 21 runs of each
    python benchmarks/import_time.py --runs 5
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VARIANTS = [("numpy", "import numpy"),
            ("numpy + adcore, forward, reverse", "import numpy, adcore, forward, reverse"),
            ("numpy + adcore, forward, reverse, nn, optim",
             "import numpy, adcore, forward, reverse, nn, optim")]


ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def once(code: str) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT, env=ENV)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=21, help="fresh interpreters per variant")
    args = parser.parse_args()
    times: list[list[float]] = [[] for _ in VARIANTS]
    for _, code in VARIANTS:  # write the .pyc files and warm the file cache
        once(code)
    for _ in range(args.runs):
        for (_, code), out in zip(VARIANTS, times):
            out.append(once(code))
    base = statistics.median(times[0])
    print(f"import time, median of {args.runs} fresh interpreters each (python -c ...)")
    for (name, _), ts in zip(VARIANTS, times):
        med = statistics.median(ts)
        extra = "" if name == "numpy" else f"   +{(med - base) * 1e3:6.1f} ms on top of numpy"
        print(f"  {name:46s} {med * 1e3:7.1f} ms{extra}")


if __name__ == "__main__":
    main()
