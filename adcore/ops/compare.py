"""Non-differentiable functions: comparisons and masks.

They read the innermost numpy values under any engine values and return plain numpy results (or Python
bools), which every engine treats as constants. Derivative rules use them for masks (relu, abs, max),
and the engines build their comparison operators on them.
"""
from __future__ import annotations

import operator
from typing import Any, Callable

import numpy as np

from adcore.levels import raw


def _compare(name: str, cmp: Callable[[Any, Any], Any], symbol: str) -> Callable[[Any, Any], Any]:
    def fn(x: Any, y: Any) -> Any:
        return cmp(raw(x), raw(y))
    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = f"x {symbol} y elementwise, as a boolean array (not differentiable)."
    return fn


less = _compare("less", operator.lt, "<")
less_equal = _compare("less_equal", operator.le, "<=")
greater = _compare("greater", operator.gt, ">")
greater_equal = _compare("greater_equal", operator.ge, ">=")
equal = _compare("equal", operator.eq, "==")
not_equal = _compare("not_equal", operator.ne, "!=")


def logical_not(c: Any) -> Any:
    """not c, elementwise (not differentiable)."""
    c = raw(c)
    return (not c) if type(c) is bool else np.logical_not(c)


def logical_and(a: Any, b: Any) -> Any:
    """a and b, elementwise (not differentiable)."""
    a, b = raw(a), raw(b)
    return (a and b) if type(a) is bool and type(b) is bool else np.logical_and(a, b)


def sign(x: Any) -> Any:
    """-1, 0 or 1 by the sign of x, in x's dtype (not differentiable)."""
    x = raw(x)
    if type(x) is float:
        return (x > 0) - (x < 0) + 0.0
    return np.sign(x)


def share(x: Any, y: Any, cmp: Callable[[Any, Any], Any]) -> Any:
    """Weights 1 where cmp(x, y), 0.5 on ties, else 0, in the floating dtype of x and y.

    The derivative of maximum (cmp = greater) or minimum (cmp = less) with respect to x: ties split
    the gradient evenly between the two arguments, as in JAX and PyTorch.
    """
    x, y = raw(x), raw(y)
    if type(x) is float and type(y) is float:
        return 1.0 if cmp(x, y) else 0.5 if x == y else 0.0
    dtype = np.result_type(x, y, np.float32)
    return np.where(x == y, 0.5, cmp(x, y)).astype(dtype, copy=False)


def within(x: Any, low: float | None, high: float | None) -> Any:
    """True where low <= x <= high (a bound of None is open): the derivative of clip."""
    x = raw(x)
    if low is None and high is None:
        return np.ones_like(x, dtype=bool) if type(x) is not float else True
    inside = True if low is None else x >= low
    return inside if high is None else inside & (x <= high)
