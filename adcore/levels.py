"""Levels and dispatch: which engine processes an op.

Every engine value (a forward-mode ``Dual``, a reverse-mode ``Tensor``) belongs to a *level*.
``bind`` finds the argument with the deepest level and lets that level's engine process the op;
values of lower levels, and plain numbers and ndarrays, are constants to it. Each transformation
(``jvp``, ``grad``, ``vjp``, ...) opens a fresh level with ``new_level`` so that nested
transformations never mix up their perturbations: d/dx [x * (d/dy (x + y))] at x = 1 is 1, not 2.

adcore knows no engine. Engines subclass ``Level`` and register the classes of their values with
``register_value_type``.
"""
from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, Protocol, TypeVar

import numpy as np

# The eager levels live below every transformation: reverse mode's base tape (Tensors created with
# requires_grad=True), then forward mode's base level (Duals created by hand). Transformations get
# increasing depths from FIRST_TRANSFORM_DEPTH on (see new_level).
EAGER_TAPE_DEPTH = 0
EAGER_DUAL_DEPTH = 1
FIRST_TRANSFORM_DEPTH = 2


class Level:
    """One level of differentiation; an engine subclasses it and implements ``process``.

    ``numpy`` is the personality of the level's values: a transformation handed numpy arrays (or
    numbers) hands ``f`` values that follow numpy's method semantics and promotion (``v.var()`` has
    ddof 0, ``v.max(0)`` is an array, ``v.size`` an int), so that ``f`` computes what it computes
    without the transformation; values built by hand (the eager levels) and transformations of
    them follow PyTorch's (see adcore/methods.py).
    """

    __slots__ = ("depth", "closed", "numpy")
    # Whether the level's values stand for values that change from call to call (jit's trace):
    # such a value must never become a constant or a parameter of an op.
    per_call = False
    # Whether the level also records ops on values from outside it (see ``capturing``).
    captures = False

    def __init__(self, depth: int) -> None:
        self.depth = depth
        self.closed = False  # set when its transformation returns
        self.numpy = False

    def process(self, op: Any, args: tuple, params: dict) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError(f"{type(self).__name__} does not process ops")

    def constant(self, value: Any) -> Any:  # pragma: no cover - abstract
        """``value`` (a result of a non-differentiable function, computed one level down) as a
        value of this level that carries no derivative."""
        raise NotImplementedError(f"{type(self).__name__} makes no constants")

    def nondiff(self, fn: Any, args: tuple, kwargs: dict) -> Any:
        """A function without a derivative on values of this level: ``fn`` runs one level down
        (where it dispatches again) and its result becomes a constant of this level."""
        inner = [a._unwrap() if type(a) in value_types and a._level is self else a for a in args]
        return self.constant(fn(*inner, **kwargs))

    def __repr__(self) -> str:
        return f"<{type(self).__name__} depth={self.depth}>"


class EngineValue(Protocol):
    """What ``bind`` needs of an engine's values: the level they belong to and their primal."""

    _level: Level

    def _unwrap(self) -> Any:
        """The value one level down (the primal of a Dual, the data of a Tensor)."""


# The set is shared (never rebound): op functions test membership in it on their fast path. It holds
# every engine value class and every subclass of one (a Parameter is a Tensor), so that the test is
# an exact-type lookup and still covers subclasses.
value_types: set[type] = set()


def register_value_type(cls: type) -> type:
    """Declare ``cls`` as an engine value type that ``bind`` dispatches on. Usable as a decorator;
    engines also call it from ``__init_subclass__`` for every subclass of their value types."""
    value_types.add(cls)
    return cls


def speaks_numpy(leaves: Any) -> bool:
    """The personality of a transformation's level: numpy's, unless a value it is handed belongs
    to a level with PyTorch's (a Tensor built by hand, or a value of a transformation of one)."""
    for x in leaves:
        if type(x) in value_types and not x._level.numpy:
            return False
    return True


def is_engine_value(x: Any) -> bool:
    return type(x) in value_types


def raw(x: Any) -> Any:
    """The innermost numpy value (or Python number) under any stack of engine values."""
    while type(x) in value_types:
        x = x._unwrap()
    return x


def bind(op: Any, *args: Any, **params: Any) -> Any:
    """Apply ``op`` to ``args``: at once on plain values, else through the deepest level's
    engine."""
    if captures_open[0]:
        capture = capturing(args)
        if capture is not None:
            return capture.process(op, args, params)
    top = None
    for a in args:
        if type(a) in value_types:
            level = a._level
            if top is None or level.depth > top.depth:
                top = level
            elif level.depth == top.depth and level is not top:
                raise _escaped(op, level if level.closed else top)
    if top is None:
        try:
            return op.impl(*args, **params)
        except (ValueError, IndexError, TypeError) as exc:
            raise op.error(exc, args, params) from exc
    if top.closed:
        raise _escaped(op, top)
    return top.process(op, args, params)


def capturing(args: Any) -> Level | None:
    """The open level that captures ops on these arguments (jit's trace), or None.

    A level with ``captures = True`` (a jit trace) records not only the ops on its own values but
    also those on arrays and eager values from outside it (a closed-over array, a model's
    parameters), so that the program reads them when it runs instead of keeping what they were
    while tracing. Ops on Python numbers alone are computed at once.
    """
    if not captures_open[0]:
        return None
    level = _state.capture
    if level is None:
        return None
    outside = False
    for a in args:
        if type(a) in value_types:
            if a._level.depth >= FIRST_TRANSFORM_DEPTH:
                return None  # a transformation's value: its level processes the op
            outside = True
        elif isinstance(a, np.ndarray):
            outside = True
    return level if outside else None


def capture_open() -> bool:
    """Whether a capturing level (a jit trace) is open in this thread and capturing."""
    return bool(captures_open[0]) and _state.capture is not None


def suspend_capture() -> Level | None:
    """Stop capturing in this thread (while a capturing level computes one level down); returns
    what ``resume_capture`` restores."""
    level = _state.capture
    _state.capture = None
    return level


def resume_capture(level: Level | None) -> None:
    _state.capture = level


def top_level(args: Any) -> Level | None:
    """The deepest level among the engine values in ``args`` (None when there are none)."""
    top = None
    for a in args:
        if type(a) in value_types:
            level = a._level
            if top is None or level.depth > top.depth:
                top = level
    return top


def _escaped(op: Any, level: Level) -> RuntimeError:
    return RuntimeError(
        f"{op.name}: an argument belongs to a transformation (jvp, grad, vjp, jacfwd, ...) that "
        f"has already returned (a {type(level).__name__}); it escaped, for "
        f"example by being stored in a list or a global inside the function. Return values from "
        f"the function instead of storing them")


class _State(threading.local):
    def __init__(self) -> None:
        self.stack: list[Level] = []
        self.capture: Level | None = None  # the innermost open level with captures = True


_state = _State()
# Open capturing levels in all threads, in a shared list (never rebound, so that the ops' fast
# paths can test it): bind looks at its own thread's capturing level only when there is one.
captures_open = [0]


def open_levels() -> list[Level]:
    """The transformation levels open in this thread, outermost first."""
    return list(_state.stack)


def current_depth() -> int:
    """Depth of the innermost open transformation (the eager dual level when none is open)."""
    stack = _state.stack
    return stack[-1].depth if stack else EAGER_DUAL_DEPTH


_L = TypeVar("_L", bound="Level")


# Depths of transformation levels come from one process-wide counter: a level opened in any thread
# is ordered above every level already open in any thread, so a transformation in a worker thread
# sees the values of another thread's open levels as constants (and never mistakes them for its
# own). Depths are never reused; only their order matters.
_depths = itertools.count(FIRST_TRANSFORM_DEPTH)
_depth_lock = threading.Lock()


@contextmanager
def new_level(make: Callable[[int], _L]) -> Iterator[_L]:
    """Open a transformation level above every open one; it is closed even when the body raises."""
    stack = _state.stack
    with _depth_lock:
        depth = next(_depths)
    level = make(depth)
    stack.append(level)
    captures = level.captures
    if captures:
        outer = _state.capture
        _state.capture = level
        with _depth_lock:
            captures_open[0] += 1
    try:
        yield level
    finally:
        popped = stack.pop()
        level.closed = True
        if captures:
            _state.capture = outer
            with _depth_lock:
                captures_open[0] -= 1
        assert popped is level, "levels must close in the reverse order of opening"


# Transformations that adcore's numerical checks need; each engine registers its own on import.
transforms: dict[str, Callable[..., Any]] = {}


def register_transform(name: str, fn: Callable[..., Any]) -> None:
    transforms[name] = fn
