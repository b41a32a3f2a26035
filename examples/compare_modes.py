"""Forward mode or reverse mode? The curriculum's Day 5 question, measured.

    python -m examples.compare_modes                 # (also: python examples/compare_modes.py)
    python -m examples.compare_modes --n 8 64 512 --m 8 64 512 --function mlp
    python -m examples.compare_modes --plot modes.png   # time against n/m (needs matplotlib)

First a scalar demo: the dual number a + b*eps carrying f(x) and f'(x) through one forward pass, and
the reverse tape of the same expression, walked back node by node; then the two passes as programs
of registry ops (``make_program``), the JVP's beside the VJP's. Then, for f: R^n -> R^m over a
grid of (n, m), the full Jacobian four ways:

- forward, one column per pass: n JVPs, each pushing one tangent direction through f;
- reverse, one row per pass: one recorded forward pass, then m VJPs pulling one cotangent back;
- vectorised forward: ONE forward pass carrying all n directions as a batch (jacfwd);
- vectorised reverse: ONE backward pass carrying all m cotangents as a batch (jacrev).

The table gives the passes, the wall time (median of repeats), the peak memory (tracemalloc, in a
separate run) and the largest difference between the four Jacobians, and marks where reverse mode
starts to win (a column pass costs about as much as a row pass, so the smaller of n and m decides).
With the defaults it finishes in well under a minute.

The comparison is about passes, not about parallel matrix products, so numpy's BLAS runs on one
thread unless OPENBLAS_NUM_THREADS (or OMP_NUM_THREADS) says otherwise; on a machine whose cores are
shared, a multithreaded BLAS can make a vectorised pass tens of times slower while it waits for a
busy core.
"""
from __future__ import annotations

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")  # before numpy loads its BLAS (no effect if it already has)

import argparse
import statistics
import sys
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from adcore import ops
from forward import Dual, jacfwd, jvp
from reverse import Value, draw, explain, jacrev, make_program, vjp

HIDDEN = 64


def make_function(kind: str, n: int, m: int, seed: int = 0) -> Callable[[Any], Any]:
    """f: R^n -> R^m. 'mlp': tanh(W2 tanh(W1 x)); 'poly': a quadratic map; 'trig': sin mixing."""
    rng = np.random.default_rng(seed)
    if kind == "mlp":
        w1 = rng.normal(size=(HIDDEN, n)) / np.sqrt(n)
        w2 = rng.normal(size=(m, HIDDEN)) / np.sqrt(HIDDEN)
        return lambda x: ops.tanh(w2 @ ops.tanh(w1 @ x))
    if kind == "poly":
        a = rng.normal(size=(m, n)) / np.sqrt(n)
        return lambda x: (a @ x) * (a @ (x * x))
    if kind == "trig":
        a = rng.normal(size=(m, n)) / np.sqrt(n)
        return lambda x: ops.sin(a @ ops.cos(x))
    raise ValueError(f"unknown function {kind!r}; use mlp, poly or trig")


def by_columns(f: Callable[[Any], Any], x: np.ndarray) -> np.ndarray:
    """n forward passes, one basis tangent each: the Jacobian column by column."""
    eye = np.eye(x.size)
    return np.stack([jvp(f, (x,), (eye[j],))[1] for j in range(x.size)], axis=-1)


def by_rows(f: Callable[[Any], Any], x: np.ndarray) -> np.ndarray:
    """One recorded forward pass, then m backward passes, one basis cotangent each."""
    out, pullback = vjp(f, x)
    eye = np.eye(np.size(out))
    return np.stack([pullback(eye[i])[0] for i in range(np.size(out))])


METHODS = {
    "forward, column per pass": (by_columns, lambda n, m: f"{n} JVPs"),
    "reverse, row per pass": (by_rows, lambda n, m: f"1 + {m} VJPs"),
    "vectorised forward": (lambda f, x: jacfwd(f)(x), lambda n, m: "1 (batch of n)"),
    "vectorised reverse": (lambda f, x: jacrev(f)(x), lambda n, m: "1 + 1 (batch of m)"),
}


def measure(method: Callable, f: Callable, x: np.ndarray, repeats: int) -> tuple[float, float,
                                                                                 np.ndarray]:
    """(median seconds, peak MiB, the Jacobian)."""
    jac = method(f, x)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        method(f, x)
        times.append(time.perf_counter() - start)
    tracemalloc.start()
    method(f, x)
    peak = tracemalloc.get_traced_memory()[1] / 2 ** 20
    tracemalloc.stop()
    return statistics.median(times), peak, np.asarray(jac)


def scalar_demo() -> None:
    """f(x) = x sin(x) + x^2 at x = 2, both ways."""
    print("f(x) = x * sin(x) + x**2 at x = 2\n")
    d = Dual(2.0, 1.0)
    out = d * d.sin() + d ** 2
    print("forward mode: one pass with the dual number x = 2 + 1 eps")
    print(f"  f(2 + eps) = {out.primal:.6f} + {out.tangent:.6f} eps   "
          f"(f(2), f'(2) = sin 2 + 2 cos 2 + 4 = {np.sin(2) + 2 * np.cos(2) + 4:.6f})")
    print("\nreverse mode: the tape of the same expression, walked back from the output")
    x = Value(2.0, label="x")
    y = x * x.sin() + x ** 2
    y.label = "f"
    explain(y)
    try:
        path = draw(y, Path("compare_modes_tape.svg"), grads=True)
        print(f"  (the tape, edges labelled with their gradients: {path})")
    except RuntimeError:
        print("  (install Graphviz to also draw the tape: examples/compare_modes.py calls draw)")
    print()


def programs_demo() -> None:
    """The same derivative as two programs of registry ops (make_program): forward mode's JVP
    beside reverse mode's VJP, so that the reverse pass can be read as code."""
    def f(x: Any) -> Any:
        return x * ops.sin(x) + x ** 2

    x = np.array(2.0)
    forward_program = make_program(lambda x, v: jvp(f, (x,), (v,))[1])(x, np.array(1.0))
    reverse_program = make_program(lambda x, u: vjp(f, x)[1](u)[0])(x, np.array(1.0))
    left = ["JVP: f'(x) v, one forward pass", *str(forward_program).splitlines()]
    right = ["VJP: u f'(x), forward pass then backward", *str(reverse_program).splitlines()]
    width = max(len(line) for line in left) + 4
    print("the same derivative as programs of registry ops (make_program; jit compiles them):")
    for i in range(max(len(left), len(right))):
        a = left[i] if i < len(left) else ""
        b = right[i] if i < len(right) else ""
        print(f"  {a:<{width}}{b}")
    print()


def run_grid(kind: str, pairs: list[tuple[int, int]], repeats: int) -> list[dict]:
    rows = []
    for n, m in pairs:
        f = make_function(kind, n, m)
        x = np.random.default_rng(1).normal(size=n)
        results = {name: measure(method, f, x, repeats) for name, (method, _) in METHODS.items()}
        jacs = [r[2] for r in results.values()]
        diff = max(float(np.max(np.abs(j - jacs[0]))) for j in jacs)
        rows.append({"n": n, "m": m, "results": results, "diff": diff})
    return rows


def print_table(rows: list[dict]) -> None:
    names = list(METHODS)
    print(f"{'n':>5} {'m':>5} | " + " | ".join(f"{name:>24}" for name in names) +
          " | max |diff| | faster vectorised")
    for row in rows:
        cells = []
        for name in names:
            seconds, peak, _ = row["results"][name]
            cells.append(f"{seconds * 1e3:9.2f} ms {peak:6.2f} MiB")
        fwd = row["results"]["vectorised forward"][0]
        rev = row["results"]["vectorised reverse"][0]
        winner = "reverse <-" if rev < fwd else "forward"
        print(f"{row['n']:>5} {row['m']:>5} | " + " | ".join(f"{c:>24}" for c in cells) +
              f" | {row['diff']:9.1e} | {winner}")
    n0, m0 = rows[0]["n"], rows[0]["m"]
    print("\npasses: " + "; ".join(f"{name}: {passes(n0, m0)} for (n, m) = ({n0}, {m0})"
                                   for name, (_, passes) in METHODS.items()))


def plot(rows: list[dict], path: str) -> None:
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise SystemExit("--plot needs matplotlib, an optional extra: pip install matplotlib "
                         "(or pip install -e '.[plot]')") from None
    fig, ax = plt.subplots(figsize=(7, 4.5))
    sizes = sorted({row["n"] * row["m"] for row in rows})
    styles = ["-", "--", ":", "-."]
    for name, color in zip(METHODS, ["C0", "C1", "C2", "C3"]):
        for s, size in enumerate(sizes):  # a line through the points of equal n * m
            group = sorted((r["n"] / r["m"], r["results"][name][0] * 1e3) for r in rows
                           if r["n"] * r["m"] == size)
            ax.plot([g[0] for g in group], [g[1] for g in group], marker="o", color=color,
                    linestyle=styles[s % len(styles)],
                    label=name if s == 0 else None)
    if len(sizes) > 1:
        ax.text(0.01, 0.01, "line styles: n * m = " + ", ".join(str(s) for s in sizes),
                transform=ax.transAxes, fontsize=8)
    ax.set(xscale="log", yscale="log", xlabel="n / m (inputs per output)",
           ylabel="time for the whole Jacobian (ms)", title="Jacobian of f: R^n -> R^m")
    ax.axvline(1.0, color="grey", linestyle=":", linewidth=1)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    print(f"saved the plot to {path}")


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, nargs="+", default=[4, 32, 256], help="input sizes")
    parser.add_argument("--m", type=int, nargs="+", default=[4, 32, 256], help="output sizes")
    parser.add_argument("--pairs", nargs="+", metavar="N,M",
                        help="explicit (n, m) pairs instead of the grid of --n and --m, e.g. a "
                             "sweep of constant n * m: 4,1024 64,64 1024,4")
    parser.add_argument("--function", choices=["mlp", "poly", "trig"], default="mlp")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--plot", metavar="FILE.png")
    parser.add_argument("--no-demo", action="store_true", help="skip the scalar demo")
    args = parser.parse_args(argv)
    if not args.no_demo:
        scalar_demo()
        programs_demo()
    print(f"Jacobians of f = {args.function} (hidden {HIDDEN}) : R^n -> R^m, median of "
          f"{args.repeats}, peak memory in a separate run\n")
    if args.pairs:
        pairs = [tuple(int(v) for v in p.split(",")) for p in args.pairs]
    else:
        pairs = [(n, m) for n in args.n for m in args.m]
    rows = run_grid(args.function, pairs, args.repeats)
    print_table(rows)
    if args.plot:
        plot(rows, args.plot)
    return rows


if __name__ == "__main__":
    main()
