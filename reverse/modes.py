"""Grad mode: ``no_grad`` and ``enable_grad`` (thread-local, usable as decorators).

``no_grad`` stops recording on the levels that exist when it is entered (the eager tape, and any
transformation already open), like ``torch.no_grad``; a transformation opened inside it (``grad``,
``vjp``, ...) still records, as ``torch.func.grad`` does.
"""
from __future__ import annotations

import contextlib
import threading
from typing import Any

from adcore.levels import current_depth


class _GradMode(threading.local):
    def __init__(self) -> None:
        self.floor = -1  # levels at this depth or below do not record


mode = _GradMode()


class no_grad(contextlib.ContextDecorator):
    """Context manager (or decorator): ops on tensors inside are not recorded for backward.

    >>> from reverse import Tensor
    >>> x = Tensor([1.0], requires_grad=True)
    >>> with no_grad():
    ...     y = x * 2
    >>> y.requires_grad
    False
    """

    def _recreate_cm(self) -> "no_grad":  # a fresh instance per decorated call (thread-safe)
        return type(self)()

    def __enter__(self) -> "no_grad":
        self._saved = mode.floor
        mode.floor = max(mode.floor, current_depth())
        return self

    def __exit__(self, *exc: Any) -> None:
        mode.floor = self._saved


class enable_grad(contextlib.ContextDecorator):
    """Context manager (or decorator): record again inside a ``no_grad`` block."""

    def _recreate_cm(self) -> "enable_grad":
        return type(self)()

    def __enter__(self) -> "enable_grad":
        self._saved = mode.floor
        mode.floor = -1
        return self

    def __exit__(self, *exc: Any) -> None:
        mode.floor = self._saved


def is_grad_enabled() -> bool:
    """Whether ops on eager tensors are recorded right now."""
    return mode.floor < 0
