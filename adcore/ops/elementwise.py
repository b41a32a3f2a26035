"""Elementwise ops: a table of derivatives.

Each stanza gives the op's name, its forward rule, one partial derivative per input (written with
adcore's own ops, so that it can be differentiated again), the domain its rules are checked on, the
math, and how users reach it (method, operator, NumPy ufunc). Inputs broadcast under numpy's rules
and promote under PyTorch's (adcore/dtypes.py); the registry sums cotangents back to each input's
shape.

Forward rules take a fast path for Python floats (the scalar ``Value`` engine) and fall back to
numpy where Python would raise (overflow, division by zero, log of 0): results follow numpy either
way.
"""
from __future__ import annotations

import operator
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from adcore import domains as D
from adcore.derive import selecting
from adcore.dtypes import binary, promote
from adcore.levels import bind, captures_open, capturing, is_engine_value, raw, value_types
from adcore.ops.compare import (
    equal,
    floor_divide,
    greater,
    greater_equal,
    isnan,
    less,
    less_equal,
    logical_and,
    logical_not,
    logical_or,
    not_equal,
    share,
    slope_of_abs,
)
from adcore.registry import Op, defop, register
from adcore.shapes import broadcasts_to, dtype_of, shape_of


def _scalar_or_array(np_fn: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """A forward rule on numpy's ufunc. A Python float goes through the same ufunc (and comes back
    a float): Python's math module rounds some functions differently in the last place, and a
    number must give exactly what a 0-d array gives."""
    def impl(x: Any) -> Any:
        if type(x) is float:
            return float(np_fn(x))
        return np_fn(x)
    impl.__name__ = np_fn.__name__
    if isinstance(np_fn, np.ufunc):  # what jit calls directly on arrays
        impl.ufunc = np_fn  # type: ignore[attr-defined]
    return impl


def _py_div(x: Any, y: Any) -> Any:
    """x / y on Python numbers, with numpy's inf and nan instead of ZeroDivisionError."""
    try:
        return x / y
    except ZeroDivisionError:
        return float(np.divide(np.float64(x), np.float64(y)))


def _py_pow(x: Any, y: Any) -> Any:
    """x ** y on Python and numpy numbers, exactly as numpy computes it (Python's own ** differs at
    signed zeros and raises on overflow); integers to non-negative integer powers stay integers."""
    if type(x) is int and type(y) is int and y >= 0:
        return x ** y
    if type(x) in (int, float) and type(y) in (int, float):
        return float(np.power(float(x), float(y)))
    return x ** y


# --- benign underflow under a strict numpy error state ---------------------------------------
# The composite "stable" functions (sigmoid, softplus, logsumexp, softmax, log_softmax,
# cross_entropy) take e ** -|gap| on purpose: a tiny or zero term is the right answer, not a
# problem. Under np.seterr(under="raise") numpy would still raise on it, so each of them runs its
# forward rule as it is (a try costs nothing until something is raised) and, on FloatingPointError,
# once more with underflow ignored: an overflow, invalid value or division by zero raises again,
# as numpy would. Single-ufunc ops (exp itself) keep numpy's behaviour.

def retry_quietly(exc: FloatingPointError, fn: Callable[..., Any], *args: Any,
                   **params: Any) -> Any:
    """``fn(*args, **params)`` again with underflow ignored, after it raised ``exc``; ``exc`` again
    at once when underflow was ignored already (then it is an overflow, invalid value or division
    by zero, which the caller asked numpy to raise)."""
    if np.geterr()["under"] == "ignore":
        raise exc
    with np.errstate(under="ignore"):
        return fn(*args, **params)


def _quiet_underflow(op: Op) -> Op:
    """Make an elementwise op's derived JVP and VJP (its partial times the tangent or cotangent,
    written with single-ufunc ops such as exp and mul, which keep numpy's behaviour) run once more
    with underflow ignored when they raise FloatingPointError, as its forward rule does. (An op
    with explicit rules retries inside each rule instead: see logsumexp's.)"""
    jvp, vjp = op.jvp, op.vjp

    def quiet_jvp(tangents: Any, primals: Any, out: Any, params: dict) -> Any:
        try:
            return jvp(tangents, primals, out, params)
        except FloatingPointError as exc:
            return retry_quietly(exc, jvp, tangents, primals, out, params)

    def quiet_vjp(y_bar: Any, primals: Any, out: Any, params: dict, needs: Any) -> Any:
        try:
            return vjp(y_bar, primals, out, params, needs)
        except FloatingPointError as exc:
            return retry_quietly(exc, vjp, y_bar, primals, out, params, needs)

    op.jvp, op.vjp = quiet_jvp, quiet_vjp
    return op


# The op functions below run the forward rule at once when no argument is an engine value (the
# common case inside derivative rules); when exactly one is, they hand the op to its level (what
# bind would find), and otherwise leave the dispatch to bind.
_NO_PARAMS: dict = {}

# Ops whose rules name themselves or an op declared further down: their types, for type checkers.
div: Callable[..., Any]
neg: Callable[..., Any]
cos: Callable[..., Any]


def _unary(name: str, impl: Callable[[Any], Any], partial: Any, domain: D.Sample, doc: str,
           **meta: Any) -> Callable[[Any], Any]:
    """An elementwise op of one operand; its forward rule is a numpy ufunc (``ufunc``)."""
    op = defop(name, impl, partials=(partial,), domain=domain, doc=doc, register=False,
               ufunc=True, **meta)

    def fn(x: Any) -> Any:
        if captures_open[0]:
            return bind(op, x)  # a jit trace may capture the op
        if type(x) in value_types:
            level = x._level
            if level.closed:
                return bind(op, x)  # raises: the value escaped its transformation
            return level.process(op, (x,), _NO_PARAMS)
        return impl(x)
    return _named(fn, name, doc, op)


def _binary(name: str, impl: Callable[[Any, Any], Any], partials: Sequence[Any],
            domain: D.Sample, doc: str, **meta: Any) -> Callable[[Any, Any], Any]:
    """An elementwise op of two operands; its forward rule is a numpy ufunc (``ufunc``)."""
    op = defop(name, impl, partials=partials, domain=domain, doc=doc, register=False,
               ufunc=True, **meta)

    def fn(x: Any, y: Any) -> Any:
        if captures_open[0]:
            return bind(op, x, y)  # a jit trace may capture the op
        if type(x) in value_types:
            if type(y) in value_types or x._level.closed:
                return bind(op, x, y)
            return x._level.process(op, (x, y), _NO_PARAMS)
        if type(y) in value_types:
            if y._level.closed:
                return bind(op, x, y)
            return y._level.process(op, (x, y), _NO_PARAMS)
        try:
            return impl(x, y)
        except (ValueError, TypeError) as exc:  # numpy's errors, named after the op
            raise op.error(exc, (x, y), {}) from exc
    return _named(fn, name, doc, op)


def _named(fn: Callable[..., Any], name: str, doc: str, op: Op) -> Callable[..., Any]:
    """Make ``fn`` the public function of ``op`` and register the op (which builds its tables)."""
    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = doc
    fn.op = op  # type: ignore[attr-defined]
    op.fn = fn
    register(op)
    return fn


# --- arithmetic ------------------------------------------------------------------------------

add = _binary("add", binary(np.add, operator.add), (1, 1),
              D.binary(), "add(x, y) = x + y.  d/dx = 1, d/dy = 1.",
              method="add", operator="add", inplace="add_", numpy=np.add)

sub = _binary("sub", binary(np.subtract, operator.sub), (1, -1),
              D.binary(), "sub(x, y) = x - y.  d/dx = 1, d/dy = -1.",
              method=("sub", "subtract"), operator="sub", inplace="sub_", numpy=np.subtract)

mul = _binary("mul", binary(np.multiply, operator.mul),
              (lambda x, y, out: y, lambda x, y, out: x),
              D.binary(), "mul(x, y) = x * y.  d/dx = y, d/dy = x.",
              method=("mul", "multiply"), operator="mul", inplace="mul_", numpy=np.multiply,
              saves=("y", "x"))

div = _binary("div", binary(np.true_divide, _py_div),
              (lambda x, y, out: div(1, y), lambda x, y, out: neg(div(div(x, y), y))),
              D.binary(y_avoid=(0.0,), margin=0.3),
              "div(x, y) = x / y.  d/dx = 1 / y, d/dy = -x / y**2 (read from the inputs, as "
              "PyTorch saves them: the result may be changed in place before backward).",
              method=("div", "divide", "true_divide"), operator="truediv", inplace="div_",
              numpy=np.true_divide, saves=("y", "x y"))


def _py_mod(x: Any, y: Any) -> Any:
    """x % y on Python numbers (the sign of y, as numpy), with numpy's nan for a float modulo 0
    instead of ZeroDivisionError."""
    try:
        return x % y
    except ZeroDivisionError:
        return np.remainder(x, y).item()


def _mod_domain(draw: D.Draw) -> tuple[tuple, dict]:
    """x / y kept at least 0.05 from every integer, where x % y jumps: x = c x0 and y = c y0, y0
    in {+-1, +-2, +-3} and x0 at least 0.15 from every integer, c a common scale."""
    xs, ys = draw.broadcast_shapes(2)
    x0 = draw.array(xs, -4.0, 4.0, avoid=tuple(float(k) for k in range(-4, 5)), margin=0.15)
    y0 = np.round(draw.array(ys, -3.4, 3.4, avoid=(0.0,), margin=0.6))
    c = float(draw.array((), 0.5, 2.0))
    return (np.asarray(c * x0), np.asarray(c * y0)), {}


remainder = _binary("remainder", binary(np.remainder, _py_mod),
                    (1, lambda x, y, out: neg(floor_divide(x, y))), _mod_domain,
                    "remainder(x, y) = x % y = x - y * floor(x / y), with the sign of y.  "
                    "d/dx = 1, d/dy = -floor(x / y) (away from the jumps where x / y is an "
                    "integer).",
                    operator="mod", numpy=np.remainder, saves=("", "x y"))

neg = _unary("neg", operator.neg, -1, D.unary(), "neg(x) = -x.  d/dx = -1.",
             method=("neg", "negative"), operator="neg", numpy=np.negative)


def _dpow_dx(x: Any, y: Any, out: Any) -> Any:
    """y * x ** (y - 1), and 0 where y == 0 (x ** 0 is 1 everywhere, x = 0 included)."""
    if type(y) in (int, float):
        return 0.0 if y == 0 else mul(y, pow(x, y - 1))
    # At x = y = 0 the product would be 0 * 0 ** -1 (and 0 * nan at x = NaN); there the exponent
    # is moved to 1 (the partial is 0 either way, as PyTorch's), and nowhere else, so that the
    # partial still varies with y.
    at_origin = logical_and(logical_or(equal(x, 0), isnan(x)), equal(y, 0))
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


pow = _binary("pow", binary(np.power, _py_pow), (_dpow_dx, _dpow_dy), _pow_domain,
              "pow(x, y) = x ** y.  d/dx = y * x ** (y - 1), d/dy = x ** y * log(x).",
              method="pow", operator="pow", inplace="pow_", numpy=np.power,
              saves=("x y", "x y out"))


# --- transcendental functions ----------------------------------------------------------------

exp = _unary("exp", _scalar_or_array(np.exp), lambda x, out: out,
             D.unary(), "exp(x) = e ** x.  d/dx = exp(x).", method="exp", numpy=np.exp, saves="out")

expm1 = _unary("expm1", _scalar_or_array(np.expm1), lambda x, out: add(out, 1),
               D.unary(), "expm1(x) = e ** x - 1, exact near 0.  d/dx = exp(x) = out + 1.",
               method="expm1", numpy=np.expm1, saves="out")

log = _unary("log", _scalar_or_array(np.log), lambda x, out: div(1, x),
             D.unary(0.2, 4.0), "log(x), natural logarithm.  d/dx = 1 / x.",
             method="log", numpy=np.log, saves="x")

log1p = _unary("log1p", _scalar_or_array(np.log1p), lambda x, out: div(1, add(x, 1)),
               D.unary(-0.8, 4.0), "log1p(x) = log(1 + x), exact near 0.  d/dx = 1 / (1 + x).",
               method="log1p", numpy=np.log1p, saves="x")

sqrt = _unary("sqrt", _scalar_or_array(np.sqrt), lambda x, out: div(0.5, out),
              D.unary(0.2, 4.0), "sqrt(x) = x ** 0.5.  d/dx = 0.5 / sqrt(x).",
              method="sqrt", numpy=np.sqrt, saves="out")

sin = _unary("sin", _scalar_or_array(np.sin), lambda x, out: cos(x),
             D.unary(), "sin(x).  d/dx = cos(x).", method="sin", numpy=np.sin, saves="x")

cos = _unary("cos", _scalar_or_array(np.cos), lambda x, out: neg(sin(x)),
             D.unary(), "cos(x).  d/dx = -sin(x).", method="cos", numpy=np.cos, saves="x")

tanh = _unary("tanh", _scalar_or_array(np.tanh),
              lambda x, out: sub(1, mul(out, out)),
              D.unary(), "tanh(x).  d/dx = 1 - tanh(x) ** 2.", method="tanh", numpy=np.tanh,
              saves="out")


def _sigmoid_array(x: Any) -> Any:
    try:  # e**-|x| never overflows: 1 / (1 + e**-x) for x >= 0, e**x / (1 + e**x) below
        z = np.exp(-np.abs(x))
        return np.where(x >= 0, 1.0 / (1.0 + z), z / (1.0 + z))
    except FloatingPointError as exc:  # its underflow is benign (see retry_quietly)
        return retry_quietly(exc, _sigmoid_array, x)


sigmoid = _unary("sigmoid", _scalar_or_array(_sigmoid_array),
                 lambda x, out: mul(out, sub(1, out)),
                 D.unary(),
                 "sigmoid(x) = 1 / (1 + e ** -x).  d/dx = sigmoid(x) * (1 - sigmoid(x)).",
                 method="sigmoid", saves="out")
_quiet_underflow(sigmoid.op)  # type: ignore[attr-defined]


# --- piecewise functions (derivatives at the kinks follow PyTorch) ---------------------------

def _relu_impl(x: Any) -> Any:
    if type(x) is float:
        return 0.0 if x <= 0.0 else x  # nan stays nan and -0.0 becomes 0.0, as np.maximum(x, 0)
    return np.maximum(x, 0)


# out != 0 is out > 0 for out >= 0, and true where out is NaN: the NaN reaches the gradient,
# as in PyTorch (whose mask is "not out <= 0").
relu = _unary("relu", _relu_impl, selecting(lambda x, out: not_equal(out, 0)),
              D.unary(avoid=(0.0,)),
              "relu(x) = max(x, 0).  d/dx = 1 where out > 0 or out is NaN, else 0 (it reads its "
              "output, as PyTorch saves it).",
              method="relu", saves="out")

abs = _unary("abs", _scalar_or_array(np.abs), lambda x, out: slope_of_abs(x),
             D.unary(avoid=(0.0,)), "abs(x) = |x|.  d/dx = sign(x) (0 at 0, and at NaN, as "
             "PyTorch's).",
             method=("abs", "absolute"), operator="abs", numpy=np.absolute, saves="x")

maximum = _binary("maximum", binary(np.maximum, np.maximum),
                  (lambda x, y, out: share(x, y, larger=True),
                   lambda x, y, out: share(y, x, larger=True)),
                  D.separated_pair,
                  "maximum(x, y), elementwise.  d/dx = 1 where x > y, 0.5 on ties, 0 where x < "
                  "y; 1 to both where either is NaN (as PyTorch).",
                  method="maximum", numpy=np.maximum, saves=("x y", "x y"))

minimum = _binary("minimum", binary(np.minimum, np.minimum),
                  (lambda x, y, out: share(x, y, larger=False),
                   lambda x, y, out: share(y, x, larger=False)),
                  D.separated_pair,
                  "minimum(x, y), elementwise.  d/dx = 1 where x < y, 0.5 on ties, 0 where x > "
                  "y; 1 to both where either is NaN (as PyTorch).",
                  method="minimum", numpy=np.minimum, saves=("x y", "x y"))


def _where_impl(cond: Any, x: Any, y: Any) -> Any:
    if type(cond) is bool:
        return x if cond else y
    x, y = promote(x, y)
    return np.where(cond, x, y)


def _where_domain(draw: D.Draw) -> tuple[tuple, dict]:
    cs, xs, ys = draw.broadcast_shapes(3)
    return (draw.mask(cs), draw.array(xs), draw.array(ys)), {}


_where = defop("where", _where_impl,
               partials=(None, selecting(lambda c, x, y, out: c),
                         selecting(lambda c, x, y, out: logical_not(c))),
               domain=_where_domain, register=False, numpy=np.where,
               doc="where(cond, x, y): x where cond, else y.  d/dx = cond, d/dy = not cond.",
               saves=("", "c", "c"))


def where(cond: Any, x: Any, y: Any) -> Any:
    """where(cond, x, y): x where cond is true, else y (cond is not differentiable).

    >>> where(np.array([True, False]), np.array([1.0, 2.0]), 0.0)
    array([1., 0.])
    """
    if type(cond) in (list, tuple):
        cond = np.asarray(cond)
    return bind(_where, cond, x, y)


_named(where, "where", where.__doc__ or "", _where)


def _masked_fill_impl(x: Any, mask: Any, value: Any) -> Any:
    x, value = promote(x, value)
    return np.where(mask, value, x)


def _masked_fill_domain(draw: D.Draw) -> tuple[tuple, dict]:
    xs = draw.shape()
    ms = tuple(1 if draw.boolean() else s for s in xs)[draw.integers(0, len(xs)):]
    return (draw.array(xs), draw.mask(ms), draw.array(())), {}


_masked_fill = defop(
    "masked_fill", _masked_fill_impl,
    partials=(selecting(lambda x, m, v, out: logical_not(m)), None,
              selecting(lambda x, m, v, out: m)),
    domain=_masked_fill_domain, register=False, method="masked_fill", inplace="masked_fill_",
    doc="masked_fill(x, mask, value): value where mask, else x.  d/dx = not mask, "
        "d/dvalue = mask (summed).", saves=("m", "", "m"))


def masked_fill(x: Any, mask: Any, value: Any) -> Any:
    """masked_fill(x, mask, value): x with ``value`` where ``mask`` (which broadcasts to x) is true.

    As torch.Tensor.masked_fill: the result has x's shape; ``value`` is a number or a 0-d array.
    """
    xs = shape_of(x)
    if not broadcasts_to(shape_of(mask), xs):
        raise ValueError(f"masked_fill: mask of shape {shape_of(mask)} does not broadcast to x's "
                         f"shape {xs}; give a mask of x's shape or one that expands to it")
    if shape_of(value):
        raise ValueError(f"masked_fill: value must be a number or 0-d, got shape "
                         f"{shape_of(value)}; use where(mask, values, x) for an array")
    if captures_open[0] and isinstance(mask, np.ndarray):
        level = capturing((mask,))  # a mask a jitted function closes over: read at each call
        if level is not None:
            mask = level.constant(mask)
    if is_engine_value(mask) and (mask._level.per_call or np.shape(raw(mask)) != shape_of(mask)):
        # A mask of jit's arguments (read at each call) or of vmap's examples: an operand.
        return bind(_masked_fill, x, mask if dtype_of(mask).kind == "b" else astype(mask, bool),
                    value)
    return bind(_masked_fill, x, np.asarray(raw(mask), dtype=bool), value)


_named(masked_fill, "masked_fill", masked_fill.__doc__ or "", _masked_fill)


def _clip_impl(x: Any, lo: Any, hi: Any) -> Any:
    if type(x) is float and type(lo) in (float, type(None)) and type(hi) in (float, type(None)):
        if x != x:
            return x  # nan stays nan, as np.clip
        if lo is not None and x < lo:
            x = lo
        return hi if hi is not None and x > hi else x
    if lo is not None:
        x, lo = promote(x, lo)
    if hi is not None:
        x, hi = promote(x, hi)
    return np.clip(x, lo, hi)


def _clip_dx(x: Any, lo: Any, hi: Any, out: Any) -> Any:
    """1 where lo <= x <= hi (ties go to x, as PyTorch), 0 where a bound is active."""
    inside = True if lo is None else greater_equal(x, lo)
    if hi is not None:
        inside = logical_and(inside, less_equal(x, hi))
    return inside


def _clip_dlo(x: Any, lo: Any, hi: Any, out: Any) -> Any:
    """1 where x < lo (the lower bound is the result), unless lo > hi (then hi is)."""
    below = less(x, lo)
    return below if hi is None else logical_and(below, less_equal(lo, hi))


def _clip_dhi(x: Any, lo: Any, hi: Any, out: Any) -> Any:
    """1 where x > hi, and everywhere when lo > hi (the result is then hi, as in PyTorch)."""
    above = greater(x, hi)
    return above if lo is None else logical_or(above, greater(lo, hi))


def _clip_domain(draw: D.Draw) -> tuple[tuple, dict]:
    xs = draw.shape()
    kind = draw.choice(["numbers", "arrays", "lower", "upper"])
    if kind == "numbers":
        lo, hi = draw.choice([(-1.0, 1.0), (0.0, 2.0)])
        return (draw.array(xs, avoid=(lo, hi), margin=0.1), lo, hi), {}
    # bounds as arrays that broadcast against x, kept apart from x and from each other
    x, lo, hi = draw.separated([xs, xs, xs], margin=0.05)
    lo, hi = np.minimum(lo, hi), np.maximum(lo, hi)
    return (x, None if kind == "upper" else lo, None if kind == "lower" else hi), {}


_clip = defop("clip", _clip_impl,
              partials=(selecting(_clip_dx), selecting(_clip_dlo), selecting(_clip_dhi)),
              domain=_clip_domain, register=False, method=("clip", "clamp"),
              inplace=("clamp_", "clip_"), numpy=np.clip,
              doc="clip(x, min, max): x limited to [min, max] (min = max(x, min) first, then "
                  "max).  d/dx = 1 where min <= x <= max; d/dmin = 1 where x < min; d/dmax = 1 "
                  "where x > max or min > max.", saves=("x lo hi", "x lo hi", "x lo hi"))


def clip(x: Any, min: Any = None, max: Any = None) -> Any:
    """clip(x, min, max) limits x to [min, max]; a bound of None is open (torch.clamp, np.clip).

    Bounds may be numbers or arrays and tensors that broadcast against x; gradients reach tensor
    bounds where they are active. Where min > max the result is max, as in numpy and PyTorch.

    >>> clip(np.array([-2.0, 0.5, 3.0]), -1.0, 1.0)
    array([-1. ,  0.5,  1. ])
    """
    if min is None and max is None:
        raise ValueError("clip: give at least one of min and max (both are None)")
    return bind(_clip, x, min, max)


_named(clip, "clip", clip.__doc__ or "", _clip)

# --- dtype conversion (linear: the tangent is cast forward, the cotangent cast back) ----------


def _astype_domain(draw: D.Draw) -> tuple[tuple, dict]:
    # float64 throughout: the checks compare against finite differences in float64
    return (draw.array(draw.shape()),), {"dtype": np.dtype(np.float64)}


_astype: Op = defop("astype", lambda x, *, dtype: np.asarray(x).astype(dtype, copy=False),
                transpose=(lambda y_bar, x, *, dtype:
                           bind(_astype, y_bar, dtype=dtype_of(x)),),
                domain=_astype_domain, register=False, view=True, method="astype",
                doc="astype(x, dtype): x converted to a floating dtype.  Transpose: convert back.")


def astype(x: Any, dtype: Any) -> Any:
    """astype(x, dtype): x converted to another floating dtype (gradients are converted back)."""
    dtype = np.dtype(dtype)
    if dtype.kind != "f":
        raise TypeError(f"astype: cannot differentiate through a conversion to {dtype}; use a "
                        f"floating dtype (convert the detached data for integer indices)")
    return bind(_astype, x, dtype=dtype)


_named(astype, "astype", astype.__doc__ or "", _astype)

__all__ = [
    "abs",
    "add",
    "astype",
    "clip",
    "cos",
    "div",
    "exp",
    "expm1",
    "log",
    "log1p",
    "masked_fill",
    "maximum",
    "minimum",
    "mul",
    "neg",
    "pow",
    "relu",
    "remainder",
    "sigmoid",
    "sin",
    "sqrt",
    "sub",
    "tanh",
    "where",
]
