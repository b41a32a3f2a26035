"""numpy's functions that build arrays out of others: padding, rotating, rolling axes, choosing
among arrays (select), cross products, ranges and grids, broadcasting several arrays, numerical
gradients, partitions. Each is a composition of registry ops (getitem, concatenate, flip, where,
mul, ...), so it has every derivative those have, in both modes and under vmap.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from adcore.ops.arrays import flip, moveaxis, split, take_along_axis
from adcore.ops.compare import Constant, equal, greater, less, ones_like
from adcore.ops.elementwise import add, astype, div, mul, sub, where
from adcore.ops.shape import (
    broadcast_to,
    concatenate,
    flatten,
    getitem,
    reshape,
    stack,
    swapaxes,
)
from adcore.registry import declare
from adcore.shapes import axis_pair, dtype_of, normalize_axis, shape_of

__all__ = [
    "broadcast_arrays",
    "cross",
    "dsplit",
    "gradient",
    "interp",
    "linspace",
    "meshgrid",
    "pad",
    "partition",
    "rollaxis",
    "rot90",
    "select",
]


def _along(ax: int, index: Any, ndim: int) -> tuple:
    return (slice(None),) * ax + (index,) + (slice(None),) * (ndim - ax - 1)


# --- padding ----------------------------------------------------------------------------------

def _pad_widths(pad_width: Any, ndim: int) -> list[tuple[int, int]]:
    """numpy's pad_width forms: n, (n,), (before, after), or one pair per axis."""
    widths = np.broadcast_to(np.asarray(pad_width, dtype=np.int64), (ndim, 2))
    if (widths < 0).any():
        raise ValueError(f"pad: pad_width {pad_width!r} has a negative width")
    return [(int(b), int(a)) for b, a in widths]


def _edge_index(length: int, before: int, after: int, mode: str) -> np.ndarray:
    """The source index of each entry of the padded axis (edge, reflect, symmetric, wrap)."""
    positions = np.arange(-before, length + after)
    if mode == "edge":
        return np.clip(positions, 0, length - 1)
    if mode == "wrap":
        return positions % length
    if mode == "reflect":
        if length == 1:
            return np.zeros_like(positions)
        period = 2 * (length - 1)
        p = positions % period
        return np.where(p < length, p, period - p)
    period = 2 * length  # symmetric: the edge entry repeated
    p = positions % period
    return np.where(p < length, p, period - 1 - p)


@declare(numpy=np.pad)
def pad(array: Any, pad_width: Any, mode: str = "constant", **kwargs: Any) -> Any:
    """pad(array, pad_width, mode='constant', constant_values=0): numpy's padding, in modes
    'constant', 'edge', 'reflect', 'symmetric' and 'wrap' (numpy's default reflect_type). The
    gradient of a padded entry goes back to the entry it copies."""
    s = shape_of(array)
    widths = _pad_widths(pad_width, len(s))
    if mode == "constant":
        value = kwargs.pop("constant_values", 0)
        if kwargs:
            raise TypeError(f"pad: mode='constant' takes constant_values only, not "
                            f"{sorted(kwargs)}")
        values = np.broadcast_to(np.asarray(value), (len(s), 2))
        out = array
        for ax, (before, after) in enumerate(widths):
            shape = list(shape_of(out))
            parts = []
            if before:
                shape[ax] = before
                parts.append(np.full(shape, values[ax][0], dtype=dtype_of(out)))
            parts.append(out)
            if after:
                shape[ax] = after
                parts.append(np.full(shape, values[ax][1], dtype=dtype_of(out)))
            out = concatenate(parts, axis=ax) if len(parts) > 1 else out
        return out
    if mode not in ("edge", "reflect", "symmetric", "wrap"):
        raise ValueError(f"pad: mode={mode!r} is not supported on engine values; use 'constant', "
                         f"'edge', 'reflect', 'symmetric' or 'wrap'")
    if kwargs.get("reflect_type", "even") != "even" or set(kwargs) - {"reflect_type"}:
        raise TypeError(f"pad: mode={mode!r} with {sorted(kwargs)} is not supported")
    out = array
    for ax, (before, after) in enumerate(widths):
        if before or after:
            if s[ax] == 0:
                raise ValueError(f"pad: cannot pad an empty axis {ax} of shape {s} in mode "
                                 f"{mode!r}")
            out = getitem(out, _along(ax, _edge_index(s[ax], before, after, mode), len(s)))
    return out


# --- rotating, rolling axes, splitting --------------------------------------------------------

@declare(numpy=np.rot90, torch_method="rot90")
def rot90(m: Any, k: int = 1, axes: Sequence[int] = (0, 1)) -> Any:
    """rot90(m, k=1, axes=(0, 1)): m rotated by 90 degrees k times, from the first axis towards
    the second (numpy's flips and transposes)."""
    a, b = axis_pair(axes, len(shape_of(m)), "rot90")
    k = int(k) % 4
    if k == 0:
        return mul(m, 1)
    if k == 2:
        return flip(flip(m, a), b)
    if k == 1:
        return swapaxes(flip(m, b), a, b)
    return flip(swapaxes(m, a, b), b)


@declare(numpy=np.rollaxis)
def rollaxis(a: Any, axis: int, start: int = 0) -> Any:
    """rollaxis(a, axis, start=0): axis moved to before position ``start`` (numpy's older
    moveaxis)."""
    n = len(shape_of(a))
    axis = normalize_axis(int(axis), n, "rollaxis") % n
    start = int(start) + n if int(start) < 0 else int(start)
    if not 0 <= start <= n:
        raise ValueError(f"rollaxis: start={start} is out of range for {n} axes")
    if axis < start:
        start -= 1
    return moveaxis(a, axis, start)


@declare(numpy=np.dsplit)
def dsplit(ary: Any, indices_or_sections: Any) -> list:
    """dsplit: split along axis 2 (arrays of at least 3 axes)."""
    if len(shape_of(ary)) < 3:
        raise ValueError(f"dsplit: needs at least 3 axes, got shape {shape_of(ary)}")
    return split(ary, indices_or_sections, 2)


# --- choosing and products --------------------------------------------------------------------

@declare(numpy=np.select)
def select(condlist: Sequence[Any], choicelist: Sequence[Any], default: Any = 0) -> Any:
    """select(condlist, choicelist, default=0): from each array of choicelist where its condition
    is the first that holds, else default; the gradient goes to the chosen entries."""
    if len(condlist) != len(choicelist):
        raise ValueError(f"select: {len(condlist)} conditions for {len(choicelist)} choices; give "
                         f"one condition per choice")
    out = default
    for cond, choice in zip(reversed(list(condlist)), reversed(list(choicelist))):
        out = where(cond, choice, out)
    return out


@declare(numpy=np.cross)
def cross(a: Any, b: Any, axisa: int = -1, axisb: int = -1, axisc: int = -1,
          axis: Any = None) -> Any:
    """cross(a, b): the cross product of 3-vectors along the last axis (or ``axis``)."""
    if axis is not None:
        axisa = axisb = axisc = axis
    a = moveaxis(a, axisa, -1)
    b = moveaxis(b, axisb, -1)
    if shape_of(a)[-1] != 3 or shape_of(b)[-1] != 3:
        raise ValueError(f"cross: vectors of length 3 only here, got shapes {shape_of(a)} and "
                         f"{shape_of(b)}")
    a0, a1, a2 = (getitem(a, (Ellipsis, i)) for i in range(3))
    b0, b1, b2 = (getitem(b, (Ellipsis, i)) for i in range(3))
    out = stack([sub(mul(a1, b2), mul(a2, b1)), sub(mul(a2, b0), mul(a0, b2)),
                 sub(mul(a0, b1), mul(a1, b0))], axis=-1)
    return moveaxis(out, -1, axisc)


# --- ranges and grids ---------------------------------------------------------------------------

@declare(numpy=np.linspace)
def linspace(start: Any, stop: Any, num: int = 50, endpoint: bool = True, retstep: bool = False,
             dtype: Any = None, axis: int = 0) -> Any:
    """linspace(start, stop, num=50): num evenly spaced values, differentiable in start and
    stop (numpy's formula: start + arange(num) * step, the last one stop)."""
    if dtype is not None or axis != 0:
        raise TypeError("linspace: dtype= and axis= are not supported on engine values")
    num = int(num)
    div_count = (num - 1) if endpoint else num
    delta = sub(stop, start)
    step = div(delta, div_count) if div_count > 0 else np.nan
    shape_tail = shape_of(delta)
    dt = np.result_type(*(v if isinstance(v, (int, float)) else dtype_of(v)
                          for v in (start, stop)), float(num))  # numpy's: Python numbers weak
    ramp = np.arange(num, dtype=dt).reshape((num,) + (1,) * len(shape_tail))
    values = add(mul(ramp, step), start) if div_count > 0 else add(mul(ramp, delta), start)
    if endpoint and num > 1:
        values = concatenate([getitem(values, slice(None, -1)),
                              reshape(broadcast_to(stop, shape_tail), (1,) + shape_tail)], 0)
    return (values, step) if retstep else values


@declare(numpy=np.meshgrid)
def meshgrid(*xi: Any, copy: bool = True, sparse: bool = False, indexing: str = "xy") -> list:
    """meshgrid(*xi, indexing='xy', sparse=False): coordinate arrays from coordinate vectors."""
    if indexing not in ("xy", "ij"):
        raise ValueError(f"meshgrid: indexing must be 'xy' or 'ij', got {indexing!r}")
    n = len(xi)
    shapes = [(1,) * i + (-1,) + (1,) * (n - i - 1) for i in range(n)]
    if indexing == "xy" and n > 1:
        shapes[0] = (1, -1) + (1,) * (n - 2)
        shapes[1] = (-1, 1) + (1,) * (n - 2)
    grids = [reshape(x, s) for x, s in zip(xi, shapes)]
    if sparse:
        return grids
    full = tuple(np.broadcast_shapes(*[shape_of(g) for g in grids]))
    return [mul(broadcast_to(g, full), 1) for g in grids]


@declare(numpy=np.broadcast_arrays)
def broadcast_arrays(*args: Any, subok: bool = False) -> tuple:
    """broadcast_arrays(*args): the arrays broadcast to their common shape."""
    full = tuple(np.broadcast_shapes(*[shape_of(a) for a in args]))
    return tuple(broadcast_to(a, full) for a in args)


# --- numerical gradient -------------------------------------------------------------------------

@declare(numpy=np.gradient)
def gradient(f: Any, *varargs: Any, axis: Any = None, edge_order: int = 1) -> Any:
    """gradient(f, *spacings, axis=None, edge_order=1): numpy's second-order central differences
    inside and one-sided differences at the edges, for uniform spacings (a number per axis)."""
    nd = len(shape_of(f))
    axes = list(range(nd)) if axis is None else [
        normalize_axis(int(a), nd, "gradient") % nd
        for a in ((axis,) if isinstance(axis, (int, np.integer)) else axis)]
    if len(varargs) == 0:
        spacing = [1.0] * len(axes)
    elif len(varargs) == 1 and np.ndim(varargs[0]) == 0:
        spacing = [varargs[0]] * len(axes)
    elif len(varargs) == len(axes) and all(np.ndim(v) == 0 for v in varargs):
        spacing = list(varargs)
    else:
        raise TypeError("gradient: only uniform spacings (one number, or one per axis) are "
                        "supported on engine values; coordinate arrays are not")
    if edge_order != 1:
        raise ValueError("gradient: only edge_order=1 is supported on engine values")
    out = []
    for ax, dx in zip(axes, spacing):
        n = shape_of(f)[ax]
        if n < 2:
            raise ValueError(f"gradient: axis {ax} of shape {shape_of(f)} needs at least 2 "
                             f"entries")

        def part(lo: Any, hi: Any, ax: int = ax) -> Any:
            return getitem(f, _along(ax, slice(lo, hi), nd))
        first = div(sub(part(1, 2), part(0, 1)), dx)
        last = div(sub(part(n - 1, n), part(n - 2, n - 1)), dx)
        pieces = [first]
        if n > 2:
            pieces.append(div(sub(part(2, None), part(None, -2)), 2.0 * dx))
        pieces.append(last)
        out.append(concatenate(pieces, axis=ax))
    return out[0] if len(out) == 1 else tuple(out)


# --- interpolation ----------------------------------------------------------------------------

def _interval(x: np.ndarray, xp: np.ndarray) -> np.ndarray:
    """The index j of the interval [xp[j], xp[j + 1]] holding each x (clipped to the ends);
    one row at a time when vmap gives the points a batch axis."""
    if xp.ndim > 1:
        return np.stack([_interval(xk, xpk) for xk, xpk in zip(x, xp)])
    return np.clip(np.searchsorted(xp, x, side="right") - 1, 0, max(len(xp) - 2, 0))


_interval_of = Constant("interval", _interval, elementwise=False)


@declare(numpy=np.interp)
def interp(x: Any, xp: Any, fp: Any, left: Any = None, right: Any = None,
           period: Any = None) -> Any:
    """interp(x, xp, fp, left=None, right=None): numpy's piecewise-linear interpolation,
    differentiable in x, xp and fp: slope * (x - xp[j]) + fp[j] on the interval j holding x,
    fp[0] (or left) before xp[0], fp[-1] (or right) after xp[-1] and at it."""
    if period is not None:
        raise TypeError("interp: period= is not supported on engine values")
    # numpy computes in float64 whatever it is given: so does this
    x, xp, fp = (np.asarray(v, np.float64) if isinstance(v, (list, tuple, int, float))
                 else v if dtype_of(v) == np.float64 else astype(v, np.float64)
                 for v in (x, xp, fp))
    n = shape_of(xp)[-1] if shape_of(xp) else 0
    if len(shape_of(xp)) != 1 or shape_of(fp) != (n,) or n == 0:
        raise ValueError(f"interp: xp and fp must be 1-d of one non-zero length, got shapes "
                         f"{shape_of(xp)} and {shape_of(fp)}")
    first, last = getitem(fp, 0), getitem(fp, -1)
    if n == 1:
        inside: Any = mul(ones_like(x), first)
    else:
        j = _interval_of(x, xp)
        x0, x1 = getitem(xp, j), getitem(xp, add(j, 1))
        f0, f1 = getitem(fp, j), getitem(fp, add(j, 1))
        slope = div(sub(f1, f0), sub(x1, x0))
        inside = add(mul(slope, sub(x, x0)), f0)
        inside = where(equal(x, getitem(xp, -1)), last, inside)
    below = first if left is None else left
    above = last if right is None else right
    return where(less(x, getitem(xp, 0)), below, where(greater(x, getitem(xp, -1)), above, inside))


# --- partition ----------------------------------------------------------------------------------

_argpartition = Constant("argpartition",
                         lambda x, *, kth, axis: np.argpartition(x, kth, axis=axis),
                         elementwise=False)


@declare(numpy=np.partition)
def partition(a: Any, kth: Any, axis: int | None = -1, kind: str = "introselect",
              order: Any = None) -> Any:
    """partition(a, kth, axis=-1): a rearranged as numpy's partition arranges it (the kth entry
    in its sorted place, smaller ones before it); each entry's gradient goes back to its place."""
    if axis is None:
        return partition(flatten(a), kth, -1)
    n = len(shape_of(a))
    ax = normalize_axis(int(axis), n, "partition")
    return take_along_axis(a, _argpartition(a, kth=kth, axis=ax), ax)

