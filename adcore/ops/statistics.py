"""numpy's NaN-ignoring reductions (nansum, nanmean, nanmax, nanmin, nanprod, nanvar, nanstd,
nancumsum, nancumprod) and order statistics (quantile, percentile), as compositions of registry
ops that compute what numpy computes: NaN entries are replaced as numpy replaces them (and get no
gradient), and a quantile interpolates between its two neighbouring sorted entries with numpy's
own formula (the gradient goes to those two entries).
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from adcore.ops.arrays import moveaxis, sort
from adcore.ops.compare import all, isnan, logical_not
from adcore.ops.elementwise import add, astype, div, mul, sqrt, sub, where
from adcore.ops.reduce import cumprod, cumsum, prod, sum
from adcore.ops.reduce import max as amax
from adcore.ops.reduce import min as amin
from adcore.ops.shape import flatten, getitem, reshape
from adcore.registry import declare
from adcore.shapes import dtype_of, normalize_axes, shape_of

__all__ = [
    "nancumprod",
    "nancumsum",
    "nanmax",
    "nanmean",
    "nanmin",
    "nanprod",
    "nanstd",
    "nansum",
    "nanvar",
    "percentile",
    "quantile",
]


def _cast(a: Any, dtype: Any) -> Any:
    return a if dtype is None else astype(a, dtype)


@declare(numpy=np.nansum, torch_method="nansum")
def nansum(a: Any, axis: Any = None, dtype: Any = None,
           keepdims: bool = False) -> Any:
    """nansum(a, axis=None): the sum with NaN entries counted as 0."""
    return sum(where(isnan(a), 0, _cast(a, dtype)), axis, keepdims)


@declare(numpy=np.nanprod)
def nanprod(a: Any, axis: Any = None, dtype: Any = None,
            keepdims: bool = False) -> Any:
    """nanprod(a, axis=None): the product with NaN entries counted as 1."""
    return prod(where(isnan(a), 1, _cast(a, dtype)), axis, keepdims)


@declare(numpy=np.nanmean, torch_method="nanmean")
def nanmean(a: Any, axis: Any = None, dtype: Any = None,
            keepdims: bool = False) -> Any:
    """nanmean(a, axis=None): the mean of the entries that are not NaN (NaN where all are)."""
    kept = logical_not(isnan(a))
    x = _cast(a, dtype)
    total = sum(where(kept, x, 0), axis, keepdims)
    return _as(div(total, sum(kept, axis, keepdims)), x)


def _as(result: Any, like: Any) -> Any:
    """``result`` in the floating dtype of ``like``: numpy divides by an integer count and casts
    back (a float32 mean stays float32)."""
    want = dtype_of(like)
    if np.dtype(want).kind == "f" and dtype_of(result) != want:
        return astype(result, want)
    return result


@declare(numpy=np.nanvar)
def nanvar(a: Any, axis: Any = None, dtype: Any = None, ddof: int = 0,
           keepdims: bool = False) -> Any:
    """nanvar(a, axis=None, ddof=0): the variance of the entries that are not NaN."""
    kept = logical_not(isnan(a))
    x = where(kept, _cast(a, dtype), 0)
    count = sum(kept, axis, True)
    centred = where(kept, sub(x, _as(div(sum(x, axis, True), count), x)), 0)
    squares = sum(mul(centred, centred), axis, keepdims)
    return _as(div(squares, sub(sum(kept, axis, keepdims), ddof)), x)


@declare(numpy=np.nanstd)
def nanstd(a: Any, axis: Any = None, dtype: Any = None, ddof: int = 0,
           keepdims: bool = False) -> Any:
    """nanstd(a, axis=None, ddof=0): the standard deviation of the entries that are not NaN."""
    return sqrt(nanvar(a, axis, dtype, ddof, keepdims))


def _nan_extremum(a: Any, axis: Any, keepdims: bool, lowest: float) -> Any:
    """The max (lowest = -inf) or min (inf) of the entries that are not NaN; NaN where all are."""
    nan = isnan(a)
    best = (amax if lowest < 0 else amin)(where(nan, lowest, a), axis, keepdims)
    return where(all(nan, axis, keepdims), np.nan, best)


@declare(numpy=np.nanmax)
def nanmax(a: Any, axis: Any = None, keepdims: bool = False) -> Any:
    """nanmax(a, axis=None): the largest entry that is not NaN (NaN where all are)."""
    return _nan_extremum(a, axis, keepdims, -math.inf)


@declare(numpy=np.nanmin)
def nanmin(a: Any, axis: Any = None, keepdims: bool = False) -> Any:
    """nanmin(a, axis=None): the smallest entry that is not NaN (NaN where all are)."""
    return _nan_extremum(a, axis, keepdims, math.inf)


@declare(numpy=np.nancumsum)
def nancumsum(a: Any, axis: Any = None, dtype: Any = None) -> Any:
    """nancumsum(a, axis=None): running sums with NaN entries counted as 0."""
    return cumsum(where(isnan(a), 0, _cast(a, dtype)), axis)


@declare(numpy=np.nancumprod)
def nancumprod(a: Any, axis: Any = None, dtype: Any = None) -> Any:
    """nancumprod(a, axis=None): running products with NaN entries counted as 1."""
    return cumprod(where(isnan(a), 1, _cast(a, dtype)), axis)


# --- quantiles ----------------------------------------------------------------------------------

_METHODS = ("linear", "lower", "higher", "nearest", "midpoint")


@declare(numpy=np.quantile, torch_method="quantile")
def quantile(a: Any, q: Any, axis: Any = None, overwrite_input: bool = False,
             method: str = "linear", keepdims: bool = False, *, weights: Any = None,
             interpolation: Any = None) -> Any:
    """quantile(a, q, axis=None, method='linear', keepdims=False): numpy's quantiles, q in
    [0, 1] (a number or an array; its axes come first in the result). The value interpolates
    between the two sorted entries around (n - 1) q, with numpy's formula; the gradient goes to
    those two entries."""
    if weights is not None or interpolation is not None:
        raise TypeError("quantile: weights= and interpolation= are not supported on engine "
                        "values; use method=")
    if method not in _METHODS:
        raise ValueError(f"quantile: method={method!r} is not supported on engine values; use "
                         f"one of {_METHODS}")
    q = np.asarray(q, dtype=np.float64)
    if q.size and (q.min() < 0 or q.max() > 1 or np.isnan(q).any()):
        raise ValueError(f"quantile: q must be in [0, 1], got {q}")
    nd = len(shape_of(a))
    if axis is None:
        axes = tuple(range(nd))
        data = flatten(a)
        ax = 0
    else:
        axes = normalize_axes(axis, nd, "quantile")
        rest = [k for k in range(nd) if k not in [x % nd for x in axes]]
        moved = moveaxis(a, [x % nd for x in axes], list(range(nd - len(axes), nd)))
        data = reshape(moved, tuple(shape_of(a)[k] for k in rest) + (-1,))
        ax = len(rest)
    n = shape_of(data)[ax]
    if n == 0:
        raise ValueError(f"quantile: cannot take a quantile over an empty axis (shape "
                         f"{shape_of(a)})")
    ordered = moveaxis(sort(data, ax), ax, 0)
    virtual = (n - 1) * q + (0.5 if method == "midpoint" else 0.0)
    below = np.floor(virtual).astype(np.intp)
    above = np.minimum(below + 1, n - 1)
    gamma = virtual - below
    if method == "midpoint":  # halfway, or the entry itself where (n - 1) q is a whole number
        gamma = np.where(virtual % 1 == 0.5, 0.0, 0.5)
    if method == "lower":
        above = below
    elif method == "higher":
        below = above = np.where(gamma > 0, above, below)
    elif method == "nearest":
        below = above = np.where(np.around(virtual) == above, above, below)
    lo, hi = getitem(ordered, (below,)), getitem(ordered, (above,))
    tail = (1,) * (len(shape_of(lo)) - q.ndim)
    if method in ("linear", "midpoint"):
        # numpy's own arithmetic: a number q interpolates in a's dtype, an array q in float64
        out_value = _lerp(lo, hi, float(gamma) if q.ndim == 0 else gamma.reshape(q.shape + tail))
    else:
        out_value = lo
    if keepdims:
        kept = list(shape_of(out_value)[:q.ndim]) + list(shape_of(out_value)[q.ndim:])
        for k in sorted(x % nd for x in axes):
            kept.insert(q.ndim + k, 1)
        out_value = reshape(out_value, tuple(kept))
    return out_value


def _lerp(a: Any, b: Any, t: Any) -> Any:
    """numpy's lerp: a + (b - a) t, or b - (b - a) (1 - t) where t >= 0.5 (exact at t = 1)."""
    diff = sub(b, a)
    if isinstance(t, float):
        return sub(b, mul(diff, 1 - t)) if t >= 0.5 else add(a, mul(diff, t))
    return where(t >= 0.5, sub(b, mul(diff, 1 - t)), add(a, mul(diff, t)))


@declare(numpy=np.percentile)
def percentile(a: Any, q: Any, axis: Any = None, overwrite_input: bool = False,
               method: str = "linear", keepdims: bool = False, *, weights: Any = None,
               interpolation: Any = None) -> Any:
    """percentile(a, q, axis=None): the quantile at q / 100 (q in [0, 100])."""
    return quantile(a, np.true_divide(q, 100), axis, overwrite_input, method, keepdims,
                    weights=weights, interpolation=interpolation)

