"""Shape helpers shared by the op declarations: shapes of any value, axis normalisation."""
from __future__ import annotations

from typing import Any, Iterable

import numpy as np

_PY_SCALARS = (float, int, bool)


def shape_of(x: Any) -> tuple:
    """The shape of an ndarray, numpy scalar, engine value or Python number (``()``)."""
    if type(x) in _PY_SCALARS:
        return ()
    return x.shape


def ndim_of(x: Any) -> int:
    return len(shape_of(x))


def normalize_axis(axis: int, ndim: int, fn: str) -> int:
    """One axis as a negative index (batch-agnostic); raises naming ``fn`` when out of range."""
    if isinstance(axis, (bool, np.bool_)) or not isinstance(axis, (int, np.integer)):
        raise TypeError(f"{fn}: axis must be an int, got {axis!r}")
    if not -ndim <= axis < ndim:
        where = (f"use an axis in [{-ndim}, {ndim - 1}]" if ndim else
                 "a 0-d array has no axes; leave axis=None")
        raise ValueError(f"{fn}: axis {axis} is out of range for an array with {ndim} "
                         f"dimension(s); {where}")
    return int(axis) - ndim if axis >= 0 else int(axis)


def normalize_axes(axis: int | Iterable[int] | None, ndim: int, fn: str) -> tuple[int, ...]:
    """``None`` (all axes), an int or a tuple, as a sorted tuple of distinct negative indices."""
    if axis is None:
        return tuple(range(-ndim, 0))
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    out = tuple(sorted(normalize_axis(a, ndim, fn) for a in axes))
    if len(set(out)) != len(out):
        raise ValueError(f"{fn}: repeated axis in {axis!r}; list each axis once")
    return out


def reduced_shape(shape: tuple, axes: tuple[int, ...], keepdims: bool) -> tuple:
    """The shape left after reducing ``shape`` over the negative ``axes``."""
    n = len(shape)
    positive = {a + n for a in axes}
    if keepdims:
        return tuple(1 if i in positive else s for i, s in enumerate(shape))
    return tuple(s for i, s in enumerate(shape) if i not in positive)
