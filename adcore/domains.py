"""Test domains: where each op's inputs are drawn from when its rules are checked.

Every registered op declares a domain: a function ``sample(draw) -> (args, params)`` that draws
valid arguments (values away from kinks and poles, shapes that the op accepts, empty axes where
legal). The ``draw`` object follows the ``Draw`` protocol below; the test suite implements it on
hypothesis, so that adcore itself needs no test dependency.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol

import numpy as np

Sample = Callable[["Draw"], tuple[tuple, dict]]


class Draw(Protocol):
    """Drawing primitives that domains are written with."""

    def shape(self, min_dims: int = 0, max_dims: int = 3, min_side: int = 0,
              max_side: int = 3) -> tuple[int, ...]: ...

    def broadcast_shapes(self, n: int, min_dims: int = 0, max_dims: int = 3, min_side: int = 0,
                         max_side: int = 3) -> tuple[tuple[int, ...], ...]: ...

    def array(self, shape: tuple[int, ...], low: float = -3.0, high: float = 3.0, *,
              avoid: Sequence[float] = (), margin: float = 0.0) -> np.ndarray: ...

    def separated(self, shapes: Sequence[tuple[int, ...]], low: float = -3.0, high: float = 3.0,
                  margin: float = 0.05) -> list[np.ndarray]:
        """Arrays whose values are all pairwise at least ``margin`` apart (no ties anywhere)."""

    def integers(self, low: int, high: int) -> int: ...

    def boolean(self) -> bool: ...

    def mask(self, shape: tuple[int, ...]) -> np.ndarray: ...

    def choice(self, options: Sequence[Any]) -> Any: ...

    def axes(self, ndim: int, *, allow_none: bool = True) -> int | tuple[int, ...] | None:
        """None, one axis or a tuple of distinct axes (positive or negative) of an ndim array."""


def unary(low: float = -3.0, high: float = 3.0, *, avoid: Sequence[float] = (),
          margin: float = 0.1) -> Sample:
    """One real array of any shape (0-d and empty included) with values in [low, high]."""
    def sample(draw: Draw) -> tuple[tuple, dict]:
        return (draw.array(draw.shape(), low, high, avoid=avoid, margin=margin),), {}
    return sample


def binary(x: tuple[float, float] = (-3.0, 3.0), y: tuple[float, float] = (-3.0, 3.0), *,
           y_avoid: Sequence[float] = (), margin: float = 0.1) -> Sample:
    """Two real arrays of mutually broadcastable shapes."""
    def sample(draw: Draw) -> tuple[tuple, dict]:
        xs, ys = draw.broadcast_shapes(2)
        return (draw.array(xs, *x), draw.array(ys, *y, avoid=y_avoid, margin=margin)), {}
    return sample


def separated_pair(draw: Draw) -> tuple[tuple, dict]:
    """Two broadcastable arrays with no ties between (or within) them: for maximum/minimum."""
    xs, ys = draw.broadcast_shapes(2)
    return tuple(draw.separated([xs, ys])), {}
