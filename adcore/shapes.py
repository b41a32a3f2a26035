"""Shape helpers shared by the op declarations: shapes and dtypes of any value, axis
normalisation."""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from adcore.levels import raw as _raw

_PY_SCALARS = (float, int, bool)


class Meta:
    """What a recorded node keeps of a value that its rule does not read: its shape and dtype.

    Rules may ask a Meta for ``shape``, ``ndim``, ``size`` and (through ``dtype_of``) ``dtype``;
    anything else (arithmetic, indexing) fails loudly, so a rule that reads a value it did not
    declare can never compute with a stand-in by mistake.
    """

    __slots__ = ("shape", "dtype")

    def __init__(self, shape: tuple, dtype: Any) -> None:
        self.shape = shape
        self.dtype = dtype

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def size(self) -> int:
        n = 1
        for s in self.shape:
            n *= s
        return n

    def __repr__(self) -> str:
        return f"Meta(shape={self.shape}, dtype={self.dtype})"


def shape_of(x: Any) -> tuple:
    """The shape of an ndarray, numpy scalar, engine value, Meta or Python number (``()``)."""
    if type(x) in _PY_SCALARS:
        return ()
    try:
        return x.shape
    except AttributeError:  # lists and other array-likes, as numpy reads them
        if isinstance(x, (list, tuple)):
            refuse_tensors_in(x, "an op")
        return np.shape(x)


def broadcasts_to(small: tuple, big: tuple) -> bool:
    """Whether an array of shape ``small`` broadcasts to shape ``big`` (each axis, counted from
    the last, equal or 1; no more axes than ``big``)."""
    return len(small) <= len(big) and all(s in (1, b) for s, b in zip(small[::-1], big[::-1]))


MAX_NESTING = 64  # numpy's largest number of axes


def refuse_tensors_in(seq: Any, fn: str, _outer: tuple[int, ...] = ()) -> None:
    """Raise if a (nested) list or tuple holds engine values: numpy would turn them into plain
    numbers, and their derivatives would be lost without a word. A list that contains itself, or
    is nested deeper than an array can have axes, is refused with a ValueError."""
    outer = (*_outer, id(seq))
    for v in seq:
        if isinstance(v, (list, tuple)):
            if id(v) in outer:
                raise ValueError(f"{fn}: got a list that contains itself (as after "
                                 f"l.append(l)), which has no finite shape; build the list of "
                                 f"numbers without the self-reference")
            if len(outer) >= MAX_NESTING:
                raise ValueError(f"{fn}: got lists nested more than {MAX_NESTING} deep, but an "
                                 f"array has at most {MAX_NESTING} axes; flatten the data "
                                 f"(np.reshape after building it) or pass an ndarray")
            refuse_tensors_in(v, fn, outer)
        elif hasattr(v, "_level") and hasattr(v, "_unwrap"):
            raise TypeError(f"{fn}: got a Python list that holds a {type(v).__name__} where an "
                            f"array was expected; numpy would make it a plain array and its "
                            f"gradient would be lost. Join tensors with stack([...]) or "
                            f"concatenate([...]) instead")


def ndim_of(x: Any) -> int:
    return len(shape_of(x))


def dtype_of(x: Any) -> np.dtype:
    """The dtype of an ndarray, numpy scalar, Meta or engine value (float64 for Python floats)."""
    dtype = getattr(x, "dtype", None)
    if isinstance(dtype, np.dtype):
        return dtype
    return np.result_type(x)


def complex_error(op: Any, args: Any) -> TypeError:
    """The error for an op whose result is complex (complex numbers are not differentiated)."""
    described = ", ".join(str(dtype_of(_raw(a))) for a in args)
    return TypeError(f"{op.name}: the result is complex (inputs of dtypes {described}); complex "
                     f"numbers are not differentiated by this library. Keep the computation real "
                     f"(split real and imaginary parts into two real arrays)")


def check_real(op: Any, out: Any, args: Any) -> None:
    """Refuse a complex result of ``op`` under a transformation, naming the op."""
    if type(out) is np.ndarray:
        if out.dtype.kind == "c":
            raise complex_error(op, args)
        return
    if type(out) is tuple:  # an op with several outputs
        for o in out:
            check_real(op, o, args)
        return
    value = _raw(out)
    if type(value) is complex or getattr(getattr(value, "dtype", None), "kind", "") == "c":
        raise complex_error(op, args)


def normalize_axis(axis: int, ndim: int, fn: str) -> int:
    """One axis as a negative index (batch-agnostic); raises naming ``fn`` when out of range."""
    if isinstance(axis, (bool, np.bool_)) or not isinstance(axis, (int, np.integer)):
        raise TypeError(f"{fn}: axis must be an int, got {axis!r} ({type(axis).__name__}); "
                        f"pass a whole number such as axis=1")
    if not -ndim <= axis < ndim:
        where = (f"use an axis in [{-ndim}, {ndim - 1}]" if ndim else
                 "a 0-d array has no axes; leave axis=None")
        raise ValueError(f"{fn}: axis {axis} is out of range for an array with {ndim} "
                         f"dimension(s); {where}")
    return int(axis) - ndim if axis >= 0 else int(axis)


def axis_pair(axes: Any, ndim: int, fn: str) -> tuple[int, int]:
    """Two distinct axes as non-negative indices (a matrix's rows and columns, a plane to rotate
    in); raises naming ``fn`` otherwise."""
    if len(axes) != 2:
        raise ValueError(f"{fn}: axes must name two axes, got {axes!r}")
    a, b = (normalize_axis(int(x), ndim, fn) % ndim for x in axes)
    if a == b:
        raise ValueError(f"{fn}: the two axes are the same axis ({axes!r})")
    return a, b


def normalize_axes(axis: int | Iterable[int] | None, ndim: int, fn: str) -> tuple[int, ...]:
    """``None`` (all axes), an int or a tuple, as a sorted tuple of distinct negative indices."""
    if axis is None:
        return tuple(range(-ndim, 0))
    if isinstance(axis, (int, np.integer)):
        axes: tuple = (axis,)
    elif isinstance(axis, (str, bytes)) or not isinstance(axis, Iterable):
        raise TypeError(f"{fn}: axis must be an int, a tuple of ints or None, got {axis!r} "
                        f"({type(axis).__name__}); pass a whole number such as axis=1")
    else:
        axes = tuple(axis)
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


def torch_axis(fn: str, axis: Any, keepdims: Any, dim: Any, keepdim: Any) -> tuple[Any, bool]:
    """Accept PyTorch's ``dim``/``keepdim`` beside numpy's ``axis``/``keepdims`` (not both)."""
    if dim is not None:
        if axis is not None:
            raise TypeError(f"{fn}: got both axis={axis!r} and dim={dim!r}; they are the same "
                            f"argument (numpy's and PyTorch's name): pass one")
        axis = dim
    if keepdim is not None:
        if keepdims is not None and keepdims != keepdim:
            raise TypeError(f"{fn}: got both keepdims={keepdims!r} and keepdim={keepdim!r}; pass "
                            f"one")
        keepdims = keepdim
    return axis, bool(keepdims)
