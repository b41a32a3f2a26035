"""The cotangents of one backward pass, each with whether the pass may write into it.

Per key (a node, or a leaf tensor) the accumulator holds the sum of the cotangents received so far
and whether the pass *owns* it: the pass made the array and nothing else refers to it. Only an
owned cotangent is ever written into: a later cotangent for the same key is added into it in
place, and a leaf may adopt it as its ``.grad`` without a copy. Not a user's ``gradient=``, not a
saved value, not a view, not a cotangent a rule passed through to two inputs (HIPS autograd keeps
the same (value, mutable) pairs). ``offer`` is the one place that decides.

Under ``create_graph`` (or while a trace looks on) every cotangent is a recorded value or may be
kept, and none is owned: sums are made out of place with the registry's ``add``.
"""
from __future__ import annotations

import sys
from heapq import heappush
from typing import Any

import numpy as np

from adcore.derive import Several
from adcore.ops import add
from reverse.node import Node

_ndarray = np.ndarray
_getrefcount = sys.getrefcount


class Cotangents:
    """The cotangents of a backward pass, per key (``sums``), the keys whose cotangent the pass
    owns (``owned``; a node's entry stays once it ran, as nothing is offered to it again), and
    the nodes that hold one (``ready``: a heap on their sequence numbers, latest-recorded first)."""

    __slots__ = ("sums", "owned", "in_place", "ready")

    def __init__(self, in_place: bool) -> None:
        self.sums: dict = {}
        self.owned: set = set()  # the keys whose sum the pass owns
        self.in_place = in_place
        self.ready: list = []  # (-seq, node) of the nodes holding a cotangent

    def offer(self, key: Any, x_bar: Any, y_bar: Any, y_owned: bool) -> None:
        """Add ``x_bar``, the cotangent a rule sent to input ``key`` when given ``y_bar`` (which
        the pass owns if ``y_owned``; None for a cotangent the caller gave, never owned), to the
        cotangent of ``key``, deciding whether the pass owns it.

        The pass owns a cotangent that nothing else refers to: ``y_bar`` passed through unchanged
        when the pass owned it and the rule sent it to this input alone, with no view of it to
        another (``g, g.T``), and kept no reference; or a new writeable array of its own that
        only the rule's result list holds. The reference count says so, as PyTorch's use count
        does; it is looked at where it pays: where cotangents meet, and at a leaf, which may
        adopt the array. An owned sum takes the next cotangent in place; the pass owns a sum it
        makes.
        """
        prev = self.sums.get(key)
        if prev is None and type(key) is Node and (x_bar is not y_bar or not y_owned):
            self.sums[key] = x_bar  # a node's first cotangent, new to the pass: not owned
            heappush(self.ready, (-key.seq, key))
            return
        owned = False
        if self.in_place and type(x_bar) is _ndarray and y_bar is not None:
            if x_bar is y_bar:  # held by backward's y_bar and this call's y_bar too
                owned = y_owned and _getrefcount(x_bar) == _SOLE + 2
            elif prev is not None or type(key) is not Node:
                owned = (_getrefcount(x_bar) == _SOLE and x_bar.base is None
                         and x_bar.flags.writeable)
        if prev is None:
            self.sums[key] = x_bar
            if owned:
                self.owned.add(key)
            if type(key) is Node:  # it runs once all of its cotangents are in
                heappush(self.ready, (-key.seq, key))
        elif type(x_bar) is Several:  # another output of an op with several
            self.sums[key] = prev.merged(x_bar)
        elif not self.in_place:
            self.sums[key] = add(prev, x_bar)
        elif key in self.owned and _fits(x_bar, prev):
            np.add(prev, x_bar, out=prev)
        elif owned and _fits(prev, x_bar):
            np.add(x_bar, prev, out=x_bar)
            self.sums[key] = x_bar
            self.owned.add(key)
        else:
            total = add(prev, x_bar)
            self.sums[key] = total
            if type(total) is _ndarray:
                self.owned.add(key)
            else:
                self.owned.discard(key)

    def owns(self, key: Any) -> bool:
        return key in self.owned


def _fits(ct: Any, into: Any) -> bool:
    """Whether ``ct`` can be added into the array ``into`` in place."""
    return type(ct) is _ndarray and ct.dtype == into.dtype and ct.shape == into.shape


def _references(x_bar: Any) -> int:
    """The reference count of ``x_bar`` seen one call deep, as ``offer`` sees its argument."""
    return _getrefcount(x_bar)


def _sole_count() -> int:
    """What ``sys.getrefcount`` reports in ``offer`` for an array that nothing but the rule's
    result list holds, as backward's loop hands it over (measured the same way, through a call
    with the same references, so that it holds on every CPython version)."""
    results = [np.empty(1)]
    for _, x_bar in zip((None,), results):
        return _references(x_bar)
    raise AssertionError("unreachable")


_SOLE = _sole_count()
