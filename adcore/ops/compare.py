"""Functions without a derivative: comparisons, logical and bitwise operators, sign, argmax,
rounding.

They dispatch level by level, as ops do: each engine level unwraps its own values (one level down)
and returns the result as a constant of its own (a Tensor without a graph, a Dual without a
tangent); a batching level (``vmap``) also lines up the batch axes of the arguments. On plain values
they compute at once. Derivative rules use them for masks (relu, abs, clip, the ties of max and
min), so a mask computed inside a transformation stays a value of that transformation.

Each public one is declared with ``nondiff``, which records how users reach it (method, operator,
NumPy function), so that the engines' method and protocol tables include it, as they include the
registry's ops.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from adcore.levels import capturing, top_level
from adcore.registry import declare
from adcore.shapes import normalize_axes, normalize_axis, shape_of, torch_axis


class Constant:
    """A function without a derivative, as the levels see it: ``compute`` on plain values, and
    whether its arguments combine elementwise (a batching level lines them up by broadcasting) or
    all carry the batch on their first axis (reductions with negative axes)."""

    __slots__ = ("name", "compute", "elementwise")

    def __init__(self, name: str, compute: Callable[..., Any], elementwise: bool) -> None:
        self.name, self.compute, self.elementwise = name, compute, elementwise

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        level = capturing(args) or top_level(args)
        if level is None:
            return self.compute(*args, **kwargs)
        return level.nondiff(self, args, kwargs)


def constant_like(args: Sequence[Any], value: Any) -> Any:
    """``value`` as a constant of the deepest level among ``args`` (plain when there is none)."""
    level = top_level(args)
    return value if level is None else level.constant(value)


# Functions that the elementwise rules import before this module has declared them (the modules
# import each other): their types, for type checkers.
greater: Callable[..., Any]
floor_divide: Callable[..., Any]
sign: Callable[..., Any]
logical_not: Callable[..., Any]


def nondiff(name: str, compute: Callable[..., Any], *, method: str | Sequence[str] = (),
            operator: str | None = None, numpy: Any = (), doc: str = "",
            elementwise: bool = True) -> Callable[..., Any]:
    """Declare a public function without a derivative; returns it."""
    constant = Constant(name, compute, elementwise)

    def fn(*args: Any, **kwargs: Any) -> Any:
        return constant(*args, **kwargs)
    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = doc
    return declare(method=method, operator=operator, numpy=numpy)(fn)


def _compare(name: str, ufunc: Any, symbol: str, operator: str) -> Callable[[Any, Any], Any]:
    return nondiff(name, ufunc, operator=operator, numpy=ufunc,
                   doc=f"x {symbol} y elementwise, as booleans (not differentiable).")


less = _compare("less", np.less, "<", "lt")
less_equal = _compare("less_equal", np.less_equal, "<=", "le")
greater = _compare("greater", np.greater, ">", "gt")
greater_equal = _compare("greater_equal", np.greater_equal, ">=", "ge")
equal = _compare("equal", np.equal, "==", "eq")
not_equal = _compare("not_equal", np.not_equal, "!=", "ne")


def _logical_not(c: Any) -> Any:
    return (not c) if type(c) is bool else np.logical_not(c)


def _logical_and(a: Any, b: Any) -> Any:
    return (a and b) if type(a) is bool and type(b) is bool else np.logical_and(a, b)


def _logical_or(a: Any, b: Any) -> Any:
    return (a or b) if type(a) is bool and type(b) is bool else np.logical_or(a, b)


logical_not = nondiff("logical_not", _logical_not, method="logical_not", numpy=np.logical_not,
                      doc="not c, elementwise (not differentiable).")
logical_and = nondiff("logical_and", _logical_and, method="logical_and", numpy=np.logical_and,
                      doc="a and b, elementwise (not differentiable).")
logical_or = nondiff("logical_or", _logical_or, method="logical_or", numpy=np.logical_or,
                     doc="a or b, elementwise (not differentiable).")
logical_xor = nondiff("logical_xor", np.logical_xor, method="logical_xor", numpy=np.logical_xor,
                      doc="a xor b, elementwise (not differentiable).")
bitwise_and = nondiff("bitwise_and", np.bitwise_and, operator="and", numpy=np.bitwise_and,
                      doc="a & b: logical and of booleans, bitwise and of integers.")
bitwise_or = nondiff("bitwise_or", np.bitwise_or, operator="or", numpy=np.bitwise_or,
                     doc="a | b: logical or of booleans, bitwise or of integers.")
bitwise_xor = nondiff("bitwise_xor", np.bitwise_xor, operator="xor", numpy=np.bitwise_xor,
                      doc="a ^ b: logical xor of booleans, bitwise xor of integers.")
invert = nondiff("invert", np.invert, operator="invert", numpy=np.invert,
                 doc="~a: logical not of booleans, bitwise not of integers.")


def _sign(x: Any) -> Any:
    if type(x) is float:
        return x if x != x else (x > 0) - (x < 0) + 0.0  # nan stays nan, as in numpy
    return np.sign(x)


sign = nondiff("sign", _sign, method="sign", numpy=np.sign,
               doc="-1, 0 or 1 by the sign of x, in x's dtype (not differentiable).")


def _floor_divide(x: Any, y: Any) -> Any:
    if type(x) is float and type(y) is float and y:
        return x // y  # the scalar Value engine: a float, as numpy computes it
    return np.floor_divide(x, y)


floor_divide = nondiff("floor_divide", _floor_divide, operator="floordiv", numpy=np.floor_divide,
                       doc="x // y, rounded towards -inf (not differentiable).")
floor = nondiff("floor", np.floor, method="floor", numpy=np.floor,
                doc="The largest integer <= x, in x's dtype (not differentiable).")
ceil = nondiff("ceil", np.ceil, method="ceil", numpy=np.ceil,
               doc="The smallest integer >= x, in x's dtype (not differentiable).")
trunc = nondiff("trunc", np.trunc, method="trunc", numpy=np.trunc,
                doc="x rounded towards 0, in x's dtype (not differentiable).")
rint = nondiff("rint", np.rint, numpy=np.rint,
               doc="x rounded to the nearest integer, ties to even (not differentiable).")
fix = nondiff("fix", np.fix, numpy=np.fix,
              doc="x rounded towards 0, as trunc (not differentiable).")
signbit = nondiff("signbit", np.signbit, numpy=np.signbit,
                  doc="x has its sign bit set (negative, or -0.0), as booleans.")
heaviside = nondiff("heaviside", np.heaviside, numpy=np.heaviside,
                    doc="heaviside(x, h0): 0 below 0, h0 at 0, 1 above (derivative 0).")
zeros_like = nondiff("zeros_like", np.zeros_like, numpy=np.zeros_like,
                     doc="An array of zeros with x's shape and dtype (a constant).")
ones_like = nondiff("ones_like", np.ones_like, numpy=np.ones_like,
                    doc="An array of ones with x's shape and dtype (a constant).")
full_like = nondiff("full_like", np.full_like, numpy=np.full_like,
                    doc="An array of fill_value with x's shape and dtype (a constant).")
empty_like = nondiff("empty_like", np.zeros_like, numpy=np.empty_like,
                     doc="An array with x's shape and dtype (zeros here, a constant).")
imag = nondiff("imag", np.zeros_like, numpy=np.imag,
               doc="The imaginary part of a real x: zeros in x's shape and dtype.")
isnan = nondiff("isnan", np.isnan, method="isnan", numpy=np.isnan, doc="x is NaN, elementwise.")
isinf = nondiff("isinf", np.isinf, method="isinf", numpy=np.isinf, doc="x is +-inf, elementwise.")
isfinite = nondiff("isfinite", np.isfinite, method="isfinite", numpy=np.isfinite,
                   doc="x is neither NaN nor infinite, elementwise.")


def _round(x: Any, decimals: int = 0) -> Any:
    return np.round(x, decimals)


round = nondiff("round", _round, method="round", numpy=(np.round, np.around),
                doc="x rounded to ``decimals`` places, half to even as numpy and PyTorch "
                    "(not differentiable).")


def _index_compute(np_fn: Any) -> Callable[..., Any]:
    def compute(x: Any, *, axis: int | None, keepdims: bool, ndim: int) -> Any:
        if axis is None:  # over all of the value's own axes (not a batch in front of them)
            lead = np.shape(x)[:np.ndim(x) - ndim]
            flat = np.reshape(x, lead + (-1,))
            out = np_fn(flat, axis=-1)
            return np.reshape(out, lead + (1,) * ndim) if keepdims else np.asarray(out)
        return np.asarray(np_fn(x, axis=axis, keepdims=keepdims))
    return compute


def _index_reduction(name: str, np_fn: Any) -> Callable[..., Any]:
    constant = Constant(name, _index_compute(np_fn), elementwise=False)

    def fn(x: Any, axis: Any = None, keepdims: Any = None, *, dim: Any = None,
           keepdim: Any = None) -> Any:
        axis, keep = torch_axis(name, axis, keepdims, dim, keepdim)
        ndim = len(shape_of(x))
        if axis is not None:
            axis = normalize_axis(axis, ndim, name)
        return constant(x, axis=axis, keepdims=keep, ndim=ndim)
    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = (f"The index of the {name[3:]}imum over ``axis`` (all axes flattened when None), "
                  f"as int64 (not differentiable).")
    return declare(method=name, numpy=np_fn)(fn)


argmax = _index_reduction("argmax", np.argmax)
argmin = _index_reduction("argmin", np.argmin)


def _truth_reduction(name: str, np_fn: Any) -> Callable[..., Any]:
    constant = Constant(name, lambda x, *, axes, keepdims: np.asarray(
        np_fn(x, axis=axes, keepdims=keepdims)), elementwise=False)

    def fn(x: Any, axis: Any = None, keepdims: Any = None, *, dim: Any = None,
           keepdim: Any = None) -> Any:
        axis, keep = torch_axis(name, axis, keepdims, dim, keepdim)
        return constant(x, axes=normalize_axes(axis, len(shape_of(x)), name), keepdims=keep)
    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = (f"Whether {'any' if name == 'any' else 'every'} element over ``axis`` is true "
                  f"(not differentiable).")
    return declare(method=name, numpy=np_fn)(fn)


any = _truth_reduction("any", np.any)
all = _truth_reduction("all", np.all)

# Masks for the derivative rules (not public functions): they dispatch like the functions above.

def _share(x: Any, y: Any, *, larger: bool) -> Any:
    # "not smaller" rather than "larger": 1 where either is NaN (PyTorch's convention).
    hit = np.logical_not(np.less(x, y) if larger else np.greater(x, y))
    dtype = np.result_type(x, y, np.float32)
    return np.where(np.equal(x, y), 0.5, hit).astype(dtype, copy=False)


_share_constant = Constant("share", _share, elementwise=True)


def _slope_of_abs(x: Any) -> Any:
    if type(x) is float:  # the scalar Value engine
        return float((x > 0) - (x < 0))
    s = np.sign(x)
    return np.where(np.isnan(s), 0, s)


# The derivative of abs: sign(x), and 0 at NaN as well as at 0 (PyTorch's sgn), where numpy's
# sign (the forward value of ``sign``) is NaN.
slope_of_abs = Constant("slope_of_abs", _slope_of_abs, elementwise=True)


def share(x: Any, y: Any, larger: bool) -> Any:
    """Weights 1 where x > y (x < y when not ``larger``), 0.5 on ties, else 0, in the floating
    dtype of x and y: the derivative of maximum (or minimum) with respect to x. Ties split the
    gradient evenly between the two arguments, as in JAX and PyTorch. Where x or y is NaN (the
    result is NaN) both get 1, as in PyTorch, so that the NaN reaches both gradients."""
    if type(x) is float and type(y) is float:  # the scalar Value engine
        return 0.5 if x == y else 0.0 if (x < y if larger else x > y) else 1.0
    return _share_constant(x, y, larger=larger)


def _extremum_weights(x: Any, out: Any, *, axes: tuple, keepdims: bool) -> Any:
    out = out if keepdims else np.expand_dims(out, axes)
    hit = x == out
    if x.dtype.kind == "f":  # a NaN maximum is attained by the NaN entries (PyTorch's convention)
        nan_out = np.isnan(out)
        if nan_out.any():
            hit |= np.isnan(x) & nan_out
    dtype = np.result_type(x, np.float32)
    return (hit / np.sum(hit, axis=axes, keepdims=True)).astype(dtype, copy=False)


# 1/k at the k positions of x that attain the reduced value ``out`` along ``axes``, 0 elsewhere
# (where ``out`` is NaN, the k NaN entries attain it).
extremum_weights = Constant("extremum_weights", _extremum_weights, elementwise=False)
# How many entries of a mask are true along ``axes`` (kept as length-1 axes).
count_true = Constant("count_true", lambda m, *, axes: np.sum(m, axis=axes, keepdims=True),
                      elementwise=False)


__all__ = [
    "all",
    "any",
    "argmax",
    "argmin",
    "bitwise_and",
    "bitwise_or",
    "bitwise_xor",
    "ceil",
    "empty_like",
    "equal",
    "fix",
    "floor",
    "floor_divide",
    "full_like",
    "greater",
    "greater_equal",
    "heaviside",
    "imag",
    "invert",
    "isfinite",
    "isinf",
    "isnan",
    "less",
    "less_equal",
    "logical_and",
    "logical_not",
    "logical_or",
    "logical_xor",
    "not_equal",
    "ones_like",
    "rint",
    "round",
    "sign",
    "signbit",
    "trunc",
    "zeros_like",
]
