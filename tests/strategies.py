"""adcore's ``Draw`` protocol on hypothesis: every value an op's domain draws is shrinkable."""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import hypothesis.extra.numpy as hnp
import numpy as np
from hypothesis import strategies as st


class HypothesisDraw:
    """Draws for ``op.domain(draw)`` from a hypothesis ``st.data()`` object."""

    def __init__(self, data: Any) -> None:
        self.data = data

    def shape(self, min_dims: int = 0, max_dims: int = 3, min_side: int = 0,
              max_side: int = 3) -> tuple[int, ...]:
        return self.data.draw(hnp.array_shapes(min_dims=min_dims, max_dims=max_dims,
                                               min_side=min_side, max_side=max_side))

    def broadcast_shapes(self, n: int, min_dims: int = 0, max_dims: int = 3, min_side: int = 0,
                         max_side: int = 3) -> tuple[tuple[int, ...], ...]:
        shapes = self.data.draw(hnp.mutually_broadcastable_shapes(
            num_shapes=n, min_dims=min_dims, max_dims=max_dims, min_side=min_side,
            max_side=max_side))
        return tuple(shapes.input_shapes)

    def array(self, shape: tuple[int, ...], low: float = -3.0, high: float = 3.0, *,
              avoid: Sequence[float] = (), margin: float = 0.0) -> np.ndarray:
        return self.data.draw(hnp.arrays(np.float64, shape,
                                         elements=_floats(low, high, avoid, margin)))

    def separated(self, shapes: Sequence[tuple[int, ...]], low: float = -3.0, high: float = 3.0,
                  margin: float = 0.05) -> list[np.ndarray]:
        sizes = [int(np.prod(s)) for s in shapes]
        points = int((high - low) / margin)
        picks = self.data.draw(st.lists(st.integers(0, points), min_size=sum(sizes),
                                        max_size=sum(sizes), unique=True))
        values = low + margin * np.array(picks, dtype=np.float64)
        out, start = [], 0
        for s, n in zip(shapes, sizes):
            out.append(values[start:start + n].reshape(s))
            start += n
        return out

    def integers(self, low: int, high: int) -> int:
        return self.data.draw(st.integers(low, high))

    def boolean(self) -> bool:
        return self.data.draw(st.booleans())

    def mask(self, shape: tuple[int, ...]) -> np.ndarray:
        return self.data.draw(hnp.arrays(np.bool_, shape))

    def choice(self, options: Sequence[Any]) -> Any:
        return self.data.draw(st.sampled_from(list(options)))

    def axes(self, ndim: int, *, allow_none: bool = True) -> int | tuple[int, ...] | None:
        choices = [st.tuples()] if ndim == 0 else [
            st.integers(-ndim, ndim - 1),
            st.lists(st.integers(0, ndim - 1), unique=True, max_size=ndim).map(tuple)]
        if allow_none:
            choices.append(st.none())
        return self.data.draw(st.one_of(*choices))


def _floats(low: float, high: float, avoid: Sequence[float], margin: float) -> st.SearchStrategy:
    """Floats in [low, high] at least ``margin`` away from every point of ``avoid``."""
    cuts = sorted(a for a in avoid if low <= a <= high)
    pieces, start = [], low
    for a in cuts:
        if a - margin > start:
            pieces.append((start, a - margin))
        start = max(start, a + margin)
    if start < high:
        pieces.append((start, high))
    return st.one_of(*(st.floats(lo, hi, allow_nan=False, allow_infinity=False)
                       for lo, hi in pieces))


# --- every array of an op's arguments as an argument of its own (jit's and vmap's checks) ---

def other_values(a: np.ndarray) -> np.ndarray:
    """An array of the same shape and dtype with other values, as valid as ``a``'s: floats scaled
    by 1 + 2**-20, integers and booleans (indices, masks) in reversed order."""
    if a.dtype.kind == "f":
        return np.asarray(a * (1 + 2.0 ** -20), dtype=a.dtype)
    return a.reshape(-1)[::-1].reshape(a.shape).copy()


class _At(int):
    """The position of an array among the function's arguments."""


def arrays_out(tree: Any, arrays: list) -> Any:
    """``tree`` (an op's arguments and parameters) with each array, index arrays inside index
    tuples included, appended to ``arrays`` and replaced by its position there."""
    if isinstance(tree, np.ndarray):
        arrays.append(tree)
        return _At(len(arrays) - 1)
    if isinstance(tree, (tuple, list)):
        return type(tree)(arrays_out(t, arrays) for t in tree)
    if isinstance(tree, dict):
        return {k: arrays_out(v, arrays) for k, v in tree.items()}
    return tree


def arrays_in(tree: Any, arrays: tuple) -> Any:
    """The tree that ``arrays_out`` took apart, with ``arrays`` in the positions it recorded."""
    if type(tree) is _At:
        return arrays[tree]
    if isinstance(tree, (tuple, list)):
        return type(tree)(arrays_in(t, arrays) for t in tree)
    if isinstance(tree, dict):
        return {k: arrays_in(v, arrays) for k, v in tree.items()}
    return tree
