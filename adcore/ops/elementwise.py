"""Elementwise ops: a table of derivatives.

Each stanza gives the op's name, its forward rule, one partial derivative per input (written with
adcore's own ops, so that it can be differentiated again), the domain its rules are checked on, and
the math. Inputs broadcast under numpy's rules; the registry sums cotangents back to each input's shape.

Forward rules take a fast path for Python floats (the scalar ``Value`` engine) through ``math``, and
fall back to numpy where ``math`` would raise (overflow, log of 0): results follow numpy either way.
"""
from __future__ import annotations

import math
import operator
from typing import Any, Callable, Sequence

import numpy as np

from adcore import domains as D
from adcore.levels import bind, raw, value_types
from adcore.ops.compare import (equal, greater, greater_equal, logical_and, logical_not, share,
                                sign, within)
from adcore.registry import defop


def _scalar_or_array(math_fn: Callable[[float], float], np_fn: Callable[[Any], Any]
                     ) -> Callable[[Any], Any]:
    """A forward rule that uses ``math`` on Python floats and numpy on everything else."""
    def impl(x: Any) -> Any:
        if type(x) is float:
            try:
                return math_fn(x)
            except (OverflowError, ValueError, ZeroDivisionError):
                pass
        return np_fn(x)
    impl.__name__ = np_fn.__name__
    return impl


def _div_impl(x: Any, y: Any) -> Any:
    """x / y; for Python floats numpy's semantics (inf, nan) instead of ZeroDivisionError."""
    try:
        return x / y
    except ZeroDivisionError:
        return float(np.divide(np.float64(x), np.float64(y)))


# The op functions below run the forward rule at once when no argument is an engine value (the
# common case inside derivative rules), and otherwise leave the dispatch to bind.

def _unary(name: str, impl: Callable[[Any], Any], partial: Any, domain: D.Sample,
           doc: str) -> Callable[[Any], Any]:
    op = defop(name, impl, partials=(partial,), domain=domain, doc=doc)

    def fn(x: Any) -> Any:
        if type(x) in value_types:
            return bind(op, x)
        return impl(x)
    return _named(fn, name, doc, op)


def _binary(name: str, impl: Callable[[Any, Any], Any], partials: Sequence[Any],
            domain: D.Sample, doc: str) -> Callable[[Any, Any], Any]:
    op = defop(name, impl, partials=partials, domain=domain, doc=doc)

    def fn(x: Any, y: Any) -> Any:
        if type(x) in value_types or type(y) in value_types:
            return bind(op, x, y)
        try:
            return impl(x, y)
        except (ValueError, TypeError) as exc:  # numpy's errors, named after the op
            raise op.error(exc, (x, y), {}) from exc
    return _named(fn, name, doc, op)


def _named(fn: Callable[..., Any], name: str, doc: str, op: Any) -> Callable[..., Any]:
    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = doc
    fn.op = op  # type: ignore[attr-defined]
    op.fn = fn
    return fn


# --- arithmetic ------------------------------------------------------------------------------

add = _binary("add", operator.add, (1, 1),
              D.binary(), "add(x, y) = x + y.  d/dx = 1, d/dy = 1.")

sub = _binary("sub", operator.sub, (1, -1),
              D.binary(), "sub(x, y) = x - y.  d/dx = 1, d/dy = -1.")

mul = _binary("mul", operator.mul,
              (lambda x, y, out: y, lambda x, y, out: x),
              D.binary(), "mul(x, y) = x * y.  d/dx = y, d/dy = x.")

div = _binary("div", _div_impl,
              (lambda x, y, out: div(1, y), lambda x, y, out: neg(div(out, y))),
              D.binary(y_avoid=(0.0,), margin=0.3),
              "div(x, y) = x / y.  d/dx = 1 / y, d/dy = -x / y**2 = -out / y.")

neg = _unary("neg", operator.neg, -1, D.unary(), "neg(x) = -x.  d/dx = -1.")


def _pow_impl(x: Any, y: Any) -> Any:
    if type(x) is float:
        try:
            out = x ** y
        except ZeroDivisionError:
            return float(np.power(np.float64(x), y))
        return out if type(out) is not complex else math.nan
    return x ** y


def _dpow_dx(x: Any, y: Any, out: Any) -> Any:
    """y * x ** (y - 1), and 0 where y == 0 (x ** 0 is 1 everywhere, x = 0 included)."""
    if type(y) in (int, float):
        return 0.0 if y == 0 else mul(y, pow(x, y - 1))
    # At x = y = 0 the product would be 0 * 0 ** -1; there the exponent is moved to 1 (the partial
    # is 0 either way), and nowhere else, so that the partial still varies with y.
    at_origin = logical_and(equal(x, 0), equal(y, 0))
    return mul(y, pow(x, sub(where(at_origin, 1.0, y), 1)))


def _dpow_dy(x: Any, y: Any, out: Any) -> Any:
    """x ** y * log(x), and 0 where x == 0 and y >= 0 (as PyTorch), where log(x) is -inf."""
    at_zero = logical_and(equal(x, 0), greater_equal(y, 0))
    return mul(out, log(where(at_zero, 1.0, x)))


def _pow_domain(draw: D.Draw) -> tuple[tuple, dict]:
    if draw.boolean():  # tensor ** number, any sign of the base for integer powers
        y = draw.choice([2, 3, -1, 0.5, 1.5, -2.5])
        low = 0.2 if isinstance(y, float) else -2.0
        return (draw.array(draw.shape(), low, 2.0, avoid=(0.0,), margin=0.2), y), {}
    xs, ys = draw.broadcast_shapes(2)
    return (draw.array(xs, 0.2, 2.0), draw.array(ys, -2.0, 2.0)), {}


pow = _binary("pow", _pow_impl, (_dpow_dx, _dpow_dy), _pow_domain,
              "pow(x, y) = x ** y.  d/dx = y * x ** (y - 1), d/dy = x ** y * log(x).")


# --- transcendental functions ----------------------------------------------------------------

exp = _unary("exp", _scalar_or_array(math.exp, np.exp), lambda x, out: out,
             D.unary(), "exp(x) = e ** x.  d/dx = exp(x).")

log = _unary("log", _scalar_or_array(math.log, np.log), lambda x, out: div(1, x),
             D.unary(0.2, 4.0), "log(x), natural logarithm.  d/dx = 1 / x.")

sqrt = _unary("sqrt", _scalar_or_array(math.sqrt, np.sqrt), lambda x, out: div(0.5, out),
              D.unary(0.2, 4.0), "sqrt(x) = x ** 0.5.  d/dx = 0.5 / sqrt(x).")

sin = _unary("sin", _scalar_or_array(math.sin, np.sin), lambda x, out: cos(x),
             D.unary(), "sin(x).  d/dx = cos(x).")

cos = _unary("cos", _scalar_or_array(math.cos, np.cos), lambda x, out: neg(sin(x)),
             D.unary(), "cos(x).  d/dx = -sin(x).")

tanh = _unary("tanh", _scalar_or_array(math.tanh, np.tanh),
              lambda x, out: sub(1, mul(out, out)),
              D.unary(), "tanh(x).  d/dx = 1 - tanh(x) ** 2.")


def _sigmoid_scalar(x: float) -> float:
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    e = math.exp(x)
    return e / (1.0 + e)


def _sigmoid_array(x: Any) -> Any:
    return np.exp(-np.logaddexp(0, -x))  # 1 / (1 + e**-x) without overflow for either sign


sigmoid = _unary("sigmoid", _scalar_or_array(_sigmoid_scalar, _sigmoid_array),
                 lambda x, out: mul(out, sub(1, out)),
                 D.unary(), "sigmoid(x) = 1 / (1 + e ** -x).  d/dx = sigmoid(x) * (1 - sigmoid(x)).")


# --- piecewise functions (derivatives at the kinks follow PyTorch) ---------------------------

def _relu_impl(x: Any) -> Any:
    if type(x) is float:
        return x if x > 0.0 else 0.0
    return np.maximum(x, 0)


relu = _unary("relu", _relu_impl, lambda x, out: greater(x, 0),
              D.unary(avoid=(0.0,)), "relu(x) = max(x, 0).  d/dx = 1 where x > 0, else 0.")

abs = _unary("abs", _scalar_or_array(math.fabs, np.abs), lambda x, out: sign(x),
             D.unary(avoid=(0.0,)), "abs(x) = |x|.  d/dx = sign(x) (0 at 0).")

maximum = _binary("maximum", np.maximum,
                  (lambda x, y, out: share(x, y, operator.gt),
                   lambda x, y, out: share(y, x, operator.gt)),
                  D.separated_pair,
                  "maximum(x, y), elementwise.  d/dx = 1 where x > y, 0.5 on ties, else 0.")

minimum = _binary("minimum", np.minimum,
                  (lambda x, y, out: share(x, y, operator.lt),
                   lambda x, y, out: share(y, x, operator.lt)),
                  D.separated_pair,
                  "minimum(x, y), elementwise.  d/dx = 1 where x < y, 0.5 on ties, else 0.")


def _where_impl(cond: Any, x: Any, y: Any) -> Any:
    if type(cond) is bool:
        return x if cond else y
    return np.where(cond, x, y)


def _where_domain(draw: D.Draw) -> tuple[tuple, dict]:
    cs, xs, ys = draw.broadcast_shapes(3)
    return (draw.mask(cs), draw.array(xs), draw.array(ys)), {}


_where = defop("where", _where_impl,
               partials=(None, lambda c, x, y, out: c, lambda c, x, y, out: logical_not(c)),
               domain=_where_domain,
               doc="where(cond, x, y): x where cond, else y.  d/dx = cond, d/dy = not cond.")


def where(cond: Any, x: Any, y: Any) -> Any:
    """where(cond, x, y): x where cond is true, else y (cond is not differentiable).

    >>> where(np.array([True, False]), np.array([1.0, 2.0]), 0.0)
    array([1., 0.])
    """
    return bind(_where, raw(cond), x, y)


_named(where, "where", where.__doc__ or "", _where)


def _clip_impl(x: Any, *, min: float | None, max: float | None) -> Any:
    if type(x) is float:
        return x if (min is None or x >= min) and (max is None or x <= max) else (
            min if min is not None and x < min else max)
    return np.clip(x, min, max)


def _clip_domain(draw: D.Draw) -> tuple[tuple, dict]:
    low, high = draw.choice([(-1.0, 1.0), (None, 0.5), (-0.5, None), (0.0, 2.0)])
    avoid = tuple(b for b in (low, high) if b is not None)
    return (draw.array(draw.shape(), avoid=avoid, margin=0.1),), {"min": low, "max": high}


_clip = defop("clip", _clip_impl,
              partials=(lambda x, out, min, max: within(x, min, max),),
              domain=_clip_domain,
              doc="clip(x, min, max): x limited to [min, max].  d/dx = 1 inside, 0 outside.")


def clip(x: Any, min: float | None = None, max: float | None = None) -> Any:
    """clip(x, min, max) limits x to [min, max]; a bound of None is open (torch.clamp).

    The derivative is 1 where min <= x <= max and 0 elsewhere.
    """
    min, max = (None if b is None else raw(b) for b in (min, max))
    if min is not None and max is not None and np.any(np.greater(min, max)):
        raise ValueError(f"clip: min ({min}) is greater than max ({max}); swap them")
    return bind(_clip, x, min=min, max=max)


_named(clip, "clip", clip.__doc__ or "", _clip)

# --- dtype conversion (linear: the tangent is cast forward, the cotangent cast back) ----------

def _astype_domain(draw: D.Draw) -> tuple[tuple, dict]:
    # float64 throughout: the checks compare against finite differences in float64
    return (draw.array(draw.shape()),), {"dtype": np.dtype(np.float64)}


_astype = defop("astype", lambda x, *, dtype: np.asarray(x).astype(dtype, copy=False),
                transpose=(lambda y_bar, x, *, dtype:
                           bind(_astype, y_bar, dtype=np.result_type(raw(x))),),
                domain=_astype_domain,
                doc="astype(x, dtype): x converted to a floating dtype.  Transpose: convert back.")


def astype(x: Any, dtype: Any) -> Any:
    """astype(x, dtype): x converted to another floating dtype (gradients are converted back)."""
    dtype = np.dtype(dtype)
    if dtype.kind != "f":
        raise TypeError(f"astype: cannot differentiate through a conversion to {dtype}; use a "
                        f"floating dtype (convert the detached data for integer indices)")
    return bind(_astype, x, dtype=dtype)


_named(astype, "astype", astype.__doc__ or "", _astype)

__all__ = ["add", "sub", "mul", "div", "neg", "pow", "exp", "log", "sqrt", "sin", "cos", "tanh",
           "sigmoid", "relu", "abs", "maximum", "minimum", "where", "clip", "astype"]
