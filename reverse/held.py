"""Numpy arrays a transformation's tape reads, held read-only until its backward pass is done.

A node must not see the values it keeps change (``graph.record``). On the eager tape a numpy
operand is copied: the user may change the array before calling backward. A transformation such
as ``grad`` or ``jacrev`` runs its backward pass before it returns, so only ``f`` itself could
change the array in between; there the array is made read-only instead of copied (copying the
weight matrices that ``f`` closes over would cost as much as multiplying by them), and its flag is
restored when the transformation is done with its tape. A write into it from ``f`` after the op
read it raises numpy's "assignment destination is read-only" instead of giving a wrong gradient.

Holds are counted per array across levels and threads: an array read at two levels is writeable
again only when both have released it.
"""
from __future__ import annotations

import threading
from typing import Any

_lock = threading.Lock()
_held: dict[int, list] = {}  # id(array) -> [array, number of holds]


def hold(a: Any, holds: list) -> None:
    """Make ``a`` (an array that owns its memory) read-only, and note the hold in ``holds``."""
    with _lock:
        entry = _held.get(id(a))
        if entry is None:
            _held[id(a)] = [a, 1]
            a.flags.writeable = False
        else:
            entry[1] += 1
    holds.append(a)


def is_held(a: Any) -> bool:
    """Whether ``a`` is read-only only for the time being (held by a level)."""
    return id(a) in _held


def release(holds: list) -> None:
    """Release every hold noted in ``holds``: an array no level holds is writeable again."""
    with _lock:
        for a in holds:
            entry = _held[id(a)]
            entry[1] -= 1
            if entry[1] == 0:
                del _held[id(a)]
                a.flags.writeable = True
    holds.clear()
