"""Pytrees: nested tuples, lists and dicts of arrays, as the transformations' inputs and outputs.

``flatten(tree)`` gives the leaves in a fixed order and a ``spec`` of the nesting; ``unflatten(spec,
leaves)`` builds the same nesting around new leaves. Tuples (named tuples included), lists and dicts
(in their own key order) are containers; None is an empty container (no leaf); anything else is a
leaf. Specs compare equal when two trees have the same nesting.

>>> leaves, spec = flatten({"w": [1.0, 2.0], "b": (3.0,)})
>>> leaves
[1.0, 2.0, 3.0]
>>> unflatten(spec, [10.0, 20.0, 30.0])
{'w': [10.0, 20.0], 'b': (30.0,)}
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

LEAF = "*"


def _children(x: Any) -> tuple[Any, tuple, list] | None:
    """(node description, child keys, children) for a container, None for a leaf."""
    if isinstance(x, dict):
        keys = tuple(x)
        return (type(x), keys), keys, [x[k] for k in keys]
    if isinstance(x, (tuple, list)):
        return (type(x), None), tuple(range(len(x))), list(x)
    return None


def _flatten(x: Any, leaves: list, leaf_none: bool) -> Any:
    if x is None and not leaf_none:
        return None
    found = _children(x)
    if found is None:
        leaves.append(x)
        return LEAF
    node, _, children = found
    return (node, tuple(_flatten(c, leaves, leaf_none) for c in children))


def flatten(tree: Any, *, leaf_none: bool = False) -> tuple[list, Any]:
    """The leaves of ``tree`` in order, and the spec of its nesting. With ``leaf_none``, None is a
    leaf (as in in_axes specifications) rather than an empty container."""
    leaves: list = []
    spec = _flatten(tree, leaves, leaf_none)
    return leaves, spec


def _build(spec: Any, it: Any) -> Any:
    if spec is None:
        return None
    if spec == LEAF:
        return next(it)
    (kind, keys), children = spec
    values = [_build(c, it) for c in children]
    if keys is not None:
        return kind(zip(keys, values))
    if kind is tuple or kind is list:
        return kind(values)
    return kind(*values) if hasattr(kind, "_fields") else kind(values)  # named tuples


def unflatten(spec: Any, leaves: list) -> Any:
    """The tree with the nesting ``spec`` around ``leaves`` (in flatten's order)."""
    return _build(spec, iter(leaves))


def _paths(x: Any, path: str, paths: list) -> None:
    if x is None:
        return
    found = _children(x)
    if found is None:
        paths.append(path)
        return
    _, keys, children = found
    for key, child in zip(keys, children):
        _paths(child, f"{path}[{key!r}]", paths)


def leaf_paths(tree: Any) -> list[str]:
    """For each leaf, in flatten's order, where it sits: ``[0]``, ``['w'][1]``; ``''`` for a tree
    that is itself a leaf."""
    paths: list[str] = []
    _paths(tree, "", paths)
    return paths


def tree_map(fn: Callable[[Any], Any], tree: Any) -> Any:
    """``tree`` with ``fn`` applied to every leaf."""
    leaves, spec = flatten(tree)
    return unflatten(spec, [fn(leaf) for leaf in leaves])


def is_leaf(x: Any) -> bool:
    return x is not None and _children(x) is None
