"""Whole Jacobians and a Hessian: this library's modes, torch.func, jax.jit and numpy by hand.

For f(x) = tanh(W2 tanh(W1 x)), hidden size 256, float64, with W1 (256, n), W2 (m, 256) and x drawn
once per case (seeded), and (n, m) in (1000, 10), (10, 1000), (300, 300), the Jacobian (m, n) by

- this library: ``forward.jacfwd(f)(x)``, ``reverse.jacrev(f)(x)`` and ``reverse.jacobian(f)(x)``
  (mode "auto": reverse mode when m <= n, else forward), f written with ``adcore.ops`` on plain
  numpy inputs; and ``jit(jacfwd(f))``, ``jit(jacrev(f))`` compiled (traced before the timing;
  W1 and W2 are read at each call, not folded into the program);
- torch.func (when installed): jacfwd and jacrev of the same function on float64 tensors, one
  thread;
- jax (when installed): ``jax.jit(jax.jacfwd(f))`` and ``jax.jit(jax.jacrev(f))``, float64, XLA on
  one thread unless XLA_FLAGS says otherwise, timed after a warm-up call that compiles, with
  block_until_ready;
- the numpy floor, by hand: J = diag(1 - y^2) W2 diag(1 - h^2) W1 with h = tanh(W1 x) and
  y = tanh(W2 h), the diagonal matrices applied by broadcasting (diag(1 - h^2) to the smaller of
  W2 and W1).

Then the Hessian of g(x) = sum(tanh(A x)^2) + sum(x^4) on R^200 (A of shape (200, 200)): this
library's ``reverse.hessian(g)(x)`` (forward-over-reverse) and ``jit(hessian(g))``,
torch.func.hessian,
``jax.jit(jax.hessian(g))`` and the floor H = A^T diag(d2) A + diag(12 x^2), where
d2 = 2 (1 - t^2)^2 - 4 t^2 (1 - t^2) with t = tanh(A x) is the second derivative of tanh(u)^2.

Every result is compared with the floor (largest absolute difference, per row); the script stops
with an error when one differs by more than 1e-8. Prints, one table per case, the median time in ms
over repeats (all implementations taking turns within each repeat), the ratio to the floor, and the
peak memory of one more call under tracemalloc, untimed (n/a for PyTorch and JAX, which allocate
outside tracemalloc's sight); then a summary line per case. The garbage collector is not run before
each call: with PyTorch and JAX loaded, a full collection leaves the caches cold and adds 0.3 to 1
ms to the next call of every implementation.

    python benchmarks/jacobians.py                    # 7 repeats
    python benchmarks/jacobians.py --quick            # 3 repeats
    python benchmarks/jacobians.py --blas-threads 0   # numpy's OpenBLAS as it comes (default 1)
    python benchmarks/jacobians.py --tune-malloc      # glibc keeps freed memory (see common.py)
"""
from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
from common import (
    add_blas_option,
    add_malloc_option,
    blas_threads,
    header,
    import_torch,
    peak_mib,
    timed,
    tune_malloc,
)

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from adcore import ops
from forward import jacfwd
from reverse import hessian, jacobian, jacrev, jit

HIDDEN = 256
CASES = ((1000, 10), (10, 1000), (300, 300))
HESSIAN_N = 200
TOLERANCE = 1e-8
XLA_ONE_THREAD = "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"


class Row(NamedTuple):
    name: str
    run: Callable[[], Any]  # computes the whole Jacobian (or Hessian): what is timed
    traced: bool  # whether tracemalloc sees its allocations
    kind: str  # "jacfwd", "jacrev", "auto", "hessian" or "floor"


def draw_case(n: int, m: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """W1 (HIDDEN, n), W2 (m, HIDDEN), x (n,): normal, the weights scaled by 1/sqrt(fan-in)."""
    rng = np.random.default_rng(seed)
    w1 = rng.standard_normal((HIDDEN, n)) / np.sqrt(n)
    w2 = rng.standard_normal((m, HIDDEN)) / np.sqrt(HIDDEN)
    return w1, w2, rng.standard_normal(n)


def draw_hessian_case(seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A (HESSIAN_N, HESSIAN_N) scaled by 1/sqrt(n), x (HESSIAN_N,)."""
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((HESSIAN_N, HESSIAN_N)) / np.sqrt(HESSIAN_N)
    return a, rng.standard_normal(HESSIAN_N)


# --- the numpy floor ----------------------------------------------------------------------------
def floor_jacobian(w1: np.ndarray, w2: np.ndarray, x: np.ndarray) -> np.ndarray:
    """J = diag(1 - y^2) W2 diag(1 - h^2) W1, the diagonals applied by broadcasting; the inner one
    scales the smaller of W2 (m, hidden) and W1 (hidden, n)."""
    h = np.tanh(w1 @ x)
    y = np.tanh(w2 @ h)
    dh = 1 - h * h
    inner = (w2 * dh) @ w1 if w2.shape[0] <= w1.shape[1] else w2 @ (dh[:, None] * w1)
    return (1 - y * y)[:, None] * inner


def floor_hessian(a: np.ndarray, x: np.ndarray) -> np.ndarray:
    """H = A^T diag(d2) A + diag(12 x^2), d2 = (tanh(u)^2)'' at u = A x."""
    t = np.tanh(a @ x)
    s = 1 - t * t
    d2 = 2 * s * s - 4 * t * t * s
    hess = a.T @ (d2[:, None] * a)
    hess.flat[::len(x) + 1] += 12 * x * x
    return hess


def floor_rows(w1: np.ndarray, w2: np.ndarray, x: np.ndarray) -> list[Row]:
    return [Row("numpy floor (by hand)", lambda: floor_jacobian(w1, w2, x), True, "floor")]


def floor_hessian_rows(a: np.ndarray, x: np.ndarray) -> list[Row]:
    return [Row("numpy floor (by hand)", lambda: floor_hessian(a, x), True, "floor")]


# --- this library -------------------------------------------------------------------------------
def library_rows(w1: np.ndarray, w2: np.ndarray, x: np.ndarray) -> list[Row]:
    def f(v):
        return ops.tanh(w2 @ ops.tanh(w1 @ v))

    auto = "reverse" if len(w2) <= len(x) else "forward"
    compiled_fwd, compiled_rev = jit(jacfwd(f)), jit(jacrev(f))
    compiled_fwd(x), compiled_rev(x)  # traced and compiled here, before the timing
    return [Row("this library jacfwd", lambda: jacfwd(f)(x), True, "jacfwd"),
            Row("this library jacrev", lambda: jacrev(f)(x), True, "jacrev"),
            Row(f"this library jacobian (auto: {auto})", lambda: jacobian(f)(x), True, "auto"),
            Row("this library jit(jacfwd)", lambda: compiled_fwd(x), True, "jacfwd"),
            Row("this library jit(jacrev)", lambda: compiled_rev(x), True, "jacrev")]


def library_hessian_rows(a: np.ndarray, x: np.ndarray) -> list[Row]:
    def g(v):
        return ops.sum(ops.tanh(a @ v) ** 2) + ops.sum(v ** 4)

    compiled = jit(hessian(g))
    compiled(x)  # traced and compiled here, before the timing
    return [Row("this library hessian (fwd-over-rev)", lambda: hessian(g)(x), True, "hessian"),
            Row("this library jit(hessian)", lambda: compiled(x), True, "hessian")]


# --- torch.func ---------------------------------------------------------------------------------
def torch_rows(torch: Any, w1: np.ndarray, w2: np.ndarray, x: np.ndarray) -> list[Row]:
    if torch is None:
        return []
    tw1, tw2, tx = (torch.from_numpy(a) for a in (w1, w2, x))

    def f(v):
        return torch.tanh(tw2 @ torch.tanh(tw1 @ v))

    jacfwd_t, jacrev_t = torch.func.jacfwd(f), torch.func.jacrev(f)
    return [Row("torch.func jacfwd", lambda: jacfwd_t(tx), False, "jacfwd"),
            Row("torch.func jacrev", lambda: jacrev_t(tx), False, "jacrev")]


def torch_hessian_rows(torch: Any, a: np.ndarray, x: np.ndarray) -> list[Row]:
    if torch is None:
        return []
    ta, tx = torch.from_numpy(a), torch.from_numpy(x)

    def g(v):
        return (torch.tanh(ta @ v) ** 2).sum() + (v ** 4).sum()

    hess = torch.func.hessian(g)
    return [Row("torch.func hessian", lambda: hess(tx), False, "hessian")]


# --- jax ----------------------------------------------------------------------------------------
def import_jax() -> Any:
    """jax with float64 enabled, XLA's CPU backend on one thread unless XLA_FLAGS is set."""
    os.environ.setdefault("XLA_FLAGS", XLA_ONE_THREAD)
    try:
        import jax
    except ImportError:
        return None
    jax.config.update("jax_enable_x64", True)  # before any array is created
    return jax


def jax_rows(jax: Any, w1: np.ndarray, w2: np.ndarray, x: np.ndarray) -> list[Row]:
    if jax is None:
        return []
    jnp = jax.numpy
    jw1, jw2, jx = (jnp.asarray(a) for a in (w1, w2, x))

    def f(v, w1, w2):  # the weights are arguments, not constants folded into the program
        return jnp.tanh(w2 @ jnp.tanh(w1 @ v))

    jacfwd_j, jacrev_j = jax.jit(jax.jacfwd(f)), jax.jit(jax.jacrev(f))
    return [Row("jax.jit(jacfwd)", lambda: jacfwd_j(jx, jw1, jw2).block_until_ready(), False,
                "jacfwd"),
            Row("jax.jit(jacrev)", lambda: jacrev_j(jx, jw1, jw2).block_until_ready(), False,
                "jacrev")]


def jax_hessian_rows(jax: Any, a: np.ndarray, x: np.ndarray) -> list[Row]:
    if jax is None:
        return []
    jnp = jax.numpy
    ja, jx = jnp.asarray(a), jnp.asarray(x)

    def g(v, a):
        return jnp.sum(jnp.tanh(a @ v) ** 2) + jnp.sum(v ** 4)

    hess = jax.jit(jax.hessian(g))
    return [Row("jax.jit(hessian)", lambda: hess(jx, ja).block_until_ready(), False, "hessian")]


# --- the run ------------------------------------------------------------------------------------
class Result(NamedTuple):
    row: Row
    ms: float
    mib: float | None
    diff: float


def measure(rows: list[Row], repeats: int) -> list[Result]:
    """The first row is the floor. Warm-up calls (which compile jax's) give the results to
    compare; then ``repeats`` rounds in which every row takes its turn; then one more untimed
    call of each row that tracemalloc sees."""
    floor = np.asarray(rows[0].run())
    diffs = []
    for row in rows:
        got = np.asarray(row.run())
        diffs.append(float(np.max(np.abs(got - floor))) if got.shape == floor.shape else np.inf)
    times: list[list[float]] = [[] for _ in rows]
    for _ in range(repeats):
        for row, runs in zip(rows, times):
            runs.append(timed(row.run))
    return [Result(row, float(np.median(runs)) * 1e3, peak_mib(row.run) if row.traced else None,
                   diff) for row, runs, diff in zip(rows, times, diffs)]


def print_table(title: str, results: list[Result]) -> None:
    print(f"\n{title}")
    print(f"  {'implementation':38s} {'ms':>9s} {'x floor':>8s} {'peak MiB':>9s} "
          f"{'max |diff|':>10s}")
    base = results[0].ms
    for r in results:
        mib = "n/a" if r.mib is None else f"{r.mib:.2f}"
        print(f"  {r.row.name:38s} {r.ms:9.3f} {r.ms / base:8.2f} {mib:>9s} {r.diff:10.1e}")
    bad = [r.row.name for r in results if not r.diff <= TOLERANCE]
    if bad:
        raise SystemExit(f"FAILED: {', '.join(bad)} differ(s) from the floor by more than "
                         f"{TOLERANCE:g}")


def pick(results: list[Result], prefix: str, kind: str) -> Result | None:
    found = [r for r in results if r.row.name.startswith(prefix) and r.row.kind == kind]
    return found[0] if found else None


def modes(results: list[Result], prefix: str) -> tuple[Result, Result] | None:
    """(the faster, the slower) of the jacfwd and jacrev rows whose names start with prefix."""
    both = [pick(results, prefix, "jacfwd"), pick(results, prefix, "jacrev")]
    if None in both:
        return None
    fast, slow = sorted(both, key=lambda r: r.ms)
    return fast, slow


def jacobian_summary(results: list[Result]) -> list[tuple[str, float | None]]:
    auto = pick(results, "this library", "auto")
    ours = modes(results, "this library")
    torch = modes(results, "torch.func")
    jax = modes(results, "jax")
    lines: list[tuple[str, float | None]] = [("library jacobian(auto) / floor",
                                              auto.ms / results[0].ms)]
    if torch is None:
        lines.append(("torch.func not installed", None))
    else:
        lines.append((f"library jacobian(auto) / torch.func best ({torch[0].row.kind})",
                      auto.ms / torch[0].ms))
        lines.append((f"library wrong mode ({ours[1].row.kind}) / torch.func wrong mode "
                      f"({torch[1].row.kind})", ours[1].ms / torch[1].ms))
    if jax is not None:
        lines.append((f"library jacobian(auto) / jax.jit best ({jax[0].row.kind})",
                      auto.ms / jax[0].ms))
    return lines


def hessian_summary(results: list[Result]) -> list[tuple[str, float | None]]:
    ours = pick(results, "this library", "hessian")
    lines: list[tuple[str, float | None]] = [("library hessian / floor", ours.ms / results[0].ms)]
    for prefix, name in (("jax", "jax.jit hessian"), ("torch.func", "torch.func hessian")):
        theirs = pick(results, prefix, "hessian")
        lines.append((f"library hessian / {name}", ours.ms / theirs.ms) if theirs else
                     (f"{prefix} not installed", None))
    return lines


def print_summary(lines: list[tuple[str, float | None]]) -> None:
    for i, (label, ratio) in enumerate(lines):
        text = "" if ratio is None else f"{ratio:6.2f}"
        print(f"  {'summary:' if i == 0 else '':8s} {label:62s} {text}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7, help="timed calls of each (median)")
    parser.add_argument("--quick", action="store_true", help="3 repeats")
    parser.add_argument("--seed", type=int, default=0, help="seeds the weights and x")
    add_blas_option(parser)
    add_malloc_option(parser)
    args = parser.parse_args()
    repeats = 3 if args.quick else args.repeats

    torch, jax = import_torch(), import_jax()
    print(header(blas_threads(args.blas_threads), malloc=tune_malloc(args.tune_malloc)))
    if jax is not None:
        print(f"jax: float64, {jax.default_backend()} backend, XLA_FLAGS={os.environ['XLA_FLAGS']}")
    print(f"median of {repeats} calls taking turns, ms; peak MiB: one more call under tracemalloc; "
          f"max |diff|: largest absolute difference to the floor (must be <= {TOLERANCE:g})")

    for n, m in CASES:
        w1, w2, x = draw_case(n, m, args.seed)
        rows = (floor_rows(w1, w2, x) + library_rows(w1, w2, x) + torch_rows(torch, w1, w2, x)
                + jax_rows(jax, w1, w2, x))
        results = measure(rows, repeats)
        print_table(f"Jacobian of tanh(W2 tanh(W1 x)), {n} -> {m} (hidden {HIDDEN}, float64), "
                    f"J of shape ({m}, {n})", results)
        print_summary(jacobian_summary(results))

    a, x = draw_hessian_case(args.seed)
    rows = (floor_hessian_rows(a, x) + library_hessian_rows(a, x)
            + torch_hessian_rows(torch, a, x) + jax_hessian_rows(jax, a, x))
    results = measure(rows, repeats)
    print_table(f"Hessian of sum(tanh(A x)^2) + sum(x^4) on R^{HESSIAN_N} (A of shape "
                f"({HESSIAN_N}, {HESSIAN_N}), float64)", results)
    print_summary(hessian_summary(results))


if __name__ == "__main__":
    main()
