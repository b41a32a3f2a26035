"""Dual numbers: a primal value and its tangent, pushed through the registry's JVP rules.

``Dual(a, b)`` stands for a + b·ε with ε² = 0: for any op f, f(a + bε) = f(a) + f'(a)·b·ε. The level
that owns a Dual processes an op by computing the primal output with the op itself (one level down)
and the output tangent with the op's JVP rule from adcore. This file knows no derivative.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from adcore import views
from adcore.levels import (
    EAGER_DUAL_DEPTH,
    FIRST_TRANSFORM_DEPTH,
    Level,
    bind,
    is_engine_value,
    value_types,
)
from adcore.methods import ArrayMethods
from adcore.promotion import PROMOTING_KINDS, numpy_operands
from adcore.shapes import check_real, shape_of

_ndarray = np.ndarray


class JVPLevel(Level):
    """Forward mode at one level: Duals of this level carry tangents; everything else is
    constant."""

    __slots__ = ()

    def process(self, op: Any, args: tuple, params: dict) -> Dual | tuple:
        if self.numpy and op.kind in PROMOTING_KINDS:
            args = numpy_operands(args)
        primals = []
        tangents = []
        checked = not op.ufunc  # a ufunc's result is real for real operands
        for a in args:
            if type(a) in value_types and a._level is self:  # a Dual (or subclass) of this level
                if a._link is not None:
                    views.fresh(a)
                primals.append(a.primal)
                tangents.append(a._tangent)
            else:
                primals.append(a)
                tangents.append(None)
                if type(a) is not float and type(a) is not int:
                    checked = True  # a constant other than a real number may be complex
        out = bind(op, *primals, **params)
        if checked and (type(out) is not _ndarray or out.dtype.kind == "c"):
            check_real(op, out, primals)  # (a real array: nothing to check)
        if op.outputs != 1:
            out_dots = op.jvp(tangents, primals, out, params) or (None,) * len(out)
            return tuple(make_dual(o, t, self) for o, t in zip(out, out_dots))
        result = make_dual(out, op.jvp(tangents, primals, out, params), self)
        if op.view:
            views.link(result, args[0], op, params)
        return result

    def constant(self, value: Any) -> Dual:
        return make_dual(value, None, self)


# Duals made by hand live here, below every transformation's level.
EAGER = JVPLevel(EAGER_DUAL_DEPTH)


class Dual(ArrayMethods):
    """A primal value with a tangent (None means a zero tangent that is never materialised).

    Works for Python floats (classic dual numbers) and for ndarrays. The tangent has the primal's
    shape, or extra leading axes for a batch of directions pushed forward at once.

    In-place operations (``d += 1``, ``d[0] = v``, ``d.mul_(2)``) update the primal and the tangent
    together: the Dual is rebound to the result of the out-of-place op. A Dual made from another
    by a view op (slicing, reshape, transpose) behaves as numpy's view does: a change through it
    changes the other, and it sees changes made through the other (see adcore/views.py).

    >>> x = Dual(3.0, 1.0)
    >>> y = x * x + x.sin()
    >>> y.primal, y.tangent  # 9 + sin 3 and its derivative 6 + cos 3
    (9.141120008059866, 5.010007503399555)
    """

    __slots__ = ("primal", "_tangent", "_level", "_link", "_box", "__weakref__")

    def __init__(self, primal: Any, tangent: Any = None) -> None:
        self.primal = _as_value(primal, "primal")
        self._tangent = None if tangent is None else _as_value(tangent, "tangent")
        self._level: Level = EAGER
        self._link: views.Link | None = None
        self._box: list | None = None
        if self._tangent is not None:
            _check_tangent_shape(self.primal, self._tangent)

    @property
    def tangent(self) -> Any:
        """The tangent (zeros of the primal's shape when it was never set)."""
        if self._tangent is None:
            return 0.0 if type(self.primal) is float else np.zeros_like(self.primal)
        return self._tangent

    def _unwrap(self) -> Any:
        return self.primal

    def _traced(self) -> bool:
        return self._tangent is not None and self._level.depth >= FIRST_TRANSFORM_DEPTH

    def _snapshot(self) -> Dual:
        """This Dual as it is now (an in-place op rebinds this one, never the snapshot)."""
        return make_dual(self.primal, self._tangent, self._level)

    def _assign(self, other: Dual) -> None:
        self.primal = other.primal
        self._tangent = other._tangent

    def _inplace(self, op: Any, args: tuple, params: dict) -> Dual:
        if self._link is not None:
            views.fresh(self)
        result = op.fn(self, *args, **params)
        if type(result) not in value_types or result._level is not self._level:
            raise RuntimeError(
                f"{op.name} in place: the result belongs to a deeper transformation than this "
                f"Dual (it depends on a value being differentiated by an inner jvp or grad), so it "
                f"cannot be stored in it; use the out-of-place form, y = x.{op.name}(...)")
        if shape_of(result.primal) != shape_of(self.primal):
            raise RuntimeError(f"{op.name} in place: the result has shape "
                               f"{shape_of(result.primal)} but the Dual has shape "
                               f"{shape_of(self.primal)}; an in-place op cannot change the shape")
        views.assign_through(self, result)
        return self

    def __repr__(self) -> str:
        return f"Dual(primal={self.primal!r}, tangent={self.tangent!r})"


def make_dual(primal: Any, tangent: Any, level: Level) -> Dual:
    d = Dual.__new__(Dual)
    d.primal = primal
    d._tangent = tangent
    d._level = level
    d._link = None
    d._box = None
    return d


def _as_value(x: Any, what: str) -> Any:
    """Python numbers become floats; anything else a floating ndarray (or a lower-level value)."""
    if type(x) in (int, float, bool):
        return float(x)
    if is_engine_value(x):  # a value of a lower level (a Tensor, for forward-over-reverse)
        return x
    arr = np.asarray(x)
    if arr.dtype.kind in "biu":
        return arr.astype(np.float64)
    if arr.dtype.kind != "f":
        raise TypeError(f"Dual: the {what} must hold real numbers, got dtype {arr.dtype}; "
                        f"pass floats, ints or a floating ndarray")
    return arr


def _check_tangent_shape(primal: Any, tangent: Any) -> None:
    ps, ts = shape_of(primal), shape_of(tangent)
    if ts[len(ts) - len(ps):] != ps or len(ts) < len(ps):
        raise ValueError(f"Dual: tangent of shape {ts} does not fit primal of shape {ps}; it must "
                         f"have the primal's shape, or extra leading axes for a batch of tangents")
