"""Argument plumbing shared by the engines' functional transformations (jvp, grad, jacrev, ...).

Nothing here knows a derivative. It flattens the differentiated arguments (arrays, numbers, or
tuples, lists and dicts of them) into leaves, converts them to float arrays, builds the arguments
back around engine values, and turns results into plain numpy values.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from adcore.levels import is_engine_value
from adcore.pytree import flatten, leaf_paths, tree_map, unflatten


def as_input(x: Any, fn: str, where: str = "an input") -> Any:
    """An input of a transformation: engine values pass through, the rest become float arrays."""
    if is_engine_value(x):
        return x
    try:
        arr = np.asarray(x)
    except (ValueError, TypeError) as exc:
        raise TypeError(f"{fn}: {where} cannot be made an array ({exc}); pass arrays or numbers, "
                        f"or tuples, lists and dicts of them") from exc
    if arr.dtype.kind in "biu":
        return arr.astype(np.float64)
    if arr.dtype.kind != "f":
        raise TypeError(f"{fn}: {where} is a {type(x).__name__} ({x!r:.40}) of dtype {arr.dtype}; "
                        f"it must hold real numbers: an array or a number (or tuples, lists and "
                        f"dicts of them)")
    return arr


class Inputs:
    """The differentiated arguments of a call, flattened: ``leaves`` (float arrays or engine
    values) in order, and how to put new leaves back into the arguments (``rebuild``) or to
    arrange one result per leaf as the arguments are arranged (``arrange``)."""

    def __init__(self, args: Sequence[Any], nums: Sequence[int], fn: str) -> None:
        self.args = list(args)
        self.nums = tuple(nums)
        self.specs: list = []
        self.counts: list[int] = []
        self.leaves: list = []
        for i in self.nums:
            leaves, spec = flatten(args[i])
            if not leaves:
                raise ValueError(f"{fn}: argument {i} holds no array to differentiate "
                                 f"({args[i]!r:.40})")
            paths = leaf_paths(args[i])
            self.leaves += [as_input(leaf, fn, f"argument {i}{path}")
                            for leaf, path in zip(leaves, paths)]
            self.specs.append(spec)
            self.counts.append(len(leaves))

    def rebuild(self, leaves: Sequence[Any]) -> list:
        """The full argument list with the differentiated arguments built around ``leaves``."""
        args = list(self.args)
        start = 0
        for i, spec, n in zip(self.nums, self.specs, self.counts):
            args[i] = unflatten(spec, list(leaves[start:start + n]))
            start += n
        return args

    def arrange(self, per_leaf: Sequence[Any], single: bool) -> Any:
        """One value per leaf, arranged as the differentiated arguments: one tree when ``single``
        (argnums was an int), else a tuple of trees."""
        trees = []
        start = 0
        for spec, n in zip(self.specs, self.counts):
            trees.append(unflatten(spec, list(per_leaf[start:start + n])))
            start += n
        return trees[0] if single else tuple(trees)


def select_inputs(args: Sequence[Any], nums: Sequence[int], fn: str) -> list:
    """The arguments, those at ``nums`` (the ones differentiated) as float arrays; the others
    (indices, masks, axes, flags) pass through unchanged."""
    args = list(args)
    for i in nums:
        args[i] = as_input(args[i], fn, f"argument {i}")
    return args


def plain(x: Any) -> Any:
    """0-d arrays as numpy scalars, in any tree of tuples, lists and dicts."""
    if type(x) is np.ndarray:
        return x[()] if x.ndim == 0 else x
    if isinstance(x, (tuple, list, dict)):
        return tree_map(plain, x)
    return x


def split_aux(result: Any, fn: str) -> tuple[Any, Any]:
    """(output, aux) of a function declared with has_aux=True."""
    if not isinstance(result, (tuple, list)) or len(result) != 2:
        raise TypeError(f"{fn}: with has_aux=True the function must return a pair (output, aux), "
                        f"got {type(result).__name__}")
    return result[0], result[1]


def check_tree_match(a: Any, b: Any, fn: str, what: str) -> None:
    """Raise if ``b`` does not have the nesting of ``a`` (tangents of primals, cotangents of
    outputs)."""
    if flatten(a)[1] != flatten(b)[1]:
        raise ValueError(f"{fn}: the {what} must have the same structure (tuples, lists, dicts) as "
                         f"the values they belong to: got {_outline(b)} for {_outline(a)}")


def _outline(tree: Any) -> str:
    return repr(tree_map(lambda leaf: "*", tree)).replace("'*'", "*")


def normalize_argnums(argnums: int | Sequence[int], n: int, fn: str) -> tuple[int, ...]:
    """``argnums`` (an int or a tuple, negative counting from the end) as non-negative positions."""
    nums = (argnums,) if isinstance(argnums, int) else tuple(argnums)
    for a in nums:
        if not -n <= a < n:
            raise ValueError(f"{fn}: argnums {a} is out of range for a function called with "
                             f"{n} argument(s)")
    return tuple(a % n for a in nums)
