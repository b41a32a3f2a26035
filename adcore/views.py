"""Views of values that in-place ops rebind: numpy's aliasing, kept under every transformation.

A function written for numpy arrays may change an array through a view of it (``z = y[1:];
z *= 3`` changes ``y``) or read a view after changing its base (``w = y[:2]; y[0] = 0`` changes
``w``). Values of a transformation (a ``Dual`` inside jvp/jacfwd, a ``Batched`` inside vmap) share
no memory with one another: an in-place op rebinds the value to the result of the out-of-place op.
This module keeps numpy's meaning on top of that, with the same scheme the reverse-mode Tensor uses
for its memory (PyTorch's views and versions):

- a value made by a view op (reshape, transpose, basic indexing; ``op.view``) from another value
  of the same level, whose arrays underneath share memory, is linked to it (``Link``: the base, the
  op and its parameters) and shares its *box*, a counter of in-place changes to that memory;
- an in-place op on a view rebinds the view, then every base it views, each to its old value with
  the view's region replaced (``put``), and counts the change in the box;
- a view whose box counted a change since it was made or refreshed is rebuilt from its base before
  it is used (``fresh``), so it sees every change made through the base or a sibling view.

An engine value that uses this has the slots ``_link`` and ``_box`` (both None until a view is
made) and defines ``_assign(other)``: take ``other``'s value (primal and tangent, or batch).
"""
from __future__ import annotations

from typing import Any

import numpy as np

from adcore.levels import bind, raw, value_types
from adcore.registry import registry
from adcore.shapes import shape_of

_SETITEM = registry["setitem"]
_GETITEM = registry["getitem"]


class Link:
    """How a value views another one: the base, the op that made it, and the box's count when it
    last matched its base."""

    __slots__ = ("base", "op", "params", "version")

    def __init__(self, base: Any, op: Any, params: dict, version: int) -> None:
        self.base = base
        self.op = op
        self.params = params
        self.version = version


def shares(a: Any, b: Any) -> bool:
    """Whether the arrays underneath ``a`` and ``b`` share memory (numpy's view relation)."""
    a, b = raw(a), raw(b)
    if a is b:
        return True
    if type(a) is not np.ndarray or type(b) is not np.ndarray or a.base is None:
        return False
    return a.base is b or a.base is b.base or bool(np.may_share_memory(a, b))


def is_item(op: Any, params: dict) -> bool:
    """Whether ``op`` takes one element by an integer for every axis (``y[k]``, ``y[i, j]``):
    numpy gives a scalar, a copy, where PyTorch gives a 0-d view. At a level of numpy's
    personality the result is not linked (and the engine owns a copy of its memory)."""
    if op is not _GETITEM:
        return False
    index = params["index"]
    return len(index) == len(params["in_shape"]) and all(type(i) is int for i in index)


def link(out: Any, source: Any, op: Any, params: dict) -> None:
    """After a view op: link ``out`` to ``source`` when their memory is shared (not an item of
    ``source`` at a level of numpy's personality: see ``is_item``)."""
    if type(source) is not type(out) or source._level is not out._level:
        return
    if op is _GETITEM and out._level.numpy and is_item(op, params):
        return
    if not shares(out, source):
        return
    box = source._box
    if box is None:
        box = source._box = [0]
    out._box = box
    out._link = Link(source, op, params, box[0])


def fresh(value: Any) -> None:
    """Rebuild ``value`` (and the bases it views) from its base if their memory changed since."""
    chain = []
    v = value
    while v._link is not None and v._link.version != v._box[0]:
        chain.append(v)
        v = v._link.base
    for v in reversed(chain):  # outermost base first
        lk = v._link
        v._assign(bind(lk.op, lk.base, **lk.params))
        lk.version = v._box[0]


def put(base: Any, child: Any, lk: Link) -> Any:
    """``base`` with the region that ``child`` views replaced by child's value."""
    if lk.op is _GETITEM:
        return bind(_SETITEM, base, child, index=lk.params["index"],
                    shape=lk.params["in_shape"], vshape=shape_of(child))
    # reshape, transpose, astype: the view covers all of base, and the transpose maps it back
    return lk.op.vjp(child, [base], child, lk.params, (True,))[0]


def assign_through(value: Any, result: Any) -> None:
    """``value`` = ``result`` (an in-place op's out-of-place result), carried to every base that
    ``value`` views, and counted so that the other views of that memory are rebuilt when used."""
    value._assign(result)
    box = value._box
    if box is None:
        return
    child = value
    while child._link is not None:
        lk = child._link
        base = lk.base
        base._assign(put(base, child, lk))
        child = base
    box[0] += 1
    child = value
    while child._link is not None:  # these match their bases again
        child._link.version = box[0]
        child = child._link.base


def rebind_in_place(value: Any, op: Any, args: tuple, params: dict, who: str) -> Any:
    """An in-place op on a value whose level shares no memory between values (vmap's, jit's): the
    out-of-place result, assigned to ``value`` and through to every base it views."""
    if value._link is not None:
        fresh(value)
    result = op.fn(value, *args, **params)
    if type(result) not in value_types or result._level is not value._level:
        raise RuntimeError(f"{op.name} in place inside {who}: the result depends on a value of "
                           f"an inner transformation; use the out-of-place form")
    assign_through(value, result)
    return value
