"""Run the exactness fuzzer (tests/test_exactness_fuzz.py) for longer, outside CI.

    python tests/fuzz_exactness.py --minutes 10 [--no-torch] [--shrink-examples 3000]

Phase 1 draws programs for ``--minutes`` and sorts every discrepancy (against PyTorch when it is
installed, and against finite differences) into classes: what differs (an error on one side only,
a leaf's gradient, a retained gradient, a second-order gradient, the forward value) and which known
bug the program has, if any. Phase 2 asks hypothesis for a minimal program of each class (it
shrinks the first one it meets) and prints it as code. Nothing is written to disk.
"""
from __future__ import annotations

import argparse
import os
import re
import sys
import time
from typing import Any


def signature(message: str, bug: str | None, against: str) -> str:
    """A discrepancy's class: its message without numbers and values, and the known bug."""
    text = re.sub(r"\[[^\]]*\]+", "[..]", message)
    text = re.sub(r"step \d+|between \d+", lambda m: m.group(0).split()[0], text)
    text = re.sub(r"-?\d+(\.\d+)?(e-?\d+)?", "N", text)
    text = re.sub(r" \(shape [^)]*\)", "", text)
    text = re.sub(r"\(RuntimeError: backward: (an input|the output) of (\w+).*",
                  r"(\2 \1 modified)", text)
    text = re.sub(r"\((\w+Error): ([^:;(]{0,60}).*", r"(\1: \2)", text)
    return f"[{against}] [{bug or 'NEW'}] {text}"


class Stop(Exception):
    pass


def make_hunt(target: str, smallest: list, problems: Any, examples: int, quiet: dict) -> Any:
    """A hypothesis test that fails on programs of class ``target`` (so that it shrinks them),
    keeping the last (the smallest) in ``smallest[0]``."""
    import test_exactness_fuzz as fz
    from hypothesis import Phase, given, settings

    @settings(max_examples=examples, phases=[Phase.generate, Phase.shrink], **quiet)
    @given(program=fz.programs())
    def hunt(program: Any) -> None:
        if target in problems(program):
            smallest[0] = program
            raise AssertionError(target)

    return hunt


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--shrink-examples", type=int, default=3000)
    parser.add_argument("--no-torch", action="store_true")
    parser.add_argument("--only-new", action="store_true", help="shrink only the classes that "
                        "no known bug explains")
    args = parser.parse_args()
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    sys.path[:0] = [root, os.path.join(root, "tests")]
    import numpy as np
    import test_exactness_fuzz as fz
    from hypothesis import HealthCheck, Phase, given, settings

    import reverse  # noqa: F401  (registers the engines, as conftest does)

    np.seterr(all="raise", under="ignore")
    torch_b = None
    if not args.no_torch:
        try:
            torch_b = fz.torch_backend()
        except ImportError:
            print("torch is not installed: finite differences only")

    def problems(program: Any) -> list[str]:
        if not fz.usable(program):
            return []
        found = []
        bug = fz.known_bug(program)
        if torch_b is not None:
            p = fz.check_against_torch(program, torch_b)
            if p:
                found.append(signature(p, bug, "torch"))
        p = fz.check_against_differences(program)
        if p:
            found.append(signature(p, bug, "differences"))
        return found

    classes: dict[str, tuple[Any, str]] = {}
    counts: dict[str, int] = {}
    seen = [0]
    deadline = time.monotonic() + 60 * args.minutes
    quiet: dict[str, Any] = dict(deadline=None, database=None,
                                 suppress_health_check=list(HealthCheck))

    @settings(max_examples=10 ** 7, phases=[Phase.generate], **quiet)
    @given(program=fz.programs())
    def explore(program: Any) -> None:
        if time.monotonic() > deadline:
            raise Stop
        seen[0] += 1
        for sig in problems(program):
            counts[sig] = counts.get(sig, 0) + 1
            if sig not in classes:
                classes[sig] = (program, sig)
                print(f"new class after {seen[0]} programs: {sig}", flush=True)

    try:
        explore()
    except Stop:
        pass
    print(f"\n{seen[0]} programs, {len(classes)} classes of discrepancy\n", flush=True)

    for sig in sorted(classes, key=lambda s: -counts[s]):
        if args.only_new and "[NEW]" not in sig:
            continue
        smallest: list = [classes[sig][0]]
        hunt = make_hunt(sig, smallest, problems, args.shrink_examples, quiet)
        try:
            hunt()
            note = "(not met again; the first example, unshrunk)"
        except AssertionError:
            note = "(shrunk)"
        program = smallest[0]
        lib = fz.run(program, fz.LibBackend())
        ref = fz.run(program, torch_b) if torch_b is not None else None
        print("=" * 100)
        print(f"{sig}\n  seen {counts[sig]} times {note}; features {sorted(program.features)}")
        print("  " + fz.source(program).replace("\n", "\n  "))
        for name, out in (("lib", lib), ("torch", ref)):
            if out is not None:
                print(f"  {name}: error={out.error} loss={out.loss}")
                for k, v in out.grads.items():
                    print(f"    {k}: {None if v is None else np.round(v, 6).tolist()}")
        print(flush=True)


if __name__ == "__main__":
    main()
