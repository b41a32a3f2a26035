"""Type promotion: PyTorch's rule, wherever the library combines arrays elementwise.

numpy 2 (NEP 50) lets a numpy scalar or a 0-d array set the result's precision: a float32 array
times ``np.float64(2)`` is float64. PyTorch does not, and neither does this library: **within a
category (bool < integer < floating), a value without dimensions (a Python or numpy scalar, a 0-d
array or tensor) never promotes an operand that has dimensions.** A float32 Tensor times a float64
constant stays float32, in both engines, in the derivative rules and on plain arrays passed to
``adcore.ops``.

Operands with dimensions promote among themselves as numpy does (float32 with float64 gives
float64), and so do operands that are all 0-d. A scalar of a higher category than every operand with
dimensions promotes under numpy's rule (an integer array times 2.5 is float64, where PyTorch gives
its default float32). Lists become arrays, as numpy makes them.

>>> import numpy as np
>>> from adcore import ops
>>> ops.mul(np.ones(2, np.float32), np.float64(2)).dtype
dtype('float32')
>>> ops.mul(np.ones(2, np.float32), np.ones(2, np.float64)).dtype
dtype('float64')
"""
from __future__ import annotations

from typing import Any

import numpy as np

from adcore.shapes import refuse_tensors_in

_PY = (float, int, bool)
_SEQUENCES = (list, tuple)
_CATEGORY = {"b": 0, "u": 1, "i": 1, "f": 2, "c": 3}
ndarray = np.ndarray


def _weak(s: Any, other: np.ndarray) -> Any:
    """``s`` (a numpy scalar or an array) as a Python scalar when it must not promote ``other``."""
    if type(s) is ndarray and (s.ndim or not other.ndim):
        return s  # it has dimensions, or both are 0-d: ordinary promotion
    if _CATEGORY.get(s.dtype.kind, 3) <= _CATEGORY.get(other.dtype.kind, 3):
        return s.item()  # Python scalars are "weak" under NEP 50: the array keeps its dtype
    return s


def _as_operand(x: Any) -> Any:
    if type(x) in _PY or isinstance(x, (ndarray, np.generic)):
        return x
    if isinstance(x, (list, tuple)):
        refuse_tensors_in(x, "an op")
    return np.asarray(x)


def promote(x: Any, y: Any) -> tuple[Any, Any]:
    """``(x, y)`` ready for a numpy ufunc under the rule above."""
    x, y = _as_operand(x), _as_operand(y)
    tx, ty = type(x), type(y)
    if tx is ndarray:
        if ty is ndarray:
            if x.dtype == y.dtype:
                return x, y
            if not x.ndim and y.ndim:
                return _weak(x, y), y
            return x, (_weak(y, x) if not y.ndim and x.ndim else y)
        return x, (y if ty in _PY else _weak(y, x))
    if ty is ndarray and tx not in _PY:
        return _weak(x, y), y
    return x, y


def binary(np_fn: Any, py_fn: Any) -> Any:
    """A forward rule for two operands: ``np_fn`` on arrays after promotion, ``py_fn`` (Python's
    operator, or an equivalent) on numbers and numpy scalars."""
    def impl(x: Any, y: Any) -> Any:
        tx = type(x)
        ty = type(y)
        if tx is ndarray:
            if ty is ndarray:
                if x.dtype is not y.dtype:
                    x, y = promote(x, y)
            elif ty is not float and ty is not int:
                x, y = promote(x, y)
            return np_fn(x, y)
        if ty is ndarray:
            if tx is not float and tx is not int:
                x, y = promote(x, y)
            return np_fn(x, y)
        if tx in _SEQUENCES or ty in _SEQUENCES:
            return np_fn(*promote(x, y))
        # numbers and numpy scalars among themselves: numpy's own promotion is the rule, and
        # Python's operator takes numpy's fast path for scalars (a ufunc call costs ten times more)
        return py_fn(x, y)
    impl.__name__ = getattr(np_fn, "__name__", "impl")
    if isinstance(np_fn, np.ufunc):  # what jit calls directly on arrays
        impl.ufunc = np_fn  # type: ignore[attr-defined]
    return impl

