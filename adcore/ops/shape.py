"""Shape ops: linear maps declared with their transposes.

Their parameters describe the *core* shapes (``in_shape``, ``shape``, an index over the core axes),
so each forward rule also works on an input with extra leading batch axes: that is what lets a
linear op's JVP be the op itself applied to the tangent, and its VJP another op of this file applied
to the cotangent (reshape <-> reshape, broadcast_to <-> sum_to, getitem <-> scatter_add, ...).
"""
from __future__ import annotations

import builtins
import functools
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from adcore import domains as D
from adcore.levels import bind, captures_open, capturing, is_engine_value, raw
from adcore.registry import Op, declare, defop, public
from adcore.shapes import broadcasts_to, normalize_axis, shape_of

__all__ = [  # its public functions, re-exported by adcore.ops
    "broadcast_to", "clone", "concatenate", "expand_dims", "flatten", "getitem", "reshape",
    "scatter_add", "setitem", "squeeze", "stack", "sum_to", "swapaxes", "transpose",
]


def _batch(x: Any, core_ndim: int) -> tuple:
    xs = shape_of(x)
    return xs[:len(xs) - core_ndim]


# --- reshape ---------------------------------------------------------------------------------

def _reshape_impl(x: Any, *, shape: tuple, in_shape: tuple) -> Any:
    return np.reshape(x, _batch(x, len(in_shape)) + shape)


def _reshape_domain(draw: D.Draw) -> tuple[tuple, dict]:
    xs = draw.shape(max_dims=3)
    size = math.prod(xs)
    options = [(size,), (-1,), xs[::-1], (1,) + xs, xs + (1,)]
    if len(xs) >= 2:
        options.append((xs[0] * xs[1],) + xs[2:])
    return (draw.array(xs),), {"shape": draw.choice(options)}


reshape_op: Op = defop(
    "reshape", _reshape_impl,
    transpose=(lambda y_bar, x, *, shape, in_shape:
               bind(reshape_op, y_bar, shape=in_shape, in_shape=shape),),
    domain=_reshape_domain, view=True, numpy=np.reshape,
    doc="reshape(x, shape): the same elements in a new shape.  Transpose: reshape back.")


@public(reshape_op)
def reshape(x: Any, shape: int | Sequence[int], order: str = "C") -> Any:
    """reshape(x, shape): x's elements (in C order) in a new shape; one entry may be -1.

    >>> reshape(np.arange(6.0), (2, -1)).shape
    (2, 3)
    """
    if order != "C":
        raise ValueError(f"reshape: only order='C' is supported, got order={order!r}; transpose "
                         f"first for Fortran order")
    in_shape = shape_of(x)
    shape = _resolve_shape(in_shape, (shape,) if isinstance(shape, int) else tuple(shape))
    return bind(reshape_op, x, shape=shape, in_shape=in_shape)


def _resolve_shape(in_shape: tuple, shape: tuple) -> tuple:
    size = math.prod(in_shape)
    unknown = [i for i, s in enumerate(shape) if s == -1]
    known = math.prod(s for s in shape if s != -1)
    if len(unknown) > 1 or any(s < -1 for s in shape):
        raise ValueError(f"reshape: invalid shape {shape}; give non-negative sizes and at most one "
                         f"-1")
    if unknown:
        if known == 0 or size % known:
            raise ValueError(f"reshape: cannot reshape an array of shape {in_shape} ({size} "
                             f"elements) into shape {shape}; the sizes must match")
        shape = shape[:unknown[0]] + (size // known,) + shape[unknown[0] + 1:]
    if math.prod(shape) != size:
        raise ValueError(f"reshape: cannot reshape an array of shape {in_shape} ({size} elements) "
                         f"into shape {shape} ({math.prod(shape)} elements); the sizes must match")
    return tuple(int(s) for s in shape)


@declare(method=("unsqueeze", "expand_dims"), numpy=np.expand_dims)
def expand_dims(x: Any, axis: int) -> Any:
    """Insert an axis of length 1 at ``axis`` (torch.unsqueeze, np.expand_dims)."""
    xs = shape_of(x)
    axis = normalize_axis(axis, len(xs) + 1, "expand_dims") + len(xs) + 1
    return reshape(x, xs[:axis] + (1,) + xs[axis:])


@declare(method="squeeze", numpy=np.squeeze)
def squeeze(x: Any, axis: int | Sequence[int] | None = None) -> Any:
    """Remove axes of length 1 (all of them, or those in ``axis``, which must have length 1)."""
    xs = shape_of(x)
    if axis is None:
        drop = {i for i, s in enumerate(xs) if s == 1}
    else:
        drop = {normalize_axis(a, len(xs), "squeeze") % len(xs)
                for a in ((axis,) if isinstance(axis, int) else axis)}
        bad = [a for a in drop if xs[a] != 1]
        if bad:
            raise ValueError(f"squeeze: axis {bad[0]} of shape {xs} has length {xs[bad[0]]}, not 1")
    return reshape(x, tuple(s for i, s in enumerate(xs) if i not in drop))


@declare(method=("flatten", "ravel"), numpy=np.ravel)
def flatten(x: Any, start_dim: int = 0, end_dim: int = -1) -> Any:
    """The axes from ``start_dim`` to ``end_dim`` (all, by default) merged into one, as
    torch.flatten; a 0-d input becomes shape (1,)."""
    xs = shape_of(x)
    if not xs:
        return reshape(x, (1,))
    start = normalize_axis(start_dim, len(xs), "flatten") + len(xs)
    end = normalize_axis(end_dim, len(xs), "flatten") + len(xs)
    if start > end:
        raise ValueError(f"flatten: start_dim {start_dim} comes after end_dim {end_dim} for shape "
                         f"{xs}")
    return reshape(x, xs[:start] + (math.prod(xs[start:end + 1]),) + xs[end + 1:])


# --- transpose -------------------------------------------------------------------------------

def _transpose_impl(x: Any, *, axes: tuple) -> Any:
    nb = len(shape_of(x)) - len(axes)
    if nb == 0:
        return np.transpose(x, axes)
    return np.transpose(x, tuple(range(nb)) + tuple(nb + a for a in axes))


def _transpose_domain(draw: D.Draw) -> tuple[tuple, dict]:
    xs = draw.shape()
    axes = None if draw.boolean() else tuple(draw.choice(_permutations(len(xs))))
    return (draw.array(xs),), {"axes": axes}


@functools.cache
def _permutations(n: int) -> list[tuple[int, ...]]:
    import itertools
    return list(itertools.permutations(range(n)))


transpose_op: Op = defop(
    "transpose", _transpose_impl,
    transpose=(lambda y_bar, x, *, axes: bind(transpose_op, y_bar, axes=_inverse(axes)),),
    domain=_transpose_domain, view=True, numpy=np.transpose,
    doc="transpose(x, axes): permute the axes.  Transpose: the inverse permutation.")


def _inverse(axes: tuple) -> tuple:
    inv = [0] * len(axes)
    for i, a in enumerate(axes):
        inv[a] = i
    return tuple(inv)


@public(transpose_op)
def transpose(x: Any, axes: Sequence[int] | None = None) -> Any:
    """transpose(x, axes=None): permute x's axes (reverse them when ``axes`` is None), as numpy.

    >>> transpose(np.zeros((2, 3, 4)), (1, 0, 2)).shape
    (3, 2, 4)
    """
    n = len(shape_of(x))
    if axes is None:
        axes = tuple(range(n - 1, -1, -1))
    else:
        axes = tuple(normalize_axis(a, n, "transpose") + n for a in axes)
        if sorted(axes) != list(range(n)):
            raise ValueError(f"transpose: axes {axes} are not a permutation of the {n} axes of an "
                             f"array of shape {shape_of(x)}")
    return bind(transpose_op, x, axes=axes)


@declare(method="swapaxes", numpy=np.swapaxes)
def swapaxes(x: Any, axis1: int, axis2: int) -> Any:
    """Exchange two axes (torch.transpose(x, dim0, dim1))."""
    n = len(shape_of(x))
    a, b = (normalize_axis(ax, n, "swapaxes") + n for ax in (axis1, axis2))
    axes = list(range(n))
    axes[a], axes[b] = axes[b], axes[a]
    return bind(transpose_op, x, axes=tuple(axes))


# --- broadcast_to and its transpose sum_to ---------------------------------------------------

def _broadcast_to_impl(x: Any, *, shape: tuple, in_shape: tuple) -> Any:
    batch = _batch(x, len(in_shape))
    if batch:
        x = np.reshape(x, batch + (1,) * (len(shape) - len(in_shape)) + in_shape)
    return np.broadcast_to(x, batch + shape)


@functools.lru_cache(maxsize=4096)
def _sum_to_axes(shape: tuple, in_shape: tuple) -> tuple:
    """Negative axes of in_shape that are summed to reach shape (leading ones and broadcast 1s)."""
    lead = len(in_shape) - len(shape)
    axes = [i - len(in_shape) for i in range(lead)]
    axes += [i - len(shape) for i, s in enumerate(shape) if s == 1 and in_shape[lead + i] != 1]
    return tuple(axes)


def _sum_to_impl(x: Any, *, shape: tuple, in_shape: tuple) -> Any:
    summed = np.add.reduce(x, axis=_sum_to_axes(shape, in_shape), keepdims=True)
    return np.reshape(summed, _batch(x, len(in_shape)) + shape)


def _broadcast_pair(draw: D.Draw) -> tuple[tuple, tuple]:
    """A shape and a larger shape that it broadcasts to."""
    small = draw.shape(max_dims=2)
    small = tuple(1 if draw.boolean() else s for s in small)
    big = draw.shape(max_dims=1, min_side=0) + tuple(draw.integers(0, 3) if s == 1 else s
                                                     for s in small)
    return small, big


def _broadcast_to_domain(draw: D.Draw) -> tuple[tuple, dict]:
    small, big = _broadcast_pair(draw)
    return (draw.array(small),), {"shape": big}


def _sum_to_domain(draw: D.Draw) -> tuple[tuple, dict]:
    small, big = _broadcast_pair(draw)
    return (draw.array(big),), {"shape": small}


broadcast_to_op = defop(
    "broadcast_to", _broadcast_to_impl,
    transpose=(lambda y_bar, x, *, shape, in_shape:
               bind(sum_to_op, y_bar, shape=in_shape, in_shape=shape),),
    domain=_broadcast_to_domain, view=True, numpy=np.broadcast_to,
    doc="broadcast_to(x, shape): x repeated along new or length-1 axes.  Transpose: sum_to.")

sum_to_op: Op = defop(
    "sum_to", _sum_to_impl,
    transpose=(lambda y_bar, x, *, shape, in_shape:
               bind(broadcast_to_op, y_bar, shape=in_shape, in_shape=shape),),
    domain=_sum_to_domain,
    doc="sum_to(x, shape): sum x over the axes that broadcasting to x's shape would add.  "
        "Transpose: broadcast_to.")


def _check_broadcast(fn: str, small: tuple, big: tuple) -> None:
    if not broadcasts_to(small, big):
        raise ValueError(f"{fn}: shape {small} does not broadcast to {big}; each axis must match "
                         f"or have length 1, counting from the last axis")


@public(broadcast_to_op)
def broadcast_to(x: Any, shape: Sequence[int]) -> Any:
    """broadcast_to(x, shape): x repeated (without copying) to ``shape``, under numpy's rules."""
    shape, in_shape = tuple(shape), shape_of(x)
    _check_broadcast("broadcast_to", in_shape, shape)
    return bind(broadcast_to_op, x, shape=shape, in_shape=in_shape)


@public(sum_to_op)
def sum_to(x: Any, shape: Sequence[int]) -> Any:
    """sum_to(x, shape): the sum of x over the axes that broadcasting ``shape`` to x's shape adds.

    The reverse of broadcasting (torch.Tensor.sum_to_size): how gradients return to an input's
    shape.
    """
    shape, in_shape = tuple(shape), shape_of(x)
    _check_broadcast("sum_to", shape, in_shape)
    return bind(sum_to_op, x, shape=shape, in_shape=in_shape)


# --- getitem and its transpose scatter_add ---------------------------------------------------

class Slot:
    """Where an integer index array stands in an index (the op's ``index`` parameter): the array
    itself is an operand of the op, as its value may differ from example to example under vmap.
    ``shape`` is one example's shape of the array."""

    __slots__ = ("shape",)

    def __init__(self, shape: tuple) -> None:
        self.shape = shape

    def __repr__(self) -> str:
        return f"<array {self.shape}>"


def _split(index: tuple) -> tuple[tuple, tuple]:
    """(the index with each integer array replaced by a Slot, the arrays): parameter and
    operands of getitem, setitem and scatter_add."""
    arrays = tuple(ix for ix in index if _is_array(ix))
    if not arrays:
        return index, ()
    return tuple(Slot(shape_of(ix)) if _is_array(ix) else ix for ix in index), arrays


def _is_array(ix: Any) -> bool:
    return isinstance(ix, np.ndarray) or is_engine_value(ix)


def _join(index: tuple, arrays: Sequence[Any]) -> tuple:
    """The index with the arrays back in their slots."""
    if not arrays:
        return index
    it = iter(arrays)
    return tuple(next(it) if type(ix) is Slot else ix for ix in index)


def _is_advanced(ix: Any) -> bool:
    return type(ix) is Slot or isinstance(ix, np.ndarray)


def _layout(index: tuple) -> tuple[bool, int]:
    """(advanced indices separated, so numpy moves their axes first?, their broadcast ndim)."""
    arrays = [ix for ix in index if _is_advanced(ix)]
    if not arrays:
        return False, 0
    positions = [i for i, ix in enumerate(index) if _is_advanced(ix) or isinstance(ix, int)]
    separated = positions[-1] - positions[0] + 1 != len(positions)
    return separated, len(np.broadcast_shapes(*(a.shape for a in arrays)))


def _before_advanced(index: tuple) -> int:
    """How many axes of x[index] come before those of the advanced indices, when they are not
    separated (slices and None before the first array or int)."""
    count = 0
    for ix in index:
        if _is_advanced(ix) or isinstance(ix, int):
            return count
        count += 1
    return count


def _batched_index(index: tuple, arrays: Sequence[Any], nb: int) -> tuple[tuple, int, int, int]:
    """An index for a batch of examples whose index arrays differ (under vmap): (the full index,
    the arrays' batch ndim nba, the examples' advanced ndim k, where the k advanced axes of one
    example's result go among the batched result's axes). ``nb`` counts the leading axes of x
    beyond one example's shape; the arrays' nba leading axes are x's first nba."""
    nba = len(shape_of(arrays[0])) - len(_slots(index)[0].shape)
    _, k = _layout(index)
    batch = shape_of(arrays[0])[:nba]
    grid = [np.arange(n).reshape((1,) * j + (n,) + (1,) * (nba - 1 - j + k))
            for j, n in enumerate(batch)]
    it = iter(arrays)
    own = []
    for ix in index:
        if type(ix) is Slot:
            a = np.asarray(next(it))
            own.append(a.reshape(batch + (1,) * (k - len(ix.shape)) + ix.shape))
        else:
            own.append(ix)
    full = tuple(grid) + (slice(None),) * (nb - nba) + tuple(own)
    separated, _ = _layout(index)
    dest = nb + (0 if separated else _before_advanced(index))
    return full, nba, k, dest


def _slots(index: tuple) -> list:
    return [ix for ix in index if type(ix) is Slot]


def _arrays_batched(index: tuple, arrays: Sequence[Any]) -> bool:
    """Whether the index arrays carry leading batch axes (vmap over an index that differs from
    example to example)."""
    return bool(arrays) and len(shape_of(arrays[0])) > len(_slots(index)[0].shape)


def _getitem_impl(x: Any, *arrays: Any, index: tuple, in_shape: tuple) -> Any:
    nb = len(shape_of(x)) - len(in_shape)
    if _arrays_batched(index, arrays):
        full, nba, k, dest = _batched_index(index, arrays, nb)
        out = np.asarray(x)[full]  # batch, the advanced axes, the rest of x's batch, the others
        return np.moveaxis(out, tuple(range(nba, nba + k)), tuple(range(dest, dest + k)))
    index = _join(index, arrays)
    if nb == 0:
        out = x[index]
        if type(out) is not np.ndarray and type(x) is np.ndarray:
            out = x[index + (Ellipsis,)]  # a 0-d view, where numpy gives a scalar copy
        return out
    out = x[(Ellipsis,) + index]
    separated, k = _layout(index)
    if separated:  # numpy put the advanced axes before the batch axes: move the batch back first
        out = np.moveaxis(out, tuple(range(k, k + nb)), tuple(range(nb)))
    return out


def _indexed_ndim(index: tuple) -> int:
    _, k = _layout(index)
    basic = sum(1 for ix in index if ix is None or isinstance(ix, slice))
    return basic + k


def _scatter_add_impl(y: Any, *arrays: Any, index: tuple, shape: tuple) -> Any:
    nb = len(shape_of(y)) - _indexed_ndim(index)
    y = np.asarray(y)
    out = np.zeros(y.shape[:nb] + shape, dtype=np.result_type(y))
    _scatter_into(out, y, arrays, index, nb, fresh=True)
    return out


def _scatter_into(out: np.ndarray, y: np.ndarray, arrays: Sequence[Any], index: tuple,
                  nb: int, fresh: bool) -> None:
    """out[index] += y, in place (repeated indices accumulate); y has ``nb`` batch axes in front.
    Into ``fresh`` zeros, basic indexing assigns (so that a -0.0 stays -0.0)."""
    if _arrays_batched(index, arrays):
        full, nba, k, dest = _batched_index(index, arrays, nb)
        np.add.at(out, full, np.moveaxis(y, tuple(range(dest, dest + k)),
                                         tuple(range(nba, nba + k))))
        return
    index = _join(index, arrays)
    separated, k = _layout(index)
    if nb and separated:
        y = np.moveaxis(y, tuple(range(nb)), tuple(range(k, k + nb)))
    full = (Ellipsis,) + index if nb else index
    if k:
        np.add.at(out, full, y)  # repeated indices accumulate
    elif fresh:
        out[full] = y
    else:
        out[full] += y


def _getitem_accumulate(total: np.ndarray, y_bar: np.ndarray, *arrays: Any, index: tuple,
                        in_shape: tuple) -> None:
    """getitem's transpose into an existing array: total[index] += y_bar."""
    _scatter_into(total, y_bar, arrays, index, len(y_bar.shape) - _indexed_ndim(index),
                  fresh=False)


def _random_index(draw: D.Draw, xs: tuple) -> tuple:
    """A mix of integers, slices, integer arrays (with repeats), None and Ellipsis for shape xs."""
    index: list[Any] = []
    length = draw.integers(0, 4)  # index arrays broadcast together: give them one length
    for n in xs:
        kind = draw.choice(["slice", "int", "array", "all"] if n else ["slice", "all"])
        if kind == "int":
            index.append(draw.integers(-n, n - 1))
        elif kind == "array":
            index.append(np.array([draw.integers(-n, n - 1) for _ in range(length)],
                                  dtype=np.intp))
        elif kind == "slice":
            start, stop = draw.integers(-n - 1, n + 1), draw.integers(-n - 1, n + 1)
            index.append(slice(start, stop, draw.choice([1, 2, -1])))
        else:
            index.append(slice(None))
    if draw.boolean():
        index.insert(draw.integers(0, len(index)), None)
    if index and draw.boolean():  # replace a run of trailing full slices by Ellipsis
        index = index[:draw.integers(0, len(index) - 1)] + [Ellipsis]
    return tuple(index)


def _getitem_domain(draw: D.Draw) -> tuple[tuple, dict]:
    xs = draw.shape(min_dims=1)
    return (draw.array(xs),), {"index": _random_index(draw, xs)}


getitem_op = defop(
    "getitem", _getitem_impl,
    transpose=(lambda y_bar, x, *arrays, index, in_shape:
               bind(scatter_add_op, y_bar, *arrays, index=index, shape=in_shape),),
    domain=_getitem_domain, view=True, accumulate=_getitem_accumulate,
    doc="getitem(x, index): x[index] with basic and integer-array indexing.  "
        "Transpose: scatter_add (repeated indices accumulate).")


def _scatter_add_domain(draw: D.Draw) -> tuple[tuple, dict]:
    xs = draw.shape(min_dims=1)
    index = _canonical_index(_random_index(draw, xs), xs, "scatter_add")
    y_shape = np.zeros(xs)[index].shape
    return (draw.array(y_shape),), {"index": index, "shape": xs}


scatter_add_op: Op = defop(
    "scatter_add", _scatter_add_impl,
    transpose=(lambda y_bar, y, *arrays, index, shape:
               bind(getitem_op, y_bar, *arrays, index=index, in_shape=shape),),
    domain=_scatter_add_domain,
    doc="scatter_add(y, index, shape): zeros(shape) with y added at index (repeats accumulate).  "
        "Transpose: getitem.")


def _index_item(ix: Any, fn: str) -> Any:
    """One index entry as an int, slice, None, Ellipsis, integer array or boolean mask."""
    if captures_open[0] and isinstance(ix, np.ndarray) and ix.dtype.kind in "iu":
        # an integer array a jitted function closes over: read at each call, as the op's operand
        level = capturing((ix,))
        if level is not None:
            ix = level.constant(ix)
    if is_engine_value(ix) and (np.shape(raw(ix)) != shape_of(ix) or ix._level.per_call):
        # An index that differs from example to example (mapped by vmap), or from call to call
        # (an argument of a jitted function): an operand of the op, never a constant.
        if np.result_type(raw(ix)).kind not in "iu":
            raise IndexError(f"{fn}: index arrays must hold integers, got dtype "
                             f"{np.result_type(raw(ix))}")
        return ix
    ix = raw(ix)
    if isinstance(ix, (list, np.ndarray)) or (hasattr(ix, "__array__") and not np.isscalar(ix)):
        arr = np.asarray(ix)
        if arr.dtype == bool:
            return arr
        if arr.dtype.kind not in "iu" and arr.size:
            raise IndexError(f"{fn}: index arrays must hold integers or booleans, got dtype "
                             f"{arr.dtype} (tensors made from Python ints are float32: give index "
                             f"tensors dtype=np.int64)")
        # The op keeps its own read-only copy: the caller may change the array (or the index
        # tensor, in place) before backward runs, and the gradient must not see it.
        arr = arr.astype(np.intp, copy=True)
        arr.flags.writeable = False
        return arr
    if isinstance(ix, (bool, np.bool_)):
        raise IndexError(f"{fn}: a boolean scalar index is not supported; use an array mask")
    if isinstance(ix, (int, np.integer)):
        return int(ix)
    if ix is None or ix is Ellipsis or isinstance(ix, slice):
        return ix
    raise IndexError(f"{fn}: unsupported index {ix!r}; use ints, slices, None, Ellipsis or "
                     f"integer/boolean arrays")


def _axes_used(ix: Any) -> int:
    if ix is None or ix is Ellipsis:
        return 0
    return ix.ndim if isinstance(ix, np.ndarray) and ix.dtype == bool else 1


def _canonical_index(index: Any, xs: tuple, fn: str) -> tuple:
    """index as a tuple of ints, slices, None and int arrays that covers every axis of xs."""
    items = [_index_item(ix, fn) for ix in (index if isinstance(index, tuple) else (index,))]
    used = sum(_axes_used(ix) for ix in items)
    if used > len(xs):
        raise IndexError(f"{fn}: too many indices ({used}) for an array of shape {xs}")
    ellipses = [i for i, ix in enumerate(items) if ix is Ellipsis]
    if len(ellipses) > 1:
        raise IndexError(f"{fn}: an index can only have a single Ellipsis (...)")
    fill = [slice(None)] * (len(xs) - used)
    if ellipses:
        items[ellipses[0]:ellipses[0] + 1] = fill
    else:
        items.extend(fill)
    out: list[Any] = []
    axis = 0
    for ix in items:  # masks become integer arrays; bounds checks name the axis and the shape
        if ix is None or isinstance(ix, slice):
            out.append(ix)
            axis += ix is not None
            continue
        if is_engine_value(ix):  # an index of vmap's examples: checked on all of them
            values = raw(ix)
            n = xs[axis]
            if values.size and (values.max() >= n or values.min() < -n):
                raise IndexError(f"{fn}: an index is out of bounds for axis {axis} with size {n} "
                                 f"(array shape {xs})")
            out.append(ix)
            axis += 1
            continue
        if isinstance(ix, np.ndarray) and ix.dtype == bool:
            covered = xs[axis:axis + ix.ndim]
            if ix.shape != covered:
                raise IndexError(f"{fn}: boolean mask of shape {ix.shape} does not match the axes "
                                 f"it indexes, of shape {covered} (array shape {xs})")
            out.extend(np.nonzero(ix))
            axis += ix.ndim
            continue
        n = xs[axis]
        high = ix if isinstance(ix, int) else (ix.max() if ix.size else 0)
        low = ix if isinstance(ix, int) else (ix.min() if ix.size else 0)
        if high >= n or low < -n:
            raise IndexError(f"{fn}: index {high if high >= n else low} is out of bounds for axis "
                             f"{axis} with size {n} (array shape {xs})")
        out.append(ix)
        axis += 1
    return tuple(out)


@public(getitem_op)
def getitem(x: Any, index: Any) -> Any:
    """getitem(x, index) = x[index]: ints, slices, None, Ellipsis, integer and boolean arrays.

    Gradients of repeated integer indices accumulate.

    >>> getitem(np.arange(5.0), np.array([0, 0, 3]))
    array([0., 0., 3.])
    """
    in_shape = shape_of(x)
    template, arrays = _split(_canonical_index(index, in_shape, "getitem"))
    return bind(getitem_op, x, *arrays, index=template, in_shape=in_shape)


@public(scatter_add_op)
def scatter_add(y: Any, index: Any, shape: Sequence[int]) -> Any:
    """scatter_add(y, index, shape): zeros(shape) with y added at ``index`` (repeats accumulate)."""
    shape = tuple(shape)
    template, arrays = _split(_canonical_index(index, shape, "scatter_add"))
    want = _indexed_shape(shape, template)
    if shape_of(y) != want:
        raise ValueError(f"scatter_add: y has shape {shape_of(y)} but the index selects shape "
                         f"{want}")
    return bind(scatter_add_op, y, *arrays, index=template, shape=shape)


# --- setitem: x with x[index] replaced (PyTorch's CopySlices) --------------------------------

def _indexed_shape(shape: tuple, index: tuple) -> tuple:
    """The shape of x[index] for an x of ``shape`` (computed on a zero-size broadcast view; an
    index array, or its Slot, stands in as zeros of one example's shape)."""
    probe = tuple(np.zeros(shape_of(ix) if type(ix) is not Slot else ix.shape, dtype=np.intp)
                  if _is_advanced(ix) or is_engine_value(ix) else ix for ix in index)
    return np.broadcast_to(np.empty((), dtype=bool), shape)[probe].shape


def _setitem_impl(x: Any, v: Any, *arrays: Any, index: tuple, shape: tuple,
                  vshape: tuple) -> Any:
    out = np.array(x, copy=True)
    nb = out.ndim - len(shape)
    if nb == 0:
        out[_join(index, arrays)] = v
        return out
    # A batch of tangents or cotangents: align v's own batch axes (if any) with x's, then put the
    # batch axes where numpy's indexing puts them for this index.
    core = _indexed_shape(shape, index)
    v = np.asarray(v)
    batch = out.shape[:nb]
    if v.ndim > len(vshape):
        v = np.reshape(v, batch + (1,) * (len(core) - len(vshape)) + vshape)
    v = np.broadcast_to(v, batch + core)
    if _arrays_batched(index, arrays):
        full, nba, k, dest = _batched_index(index, arrays, nb)
        out[full] = np.moveaxis(v, tuple(range(dest, dest + k)), tuple(range(nba, nba + k)))
        return out
    index = _join(index, arrays)
    separated, k = _layout(index)
    if separated:
        v = np.moveaxis(v, tuple(range(nb)), tuple(range(k, k + nb)))
    out[(Ellipsis,) + index] = v
    return out


def _setitem_value_transpose(y_bar: Any, x: Any, v: Any, *arrays: Any, index: tuple,
                             shape: tuple, vshape: tuple) -> Any:
    picked = bind(getitem_op, y_bar, *arrays, index=index, in_shape=shape)
    core = _indexed_shape(shape, index)
    return picked if core == vshape else bind(sum_to_op, picked, shape=vshape, in_shape=core)


def _distinct_index(draw: D.Draw, xs: tuple) -> tuple:
    """Like _random_index, but integer arrays never repeat a position (a repeated write keeps one
    of the values, so only distinct positions have a well-defined derivative)."""
    index: list[Any] = []
    length = draw.integers(0, builtins.min(xs) if xs else 0)
    for n in xs:
        kind = draw.choice(["slice", "int", "array", "all"] if n else ["slice", "all"])
        if kind == "int":
            index.append(draw.integers(-n, n - 1))
        elif kind == "array":
            start = draw.integers(0, n - length)
            index.append(np.arange(start, start + length, dtype=np.intp)[::draw.choice([1, -1])])
        elif kind == "slice":
            start, stop = draw.integers(-n - 1, n + 1), draw.integers(-n - 1, n + 1)
            index.append(slice(start, stop, draw.choice([1, 2, -1])))
        else:
            index.append(slice(None))
    return tuple(index)


def _setitem_domain(draw: D.Draw) -> tuple[tuple, dict]:
    xs = draw.shape(min_dims=1)
    index = _canonical_index(_distinct_index(draw, xs), xs, "setitem")
    core = _indexed_shape(xs, index)
    vshape = core[draw.integers(0, len(core)):]  # the value may broadcast
    vshape = tuple(1 if draw.boolean() else s for s in vshape)
    return (draw.array(xs), index, draw.array(vshape)), {}


setitem_op: Op = defop(
    "setitem", _setitem_impl,
    transpose=(lambda y_bar, x, v, *arrays, index, shape, vshape:
               bind(setitem_op, y_bar, 0.0, *arrays, index=index, shape=shape, vshape=()),
               _setitem_value_transpose),
    domain=_setitem_domain,
    doc="setitem(x, index, v): x with x[index] = v (v broadcast).  Transpose: to x, the cotangent "
        "with zeros at index; to v, the cotangent at index, summed back to v's shape.")


@public(setitem_op)
def setitem(x: Any, index: Any, value: Any) -> Any:
    """setitem(x, index, value): a copy of x with ``x[index] = value`` (value broadcasts, and is
    converted to x's dtype). The functional form of item assignment; ``x[index] = value`` on a
    tensor records this op. With repeated integer indices one of the values is kept, as in numpy.

    >>> setitem(np.zeros(3), 1, 5.0)
    array([0., 5., 0.])
    """
    in_shape = shape_of(x)
    if type(value) in (list, tuple):
        value = np.asarray(value)
    index = _canonical_index(index, in_shape, "setitem")
    core = _indexed_shape(in_shape, index)
    vshape = shape_of(value)
    if not broadcasts_to(vshape, core):
        raise ValueError(f"setitem: a value of shape {vshape} cannot be written into x[index] of "
                         f"shape {core} (x has shape {in_shape}); give a value that broadcasts to "
                         f"{core}")
    template, arrays = _split(index)
    return bind(setitem_op, x, value, *arrays, index=template, shape=in_shape, vshape=vshape)


# --- clone: a copy that gradients pass through unchanged -------------------------------------

clone_op = defop(
    "clone", lambda x: np.array(x, copy=True),
    transpose=(lambda y_bar, x: y_bar,),
    domain=D.unary(), method="clone", numpy_method="copy", numpy=np.copy,
    doc="clone(x): a copy of x with its own memory.  Transpose: the identity.")


@public(clone_op)
def clone(x: Any) -> Any:
    """clone(x): a copy of x with its own memory; gradients pass through (torch.clone, np.copy)."""
    return bind(clone_op, x)


def _slice_core(y_bar: Any, out_shape: tuple, axis: int, key: Any) -> Any:
    """y_bar[..., key, ...] with key at the (negative) core ``axis`` of out_shape."""
    index = (slice(None),) * (len(out_shape) + axis) + (key,) + (slice(None),) * (-axis - 1)
    return bind(getitem_op, y_bar, index=index, in_shape=out_shape)


# --- concatenate and stack -------------------------------------------------------------------

def _concatenate_transpose(y_bar: Any, i: int, *xs: Any, axis: int) -> Any:
    start = sum(shape_of(x)[axis] for x in xs[:i])
    out_shape = list(shape_of(xs[0]))
    out_shape[axis] = sum(shape_of(x)[axis] for x in xs)
    return _slice_core(y_bar, tuple(out_shape), axis, slice(start, start + shape_of(xs[i])[axis]))


def _concatenate_domain(draw: D.Draw) -> tuple[tuple, dict]:
    base = draw.shape(min_dims=1)
    axis = draw.integers(-len(base), len(base) - 1)
    shapes = []
    for _ in range(draw.integers(1, 3)):
        s = list(base)
        s[axis] = draw.integers(0, 3)
        shapes.append(tuple(s))
    return tuple(draw.array(s) for s in shapes), {"axis": axis}


concatenate_op = defop(
    "concatenate", lambda *xs, axis: np.concatenate(xs, axis=axis),
    transpose=_concatenate_transpose,
    domain=_concatenate_domain, numpy=(np.concatenate, np.concat),
    doc="concatenate(xs, axis): the arrays joined along an existing axis.  Transpose: slices.")


def _arrays(xs: Sequence[Any]) -> tuple:
    """The arrays to join, nested lists (numpy's ``[0.0]``) made arrays."""
    return tuple(np.asarray(x) if isinstance(x, (list, tuple)) else x for x in xs)


def _shapes_of(xs: tuple, fn: str, agree: Any, rule: str) -> list[tuple]:
    """The shapes of the arrays to join, checked to agree with the first under ``agree``."""
    if not xs:
        raise ValueError(f"{fn}: needs at least one array")
    shapes = [shape_of(x) for x in xs]
    for i, s in enumerate(shapes):
        if agree(s) != agree(shapes[0]):
            raise ValueError(f"{fn}: array {i} has shape {s} but array 0 has shape {shapes[0]}; "
                             f"{rule}")
    return shapes


@public(concatenate_op)
def concatenate(xs: Sequence[Any], axis: int | None = 0) -> Any:
    """concatenate(xs, axis=0): join arrays along an existing axis (torch.cat); axis=None joins
    them flattened, as numpy's."""
    xs = _arrays(xs)
    if axis is None:
        xs, axis = tuple(flatten(x) for x in xs), 0
    ndim = len(shape_of(xs[0])) if xs else 0
    ax = normalize_axis(axis, ndim, "concatenate") if xs else axis
    _shapes_of(xs, "concatenate", lambda s: (len(s), s[:ax % ndim] + s[ax % ndim + 1:]),
               f"all shapes must match except along axis {axis}")
    return bind(concatenate_op, *xs, axis=ax)


def _stack_transpose(y_bar: Any, i: int, *xs: Any, axis: int) -> Any:
    out_shape = list(shape_of(xs[0]))
    out_shape.insert(len(out_shape) + 1 + axis, len(xs))
    return _slice_core(y_bar, tuple(out_shape), axis, i)


def _stack_domain(draw: D.Draw) -> tuple[tuple, dict]:
    s = draw.shape()
    axis = draw.integers(-len(s) - 1, len(s))
    return tuple(draw.array(s) for _ in range(draw.integers(1, 3))), {"axis": axis}


stack_op = defop(
    "stack", lambda *xs, axis: np.stack(xs, axis=axis),
    transpose=_stack_transpose,
    domain=_stack_domain, numpy=np.stack,
    doc="stack(xs, axis): the arrays joined along a new axis.  Transpose: one slice per input.")


@public(stack_op)
def stack(xs: Sequence[Any], axis: int = 0) -> Any:
    """stack(xs, axis=0): join arrays of one shape along a new axis."""
    xs = _arrays(xs)
    shapes = _shapes_of(xs, "stack", lambda s: s, "stacked arrays must have equal shapes")
    return bind(stack_op, *xs, axis=normalize_axis(axis, len(shapes[0]) + 1, "stack"))
