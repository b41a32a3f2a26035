"""numpy's array functions that are compositions of registry ops: products (outer, inner, dot,
vdot, tensordot, kron), diagonals and triangles (diagonal, trace, diag, tril, triu), reordering
(flip, roll, moveaxis), joining (atleast_*d, vstack, hstack, column_stack) and differences (diff).

None of them has a derivative of its own: each is written with ops that do (reshape, transpose,
getitem, scatter_add, concatenate, where, mul, sum, matmul), so it works on plain arrays, on every
engine value and under every transformation, to every order. Each follows numpy's semantics and
is reached through numpy's function (``np.outer(t, u)``) and, where PyTorch has one, a method.
"""
from __future__ import annotations

import itertools
import math
from collections import namedtuple
from collections.abc import Sequence
from typing import Any

import numpy as np

from adcore.levels import is_engine_value, raw
from adcore.ops.compare import Constant
from adcore.ops.elementwise import add, astype, div, mul, sub, where
from adcore.ops.linalg import matmul
from adcore.ops.reduce import max as amax
from adcore.ops.reduce import mean, sum
from adcore.ops.reduce import min as amin
from adcore.ops.shape import (
    concatenate,
    flatten,
    getitem,
    reshape,
    scatter_add,
    setitem,
    transpose,
)
from adcore.registry import declare
from adcore.shapes import axis_pair, dtype_of, normalize_axis, shape_of

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
    """vdot(a, b) = sum(a.ravel() * b.ravel()) (real inputs), as numpy's dot of two vectors."""
    return matmul(flatten(a), flatten(b))


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
    i, j = axis_pair((axis1, axis2), n, fn)
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


# --- selecting and sorting --------------------------------------------------------------------

@declare(numpy=np.take)
def take(a: Any, indices: Any, axis: int | None = None) -> Any:
    """take(a, indices, axis=None): entries of a at ``indices`` along ``axis`` (of the flattened
    array when None); gradients of repeated indices accumulate."""
    if axis is None:
        return getitem(flatten(a), indices)
    n = len(shape_of(a))
    ax = normalize_axis(int(axis), n, "take") % n
    return getitem(a, (slice(None),) * ax + (indices,))


def _along(shape: tuple, indices: Any, ax: int) -> tuple:
    """The index that picks, along axis ``ax`` of an array of ``shape``, the entries ``indices``
    (of the same number of axes), keeping every other position."""
    n = len(shape)
    index: list = []
    for k in range(n):
        if k == ax:
            index.append(indices)
        else:
            index.append(np.arange(shape[k]).reshape((-1,) + (1,) * (n - 1 - k)))
    return tuple(index)


@declare(numpy=np.take_along_axis)
def take_along_axis(arr: Any, indices: Any, axis: int) -> Any:
    """take_along_axis(arr, indices, axis): arr's entries at ``indices`` along ``axis`` (indices
    has arr's number of axes, as from argsort)."""
    n = len(shape_of(arr))
    ax = normalize_axis(int(axis), n, "take_along_axis") % n
    return getitem(arr, _along(shape_of(indices), indices, ax))


_argsort = Constant("argsort", lambda x, *, axis: np.argsort(x, axis=axis, kind="stable"),
                    elementwise=False)


def _argsort_descending_compute(x: Any, *, axis: int) -> Any:
    # Largest first, ties in their original order (as a stable descending sort): the stable
    # ascending order of the reversed array, reversed, counted from the other end.
    length = np.shape(x)[axis]
    ascending = np.argsort(np.flip(x, axis), axis=axis, kind="stable")
    return length - 1 - np.flip(ascending, axis)


_argsort_descending = Constant("argsort_descending", _argsort_descending_compute,
                               elementwise=False)


@declare(numpy=np.argsort)
def argsort(a: Any, axis: int = -1, kind: Any = None, order: Any = None, *,
            descending: bool = False) -> Any:
    """argsort(a, axis=-1): the indices that sort a along ``axis`` (stable; not differentiable);
    ``descending=True`` (torch.argsort's keyword) puts the largest first, ties in their order."""
    n = len(shape_of(a))
    ax = normalize_axis(int(axis), n, "argsort")  # negative: batch-proof
    return (_argsort_descending if descending else _argsort)(a, axis=ax)


@declare(numpy=np.sort)
def sort(a: Any, axis: int | None = -1, kind: Any = None, order: Any = None) -> Any:
    """sort(a, axis=-1): a sorted along ``axis`` (the flattened array when None); the gradient
    goes back to each entry's place (ties by their order, as a stable sort)."""
    if axis is None:
        return sort(flatten(a), -1)
    return take_along_axis(a, argsort(a, axis), axis)


# --- PyTorch's selections: gather, scatter, topk ----------------------------------------------

Sorted = namedtuple("Sorted", ["values", "indices"])
Sorted.__doc__ = "(values, indices) of x.sort(dim) and x.topk(k), as torch.return_types.sort."


def _dim_and_index(x: Any, dim: Any, index: Any, fn: str) -> tuple[int, Any, tuple]:
    """(dim as an axis of x, the integer index, its shape), checked as PyTorch checks them: the
    index has x's number of axes and is no longer than x along the axes other than ``dim``."""
    if not is_engine_value(index):
        index = np.asarray(index)
    kind = np.result_type(raw(index)).kind
    if kind not in "iu":
        raise TypeError(f"{fn}: the index must hold integers, got dtype "
                        f"{np.result_type(raw(index))}; convert it with .long() (or make it with "
                        f"dtype=np.int64)")
    xs, ix = shape_of(x), shape_of(index)
    if len(ix) != len(xs) or not xs:
        raise ValueError(f"{fn}: the index has shape {ix} but the input has shape {xs}; they must "
                         f"have the same number of dimensions (at least one)")
    ax = normalize_axis(dim, len(xs), fn) % len(xs)
    longer = [d for d in range(len(xs)) if d != ax and ix[d] > xs[d]]
    if longer:
        raise ValueError(f"{fn}: the index (shape {ix}) is longer than the input (shape {xs}) "
                         f"along dimension {longer[0]}; only along dim={ax} may it be longer")
    values = np.asarray(raw(index))
    if values.size and (values.min() < 0 or values.max() >= xs[ax]):
        bad = values.min() if values.min() < 0 else values.max()
        raise IndexError(f"{fn}: index {bad} is out of bounds for dimension {ax} with size "
                         f"{xs[ax]}; indices along dim must be in [0, {xs[ax] - 1}]")
    return ax, index, ix


@declare(torch_method="gather")
def gather(x: Any, dim: int, index: Any) -> Any:
    """gather(x, dim, index)[i][j] = x[index[i][j]][j] for dim=0 (torch.gather): x's entries at
    ``index`` along ``dim``, the index no longer than x along the other dimensions. Gradients of
    repeated indices accumulate.

    >>> from adcore.ops import gather  # (also the method x.gather)
    >>> gather(np.array([[1.0, 2.0], [3.0, 4.0]]), 1, np.array([[1, 1], [0, 1]]))
    array([[2., 2.],
           [3., 4.]])
    """
    ax, index, ix = _dim_and_index(x, dim, index, "gather")
    return getitem(x, _along(ix, index, ax))


@declare(torch_method="scatter")
def scatter(x: Any, dim: int, index: Any, src: Any, *, reduce: str | None = None) -> Any:
    """scatter(x, dim, index, src): a copy of x with x[index[i][j]][j] = src[i][j] for dim=0
    (torch.scatter, out of place); ``src`` is a tensor at least as long as the index along every
    dimension, or a number. ``reduce="add"`` adds instead (torch.scatter_add): repeated indices
    then accumulate, where without it one of the values is kept. Gradients: to x, the cotangent
    with zeros where written (everywhere kept with ``reduce="add"``); to src, the cotangent at
    the index.

    >>> from adcore.ops import scatter  # (also the method x.scatter)
    >>> scatter(np.zeros((2, 3)), 1, np.array([[2], [0]]), np.array([[5.0], [7.0]]))
    array([[0., 0., 5.],
           [7., 0., 0.]])
    """
    if reduce not in (None, "add"):
        raise ValueError(f"scatter: reduce={reduce!r} is not supported; use reduce=None (write) "
                         f"or reduce='add' (scatter_add)")
    fn = "scatter" if reduce is None else "scatter_add"
    ax, index, ix = _dim_and_index(x, dim, index, fn)
    at = _along(ix, index, ax)
    if isinstance(src, (int, float, np.number, bool, np.bool_)):
        if reduce is None:
            return setitem(x, at, src)
        src = np.full(ix, src, dtype=dtype_of(raw(x)))
    ss = shape_of(src)
    if len(ss) != len(ix) or any(i > s for i, s in zip(ix, ss)):
        raise ValueError(f"{fn}: src has shape {ss} but the index has shape {ix}; src must have "
                         f"as many dimensions and be at least as long along each")
    if ss != ix:
        src = getitem(src, tuple(slice(0, n) for n in ix))
    if reduce is None:
        return setitem(x, at, src)
    if dtype_of(raw(src)) != dtype_of(raw(x)):
        if dtype_of(raw(x)).kind != "f":
            raise TypeError(f"scatter_add: src has dtype {dtype_of(raw(src))} but the input has "
                            f"dtype {dtype_of(raw(x))}; convert src to the input's dtype")
        src = astype(src, dtype_of(raw(x)))
    return add(x, scatter_add(src, at, shape_of(x)))


@declare(torch_method="topk")
def topk(x: Any, k: int, dim: int = -1, largest: bool = True, sorted: bool = True) -> Sorted:
    """topk(x, k, dim=-1, largest=True): the k largest entries along ``dim`` (smallest with
    ``largest=False``) and their indices, as (values, indices) (torch.topk), in order (ties by
    position); the gradient goes back to each entry's place.

    >>> from adcore.ops import topk  # (also the method x.topk)
    >>> topk(np.array([1.0, 5.0, 3.0]), 2).values
    array([5., 3.])
    """
    xs = shape_of(x)
    if not xs:
        raise ValueError("topk: the input is 0-d; give an array with at least one dimension")
    ax = normalize_axis(dim, len(xs), "topk") % len(xs)
    if isinstance(k, (bool, np.bool_)) or not isinstance(k, (int, np.integer)) \
            or not 0 <= k <= xs[ax]:
        raise ValueError(f"topk: k={k!r} is out of range for dimension {ax} of size {xs[ax]} "
                         f"(shape {xs}); give an int k with 0 <= k <= {xs[ax]}")
    order = argsort(x, ax, descending=bool(largest))
    indices = getitem(order, (slice(None),) * ax + (slice(0, int(k)),))
    return Sorted(take_along_axis(x, indices, ax), indices)


@declare(method="ptp", numpy=np.ptp)
def ptp(a: Any, axis: Any = None, keepdims: bool = False) -> Any:
    """ptp(a, axis=None): the range, max - min (ties share the gradient as in max and min)."""
    return sub(amax(a, axis, keepdims), amin(a, axis, keepdims))


@declare(numpy=np.average)
def average(a: Any, axis: Any = None, weights: Any = None, returned: bool = False,
            keepdims: bool = False) -> Any:
    """average(a, axis=None, weights=None): the mean, or the weighted mean sum(a w) / sum(w);
    with ``returned`` also the sum of the weights."""
    if weights is None:
        avg = mean(a, axis, keepdims)
        if not returned:
            return avg
        count = math.prod(shape_of(a)) / max(1, math.prod(shape_of(avg)))
        return avg, np.full(shape_of(avg), count)
    sw = shape_of(weights)
    if sw != shape_of(a):  # numpy: 1-d weights along ``axis``
        n = len(shape_of(a))
        ax = normalize_axis(int(axis), n, "average") % n
        weights = reshape(weights, sw + (1,) * (n - 1 - ax))
    ones = np.ones(shape_of(a), np.result_type(dtype_of(a), dtype_of(weights)))
    total = sum(mul(weights, ones), axis, keepdims)
    avg = div(sum(mul(a, weights), axis, keepdims), total)
    return (avg, total) if returned else avg


@declare(numpy=np.median)
def median(a: Any, axis: Any = None, keepdims: bool = False) -> Any:
    """median(a, axis=None): the middle entry along ``axis``, or the mean of the two middle ones
    (the gradient goes to them)."""
    if axis is None:
        out = median(flatten(a), 0)
        return reshape(out, (1,) * len(shape_of(a))) if keepdims else out
    n = len(shape_of(a))
    ax = normalize_axis(int(axis), n, "median") % n
    ordered = sort(a, ax)
    length = shape_of(a)[ax]
    if length == 0:
        raise ValueError(f"median: axis {axis} of shape {shape_of(a)} is empty")
    mid = (length - 1) // 2
    pick = [mid] if length % 2 else [mid, mid + 1]
    middle = getitem(ordered, (slice(None),) * ax + (np.array(pick),))
    return mean(middle, ax, keepdims)


# --- repeating and splitting ---------------------------------------------------------------------

@declare(numpy_method="repeat", numpy=np.repeat)
def repeat(a: Any, repeats: Any, axis: int | None = None) -> Any:
    """repeat(a, repeats, axis=None): each entry repeated ``repeats`` times along ``axis`` (of the
    flattened array when None)."""
    if axis is None:
        return repeat(flatten(a), repeats, 0)
    n = len(shape_of(a))
    ax = normalize_axis(int(axis), n, "repeat") % n
    index = np.repeat(np.arange(shape_of(a)[ax]), repeats)
    return getitem(a, (slice(None),) * ax + (index,))


@declare(numpy=np.tile)
def tile(a: Any, reps: Any) -> Any:
    """tile(a, reps): a repeated ``reps`` times along each axis (axes added in front as needed)."""
    reps = (int(reps),) if isinstance(reps, (int, np.integer)) else tuple(int(r) for r in reps)
    s = shape_of(a)
    n = max(len(s), len(reps))
    s = (1,) * (n - len(s)) + s
    reps = (1,) * (n - len(reps)) + reps
    out = reshape(a, s)
    for ax, r in enumerate(reps):
        if r != 1:
            out = getitem(out, (slice(None),) * ax + (np.tile(np.arange(s[ax]), r),))
    return out


def _pieces(a: Any, sections: Any, axis: int, fn: str, even: bool) -> list:
    n = len(shape_of(a))
    ax = normalize_axis(int(axis), n, fn) % n
    length = shape_of(a)[ax]
    if isinstance(sections, (int, np.integer)):
        k = int(sections)
        if k <= 0:
            raise ValueError(f"{fn}: the number of sections must be positive, got {k}")
        if even and length % k:
            raise ValueError(f"{fn}: axis {axis} of length {length} does not split into {k} "
                             f"equal sections; use array_split for unequal ones")
        sizes = [length // k + (1 if i < length % k else 0) for i in range(k)]
        bounds = np.cumsum([0] + sizes)
    else:
        bounds = np.array([0] + [int(b) for b in sections] + [length])
    return [getitem(a, (slice(None),) * ax + (slice(int(lo), int(hi) if hi > lo else int(lo)),))
            for lo, hi in itertools.pairwise(bounds)]


@declare(numpy=np.split)
def split(ary: Any, indices_or_sections: Any, axis: int = 0) -> list:
    """split(ary, k or indices, axis=0): k equal pieces, or the pieces between the indices."""
    return _pieces(ary, indices_or_sections, axis, "split", even=True)


@declare(numpy=np.array_split)
def array_split(ary: Any, indices_or_sections: Any, axis: int = 0) -> list:
    """array_split(ary, k or indices, axis=0): as split, with pieces of unequal lengths allowed."""
    return _pieces(ary, indices_or_sections, axis, "array_split", even=False)


@declare(numpy=np.hsplit)
def hsplit(ary: Any, indices_or_sections: Any) -> list:
    """hsplit: split along axis 1 (axis 0 for vectors)."""
    return split(ary, indices_or_sections, 1 if len(shape_of(ary)) > 1 else 0)


@declare(numpy=np.vsplit)
def vsplit(ary: Any, indices_or_sections: Any) -> list:
    """vsplit: split along axis 0."""
    return split(ary, indices_or_sections, 0)


@declare(numpy=np.append)
def append(arr: Any, values: Any, axis: int | None = None) -> Any:
    """append(arr, values, axis=None): values joined after arr (both flattened when None)."""
    if axis is None:
        return concatenate([flatten(arr), flatten(values)], axis=0)
    return concatenate([arr, values], axis=axis)


__all__ = [
    "append",
    "argsort",
    "array_split",
    "atleast_1d",
    "atleast_2d",
    "atleast_3d",
    "average",
    "column_stack",
    "diag",
    "diagonal",
    "diff",
    "dot",
    "dstack",
    "flip",
    "fliplr",
    "flipud",
    "gather",
    "hsplit",
    "hstack",
    "inner",
    "kron",
    "median",
    "moveaxis",
    "outer",
    "ptp",
    "repeat",
    "roll",
    "scatter",
    "sort",
    "split",
    "take",
    "take_along_axis",
    "tensordot",
    "tile",
    "topk",
    "trace",
    "tril",
    "triu",
    "vdot",
    "vsplit",
    "vstack",
]
