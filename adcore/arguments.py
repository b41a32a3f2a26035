"""Argument plumbing shared by the engines' functional transformations (jvp, grad, jacrev, ...).

Nothing here knows a derivative: it converts inputs, checks ``argnums`` and returns results as plain
numpy values.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from adcore.levels import is_engine_value


def as_input(x: Any, fn: str) -> Any:
    """Inputs of a transformation: engine values pass through, the rest become float arrays."""
    if is_engine_value(x):
        return x
    arr = np.asarray(x)
    if arr.dtype.kind in "biu":
        return arr.astype(np.float64)
    if arr.dtype.kind != "f":
        raise TypeError(f"{fn}: inputs must be real numbers or arrays, got dtype {arr.dtype}")
    return arr


def select_inputs(args: Sequence[Any], nums: Sequence[int], fn: str) -> list:
    """The arguments, those at ``nums`` (the ones differentiated) as float arrays; the others
    (indices, masks, axes, flags) pass through unchanged."""
    args = list(args)
    for i in nums:
        args[i] = as_input(args[i], fn)
    return args


def plain(x: Any) -> Any:
    """0-d arrays as numpy scalars; tuples element by element."""
    if isinstance(x, tuple):
        return tuple(plain(v) for v in x)
    if type(x) is np.ndarray and x.ndim == 0:
        return x[()]
    return x


def normalize_argnums(argnums: int | Sequence[int], n: int, fn: str) -> tuple[int, ...]:
    """``argnums`` (an int or a tuple, negative counting from the end) as non-negative positions."""
    nums = (argnums,) if isinstance(argnums, int) else tuple(argnums)
    for a in nums:
        if not -n <= a < n:
            raise ValueError(f"{fn}: argnums {a} is out of range for a function called with "
                             f"{n} argument(s)")
    return tuple(a % n for a in nums)
