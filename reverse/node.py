"""A node of the tape: one recorded op application, the list of its inputs' keys."""
from __future__ import annotations

import itertools
from typing import Any

import numpy as np


class Modified:
    """Stands for a saved output that was later changed in place: backward through it raises.
    (A node holding one has ``versions`` set, at least to (), so that backward checks it.)"""

    __slots__ = ("shape", "dtype", "saved", "now")

    def __init__(self, value: Any, saved: int, now: int) -> None:
        self.shape, self.dtype = np.shape(value), getattr(value, "dtype", None)
        self.saved, self.now = saved, now


class Node(list):
    """One recorded op application (shown as a tensor's ``grad_fn``).

    The node *is* the list of its inputs' keys (so a recorded op costs the garbage collector one
    object, not two: on long graphs that halves its work); the op, its parameters, the values its
    rule reads (``primals``, ``out``; the others as ``Meta``), which inputs need a cotangent, the
    versions of the tensors whose data it keeps, and an optional hook are attributes.
    ``seq`` numbers the nodes in the order they were recorded; ``origin`` (the user's code that
    recorded it) is set only under detect_anomaly.
    """

    __slots__ = ("op", "params", "primals", "out", "needs", "versions", "hook", "origin", "seq",
                 "anchor")
    op: Any
    params: dict
    primals: tuple | None
    out: Any
    needs: tuple
    versions: tuple | None
    hook: Any  # Hooks (reverse/hooks.py): given the node's cotangent, returns the one to use
    origin: Any
    seq: int
    anchor: Any  # under create_graph: the version counter of the rebuilt output (see _run_rule)
    __hash__ = object.__hash__  # type: ignore[assignment]  # identity, not list equality: keys
    __eq__ = object.__eq__
    __ne__ = object.__ne__
    # No __init__: ``Node(parents)`` is list's own constructor, and ``record`` sets the rest.

    def __bool__(self) -> bool:
        return True

    @property
    def parents(self) -> list:
        """Per input: its node, the leaf tensor itself, or None (a constant)."""
        return self

    @property
    def name(self) -> str:
        return self.op.name

    def reads_out(self) -> bool:
        return self.op.keep(self.needs, self.params)[2]

    def __repr__(self) -> str:
        title = "".join(part[:1].upper() + part[1:] for part in self.op.name.split("_"))
        return f"<{title}Backward{' (freed)' if self.primals is None else ''}>"


# Every node's number, in the order of recording: a node's inputs always have smaller ones.
next_seq = itertools.count().__next__
