"""The scalar ``Value`` engine (micrograd's API) on the registry's rules.

A Value holds a Python float, its gradient, and the op that made it. Forward, it runs the op's
forward rule from adcore on floats; backward, each Value hands its gradient to the op's VJP rule
from adcore (evaluated on floats: the same declarations that drive the Tensor engine, so no
derivative is written here). ``_backward`` is computed on demand rather than stored as a closure
over the output, so a graph of Values has no reference cycles and is freed as soon as it is dropped;
``_prev`` too is made on demand from the ordered inputs.

Its operators and methods are generated from the registry: every elementwise op reaches Value under
the names and operator it declares (``a + b``, ``a.tanh()``, ``a.sin()``), including ops declared
after this module was imported.
"""
from __future__ import annotations

import numbers
from collections.abc import Callable
from typing import Any, cast

from adcore.methods import OPERATORS
from adcore.registry import Op, registry, subscribe
from reverse.graph import toposort

_POW = registry["pow"]
_NO_PARAMS: dict = {}
_BOTH = (True, True)
# How a Value shows the op that made it (micrograd's labels): operators by their symbol.
_SYMBOLS = {"add": "+", "sub": "-", "mul": "*", "div": "/", "pow": "**", "relu": "ReLU"}


def _noop() -> None:
    return None


class Value:
    """A scalar that records the ops applied to it, for reverse-mode differentiation.

    >>> a, b = Value(2.0, label="a"), Value(-3.0, label="b")
    >>> e = (a * b + a ** 2).tanh()  # tanh(-2)
    >>> e.backward()
    >>> round(a.grad, 6), round(b.grad, 6)  # (1 - tanh(-2)**2) * (b + 2a), ... * a
    (0.070651, 0.141302)
    >>> e._op, [c._op for c in e._prev]
    ('tanh', ['+'])
    """

    __slots__ = ("data", "grad", "_op", "label", "_fn", "_inputs", "_needs", "_custom_backward")

    def __init__(self, data: float, _children: tuple = (), _op: str = "", label: str = "") -> None:
        if type(data) is not float and not isinstance(data, numbers.Real):
            _check_number(data)
        self.data = float(data)
        self.grad = 0.0
        self._inputs: tuple = tuple(_children)
        self._op = _op
        self.label = label
        self._fn: Op | None = None
        self._needs: tuple = ()
        self._custom_backward: Callable[[], None] | None = None

    # --- the graph ----------------------------------------------------------------------------
    def _apply(self, op: Op, inputs: tuple, symbol: str) -> Value:
        """The Value of op(inputs); inputs are Values, or floats held constant (an exponent)."""
        out = _new(Value)
        if len(inputs) == 2 and type(inputs[1]) is Value:  # the common case, without loops
            a, b = inputs
            data = op.impl(a.data, b.data)
            out._needs = _BOTH
        else:
            data = op.impl(*[a.data if type(a) is Value else a for a in inputs])
            out._needs = tuple(type(a) is Value for a in inputs)
        out.data = data if type(data) is float else float(data)
        out.grad = 0.0
        out._inputs = inputs
        out._op = symbol
        out.label = ""
        out._fn = op
        out._custom_backward = None
        return out

    @property
    def _prev(self) -> set[Value]:
        """The Values this one was computed from (its children in the graph)."""
        return {a for a in self._inputs if type(a) is Value}

    @property
    def _backward(self) -> Callable[[], None]:
        """Adds this Value's contribution to its children's gradients (the chain rule, one step)."""
        if self._custom_backward is not None:
            return self._custom_backward
        return self._propagate if self._fn is not None else _noop

    @_backward.setter
    def _backward(self, fn: Callable[[], None]) -> None:
        self._custom_backward = fn  # for ops written by hand, micrograd style

    def _propagate(self, trace: Callable[[Value, list], None] | None = None) -> None:
        inputs = self._inputs
        primals = [a.data if type(a) is Value else a for a in inputs]
        x_bars = cast(Op, self._fn).vjp(self.grad, primals, self.data, _NO_PARAMS, self._needs)
        if trace is not None:
            trace(self, x_bars)
        for a, x_bar in zip(inputs, x_bars):
            if x_bar is not None:
                a.grad += x_bar

    def backward(self, trace: Callable[[Value, list], None] | None = None) -> None:
        """Add d self / d v to v.grad for every leaf v this one depends on (as PyTorch: call it
        again and leaves accumulate; intermediate Values hold this pass's gradient). ``trace``, if
        given, sees each Value as it passes its gradient on (reverse.explain prints them)."""
        order = toposort([self], Value, "_inputs")
        for v in order:  # intermediate results start from zero; leaves accumulate across calls
            if v._inputs:
                v.grad = 0.0
        self.grad = 1.0
        for v in reversed(order):
            if v._custom_backward is not None:
                v._custom_backward()
            elif v._fn is not None:
                v._propagate(trace)

    def __repr__(self) -> str:
        return f"Value(data={self.data}, grad={self.grad})"

    # --- arithmetic (the rest is generated from the registry below) ---------------------------
    def __pow__(self, other: Any) -> Value:
        if type(other) is Value:
            return self._apply(_POW, (self, other), "**")
        if not isinstance(other, numbers.Real):
            raise TypeError(f"Value ** {type(other).__name__}: the exponent must be a number or a "
                            f"Value")
        return self._apply(_POW, (self, float(other)), f"**{other}")


_new = object.__new__


def _check_number(data: Any) -> None:
    """Refuse, by name, what is not a real number (a 0-d numeric array counts as one)."""
    if getattr(data, "ndim", None) == 0 and getattr(getattr(data, "dtype", None), "kind",
                                                     "?") in "biuf":
        return
    if isinstance(data, (str, bytes)):
        fix = "pass a number, e.g. Value(2.0), or Value(float(text)) for text holding one"
    elif getattr(data, "ndim", 0) or isinstance(data, (list, tuple)):
        fix = "a Value holds one number; for arrays use reverse.Tensor"
    else:
        fix = "e.g. Value(2.0)"
    raise TypeError(f"Value: data must be a real number, got {data!r} ({type(data).__name__}); "
                    f"{fix}")


def _value(x: Any) -> Value:
    if type(x) is Value:
        return x
    if isinstance(x, numbers.Real):
        return Value(float(x))
    raise TypeError(f"Value: cannot combine a Value with {type(x).__name__} {x!r}; use numbers "
                    f"or Values")


def _operand(x: Any) -> Any:
    """A Value, a number made a Value (micrograd: a + 2), or None (an open bound) kept as it is."""
    return None if x is None else _value(x)


_EXPLICIT = frozenset(Value.__dict__)


def _members(op: Any) -> dict[str, Callable[..., Any]]:
    """The Value methods of an elementwise op (other ops have no scalar form)."""
    if not isinstance(op, Op) or op.kind != "elementwise":
        return {}
    symbol = _SYMBOLS.get(op.name, op.name)
    arity = len(op.partials or ())
    if arity == 1:
        def method(self: Value) -> Value:
            return self._apply(op, (self,), symbol)
    elif arity == 2:
        def method(self: Value, other: Any) -> Value:  # type: ignore[misc]
            return self._apply(op, (self, other if type(other) is Value else _value(other)),
                               symbol)
    else:
        def method(self: Value, *others: Any) -> Value:  # type: ignore[misc]
            return self._apply(op, (self, *[_operand(o) for o in others]), symbol)

    def reflected(self: Value, other: Any) -> Value:
        return self._apply(op, (_value(other), self), symbol)

    members: dict[str, Callable[..., Any]] = {name: method for name in op.methods}
    if op.operator is not None:
        dunder, rdunder, _ = OPERATORS[op.operator]
        members[dunder] = method
        if rdunder:
            members[rdunder] = reflected
    return {k: v for k, v in members.items() if k not in _EXPLICIT}


def _install(op: Any) -> None:
    for name, member in _members(op).items():
        setattr(Value, name, member)


def _uninstall(op: Any) -> None:
    for name in _members(op):
        if name in Value.__dict__:
            delattr(Value, name)


subscribe(_install, _uninstall)
