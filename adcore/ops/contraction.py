"""einsum: one multilinear op for every contraction numpy's einsum writes.

The public function turns numpy's subscripts into a canonical form the op's rules can rely on:
the ellipsis becomes letters of its own, an index repeated within one operand (a trace, a
diagonal) becomes a diagonal taken first, and a length-1 axis that broadcasts against a longer one
is broadcast first. What remains, ``"ij,jk->ik"`` with each index once per operand, is linear in
each operand, and its transpose for operand i is again an einsum: the output's cotangent contracted
with the other operands, onto operand i's indices (broadcast over the indices that only operand i
has, which the forward sum removed). So every order of derivative is an einsum too.
"""
from __future__ import annotations

import math
import string
from collections.abc import Sequence
from typing import Any

import numpy as np

from adcore import domains as D
from adcore.levels import bind
from adcore.ops.arrays import diagonal
from adcore.ops.shape import broadcast_to, broadcast_to_op, reshape_op, sum_to_op
from adcore.registry import Op, defop, public
from adcore.shapes import shape_of

__all__ = [  # its public functions, re-exported by adcore.ops
    "einsum",
]

_LETTERS = string.ascii_letters
# Below this many multiply-adds numpy's plain einsum loop beats planning a contraction path
# (about 35 us, measured: benchmarks/numpy_ops.py); above it, optimize=True reaches BLAS.
_PLAN_FROM = 100_000


def _einsum_impl(*xs: Any, subscripts: str, optimize: Any) -> Any:
    """numpy's einsum on the canonical subscripts; operands with leading axes beyond their indices
    (a batch of tangents, or vmap's examples) carry them along as an ellipsis."""
    inputs, output = subscripts.split("->")
    terms = inputs.split(",")
    if any(np.ndim(x) != len(t) for x, t in zip(xs, terms)):
        subscripts = ",".join("..." + t for t in terms) + "->..." + output
    return np.einsum(subscripts, *xs, optimize=optimize)


def _planned(optimize: Any, sizes: dict[str, int]) -> Any:
    """The ``optimize`` a derivative's einsum uses: the caller's when given, else a planned path
    once the contraction is large enough for it to pay."""
    if optimize is not False or math.prod(sizes.values()) < _PLAN_FROM:
        return optimize
    return "greedy"


def _parts(subscripts: str) -> tuple[list[str], str]:
    inputs, output = subscripts.split("->")
    return inputs.split(","), output


def _extra(x: Any, term: str) -> int:
    """How many leading axes ``x`` has beyond its indices (a lower level's batch)."""
    return len(shape_of(x)) - len(term)


def _sizes(terms: list[str], xs: tuple) -> dict[str, int]:
    """The length of each index, read from the operands' own axes (after any leading ones)."""
    return {c: n for t, x in zip(terms, xs) for c, n in zip(t, shape_of(x)[_extra(x, t):])}


def _einsum_jvp(x_dot: Any, i: int, *xs: Any, out: Any, subscripts: str, optimize: Any) -> Any:
    """The op with operand i replaced by its tangent. The tangent's own batch axes go in front
    of every operand's leading axes: length-1 axes are put between them where operand i has fewer
    leading axes than the output."""
    terms, output = _parts(subscripts)
    gap = _extra(out, output) - _extra(xs[i], terms[i])
    if gap and len(shape_of(x_dot)) > len(shape_of(xs[i])):
        x_shape = shape_of(xs[i])
        x_dot = bind(reshape_op, x_dot, shape=(1,) * gap + x_shape, in_shape=x_shape)
    args = list(xs)
    args[i] = x_dot
    sizes = _sizes(terms, xs)
    return bind(einsum_op, *args, subscripts=subscripts, optimize=_planned(optimize, sizes))


def _einsum_vjp(y_bar: Any, i: int, *xs: Any, out: Any, subscripts: str, optimize: Any) -> Any:
    """The output's cotangent contracted with the other operands onto operand i's indices,
    broadcast along the indices only operand i has (the forward sum removed them), and summed
    over leading axes operand i did not have."""
    terms, output = _parts(subscripts)
    target = terms[i]
    others = [t for j, t in enumerate(terms) if j != i]
    present = set(output).union(*others)
    kept = "".join(c for c in target if c in present)
    sizes = _sizes(terms, xs)
    ct = bind(einsum_op, y_bar, *(x for j, x in enumerate(xs) if j != i),
              subscripts=",".join([output, *others]) + "->" + kept,
              optimize=_planned(optimize, sizes))
    lead = shape_of(out)[:_extra(out, output)]
    x_shape = shape_of(xs[i])
    if kept != target:
        spread = lead + tuple(sizes[c] if c in kept else 1 for c in target)
        ct = bind(reshape_op, ct, shape=spread, in_shape=lead + tuple(sizes[c] for c in kept))
        ct = bind(broadcast_to_op, ct, shape=lead + x_shape[_extra(xs[i], target):],
                  in_shape=spread)
    full = lead + x_shape[_extra(xs[i], target):]
    if full != x_shape:
        ct = bind(sum_to_op, ct, shape=x_shape, in_shape=full)
    return ct


def _einsum_domain(draw: D.Draw) -> tuple[tuple, dict]:
    kind = draw.choice(["ij,jk->ik", "ij,ij->", "i,j->ij", "ijk,kj->i", "ij->ji", "ij->",
                        "ij,jk,kl->il", "bij,bjk->bik", "ii->i", "i...,i...->...", "ij,k->ijk"])
    sizes = {c: draw.integers(1, 3) for c in "ijklb"}
    inputs = kind.split("->")[0].split(",")
    ell = draw.shape(max_dims=2, min_side=1)
    operands = []
    for t in inputs:
        shape = tuple(sizes[c] for c in t.replace("...", ""))
        if "..." in t:
            shape = shape + ell
        operands.append(draw.array(shape, -2.0, 2.0))
    return (kind, *operands), {}


einsum_op: Op = defop(
    "einsum", _einsum_impl, jvp=_einsum_jvp, vjp=_einsum_vjp, domain=_einsum_domain,
    numpy=np.einsum,
    doc="einsum(subscripts, *operands): numpy's Einstein summation.  Linear in each operand; the "
        "transpose for operand i is the einsum of the output's cotangent with the other operands, "
        "onto operand i's indices.")


def _interleaved(args: tuple) -> tuple[str, list]:
    """einsum(x, [0, 1], y, [1, 2], [0, 2]): numpy's second form, as subscripts and operands."""
    def letters(sub: Sequence[Any]) -> str:
        return "".join("..." if s is Ellipsis else _LETTERS[int(s)] for s in sub)
    operands, terms = list(args[0:len(args) - len(args) % 2:2]), list(args[1::2])
    subscripts = ",".join(letters(t) for t in terms)
    if len(args) % 2:
        subscripts += "->" + letters(args[-1])
    return subscripts, operands


def _implicit_output(terms: list[str]) -> str:
    """numpy's output when none is given: the ellipsis, then the indices used once, sorted."""
    joined = "".join(t.replace("...", "") for t in terms)
    once = sorted((c for c in set(joined) if joined.count(c) == 1), key=_LETTERS.index)
    return ("..." if any("..." in t for t in terms) else "") + "".join(once)


def _expand_ellipsis(terms: list[str], output: str, shapes: list[tuple]) -> tuple[list, str]:
    """Each ellipsis replaced by letters of its own (numpy aligns them from the right)."""
    counts = []
    for t, s in zip(terms, shapes):
        named = len(t.replace("...", ""))
        if "..." not in t and named != len(s):
            raise ValueError(f"einsum: operand of shape {s} has {len(s)} axes but its "
                             f"subscripts {t!r} name {named}; give one index per axis or use ...")
        counts.append(len(s) - named if "..." in t else 0)
        if counts[-1] < 0:
            raise ValueError(f"einsum: operand of shape {s} has fewer axes than its subscripts "
                             f"{t!r} name")
    widest = max(counts, default=0)
    used = set("".join(terms) + output)
    fresh = "".join(c for c in _LETTERS if c not in used)[:widest]
    terms = [t.replace("...", fresh[widest - k:]) for t, k in zip(terms, counts)]
    return terms, output.replace("...", fresh)


@public(einsum_op)
def einsum(subscripts: Any, *operands: Any, optimize: Any = False, out: Any = None,
           **kwargs: Any) -> Any:
    """einsum(subscripts, *operands, optimize=False) as numpy's: any number of operands, implicit
    or explicit output, ellipsis, repeated indices (traces and diagonals) and numpy's interleaved
    form ``einsum(x, [0, 1], y, [1, 2])``; ``optimize`` is passed to numpy's einsum.

    >>> einsum("ij,j->i", np.eye(2), np.array([3.0, 4.0]))
    array([3., 4.])
    """
    if out is not None or kwargs:
        raise TypeError(f"einsum: {'out=' if out is not None else sorted(kwargs)} is not "
                        f"supported on engine values; assign the result instead")
    if not isinstance(subscripts, str):
        subscripts, operands_list = _interleaved((subscripts, *operands))
        operands = tuple(operands_list)
    spec = subscripts.replace(" ", "")
    inputs, arrow, output = spec.partition("->")
    terms = inputs.split(",")
    if len(terms) != len(operands):
        raise ValueError(f"einsum: the subscripts {subscripts!r} name {len(terms)} operands but "
                         f"{len(operands)} were given")
    if not arrow:
        output = _implicit_output(terms)
    operands = tuple(np.asarray(x) if isinstance(x, (list, tuple)) else x for x in operands)
    shapes = [shape_of(x) for x in operands]
    terms, output = _expand_ellipsis(terms, output, shapes)
    xs = list(operands)
    for k, t in enumerate(terms):  # a repeated index: the diagonal of those two axes, moved last
        while len(set(t)) < len(t):
            c = next(c for c in t if t.count(c) > 1)
            first, second = t.index(c), t.index(c, t.index(c) + 1)
            xs[k] = diagonal(xs[k], 0, first, second)
            t = t[:first] + t[first + 1:second] + t[second + 1:] + c
        terms[k] = t
    sizes: dict[str, int] = {}
    for t, x in zip(terms, xs):
        for c, n in zip(t, shape_of(x)):
            known = sizes.setdefault(c, n)
            if known != n and 1 not in (known, n):
                raise ValueError(f"einsum: index {c!r} has length {known} in one operand and "
                                 f"{n} in another ({subscripts!r} with shapes {shapes})")
            if known == 1:
                sizes[c] = n
    for k, (t, x) in enumerate(zip(terms, xs)):  # a length-1 axis against a longer one
        full = tuple(sizes[c] for c in t)
        if shape_of(x) != full:
            xs[k] = broadcast_to(x, full)
    missing = [c for c in output if c not in sizes]
    if missing or len(set(output)) < len(output):
        what = f"indices no operand has: {missing}" if missing else "an index twice"
        raise ValueError(f"einsum: the output {output!r} of {subscripts!r} names {what}")
    return bind(einsum_op, *xs, subscripts=",".join(terms) + "->" + output, optimize=optimize)
