"""numpy's array functions that are compositions of registry ops: products (outer, inner, dot,
vdot, tensordot, kron), diagonals and triangles (diagonal, trace, diag, tril, triu), reordering
(flip, roll, moveaxis), joining (atleast_*d, vstack, hstack, column_stack) and differences (diff).

None of them has a derivative of its own: each is written with ops that do (reshape, transpose,
getitem, scatter_add, concatenate, where, mul, sum, matmul), so it works on plain arrays, on every
engine value and under every transformation, to every order. Each follows numpy's semantics and
is reached through numpy's function (``np.outer(t, u)``) and, where PyTorch has one, a method.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from adcore.ops.elementwise import mul, sub, where
from adcore.ops.linalg import matmul
from adcore.ops.reduce import sum
from adcore.ops.shape import concatenate, flatten, getitem, reshape, scatter_add, transpose
from adcore.registry import declare
from adcore.shapes import normalize_axis, shape_of

# --- products ----------------------------------------------------------------------------------


@declare(method="outer", numpy=np.outer)
def outer(a: Any, b: Any) -> Any:
    """outer(a, b)[i, j] = a.ravel()[i] * b.ravel()[j]."""
    return mul(reshape(flatten(a), (-1, 1)), reshape(flatten(b), (1, -1)))


@declare(numpy=np.tensordot)
def tensordot(a: Any, b: Any, axes: Any = 2) -> Any:
    """tensordot(a, b, axes): the sum over the last ``axes`` axes of a and the first of b, or over
    the pairs ``axes = (a_axes, b_axes)``; the result has a's free axes, then b's."""
    na, nb = len(shape_of(a)), len(shape_of(b))
    if isinstance(axes, (int, np.integer)):
        given: list = [range(na - int(axes), na), range(int(axes))]
    else:
        given = [[ax] if isinstance(ax, (int, np.integer)) else ax for ax in axes]
    a_axes = [normalize_axis(int(ax), na, "tensordot") % na for ax in given[0]]
    b_axes = [normalize_axis(int(ax), nb, "tensordot") % nb for ax in given[1]]
    sa, sb = shape_of(a), shape_of(b)
    if len(a_axes) != len(b_axes) or any(sa[i] != sb[j] for i, j in zip(a_axes, b_axes)):
        raise ValueError(f"tensordot: the axes {a_axes} of shape {sa} and {b_axes} of shape {sb} "
                         f"do not pair up; give as many axes for each, of equal lengths")
    a_free = [i for i in range(na) if i not in a_axes]
    b_free = [j for j in range(nb) if j not in b_axes]
    k = math.prod(sa[i] for i in a_axes)
    left = reshape(transpose(a, a_free + a_axes), (math.prod(sa[i] for i in a_free), k))
    right = reshape(transpose(b, b_axes + b_free), (k, math.prod(sb[j] for j in b_free)))
    return reshape(matmul(left, right), tuple(sa[i] for i in a_free) + tuple(sb[j] for j in b_free))


@declare(method="inner", numpy=np.inner)
def inner(a: Any, b: Any) -> Any:
    """inner(a, b): the sum over the last axes of a and b (a product when either is 0-d)."""
    if not shape_of(a) or not shape_of(b):
        return mul(a, b)
    return tensordot(a, b, ([-1], [-1]))


@declare(numpy=np.dot)
def dot(a: Any, b: Any) -> Any:
    """dot(a, b) as numpy's: a product for 0-d, the inner product of vectors, the matrix product,
    and for more axes the sum over a's last axis and b's second-to-last."""
    sa, sb = shape_of(a), shape_of(b)
    if not sa or not sb:
        return mul(a, b)
    if len(sa) <= 2 and len(sb) <= 2:
        return matmul(a, b)
    return tensordot(a, b, ([-1], [-1 if len(sb) == 1 else -2]))


@declare(numpy=np.vdot)
def vdot(a: Any, b: Any) -> Any:
    """vdot(a, b) = sum(a.ravel() * b.ravel()) (real inputs)."""
    return sum(mul(flatten(a), flatten(b)))


@declare(method="kron", numpy=np.kron)
def kron(a: Any, b: Any) -> Any:
    """kron(a, b): the Kronecker product (blocks a[i, j] * b), for any numbers of axes."""
    sa, sb = shape_of(a), shape_of(b)
    n = max(len(sa), len(sb))
    sa, sb = (1,) * (n - len(sa)) + sa, (1,) * (n - len(sb)) + sb
    a_spread = reshape(a, tuple(s for d in sa for s in (d, 1)))  # a's axes at even places
    b_spread = reshape(b, tuple(s for d in sb for s in (1, d)))  # b's at odd places
    return reshape(mul(a_spread, b_spread), tuple(p * q for p, q in zip(sa, sb)))


# --- diagonals and triangles --------------------------------------------------------------------

def _last_two(a: Any, axis1: int, axis2: int, fn: str) -> tuple[Any, tuple]:
    """a with axes ``axis1`` and ``axis2`` moved to the end, and the rest of its shape."""
    n = len(shape_of(a))
    if n < 2:
        raise ValueError(f"{fn}: the input must have at least 2 axes, got shape {shape_of(a)}")
    i, j = (normalize_axis(ax, n, fn) % n for ax in (axis1, axis2))
    if i == j:
        raise ValueError(f"{fn}: axis1 and axis2 are the same axis ({axis1}, {axis2})")
    rest = [k for k in range(n) if k not in (i, j)]
    moved = transpose(a, rest + [i, j])
    return moved, shape_of(moved)[:-2]


def _diagonal_index(rows: int, cols: int, offset: int) -> tuple[np.ndarray, np.ndarray]:
    start_r, start_c = max(-offset, 0), max(offset, 0)
    k = max(0, min(rows - start_r, cols - start_c))
    return np.arange(start_r, start_r + k), np.arange(start_c, start_c + k)


@declare(method="diagonal", numpy=np.diagonal)
def diagonal(a: Any, offset: int = 0, axis1: int = 0, axis2: int = 1) -> Any:
    """diagonal(a, offset=0, axis1=0, axis2=1): the diagonal of the 2-d slices, as the last axis."""
    moved, _ = _last_two(a, axis1, axis2, "diagonal")
    rows, cols = shape_of(moved)[-2:]
    r, c = _diagonal_index(rows, cols, int(offset))
    return getitem(moved, (Ellipsis, r, c))


@declare(method="trace", numpy=np.trace)
def trace(a: Any, offset: int = 0, axis1: int = 0, axis2: int = 1) -> Any:
    """trace(a, offset=0, axis1=0, axis2=1): the sum of the diagonal of the 2-d slices."""
    return sum(diagonal(a, offset, axis1, axis2), axis=-1)


@declare(method="diag", numpy=np.diag)
def diag(v: Any, k: int = 0) -> Any:
    """diag(v, k=0): the matrix with v on its k-th diagonal (v 1-d), or the k-th diagonal of a
    matrix (v 2-d)."""
    sv = shape_of(v)
    if len(sv) == 2:
        return diagonal(v, k)
    if len(sv) != 1:
        raise ValueError(f"diag: the input must be 1-d or 2-d, got shape {sv}")
    m = sv[0] + abs(int(k))
    return scatter_add(v, _diagonal_index(m, m, int(k)), (m, m))


def _triangle(m: Any, k: int, lower: bool, fn: str) -> Any:
    sm = shape_of(m)
    if len(sm) < 2:
        raise ValueError(f"{fn}: the input must have at least 2 axes, got shape {sm}")
    keep = np.tri(sm[-2], sm[-1], k=k, dtype=bool)
    return where(keep if lower else ~np.tri(sm[-2], sm[-1], k=k - 1, dtype=bool), m, 0)


@declare(method="tril", numpy=np.tril)
def tril(m: Any, k: int = 0) -> Any:
    """tril(m, k=0): m with the entries above the k-th diagonal set to 0 (on the last two axes)."""
    return _triangle(m, int(k), True, "tril")


@declare(method="triu", numpy=np.triu)
def triu(m: Any, k: int = 0) -> Any:
    """triu(m, k=0): m with the entries below the k-th diagonal set to 0 (on the last two axes)."""
    return _triangle(m, int(k), False, "triu")


# --- reordering -----------------------------------------------------------------------------------

def _axes(axis: Any, n: int, fn: str) -> list[int]:
    if axis is None:
        return list(range(n))
    axes = [axis] if isinstance(axis, (int, np.integer)) else list(axis)
    return [normalize_axis(int(ax), n, fn) % n for ax in axes]


@declare(numpy=np.flip)
def flip(m: Any, axis: Any = None) -> Any:
    """flip(m, axis=None): m reversed along ``axis`` (all axes when None)."""
    n = len(shape_of(m))
    axes = _axes(axis, n, "flip")
    return getitem(m, tuple(slice(None, None, -1) if i in axes else slice(None) for i in range(n)))


@declare(method="fliplr", numpy=np.fliplr)
def fliplr(m: Any) -> Any:
    """fliplr(m): m reversed along axis 1."""
    return flip(m, 1)


@declare(method="flipud", numpy=np.flipud)
def flipud(m: Any) -> Any:
    """flipud(m): m reversed along axis 0."""
    return flip(m, 0)


@declare(method="roll", numpy=np.roll)
def roll(a: Any, shift: Any, axis: Any = None) -> Any:
    """roll(a, shift, axis=None): entries shifted along ``axis`` (the flattened array when None),
    those pushed past the end coming back at the start."""
    if axis is None:
        return reshape(roll(flatten(a), shift, 0), shape_of(a))
    shifts = [shift] if isinstance(shift, (int, np.integer)) else list(shift)
    axes = [axis] if isinstance(axis, (int, np.integer)) else list(axis)
    if len(shifts) != len(axes):
        raise ValueError(f"roll: {len(shifts)} shifts for {len(axes)} axes; give one per axis")
    n = len(shape_of(a))
    out = a
    for s, ax in zip(shifts, axes):
        ax = normalize_axis(int(ax), n, "roll") % n
        length = shape_of(out)[ax]
        if length == 0:
            continue
        cut = (-int(s)) % length
        head = tuple(slice(None) if i != ax else slice(cut, None) for i in range(n))
        tail = tuple(slice(None) if i != ax else slice(None, cut) for i in range(n))
        out = concatenate([getitem(out, head), getitem(out, tail)], axis=ax)
    return out


@declare(method="moveaxis", numpy=np.moveaxis)
def moveaxis(a: Any, source: Any, destination: Any) -> Any:
    """moveaxis(a, source, destination): axes moved to new positions, the others kept in order."""
    n = len(shape_of(a))
    src = _axes(source, n, "moveaxis")
    dst = _axes(destination, n, "moveaxis")
    if len(src) != len(dst):
        raise ValueError(f"moveaxis: {len(src)} source axes for {len(dst)} destinations")
    order = [i for i in range(n) if i not in src]
    for d, s in sorted(zip(dst, src)):
        order.insert(d, s)
    return transpose(a, order)


# --- joining ------------------------------------------------------------------------------------

def _at_least(a: Any, ndim: int) -> Any:
    s = shape_of(a)
    if len(s) >= ndim:
        return a
    if ndim == 3 and len(s) == 2:
        return reshape(a, s + (1,))
    if ndim == 3 and len(s) == 1:
        return reshape(a, (1,) + s + (1,))
    return reshape(a, (1,) * (ndim - len(s)) + s)


@declare(numpy=np.atleast_1d)
def atleast_1d(*arys: Any) -> Any:
    """Each array with at least one axis (a 0-d one becomes shape (1,))."""
    out = [_at_least(a, 1) for a in arys]
    return out[0] if len(out) == 1 else out


@declare(numpy=np.atleast_2d)
def atleast_2d(*arys: Any) -> Any:
    """Each array with at least two axes (leading ones added)."""
    out = [_at_least(a, 2) for a in arys]
    return out[0] if len(out) == 1 else out


@declare(numpy=np.atleast_3d)
def atleast_3d(*arys: Any) -> Any:
    """Each array with at least three axes, as numpy adds them ((n,) becomes (1, n, 1))."""
    out = [_at_least(a, 3) for a in arys]
    return out[0] if len(out) == 1 else out


@declare(numpy=(np.vstack, np.row_stack) if hasattr(np, "row_stack") else np.vstack)
def vstack(tup: Sequence[Any]) -> Any:
    """vstack(arrays): joined along axis 0, vectors as rows."""
    return concatenate([_at_least(a, 2) for a in tup], axis=0)


@declare(numpy=np.hstack)
def hstack(tup: Sequence[Any]) -> Any:
    """hstack(arrays): joined along axis 1 (axis 0 for vectors)."""
    arrays = [_at_least(a, 1) for a in tup]
    return concatenate(arrays, axis=0 if arrays and len(shape_of(arrays[0])) == 1 else 1)


@declare(numpy=np.dstack)
def dstack(tup: Sequence[Any]) -> Any:
    """dstack(arrays): joined along axis 2."""
    return concatenate([_at_least(a, 3) for a in tup], axis=2)


@declare(numpy=np.column_stack)
def column_stack(tup: Sequence[Any]) -> Any:
    """column_stack(arrays): vectors as columns, joined with matrices along axis 1."""
    cols = [reshape(a, (-1, 1)) if len(shape_of(a)) < 2 else a for a in tup]
    return concatenate(cols, axis=1)


# --- differences ----------------------------------------------------------------------------------

@declare(method="diff", numpy=np.diff)
def diff(a: Any, n: int = 1, axis: int = -1) -> Any:
    """diff(a, n=1, axis=-1): the n-th differences along ``axis``."""
    nd = len(shape_of(a))
    ax = normalize_axis(axis, nd, "diff") % nd
    for _ in range(int(n)):
        hi = tuple(slice(1, None) if i == ax else slice(None) for i in range(nd))
        lo = tuple(slice(None, -1) if i == ax else slice(None) for i in range(nd))
        a = sub(getitem(a, hi), getitem(a, lo))
    return a


__all__ = [
    "atleast_1d",
    "atleast_2d",
    "atleast_3d",
    "column_stack",
    "diag",
    "diagonal",
    "diff",
    "dot",
    "dstack",
    "flip",
    "fliplr",
    "flipud",
    "hstack",
    "inner",
    "kron",
    "moveaxis",
    "outer",
    "roll",
    "tensordot",
    "trace",
    "tril",
    "triu",
    "vdot",
    "vstack",
]
