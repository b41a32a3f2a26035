"""Grad mode and anomaly mode: ``no_grad``, ``enable_grad``, ``detect_anomaly`` (thread-local,
re-entrant, usable as decorators).

``no_grad`` stops recording on the levels that exist when it is entered (the eager tape, and any
transformation already open), like ``torch.no_grad``; a transformation opened inside it (``grad``,
``vjp``, ...) still records, as ``torch.func.grad`` does.

``detect_anomaly`` makes the first op whose forward or backward produces NaN or inf raise, naming
the op, the shapes and the line of the user's code that recorded it. Off, it costs one attribute
test per recorded op.
"""
from __future__ import annotations

import contextlib
import threading
from typing import Any

from adcore.levels import current_depth


class _GradMode(threading.local):
    def __init__(self) -> None:
        self.floor = -1  # levels at this depth or below do not record
        self.saved: list[int] = []  # the floors to restore, innermost last
        self.anomaly = False  # check every recorded op for NaN and inf
        self.saved_anomaly: list[bool] = []


mode = _GradMode()


class _GradModeContext(contextlib.ContextDecorator):
    """Sets the floor on entry and restores it on exit. The floors to restore live on a per-thread
    stack, not on the instance, so one instance may be entered again while it is active (nested
    ``with`` blocks, a decorated recursive function) and from several threads at once."""

    def __new__(cls, fn: Any = None) -> Any:
        self = super().__new__(cls)
        if fn is not None and callable(fn):  # used as @no_grad, without parentheses
            return self(fn)
        return self

    def __init__(self, fn: Any = None) -> None:
        pass

    def _floor(self) -> int:  # pragma: no cover - subclasses define it
        raise NotImplementedError

    def __enter__(self) -> _GradModeContext:
        mode.saved.append(mode.floor)
        mode.floor = self._floor()
        return self

    def __exit__(self, *exc: Any) -> None:
        mode.floor = mode.saved.pop()


class no_grad(_GradModeContext):
    """Context manager (or decorator, with or without parentheses): ops on tensors inside are not
    recorded for backward.

    >>> from reverse import Tensor
    >>> x = Tensor([1.0], requires_grad=True)
    >>> with no_grad():
    ...     y = x * 2
    >>> y.requires_grad
    False
    """

    def _floor(self) -> int:
        return max(mode.floor, current_depth())


class enable_grad(_GradModeContext):
    """Context manager (or decorator): record again inside a ``no_grad`` block."""

    def _floor(self) -> int:
        return -1


def is_grad_enabled() -> bool:
    """Whether ops on eager tensors are recorded right now."""
    return mode.floor < 0


class detect_anomaly(contextlib.ContextDecorator):
    """Context manager (or decorator): the first op whose forward or backward produces NaN or inf
    raises RuntimeError naming the op, the shapes and where in your code the op was recorded (as
    torch.autograd.detect_anomaly). Slows every op down while it is on; off by default.

    >>> from reverse import Tensor
    >>> x = Tensor([float("nan"), 1.0], requires_grad=True)  # a NaN in the data
    >>> with detect_anomaly():
    ...     y = x * 2  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    RuntimeError: detect_anomaly: the forward of mul ... produced nan ... (input 0 already held nan:
    look at the data or an earlier step); it was recorded at: ...
    """

    def __init__(self, check_nan: bool = True) -> None:
        self.check_nan = check_nan

    def __enter__(self) -> detect_anomaly:
        mode.saved_anomaly.append(mode.anomaly)
        mode.anomaly = self.check_nan
        return self

    def __exit__(self, *exc: Any) -> None:
        mode.anomaly = mode.saved_anomaly.pop()


def is_anomaly_enabled() -> bool:
    """Whether detect_anomaly is on in this thread."""
    return mode.anomaly
