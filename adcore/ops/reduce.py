"""Reductions and normalisations: sum, mean, var, std, prod, norm, max, min, logsumexp, cumsum,
softmax, log_softmax.

Axes are stored as negative indices, so every rule here also works on tangents and cotangents with
extra leading batch axes. The public functions take numpy's ``axis``/``keepdims`` and PyTorch's
``dim``/``keepdim`` alike.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from adcore import domains as D
from adcore.levels import bind
from adcore.ops.compare import Constant, equal, extremum_weights, sign
from adcore.ops.elementwise import (
    abs,
    astype,
    div,
    exp,
    log,
    mul,
    pow,
    retry_quietly,
    sub,
    where,
)
from adcore.ops.shape import (
    _slice_core,
    broadcast_to_op,
    concatenate_op,
    flatten,
    reshape_op,
    swapaxes,
)
from adcore.registry import Op, defop, public
from adcore.shapes import (
    dtype_of,
    normalize_axes,
    normalize_axis,
    reduced_shape,
    shape_of,
    torch_axis,
)

Axis = int | Sequence[int] | None


def _keep(y: Any, in_shape: tuple, axes: tuple, keepdims: bool) -> Any:
    """A reduced value (or cotangent) reshaped to keep the reduced axes as length 1."""
    if keepdims:
        return y
    return bind(reshape_op, y, shape=reduced_shape(in_shape, axes, True),
                in_shape=reduced_shape(in_shape, axes, False))


def _unreduce(y_bar: Any, in_shape: tuple, axes: tuple, keepdims: bool) -> Any:
    """The transpose of a sum: y_bar broadcast back over the reduced axes."""
    return bind(broadcast_to_op, _keep(y_bar, in_shape, axes, keepdims), shape=in_shape,
                in_shape=reduced_shape(in_shape, axes, True))


def _reduce_domain(nonempty: bool = False, distinct: bool = False, avoid_zero: bool = False):
    """Draws for a reduction; ``nonempty`` keeps every axis non-empty (the value over an empty axis,
    nan or -inf, is checked in tests/test_numerics.py rather than by finite differences)."""
    def sample(draw: D.Draw) -> tuple[tuple, dict]:
        xs = draw.shape(min_side=1 if nonempty else 0)
        if distinct:
            x = draw.separated([xs])[0]
        else:
            x = draw.array(xs, avoid=(0.0,) if avoid_zero else (), margin=0.1)
        return (x,), {"axis": draw.axes(len(xs)), "keepdims": draw.boolean()}
    return sample


def _reduction(op: Op, x: Any, axis: Axis, keepdims: Any, dim: Any = None, keepdim: Any = None,
               *, nonempty: bool = False, **params: Any) -> Any:
    axis, keepdims = torch_axis(op.name, axis, keepdims, dim, keepdim)
    xs = shape_of(x)
    axes = normalize_axes(axis, len(xs), op.name)
    if nonempty and any(xs[a] == 0 for a in axes):
        raise ValueError(f"{op.name}: cannot reduce an array of shape {xs} over an empty axis "
                         f"(axis={axis}); the result has no value there")
    return bind(op, x, axes=axes, keepdims=keepdims, **params)


# --- sum and mean (linear) -------------------------------------------------------------------

sum_op = defop(
    # np.add.reduce is np.sum without its Python-level dispatch (the same result and dtype).
    "sum", lambda x, *, axes, keepdims: np.add.reduce(x, axis=axes, keepdims=keepdims),
    transpose=(lambda y_bar, x, *, axes, keepdims:
               _unreduce(y_bar, shape_of(x), axes, keepdims),),
    domain=_reduce_domain(), method="sum", numpy=np.sum,
    doc="sum(x, axis, keepdims): the sum over axes.  Transpose: broadcast back.")


@public(sum_op)
def sum(x: Any, axis: Axis = None, keepdims: Any = None, *, dim: Axis = None,
        keepdim: Any = None) -> Any:
    """sum(x, axis=None, keepdims=False): the sum over ``axis`` (an int, a tuple, or all axes).

    >>> sum(np.ones((2, 3)), axis=0)
    array([2., 2., 2.])
    """
    return _reduction(sum_op, x, axis, keepdims, dim, keepdim)


def _mean_transpose(y_bar: Any, x: Any, *, axes: tuple, keepdims: bool) -> Any:
    xs = shape_of(x)
    count = math.prod(xs[a] for a in axes)
    return mul(_unreduce(y_bar, xs, axes, keepdims), 1.0 / count if count else 0.0)


def _mean_impl(x: Any, *, axes: tuple, keepdims: Any) -> Any:
    """The sum divided by the count: nan over an empty axis (0 / 0), as numpy and PyTorch."""
    count = math.prod(np.shape(x)[a] for a in axes)
    return np.add.reduce(x, axis=axes, keepdims=keepdims) / count


mean_op = defop(
    "mean", _mean_impl,
    transpose=(_mean_transpose,),
    domain=_reduce_domain(nonempty=True), method="mean", numpy=np.mean,
    doc="mean(x, axis, keepdims): the average over axes.  Transpose: broadcast back, divide by n.")


@public(mean_op)
def mean(x: Any, axis: Axis = None, keepdims: Any = None, *, dim: Axis = None,
         keepdim: Any = None) -> Any:
    """mean(x, axis=None, keepdims=False): the average over ``axis`` (nan over an empty axis)."""
    return _reduction(mean_op, x, axis, keepdims, dim, keepdim)


# --- var and std (ddof: numpy's name; correction: PyTorch's) --------------------------------

def _count(xs: tuple, axes: tuple) -> int:
    return math.prod(xs[a] for a in axes)


def _centered(x: Any, axes: tuple, ddof: float) -> Any:
    """(x - mean(x)) / (n - ddof): d var / dx, halved. With ddof >= n the variance divides by 0
    (numpy and PyTorch: nan, or inf): so does its derivative, nan where x is the mean, +-inf
    elsewhere, as in PyTorch, and no exception."""
    mu = bind(mean_op, x, axes=axes, keepdims=True)
    dof = _count(shape_of(x), axes) - ddof
    return mul(sub(x, mu), 1.0 / dof if dof > 0 else math.inf)


def _var_domain(draw: D.Draw) -> tuple[tuple, dict]:
    (x,), params = _reduce_domain(nonempty=True)(draw)
    xs = shape_of(x)
    n = _count(xs, normalize_axes(params["axis"], len(xs), "var"))
    params["ddof"] = draw.choice([0, 1]) if n > 1 else 0
    return (x,), params


var_op = defop(
    "var", lambda x, *, axes, keepdims, ddof: np.var(x, axis=axes, keepdims=keepdims, ddof=ddof),
    jvp=(lambda x_dot, x, out, *, axes, keepdims, ddof:
         mul(2.0, bind(sum_op, mul(_centered(x, axes, ddof), x_dot), axes=axes,
                       keepdims=keepdims)),),
    vjp=(lambda y_bar, x, out, *, axes, keepdims, ddof:
         mul(mul(2.0, _centered(x, axes, ddof)), _keep(y_bar, shape_of(x), axes, keepdims)),),
    domain=_var_domain, numpy=np.var,
    doc="var(x, axis, keepdims, ddof) = sum((x - mean) ** 2) / (n - ddof).  "
        "d/dx = 2 (x - mean) / (n - ddof).", saves="x")

def _std_domain(draw: D.Draw) -> tuple[tuple, dict]:
    """At least two distinct values in every reduced slice: a positive standard deviation."""
    xs = draw.shape(min_dims=1, min_side=2)
    x = draw.separated([xs])[0]
    axis = draw.choice([None, draw.integers(-len(xs), len(xs) - 1)])
    return (x,), {"axis": axis, "keepdims": draw.boolean(), "ddof": draw.choice([0, 1])}


def _std_scale(y_bar: Any, out: Any) -> Any:
    """y_bar / std, and 0 where std is 0 (a constant slice), as PyTorch: std has no derivative
    there. The double where keeps the unused branch finite (y_bar / 1), so that no nan reaches the
    derivative of this rule either."""
    zero = equal(out, 0)
    return where(zero, 0.0, div(y_bar, where(zero, 1.0, out)))


std_op = defop(
    "std", lambda x, *, axes, keepdims, ddof: np.std(x, axis=axes, keepdims=keepdims, ddof=ddof),
    jvp=(lambda x_dot, x, out, *, axes, keepdims, ddof:
         _std_scale(bind(sum_op, mul(_centered(x, axes, ddof), x_dot), axes=axes,
                         keepdims=keepdims), out),),
    vjp=(lambda y_bar, x, out, *, axes, keepdims, ddof:
         mul(_centered(x, axes, ddof), _keep(_std_scale(y_bar, out), shape_of(x), axes,
                                             keepdims)),),
    domain=_std_domain, numpy=np.std,
    doc="std(x, axis, keepdims, ddof) = sqrt(var(x)).  d/dx = (x - mean) / ((n - ddof) std), and "
        "0 where std is 0 (as PyTorch).", saves="x out")


def _ddof(fn: str, ddof: Any, correction: Any, unbiased: Any, default: int) -> float:
    given = [v for v in (ddof, correction, unbiased) if v is not None]
    if len(given) > 1:
        raise TypeError(f"{fn}: give one of ddof= (numpy), correction= or unbiased= (PyTorch)")
    if unbiased is not None:
        return 1 if unbiased else 0
    return default if not given else given[0]


@public(var_op)
def var(x: Any, axis: Axis = None, keepdims: Any = None, *, ddof: Any = None,
        correction: Any = None, unbiased: Any = None, dim: Axis = None, keepdim: Any = None) -> Any:
    """var(x, axis=None, keepdims=False, ddof=0): the variance over ``axis``, dividing by n - ddof.

    numpy's default (ddof=0); Tensor.var follows PyTorch (correction=1) unless told otherwise.
    """
    return _reduction(var_op, x, axis, keepdims, dim, keepdim, nonempty=True,
                      ddof=_ddof("var", ddof, correction, unbiased, 0))


@public(std_op)
def std(x: Any, axis: Axis = None, keepdims: Any = None, *, ddof: Any = None,
        correction: Any = None, unbiased: Any = None, dim: Axis = None, keepdim: Any = None) -> Any:
    """std(x, axis=None, keepdims=False, ddof=0) = sqrt(var(x)).

    numpy's default (ddof=0); Tensor.std follows PyTorch (correction=1) unless told otherwise.
    """
    return _reduction(std_op, x, axis, keepdims, dim, keepdim, nonempty=True,
                      ddof=_ddof("std", ddof, correction, unbiased, 0))


# --- prod (exact at zeros, to every order: the derivative is a product of the other entries) ---

def _slice(x: Any, axis: int, start: int, stop: int) -> Any:
    return _slice_core(x, shape_of(x), axis, slice(start, stop))


def _exclusive(x: Any, axis: int) -> Any:
    """The product of the other entries along one (negative) axis, for each entry: an inclusive
    prefix and suffix scan of products (log2 n steps of mul each), then prefix[i - 1] *
    suffix[i + 1]. Only products, so it is exact where entries are 0 and differentiates again."""
    n = shape_of(x)[axis]
    if n <= 1:
        return x if n == 0 else 1.0  # empty: nothing to multiply; one entry: no others
    prefix, suffix, step = x, x, 1
    while step < n:
        prefix = bind(concatenate_op, _slice(prefix, axis, 0, step),
                      mul(_slice(prefix, axis, step, n), _slice(prefix, axis, 0, n - step)),
                      axis=axis)
        suffix = bind(concatenate_op,
                      mul(_slice(suffix, axis, 0, n - step), _slice(suffix, axis, step, n)),
                      _slice(suffix, axis, n - step, n), axis=axis)
        step *= 2
    first, last = _slice(suffix, axis, 1, 2), _slice(prefix, axis, n - 2, n - 1)
    if n == 2:
        return bind(concatenate_op, first, last, axis=axis)
    middle = mul(_slice(prefix, axis, 0, n - 2), _slice(suffix, axis, 2, n))
    return bind(concatenate_op, first, middle, last, axis=axis)


def _prod_partial(x: Any, axes: tuple) -> Any:
    """d prod / dx_i = the product of the other entries over ``axes`` (a number 1.0 when there are
    none): over the first axis, the others' products of the remaining axes, times the product of
    the others along the remaining axes. No division, so exact at zeros to every order."""
    if not axes:
        return 1.0
    if len(axes) == 1:
        return _exclusive(x, axes[0])
    rest = bind(prod_op, x, axes=axes[1:], keepdims=True)
    return mul(_exclusive(rest, axes[0]), _prod_partial(x, axes[1:]))


def _prod_domain(draw: D.Draw) -> tuple[tuple, dict]:
    """Any values, and in some draws one or two zeros in every reduced slice (where a quotient
    out / x_i would divide by zero)."""
    (x,), params = _reduce_domain()(draw)
    zeros = draw.choice([0, 1, 2])
    axes = normalize_axes(params["axis"], x.ndim, "prod")
    n = _count(x.shape, axes)
    if zeros and x.size:
        moved = np.moveaxis(x, axes, tuple(range(x.ndim - len(axes), x.ndim)))
        rows = moved.reshape(-1, n).copy()
        for row in rows:
            first = draw.integers(0, n - 1)
            row[first] = 0.0
            if zeros == 2 and n > 1:
                row[(first + draw.integers(1, n - 1)) % n] = 0.0
        moved = rows.reshape(moved.shape)
        x = np.ascontiguousarray(
            np.moveaxis(moved, tuple(range(x.ndim - len(axes), x.ndim)), axes))
    return (x,), params


prod_op: Op = defop(
    "prod", lambda x, *, axes, keepdims: np.prod(x, axis=axes, keepdims=keepdims),
    jvp=(lambda x_dot, x, out, *, axes, keepdims:
         bind(sum_op, mul(_prod_partial(x, axes), x_dot), axes=axes, keepdims=keepdims),),
    vjp=(lambda y_bar, x, out, *, axes, keepdims:
         mul(_prod_partial(x, axes), _keep(y_bar, shape_of(x), axes, keepdims)),),
    domain=_prod_domain, method="prod", numpy=np.prod,
    doc="prod(x, axis, keepdims): the product over axes.  d/dx_i = the product of the other "
        "entries (by prefix and suffix products: exact where entries are 0, to every order).",
    saves="x")


@public(prod_op)
def prod(x: Any, axis: Axis = None, keepdims: Any = None, *, dim: Axis = None,
         keepdim: Any = None) -> Any:
    """prod(x, axis=None, keepdims=False): the product over ``axis``."""
    return _reduction(prod_op, x, axis, keepdims, dim, keepdim)


# --- norm (the 2-norm is an op; other orders are compositions) -------------------------------

def _unit(x: Any, out: Any, axes: tuple, keepdims: bool) -> Any:
    """x / ||x||, and 0 where the norm is 0 (the subgradient PyTorch uses), selected by where so
    that its own derivative there is 0 too (PyTorch's masked_fill), not x / 1's identity."""
    norm = _keep(out, shape_of(x), axes, keepdims)
    zero = equal(norm, 0)
    return where(zero, 0.0, div(x, where(zero, 1.0, norm)))


norm2_op = defop(
    "norm", lambda x, *, axes, keepdims: np.sqrt(np.sum(x * x, axis=axes, keepdims=keepdims)),
    jvp=(lambda x_dot, x, out, *, axes, keepdims:
         bind(sum_op, mul(_unit(x, out, axes, keepdims), x_dot), axes=axes, keepdims=keepdims),),
    vjp=(lambda y_bar, x, out, *, axes, keepdims:
         mul(_unit(x, out, axes, keepdims), _keep(y_bar, shape_of(x), axes, keepdims)),),
    domain=_reduce_domain(avoid_zero=True),
    doc="norm(x, axis, keepdims) = sqrt(sum(x ** 2)), the 2-norm (Frobenius for matrices).  "
        "d/dx = x / norm (0 where the norm is 0).", saves="x out")


def _p_norm_partial(x: Any, out: Any, p: float, axes: tuple, keepdims: bool) -> Any:
    """sign(x) |x| ** (p - 1) / norm ** (p - 1), and 0 where the norm is 0 and, for p < 1, where
    an entry is 0 (PyTorch's choices). Both powers have an infinite slope at 0: each is taken at 1
    there and 0 selected by where (the double where), which keeps nan out of every order."""
    a = abs(x)
    zero = equal(a, 0)
    slope = where(zero, 0.0, pow(where(zero, 1.0, a), p - 1.0))
    norm = _keep(out, shape_of(x), axes, keepdims)
    empty = equal(norm, 0)
    scale = where(empty, 0.0, pow(where(empty, 1.0, norm), 1.0 - p))
    return mul(mul(sign(x), slope), scale)


def _p_norm_domain(draw: D.Draw) -> tuple[tuple, dict]:
    (x,), params = _reduce_domain(avoid_zero=True)(draw)
    params["p"] = draw.choice([3.0, 1.5, 0.5, 4.0])
    return (x,), params


p_norm_op = defop(
    "p_norm", lambda x, *, p, axes, keepdims:
        np.sum(np.abs(x) ** p, axis=axes, keepdims=keepdims) ** (1.0 / p),
    jvp=(lambda x_dot, x, out, *, p, axes, keepdims:
         bind(sum_op, mul(_p_norm_partial(x, out, p, axes, keepdims), x_dot), axes=axes,
              keepdims=keepdims),),
    vjp=(lambda y_bar, x, out, *, p, axes, keepdims:
         mul(_p_norm_partial(x, out, p, axes, keepdims),
             _keep(y_bar, shape_of(x), axes, keepdims)),),
    domain=_p_norm_domain,
    doc="p_norm(x, p, axis, keepdims) = sum(|x| ** p) ** (1 / p), for p other than 1, 2, inf.  "
        "d/dx = sign(x) |x| ** (p - 1) / norm ** (p - 1) (0 where the norm is 0, as PyTorch).",
    saves="x out")


@public(p_norm_op)
def p_norm(x: Any, p: float, axis: Axis = None, keepdims: Any = None) -> Any:
    """p_norm(x, p, axis=None, keepdims=False) = sum(|x| ** p, axis) ** (1 / p); ``norm`` calls
    it for orders other than 1, 2 and inf."""
    return _reduction(p_norm_op, x, axis, keepdims, p=float(p))


@public(norm2_op)
def norm(x: Any, ord: Any = None, axis: Axis = None, keepdims: Any = None, *, p: Any = None,
         dim: Axis = None, keepdim: Any = None) -> Any:
    """norm(x, ord=2, axis=None, keepdims=False): the vector p-norm over ``axis`` (all entries, so
    Frobenius for a matrix, when None), for ord (PyTorch: p) = 2, 1, inf, -inf or any p > 0.

    >>> float(norm(np.array([3.0, 4.0])))
    5.0
    """
    if p is not None:
        if ord is not None:
            raise TypeError("norm: give ord= (numpy) or p= (PyTorch), not both")
        ord = p
    if ord in (None, 2, "fro"):
        return _reduction(norm2_op, x, axis, keepdims, dim, keepdim)
    axis, keepdims = torch_axis("norm", axis, keepdims, dim, keepdim)
    if ord == 1:
        return sum(abs(x), axis, keepdims)
    if ord == math.inf:
        return max(abs(x), axis, keepdims)
    if ord == -math.inf:
        return min(abs(x), axis, keepdims)
    if not isinstance(ord, (int, float)) or ord <= 0:
        raise ValueError(f"norm: ord={ord!r} is not supported; use 2 (default), 1, inf, -inf or "
                         f"a number > 0")
    return _reduction(p_norm_op, x, axis, keepdims, p=float(ord))


# --- cumsum (linear; its transpose is the cumulative sum from the other end) -----------------

def _cumsum_impl(x: Any, *, axis: int, reverse: bool) -> Any:
    if reverse:
        return np.flip(np.cumsum(np.flip(x, axis), axis=axis), axis)
    return np.cumsum(x, axis=axis)


def _cumsum_domain(draw: D.Draw) -> tuple[tuple, dict]:
    xs = draw.shape(min_dims=1)
    return (draw.array(xs),), {"axis": draw.integers(-len(xs), -1), "reverse": draw.boolean()}


cumsum_op: Op = defop(
    "cumsum", _cumsum_impl,
    transpose=(lambda y_bar, x, *, axis, reverse:
               bind(cumsum_op, y_bar, axis=axis, reverse=not reverse),),
    domain=_cumsum_domain,
    method="cumsum", numpy=np.cumsum,
    doc="cumsum(x, axis): running sums along an axis.  Transpose: running sums from the other end.")


@public(cumsum_op)
def cumsum(x: Any, axis: int | None = None, *, dim: int | None = None,
           reverse: bool = False) -> Any:
    """cumsum(x, axis=None): running sums along ``axis`` (over the flattened x when None);
    ``reverse=True`` sums from the end of the axis."""
    axis, _ = torch_axis("cumsum", axis, None, dim, None)
    if axis is None:
        x, axis = flatten(x), -1
    return bind(cumsum_op, x, axis=normalize_axis(axis, len(shape_of(x)), "cumsum"),
                reverse=bool(reverse))


# --- cumprod (exact at zeros, to every order) -------------------------------------------------
#
# out[k] = x[0] * ... * x[k]. Its derivative d out[k] / d x[i] (i <= k) is the product of the
# other entries of that prefix: the prefix products of the triangle T[k, i] = x[i] (i <= k, else
# 1), taken by prod's own division-free rule. O(n^2) along the axis, for the derivative only.

def _cumprod_partials(x: Any, axis: int) -> Any:
    """P[..., k, i] = the product of x[0..k] without x[i] where i <= k, 0 elsewhere, with the
    axis moved last."""
    moved = swapaxes(x, axis, -1)
    s = shape_of(moved)
    n = s[-1]
    mask = np.tri(n, n, 0, dtype=bool)
    rows = bind(reshape_op, moved, shape=s[:-1] + (1, n), in_shape=s)
    tri = where(mask, rows, 1.0)
    partials = _exclusive(tri, -1)
    if type(partials) is float:  # one entry: no others to multiply
        return np.ones((1, 1), dtype_of(x))
    return where(mask, partials, 0.0)


def _cumprod_jvp(x_dot: Any, x: Any, out: Any, *, axis: int) -> Any:
    partials = _cumprod_partials(x, axis)
    s = shape_of(swapaxes(x, axis, -1))
    dots = bind(reshape_op, swapaxes(x_dot, axis, -1), shape=s[:-1] + (1, s[-1]), in_shape=s)
    total = bind(sum_op, mul(partials, dots), axes=(-1,), keepdims=False)
    return swapaxes(total, axis, -1)


def _cumprod_vjp(y_bar: Any, x: Any, out: Any, *, axis: int) -> Any:
    partials = _cumprod_partials(x, axis)
    s = shape_of(swapaxes(x, axis, -1))
    bars = bind(reshape_op, swapaxes(y_bar, axis, -1), shape=s + (1,), in_shape=s)
    total = bind(sum_op, mul(partials, bars), axes=(-2,), keepdims=False)
    return swapaxes(total, axis, -1)


def _cumprod_domain(draw: D.Draw) -> tuple[tuple, dict]:
    (x,), _ = _prod_domain(draw)
    if x.ndim == 0:
        x = x.reshape(1)
    return (x,), {"axis": draw.integers(-x.ndim, -1)}


cumprod_op = defop(
    "cumprod", lambda x, *, axis: np.cumprod(x, axis=axis),
    jvp=(_cumprod_jvp,), vjp=(_cumprod_vjp,), domain=_cumprod_domain,
    method="cumprod", numpy=np.cumprod,
    doc="cumprod(x, axis): running products along an axis.  d out[k] / d x[i] = the product of "
        "x[0..k] without x[i] (i <= k): exact at zeros, to every order.", saves="x")


@public(cumprod_op)
def cumprod(x: Any, axis: int | None = None, dtype: Any = None, *, dim: int | None = None) -> Any:
    """cumprod(x, axis=None): running products along ``axis`` (over the flattened x when None)."""
    axis, _ = torch_axis("cumprod", axis, None, dim, None)
    if dtype is not None:
        x = astype(x, dtype)
    if axis is None:
        x, axis = flatten(x), -1
    return bind(cumprod_op, x, axis=normalize_axis(axis, len(shape_of(x)), "cumprod"))


# --- max and min (piecewise linear; ties share the gradient evenly, as in JAX) ---------------

def _extremum(name: str, np_fn: Any) -> Op:
    def jvp(x_dot: Any, x: Any, out: Any, *, axes: tuple, keepdims: bool) -> Any:
        weights = extremum_weights(x, out, axes=axes, keepdims=keepdims)
        return bind(sum_op, mul(weights, x_dot), axes=axes, keepdims=keepdims)

    def vjp(y_bar: Any, x: Any, out: Any, *, axes: tuple, keepdims: bool) -> Any:
        weights = extremum_weights(x, out, axes=axes, keepdims=keepdims)
        return mul(weights, _keep(y_bar, shape_of(x), axes, keepdims))

    return defop(name, lambda x, *, axes, keepdims: np_fn(x, axis=axes, keepdims=keepdims),
                 jvp=(jvp,), vjp=(vjp,), domain=_reduce_domain(nonempty=True, distinct=True),
                 method=("amax" if name == "max" else "amin"),
                 numpy=(np_fn, np.amax if name == "max" else np.amin),
                 doc=f"{name}(x, axis, keepdims): the {name}imum over axes.  d/dx = 1 at the "
                     f"{name}imum (split evenly among ties), 0 elsewhere.", saves="x out")


max_op = _extremum("max", np.max)
min_op = _extremum("min", np.min)


@public(max_op)
def max(x: Any, axis: Axis = None, keepdims: Any = None, *, dim: Axis = None,
        keepdim: Any = None) -> Any:
    """max(x, axis=None, keepdims=False): the largest value over ``axis`` (np.max, torch.amax)."""
    return _reduction(max_op, x, axis, keepdims, dim, keepdim, nonempty=True)


@public(min_op)
def min(x: Any, axis: Axis = None, keepdims: Any = None, *, dim: Axis = None,
        keepdim: Any = None) -> Any:
    """min(x, axis=None, keepdims=False): the smallest value over ``axis`` (np.min, torch.amin)."""
    return _reduction(min_op, x, axis, keepdims, dim, keepdim, nonempty=True)


# --- logsumexp, softmax, log_softmax ---------------------------------------------------------

def _logsumexp_impl(x: Any, *, axes: tuple, keepdims: bool) -> Any:
    if np.size(x) == 0:  # log(sum of nothing) = -inf, without numpy's divide-by-zero warning
        out = np.full(np.shape(np.sum(x, axis=axes, keepdims=True)), -np.inf, np.result_type(x))
        return out if keepdims else np.squeeze(out, axis=axes)
    shift = np.max(x, axis=axes, keepdims=True)
    shift = np.where(np.isfinite(shift), shift, 0)
    try:
        out = np.log(np.sum(np.exp(x - shift), axis=axes, keepdims=True)) + shift
    except FloatingPointError as exc:  # e ** (x - max) underflows, benignly: see retry_quietly
        return retry_quietly(exc, _logsumexp_impl, x, axes=axes, keepdims=keepdims)
    return out if keepdims else np.squeeze(out, axis=axes)


def _max_shift(x: Any, *, axes: tuple) -> Any:
    shift = np.max(x, axis=axes, keepdims=True, initial=-np.inf)
    return np.where(np.isfinite(shift), shift, 0)


# The largest entry over the axes (0 where it is not finite), kept as length-1 axes: a constant
# that keeps exp() in range. It has no derivative, and needs none: the result does not depend on it.
max_shift = Constant("max_shift", _max_shift, elementwise=False)


def _softmax_weights(x: Any, out: Any, axes: tuple, keepdims: bool) -> Any:
    """softmax over ``axes``: d logsumexp / dx, written with ops so it differentiates again, and
    exact for entries of any size (exp(x - logsumexp(x)) cancels: x = 1e4 in float32 keeps three
    digits). ``out`` is not needed: the shifted sum is recomputed."""
    z = sub(x, max_shift(x, axes=axes))
    return exp(sub(z, log(bind(sum_op, exp(z), axes=axes, keepdims=True))))


# The rules of logsumexp, softmax and log_softmax underflow as their forward rules do (e ** -gap,
# and softmax times a cotangent), benignly: on FloatingPointError each runs once more with
# underflow ignored (see retry_quietly). A retry passes None for what the rule does not read.

def _logsumexp_jvp(x_dot: Any, x: Any, out: Any, *, axes: tuple, keepdims: bool) -> Any:
    try:
        return bind(sum_op, mul(_softmax_weights(x, out, axes, keepdims), x_dot), axes=axes,
                    keepdims=keepdims)
    except FloatingPointError as exc:
        return retry_quietly(exc, _logsumexp_jvp, x_dot, x, out, axes=axes, keepdims=keepdims)


def _logsumexp_vjp(y_bar: Any, x: Any, out: Any, *, axes: tuple, keepdims: bool) -> Any:
    try:
        return mul(_softmax_weights(x, out, axes, keepdims),
                   _keep(y_bar, shape_of(x), axes, keepdims))
    except FloatingPointError as exc:
        return retry_quietly(exc, _logsumexp_vjp, y_bar, x, out, axes=axes, keepdims=keepdims)


logsumexp_op = defop(
    "logsumexp", _logsumexp_impl, jvp=(_logsumexp_jvp,), vjp=(_logsumexp_vjp,),
    domain=_reduce_domain(nonempty=True), method="logsumexp",
    doc="logsumexp(x, axis, keepdims) = log(sum(exp(x))), computed without overflow.  "
        "d/dx = softmax(x).", saves="x out")


@public(logsumexp_op)
def logsumexp(x: Any, axis: Axis = None, keepdims: Any = None, *, dim: Axis = None,
              keepdim: Any = None) -> Any:
    """logsumexp(x, axis=None, keepdims=False) = log(sum(exp(x), axis)), without overflow; -inf
    over an empty axis."""
    return _reduction(logsumexp_op, x, axis, keepdims, dim, keepdim)


def _softmax_impl(x: Any, *, axis: int) -> Any:
    x = np.asarray(x)
    try:
        e = np.exp(x - x.max(axis=axis, keepdims=True, initial=-np.inf))
        return e / e.sum(axis=axis, keepdims=True)
    except FloatingPointError as exc:  # e ** (x - max) underflows, benignly: see retry_quietly
        return retry_quietly(exc, _softmax_impl, x, axis=axis)


def _sum_keep(v: Any, axis: int) -> Any:
    return bind(sum_op, v, axes=(axis,), keepdims=True)


def _normalize_domain(draw: D.Draw) -> tuple[tuple, dict]:
    xs = draw.shape(min_dims=1)
    return (draw.array(xs),), {"axis": draw.integers(-len(xs), len(xs) - 1)}


def _softmax_jvp(x_dot: Any, x: Any, out: Any, *, axis: int) -> Any:
    try:
        return mul(out, sub(x_dot, _sum_keep(mul(out, x_dot), axis)))
    except FloatingPointError as exc:
        return retry_quietly(exc, _softmax_jvp, x_dot, None, out, axis=axis)


def _softmax_vjp(y_bar: Any, x: Any, out: Any, *, axis: int) -> Any:
    try:
        return mul(out, sub(y_bar, _sum_keep(mul(y_bar, out), axis)))
    except FloatingPointError as exc:
        return retry_quietly(exc, _softmax_vjp, y_bar, None, out, axis=axis)


softmax_op = defop(
    "softmax", _softmax_impl, jvp=(_softmax_jvp,), vjp=(_softmax_vjp,),
    domain=_normalize_domain, method="softmax",
    doc="softmax(x, axis) = exp(x) / sum(exp(x), axis).  "
        "JVP: s * (x_dot - sum(s * x_dot)); VJP: s * (y_bar - sum(s * y_bar)).", saves="out")

def _log_softmax_impl(x: Any, *, axis: int) -> Any:
    """(x - max) - log(sum(exp(x - max))): subtracting the max first keeps every entry exact
    (x - logsumexp(x) cancels: in float32, x = 1e4 leaves three digits of log 2)."""
    x = np.asarray(x)
    if x.size == 0:
        return x.copy()
    top = x.max(axis=axis, keepdims=True)
    z = x - top
    if not np.isfinite(top).all():  # rows that are all -inf (or hold +inf) stay as they are
        z = np.where(np.isfinite(z), z, x)
    try:
        return z - np.log(np.exp(z).sum(axis=axis, keepdims=True))
    except FloatingPointError as exc:  # e ** z underflows, benignly: see retry_quietly
        return retry_quietly(exc, _log_softmax_impl, x, axis=axis)


def _log_softmax_jvp(x_dot: Any, x: Any, out: Any, *, axis: int) -> Any:
    try:
        return sub(x_dot, _sum_keep(mul(exp(out), x_dot), axis))
    except FloatingPointError as exc:
        return retry_quietly(exc, _log_softmax_jvp, x_dot, None, out, axis=axis)


def _log_softmax_vjp(y_bar: Any, x: Any, out: Any, *, axis: int) -> Any:
    try:
        return sub(y_bar, mul(exp(out), _sum_keep(y_bar, axis)))
    except FloatingPointError as exc:
        return retry_quietly(exc, _log_softmax_vjp, y_bar, None, out, axis=axis)


log_softmax_op = defop(
    "log_softmax", _log_softmax_impl, jvp=(_log_softmax_jvp,), vjp=(_log_softmax_vjp,),
    domain=_normalize_domain, method="log_softmax",
    doc="log_softmax(x, axis) = x - logsumexp(x, axis).  "
        "JVP: x_dot - sum(softmax * x_dot); VJP: y_bar - softmax * sum(y_bar).", saves="out")


def _normalization(op: Op, x: Any, axis: int, dim: int | None) -> Any:
    axis, _ = torch_axis(op.name, None if dim is not None else axis, None, dim, None)
    xs = shape_of(x)
    if not xs:
        raise ValueError(f"{op.name}: needs an array with at least one axis, got shape ()")
    return bind(op, x, axis=normalize_axis(axis, len(xs), op.name))


@public(softmax_op)
def softmax(x: Any, axis: int = -1, *, dim: int | None = None) -> Any:
    """softmax(x, axis=-1) = exp(x) / sum(exp(x), axis), computed without overflow."""
    return _normalization(softmax_op, x, axis, dim)


@public(log_softmax_op)
def log_softmax(x: Any, axis: int = -1, *, dim: int | None = None) -> Any:
    """log_softmax(x, axis=-1) = x - logsumexp(x, axis, keepdims=True)."""
    return _normalization(log_softmax_op, x, axis, dim)


__all__ = [
    "cumprod",
    "cumsum",
    "log_softmax",
    "logsumexp",
    "max",
    "mean",
    "min",
    "norm",
    "prod",
    "softmax",
    "std",
    "sum",
    "var",
]
