"""Reductions and normalisations: sum, mean, max, min, logsumexp, softmax, log_softmax.

Axes are stored as negative indices, so every rule here also works on tangents and cotangents with
extra leading batch axes.
"""
from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np

from adcore import domains as D
from adcore.levels import bind, raw
from adcore.ops.elementwise import exp, mul, sub
from adcore.ops.shape import broadcast_to_op, reshape_op
from adcore.registry import Op, defop, public
from adcore.shapes import normalize_axes, normalize_axis, reduced_shape, shape_of

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


def _reduce_domain(nonempty: bool = False, distinct: bool = False):
    def sample(draw: D.Draw) -> tuple[tuple, dict]:
        xs = draw.shape(min_side=1 if nonempty else 0)
        x = draw.separated([xs])[0] if distinct else draw.array(xs)
        return (x,), {"axis": draw.axes(len(xs)), "keepdims": draw.boolean()}
    return sample


def _reduction(op: Op, x: Any, axis: Axis, keepdims: bool, *, nonempty: bool = False) -> Any:
    xs = shape_of(x)
    axes = normalize_axes(axis, len(xs), op.name)
    if nonempty and any(xs[a] == 0 for a in axes):
        raise ValueError(f"{op.name}: cannot reduce an array of shape {xs} over an empty axis "
                         f"(axis={axis}); the result has no value there")
    return bind(op, x, axes=axes, keepdims=keepdims)


# --- sum and mean (linear) -------------------------------------------------------------------

sum_op = defop(
    "sum", lambda x, *, axes, keepdims: np.sum(x, axis=axes, keepdims=keepdims),
    transpose=(lambda y_bar, x, *, axes, keepdims:
               _unreduce(y_bar, shape_of(x), axes, keepdims),),
    domain=_reduce_domain(),
    doc="sum(x, axis, keepdims): the sum over axes.  Transpose: broadcast back.")


@public(sum_op)
def sum(x: Any, axis: Axis = None, keepdims: bool = False) -> Any:
    """sum(x, axis=None, keepdims=False): the sum over ``axis`` (an int, a tuple, or all axes).

    >>> sum(np.ones((2, 3)), axis=0)
    array([2., 2., 2.])
    """
    return _reduction(sum_op, x, axis, keepdims)


def _mean_transpose(y_bar: Any, x: Any, *, axes: tuple, keepdims: bool) -> Any:
    xs = shape_of(x)
    count = math.prod(xs[a] for a in axes)
    return mul(_unreduce(y_bar, xs, axes, keepdims), 1.0 / count)


mean_op = defop(
    "mean", lambda x, *, axes, keepdims: np.mean(x, axis=axes, keepdims=keepdims),
    transpose=(_mean_transpose,),
    domain=_reduce_domain(nonempty=True),
    doc="mean(x, axis, keepdims): the average over axes.  Transpose: broadcast back, divide by n.")


@public(mean_op)
def mean(x: Any, axis: Axis = None, keepdims: bool = False) -> Any:
    """mean(x, axis=None, keepdims=False): the average over ``axis``."""
    return _reduction(mean_op, x, axis, keepdims, nonempty=True)


# --- max and min (piecewise linear; ties share the gradient evenly, as in JAX) ---------------

def _argmax_weights(x: Any, out: Any, axes: tuple, keepdims: bool) -> Any:
    """1/k at the k positions that attain the extremum along the reduced axes, 0 elsewhere."""
    xr, outr = raw(x), raw(out)
    hit = xr == (outr if keepdims else np.expand_dims(outr, axes))
    dtype = np.result_type(xr, np.float32)
    return (hit / np.sum(hit, axis=axes, keepdims=True)).astype(dtype, copy=False)


def _extremum(name: str, np_fn: Any) -> Op:
    def jvp(x_dot: Any, x: Any, out: Any, *, axes: tuple, keepdims: bool) -> Any:
        weights = _argmax_weights(x, out, axes, keepdims)
        return bind(sum_op, mul(weights, x_dot), axes=axes, keepdims=keepdims)

    def vjp(y_bar: Any, x: Any, out: Any, *, axes: tuple, keepdims: bool) -> Any:
        weights = _argmax_weights(x, out, axes, keepdims)
        return mul(weights, _keep(y_bar, shape_of(x), axes, keepdims))

    return defop(name, lambda x, *, axes, keepdims: np_fn(x, axis=axes, keepdims=keepdims),
                 jvp=(jvp,), vjp=(vjp,), domain=_reduce_domain(nonempty=True, distinct=True),
                 doc=f"{name}(x, axis, keepdims): the {name}imum over axes.  d/dx = 1 at the "
                     f"{name}imum (split evenly among ties), 0 elsewhere.")


max_op = _extremum("max", np.max)
min_op = _extremum("min", np.min)


@public(max_op)
def max(x: Any, axis: Axis = None, keepdims: bool = False) -> Any:
    """max(x, axis=None, keepdims=False): the largest value over ``axis`` (torch.amax)."""
    return _reduction(max_op, x, axis, keepdims, nonempty=True)


@public(min_op)
def min(x: Any, axis: Axis = None, keepdims: bool = False) -> Any:
    """min(x, axis=None, keepdims=False): the smallest value over ``axis`` (torch.amin)."""
    return _reduction(min_op, x, axis, keepdims, nonempty=True)


# --- logsumexp, softmax, log_softmax ---------------------------------------------------------

def _logsumexp_impl(x: Any, *, axes: tuple, keepdims: bool) -> Any:
    if np.size(x) == 0:  # log(sum of nothing) = -inf, without numpy's divide-by-zero warning
        out = np.full(np.shape(np.sum(x, axis=axes, keepdims=True)), -np.inf, np.result_type(x))
        return out if keepdims else np.squeeze(out, axis=axes)
    shift = np.max(x, axis=axes, keepdims=True)
    shift = np.where(np.isfinite(shift), shift, 0)
    out = np.log(np.sum(np.exp(x - shift), axis=axes, keepdims=True)) + shift
    return out if keepdims else np.squeeze(out, axis=axes)


def _softmax_weights(x: Any, out: Any, axes: tuple, keepdims: bool) -> Any:
    """exp(x - logsumexp(x)): d logsumexp / dx, written with ops so it differentiates again."""
    return exp(sub(x, _keep(out, shape_of(x), axes, keepdims)))


logsumexp_op = defop(
    "logsumexp", _logsumexp_impl,
    jvp=(lambda x_dot, x, out, *, axes, keepdims:
         bind(sum_op, mul(_softmax_weights(x, out, axes, keepdims), x_dot), axes=axes,
              keepdims=keepdims),),
    vjp=(lambda y_bar, x, out, *, axes, keepdims:
         mul(_softmax_weights(x, out, axes, keepdims), _keep(y_bar, shape_of(x), axes, keepdims)),),
    domain=_reduce_domain(nonempty=True),
    doc="logsumexp(x, axis, keepdims) = log(sum(exp(x))), computed without overflow.  "
        "d/dx = softmax(x).")


@public(logsumexp_op)
def logsumexp(x: Any, axis: Axis = None, keepdims: bool = False) -> Any:
    """logsumexp(x, axis=None, keepdims=False) = log(sum(exp(x), axis)), without overflow."""
    return _reduction(logsumexp_op, x, axis, keepdims, nonempty=True)


def _softmax_impl(x: Any, *, axis: int) -> Any:
    e = np.exp(x - np.max(x, axis=axis, keepdims=True, initial=-np.inf))
    return e / np.sum(e, axis=axis, keepdims=True)


def _sum_keep(v: Any, axis: int) -> Any:
    return bind(sum_op, v, axes=(axis,), keepdims=True)


def _normalize_domain(draw: D.Draw) -> tuple[tuple, dict]:
    xs = draw.shape(min_dims=1)
    return (draw.array(xs),), {"axis": draw.integers(-len(xs), len(xs) - 1)}


softmax_op = defop(
    "softmax", _softmax_impl,
    jvp=(lambda x_dot, x, out, *, axis: mul(out, sub(x_dot, _sum_keep(mul(out, x_dot), axis))),),
    vjp=(lambda y_bar, x, out, *, axis: mul(out, sub(y_bar, _sum_keep(mul(y_bar, out), axis))),),
    domain=_normalize_domain,
    doc="softmax(x, axis) = exp(x) / sum(exp(x), axis).  "
        "JVP: s * (x_dot - sum(s * x_dot)); VJP: s * (y_bar - sum(s * y_bar)).")

log_softmax_op = defop(
    "log_softmax",
    lambda x, *, axis: x - _logsumexp_impl(x, axes=(axis,), keepdims=True),
    jvp=(lambda x_dot, x, out, *, axis: sub(x_dot, _sum_keep(mul(exp(out), x_dot), axis)),),
    vjp=(lambda y_bar, x, out, *, axis: sub(y_bar, mul(exp(out), _sum_keep(y_bar, axis))),),
    domain=_normalize_domain,
    doc="log_softmax(x, axis) = x - logsumexp(x, axis).  "
        "JVP: x_dot - sum(softmax * x_dot); VJP: y_bar - softmax * sum(y_bar).")


def _normalization(op: Op, x: Any, axis: int) -> Any:
    xs = shape_of(x)
    if not xs:
        raise ValueError(f"{op.name}: needs an array with at least one axis, got shape ()")
    return bind(op, x, axis=normalize_axis(axis, len(xs), op.name))


@public(softmax_op)
def softmax(x: Any, axis: int = -1) -> Any:
    """softmax(x, axis=-1) = exp(x) / sum(exp(x), axis), computed without overflow."""
    return _normalization(softmax_op, x, axis)


@public(log_softmax_op)
def log_softmax(x: Any, axis: int = -1) -> Any:
    """log_softmax(x, axis=-1) = x - logsumexp(x, axis, keepdims=True)."""
    return _normalization(log_softmax_op, x, axis)


__all__ = ["sum", "mean", "max", "min", "logsumexp", "softmax", "log_softmax"]
