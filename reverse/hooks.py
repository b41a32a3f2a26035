"""Tensor hooks: functions that see, and may replace, a tensor's gradient during backward.

``t.register_hook(fn)`` (PyTorch's): ``fn(grad)`` is called with the gradient with respect to t
when the backward pass has summed it, and may return a replacement (of the same shape and dtype)
that flows on instead. A non-leaf's hooks live on the node that made it (``node.hook``, a
``Hooks``): the pass calls them with the node's cotangent before the node's rule runs. A leaf's
live on the tensor (``t._hooks``) and run on its summed cotangent before it reaches ``.grad``
(and before a functional transformation returns it). ``retain_grad`` is a hook too
(``RetainedGrad``), which keeps a non-leaf's gradient in ``.grad``.

As in PyTorch, the user's hooks run in the order they were registered, each given what the one
before returned, and the retained gradient is taken last, after every replacement. A hook stays
with the value the tensor had when it was registered: after an in-place change it sees the
gradient with respect to the old value, while the retained gradient moves with the tensor's
history (``reverse.versions.set_history``).
"""
from __future__ import annotations

import itertools
import weakref
from collections.abc import Callable
from typing import Any

import numpy as np

from adcore.levels import raw, value_types
from adcore.shapes import dtype_of, shape_of
from reverse.node import Node

# The tensors here are reverse.tensor.Tensor, which imports this module: named for readers.
Tensor = Any

_ndarray = np.ndarray
_ids = itertools.count()


class RetainedGrad:
    """The hook of a tensor that retains its gradient (``retain_grad``): the node that made the
    tensor hands it the cotangent, which it adds into the tensor's ``.grad``. It moves with the
    tensor's history (``set_history``)."""

    __slots__ = ("ref",)

    def __init__(self, t: Tensor) -> None:
        self.ref = weakref.ref(t)

    def __call__(self, ct: Any) -> None:
        t = self.ref()
        if t is not None:
            t._accumulate(ct)

    def holds(self, t: Tensor) -> bool:
        return self.ref() is t


# The eager tape (reverse.tensor.EAGER), handed over by reverse.tensor, which imports this module:
# a cotangent that is a plain array reaches a hook as a tensor of it, without history. (A
# transformation's own level is closed by the time its backward pass runs.)
_eager: Any = None


def use_eager(level: Any) -> None:
    """Set the level whose tensors hooks are given plain cotangents as (the eager tape)."""
    global _eager
    _eager = level


class Hooks:
    """The hooks of one value of a tensor: the user's functions by handle id, in the order
    registered, and the retained gradient. Called with the cotangent, it returns the cotangent
    that flows on (the last replacement, or the cotangent itself)."""

    __slots__ = ("fns", "retained", "__weakref__")

    def __init__(self) -> None:
        self.fns: dict[int, Callable[[Any], Any]] = {}
        self.retained: RetainedGrad | None = None

    def __call__(self, y_bar: Any) -> Any:
        for fn in list(self.fns.values()):  # (a hook may remove itself or another)
            y_bar = _run(fn, y_bar)
        if self.retained is not None:
            self.retained(y_bar)
        return y_bar

    def empty(self) -> bool:
        return not self.fns and self.retained is None

    def add(self, fn: Callable[[Any], Any]) -> RemovableHandle:
        key = next(_ids)
        self.fns[key] = fn
        return RemovableHandle(self, key)


class RemovableHandle:
    """What ``register_hook`` returns: ``handle.remove()`` takes the hook away (it may be called
    more than once); as a context manager it removes the hook on exit."""

    __slots__ = ("_hooks", "id")

    def __init__(self, hooks: Hooks, key: int) -> None:
        self._hooks = weakref.ref(hooks)
        self.id = key

    def remove(self) -> None:
        hooks = self._hooks()
        if hooks is not None:
            hooks.fns.pop(self.id, None)

    def __enter__(self) -> RemovableHandle:
        return self

    def __exit__(self, *exc: object) -> None:
        self.remove()


def _run(fn: Callable[[Any], Any], y_bar: Any) -> Any:
    """One user hook on the cotangent ``y_bar``: given a tensor (a read-only one of the eager
    tape for a plain array; under create_graph the recorded value itself), and its result, if
    not None, checked to stand in for ``y_bar``."""
    if type(y_bar) in value_types:
        given = y_bar
    else:
        data = np.asarray(y_bar) if isinstance(y_bar, (np.generic, float, int)) else y_bar
        if type(data) is _ndarray:
            data = data.view()
            data.flags.writeable = False  # it may be a saved value or the caller's gradient=
        assert _eager is not None, "reverse.tensor hands the eager tape over (use_eager)"
        given = _eager.constant(data)
    result = fn(given)
    if result is None or result is given:
        return y_bar
    name = getattr(fn, "__name__", type(fn).__name__)
    if type(result) in value_types:
        new = result if type(y_bar) in value_types else raw(result)
    elif isinstance(result, (_ndarray, np.generic, float, int)):
        new = np.asarray(result)
    else:
        raise TypeError(f"register_hook: the hook {name!r} returned a {type(result).__name__}; "
                        f"return a tensor of the gradient's shape and dtype, or None to keep "
                        f"the gradient")
    if shape_of(new) != shape_of(y_bar):
        raise ValueError(f"register_hook: the hook {name!r} returned shape {shape_of(new)} for a "
                         f"gradient of shape {shape_of(y_bar)}; return a tensor of the gradient's "
                         f"shape, or None to keep the gradient")
    if dtype_of(raw(new)) != dtype_of(raw(y_bar)):
        raise TypeError(f"register_hook: the hook {name!r} returned dtype {dtype_of(raw(new))} "
                        f"for a gradient of dtype {dtype_of(raw(y_bar))}; convert it "
                        f"(g.to({dtype_of(raw(y_bar))})) or return None to keep the gradient")
    return new


def hooks_of(owner: Any) -> Hooks:
    """The Hooks of a node (``owner.hook``) or of a leaf tensor (``owner._hooks``), made when
    there is none yet. A node that has hooks is looked at by backward (its ``versions`` set)."""
    if type(owner) is Node:
        if owner.hook is None:
            owner.hook = Hooks()
            owner.versions = owner.versions or ()
        return owner.hook
    if owner._hooks is None:
        owner._hooks = Hooks()
    return owner._hooks
