"""numpy's elementwise mathematical functions beyond the core set: trigonometric and hyperbolic
functions and their inverses, exponentials and logarithms in other bases, and the two-argument
functions (hypot, arctan2, logaddexp, copysign, fmax, fmin). One stanza each, as in
adcore/ops/elementwise.py: the forward rule is numpy's ufunc, the partials are written with
registry ops (so they differentiate again), and the generated suite checks them from the domain.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from adcore import domains as D
from adcore import special
from adcore.derive import selecting
from adcore.dtypes import binary
from adcore.ops.compare import (
    greater_equal,
    isinf,
    isnan,
    less,
    less_equal,
    logical_not,
    logical_or,
    sign,
    trunc,
)
from adcore.ops.elementwise import (
    _binary,
    _mod_domain,
    _scalar_or_array,
    _unary,
    abs,
    add,
    astype,
    clip,
    cos,
    div,
    exp,
    log,
    log1p,
    mul,
    neg,
    pow,
    sigmoid,
    sqrt,
    sub,
    where,
)
from adcore.registry import declare
from adcore.shapes import dtype_of

# Ops whose rules name an op declared further down: their types, for type checkers.
cosh: Callable[..., Any]
exp2: Callable[..., Any]

_LN2 = math.log(2.0)
_LN10 = math.log(10.0)

# --- trigonometric and hyperbolic ------------------------------------------------------------

tan = _unary("tan", _scalar_or_array(np.tan), lambda x, out: add(1, mul(out, out)),
             D.unary(-1.2, 1.2), "tan(x).  d/dx = 1 + tan(x) ** 2.",
             method="tan", numpy=np.tan, saves="out")

arcsin = _unary("arcsin", _scalar_or_array(np.arcsin),
                lambda x, out: div(1, sqrt(sub(1, mul(x, x)))),
                D.unary(-0.9, 0.9), "arcsin(x).  d/dx = 1 / sqrt(1 - x ** 2).",
                method=("arcsin", "asin"), numpy=np.arcsin, saves="x")

arccos = _unary("arccos", _scalar_or_array(np.arccos),
                lambda x, out: neg(div(1, sqrt(sub(1, mul(x, x))))),
                D.unary(-0.9, 0.9), "arccos(x).  d/dx = -1 / sqrt(1 - x ** 2).",
                method=("arccos", "acos"), numpy=np.arccos, saves="x")

arctan = _unary("arctan", _scalar_or_array(np.arctan),
                lambda x, out: div(1, add(1, mul(x, x))),
                D.unary(), "arctan(x).  d/dx = 1 / (1 + x ** 2).",
                method=("arctan", "atan"), numpy=np.arctan, saves="x")

sinh = _unary("sinh", _scalar_or_array(np.sinh), lambda x, out: cosh(x),
              D.unary(), "sinh(x).  d/dx = cosh(x).", method="sinh", numpy=np.sinh, saves="x")

cosh = _unary("cosh", _scalar_or_array(np.cosh), lambda x, out: sinh(x),
              D.unary(), "cosh(x).  d/dx = sinh(x).", method="cosh", numpy=np.cosh, saves="x")

arcsinh = _unary("arcsinh", _scalar_or_array(np.arcsinh),
                 lambda x, out: div(1, sqrt(add(mul(x, x), 1))),
                 D.unary(), "arcsinh(x).  d/dx = 1 / sqrt(x ** 2 + 1).",
                 method=("arcsinh", "asinh"), numpy=np.arcsinh, saves="x")

arccosh = _unary("arccosh", _scalar_or_array(np.arccosh),
                 lambda x, out: div(1, sqrt(sub(mul(x, x), 1))),
                 D.unary(1.2, 4.0), "arccosh(x), x >= 1.  d/dx = 1 / sqrt(x ** 2 - 1).",
                 method=("arccosh", "acosh"), numpy=np.arccosh, saves="x")

arctanh = _unary("arctanh", _scalar_or_array(np.arctanh),
                 lambda x, out: div(1, sub(1, mul(x, x))),
                 D.unary(-0.9, 0.9), "arctanh(x).  d/dx = 1 / (1 - x ** 2).",
                 method=("arctanh", "atanh"), numpy=np.arctanh, saves="x")

deg2rad = _unary("deg2rad", _scalar_or_array(np.deg2rad), lambda x, out: math.pi / 180,
                 D.unary(-200.0, 200.0), "deg2rad(x) = x * pi / 180.  d/dx = pi / 180.",
                 method="deg2rad", numpy=(np.deg2rad, np.radians), saves="")

rad2deg = _unary("rad2deg", _scalar_or_array(np.rad2deg), lambda x, out: 180 / math.pi,
                 D.unary(), "rad2deg(x) = x * 180 / pi.  d/dx = 180 / pi.",
                 method="rad2deg", numpy=(np.rad2deg, np.degrees), saves="")

# --- exponentials, logarithms, powers --------------------------------------------------------

exp2 = _unary("exp2", _scalar_or_array(np.exp2), lambda x, out: mul(out, _LN2),
              D.unary(), "exp2(x) = 2 ** x.  d/dx = 2 ** x * ln 2.",
              method="exp2", numpy=np.exp2, saves="out")

log2 = _unary("log2", _scalar_or_array(np.log2), lambda x, out: div(1, mul(x, _LN2)),
              D.unary(0.2, 4.0), "log2(x).  d/dx = 1 / (x ln 2).",
              method="log2", numpy=np.log2, saves="x")

log10 = _unary("log10", _scalar_or_array(np.log10), lambda x, out: div(1, mul(x, _LN10)),
               D.unary(0.2, 4.0), "log10(x).  d/dx = 1 / (x ln 10).",
               method="log10", numpy=np.log10, saves="x")

square = _unary("square", _scalar_or_array(np.square), lambda x, out: mul(2, x),
                D.unary(), "square(x) = x ** 2.  d/dx = 2 x.",
                method="square", numpy=np.square, saves="x")

reciprocal = _unary("reciprocal", _scalar_or_array(np.reciprocal),
                    lambda x, out: neg(mul(out, out)),
                    D.unary(avoid=(0.0,), margin=0.3),
                    "reciprocal(x) = 1 / x.  d/dx = -1 / x ** 2.",
                    method="reciprocal", numpy=np.reciprocal, saves="out")

cbrt = _unary("cbrt", _scalar_or_array(np.cbrt), lambda x, out: div(1, mul(3, mul(out, out))),
              D.unary(avoid=(0.0,), margin=0.3), "cbrt(x), the real cube root.  d/dx = 1 / (3 "
              "cbrt(x) ** 2) (infinite at 0).", method="cbrt", numpy=np.cbrt, saves="out")

fabs = _unary("fabs", _scalar_or_array(np.fabs), lambda x, out: sign(x),
              D.unary(avoid=(0.0,)), "fabs(x) = |x|.  d/dx = sign(x) (0 at 0).",
              numpy=np.fabs, saves="x")

# --- two arguments ---------------------------------------------------------------------------

hypot = _binary("hypot", binary(np.hypot, np.hypot),
                (lambda x, y, out: div(x, out), lambda x, y, out: div(y, out)),
                D.binary(x=(0.3, 3.0), y=(0.3, 3.0)),
                "hypot(x, y) = sqrt(x ** 2 + y ** 2).  d/dx = x / out, d/dy = y / out.",
                method="hypot", numpy=np.hypot, saves=("x out", "y out"))


def _datan2_dy(y: object, x: object, out: object) -> object:
    return div(x, add(mul(x, x), mul(y, y)))


def _datan2_dx(y: object, x: object, out: object) -> object:
    return neg(div(y, add(mul(x, x), mul(y, y))))


arctan2 = _binary("arctan2", binary(np.arctan2, np.arctan2), (_datan2_dy, _datan2_dx),
                  D.binary(x=(0.3, 3.0), y=(0.3, 3.0)),
                  "arctan2(y, x), the angle of (x, y).  d/dy = x / (x ** 2 + y ** 2), "
                  "d/dx = -y / (x ** 2 + y ** 2).",
                  method=("arctan2", "atan2"), numpy=np.arctan2, saves=("y x", "y x"))

logaddexp = _binary("logaddexp", binary(np.logaddexp, np.logaddexp),
                    (lambda x, y, out: sigmoid(sub(x, y)), lambda x, y, out: sigmoid(sub(y, x))),
                    D.binary(),
                    "logaddexp(x, y) = log(exp(x) + exp(y)), without overflow.  "
                    "d/dx = exp(x - out) = sigmoid(x - y) (1 at x = inf > y, where x - out is "
                    "NaN; as PyTorch), d/dy = sigmoid(y - x).",
                    method="logaddexp", numpy=np.logaddexp, saves=("x y", "x y"))

logaddexp2 = _binary("logaddexp2", binary(np.logaddexp2, np.logaddexp2),
                     (lambda x, y, out: exp2(sub(x, out)), lambda x, y, out: exp2(sub(y, out))),
                     D.binary(),
                     "logaddexp2(x, y) = log2(2 ** x + 2 ** y).  d/dx = 2 ** (x - out), "
                     "d/dy = 2 ** (y - out).",
                     method="logaddexp2", numpy=np.logaddexp2, saves=("x out", "y out"))

def _away_from_zero(draw: D.Draw) -> tuple[tuple, dict]:
    """Two broadcastable arrays with no entry near 0 (where copysign's partial jumps)."""
    xs, ys = draw.broadcast_shapes(2)
    return (draw.array(xs, avoid=(0.0,), margin=0.2), draw.array(ys, avoid=(0.0,), margin=0.2)), {}


copysign = _binary("copysign", binary(np.copysign, np.copysign),
                   (lambda x, y, out: mul(sign(x), sign(out)), None), _away_from_zero,
                   "copysign(x, y) = |x| with the sign of y.  d/dx = sign(x) sign(out) (0 at "
                   "x = 0), d/dy = 0.", method="copysign", numpy=np.copysign, saves=("x out", ""))

# fmax and fmin return the operand that is not NaN; the gradient goes to the operand returned, all
# of it (ties go to x), as in PyTorch: x where x >= y (x <= y for fmin) or y is NaN, else y.
def _fmax_takes_x(x: Any, y: Any) -> Any:
    return logical_or(greater_equal(x, y), isnan(y))


def _fmin_takes_x(x: Any, y: Any) -> Any:
    return logical_or(less_equal(x, y), isnan(y))


fmax = _binary("fmax", binary(np.fmax, np.fmax),
               (selecting(lambda x, y, out: _fmax_takes_x(x, y)),
                selecting(lambda x, y, out: logical_not(_fmax_takes_x(x, y)))),
               D.separated_pair,
               "fmax(x, y): maximum, ignoring NaN.  d/dx = 1 where x >= y or y is NaN, else 0; "
               "d/dy = 1 - d/dx (as PyTorch).",
               method="fmax", numpy=np.fmax, saves=("x y", "x y"))

fmin = _binary("fmin", binary(np.fmin, np.fmin),
               (selecting(lambda x, y, out: _fmin_takes_x(x, y)),
                selecting(lambda x, y, out: logical_not(_fmin_takes_x(x, y)))),
               D.separated_pair,
               "fmin(x, y): minimum, ignoring NaN.  d/dx = 1 where x <= y or y is NaN, else 0; "
               "d/dy = 1 - d/dx (as PyTorch).",
               method="fmin", numpy=np.fmin, saves=("x y", "x y"))

# --- sinc, fmod and the functions that are compositions --------------------------------------

# sinc'(x) = (cos(pi x) - sinc(x)) / x loses digits near 0 (and is 0 / 0 at 0): there its Taylor
# series, whose own derivatives are right at 0 too (sinc''(0) = -pi^2 / 3).
_SINC_SERIES = tuple((-1) ** k * math.pi ** (2 * k) * 2 * k / math.factorial(2 * k + 1)
                     for k in range(1, 8))  # the coefficients of x^(2k - 1), k = 1..7
_SINC_NEAR = 0.1


def _sinc_partial(x: Any, out: Any) -> Any:
    near = less(abs(x), _SINC_NEAR)
    far = where(near, 1.0, x)
    x2 = mul(x, x)
    series = _SINC_SERIES[-1]
    for c in reversed(_SINC_SERIES[:-1]):
        series = add(mul(series, x2), c)
    return where(near, mul(series, x), div(sub(cos(mul(math.pi, far)), out), far))


sinc = _unary("sinc", _scalar_or_array(np.sinc), _sinc_partial, D.unary(-2.5, 2.5),
              "sinc(x) = sin(pi x) / (pi x), 1 at 0.  d/dx = (cos(pi x) - sinc(x)) / x (its "
              "Taylor series for |x| < 0.1).", numpy=np.sinc, torch_method="sinc",
              saves="x out")


fmod = _binary("fmod", binary(np.fmod, np.fmod),
               (1, lambda x, y, out: neg(trunc(div(x, y)))), _mod_domain,
               "fmod(x, y) = x - y * trunc(x / y), with the sign of x (C's fmod).  d/dx = 1, "
               "d/dy = -trunc(x / y) (away from the jumps).", numpy=np.fmod, torch_method="fmod",
               saves=("", "x y"))


# --- erf and erfc (numpy has none: adcore/special.py computes them to within an ulp) ---------

_TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)

erf = _unary("erf", special.erf,
             lambda x, out: mul(_TWO_OVER_SQRT_PI, exp(neg(mul(x, x)))),
             D.unary(), "erf(x), the error function.  d/dx = 2 / sqrt(pi) exp(-x ** 2).",
             method="erf", saves="x")

erfc = _unary("erfc", special.erfc,
              lambda x, out: mul(-_TWO_OVER_SQRT_PI, exp(neg(mul(x, x)))),
              D.unary(), "erfc(x) = 1 - erf(x), without cancellation for large x.  "
              "d/dx = -2 / sqrt(pi) exp(-x ** 2).", method="erfc", saves="x")


@declare(numpy=np.float_power, torch_method="float_power")
def float_power(x: Any, y: Any) -> Any:
    """float_power(x, y) = x ** y computed in float64, as numpy's."""
    return pow(_float64(x), _float64(y))


def _float64(v: Any) -> Any:
    if isinstance(v, (int, float)):
        return float(v)
    return astype(v, np.float64) if dtype_of(v) != np.float64 else v


@declare(numpy=np.nan_to_num, torch_method="nan_to_num")
def nan_to_num(x: Any, copy: bool = True, nan: float = 0.0, posinf: Any = None,
               neginf: Any = None) -> Any:
    """nan_to_num(x, nan=0.0, posinf=None, neginf=None): NaN and infinities replaced by numbers
    (the dtype's largest by default); the derivative is 1 at finite entries, 0 at replaced ones."""
    info = np.finfo(dtype_of(x))
    big = info.max if posinf is None else posinf
    small = -info.max if neginf is None else neginf
    out = where(isnan(x), nan, x)
    return where(isinf(x), where(less(x, 0), small, big), out)


@declare(numpy=np.ldexp, torch_method="ldexp")
def ldexp(x: Any, n: Any) -> Any:
    """ldexp(x, n) = x * 2 ** n for integers n (exact: a power of two)."""
    return mul(x, np.ldexp(np.ones((), dtype_of(x)), n))


@declare(numpy=np.modf)
def modf(x: Any) -> tuple:
    """modf(x) = (the fractional part, the integral part), both with x's sign: x - trunc(x)
    (exactly, derivative 1) and trunc(x) (derivative 0)."""
    whole = trunc(x)
    return sub(x, whole), whole


@declare(method="logit")
def logit(p: Any, eps: Any = None) -> Any:
    """logit(p) = log(p / (1 - p)), the inverse of sigmoid (PyTorch's ``eps`` clamps p to
    [eps, 1 - eps] first)."""
    if eps is not None:
        p = clip(p, eps, 1 - eps)
    return sub(log(p), log1p(neg(p)))


@declare(numpy=np.real)
def real(x: Any) -> Any:
    """real(x) = x for real x (complex values are not differentiated by this library)."""
    return x


@declare(numpy=(np.conjugate, np.conj), method=("conj", "conjugate"))
def conj(x: Any) -> Any:
    """conj(x) = x for real x."""
    return mul(x, 1)


@declare(numpy=np.positive, torch_method="positive")
def positive(x: Any) -> Any:
    """positive(x) = +x, a copy."""
    return mul(x, 1)


__all__ = [
    "arccos",
    "arccosh",
    "arcsin",
    "arcsinh",
    "arctan",
    "arctan2",
    "arctanh",
    "cbrt",
    "conj",
    "copysign",
    "cosh",
    "deg2rad",
    "erf",
    "erfc",
    "exp2",
    "fabs",
    "float_power",
    "fmax",
    "fmin",
    "fmod",
    "hypot",
    "ldexp",
    "log2",
    "log10",
    "logaddexp",
    "logaddexp2",
    "logit",
    "modf",
    "nan_to_num",
    "positive",
    "rad2deg",
    "real",
    "reciprocal",
    "sinc",
    "sinh",
    "square",
    "tan",
]
