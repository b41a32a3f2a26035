"""The tape: the level that records ops on tensors, and the making and rebuilding of tensors.

A ``TapeLevel`` runs an op on its tensors' data and, when an input requires grad, records a node
(reverse/graph.py) that keeps what the op's rule reads. The eager tape (``reverse.tensor.EAGER``)
holds the tensors a user builds; each reverse-mode transformation (grad, vjp, jacrev) opens a tape
level of its own. A level makes tensors of the class it is given (``Tensor``, which imports this
module, not the other way round).
"""
from __future__ import annotations

from typing import Any

import numpy as np

from adcore.levels import EAGER_TAPE_DEPTH, Level, bind, value_types
from adcore.promotion import PROMOTING_KINDS, numpy_operands
from adcore.shapes import Meta, check_real, complex_error
from reverse import anomaly, graph
from reverse.modes import mode
from reverse.versions import View, fresh, link_view, root_of, unaliased

# The tensors a tape level makes are of the class it is given (reverse.tensor.Tensor, which
# imports this module): named here for readers, not imported.
Tensor = Any

_ndarray = np.ndarray


class TapeLevel(Level):
    """Reverse mode at one level: ops on this level's tensors that need gradients are recorded.

    ``held`` lists the numpy arrays its nodes read and hold read-only (``reverse.held``) when the
    level's transformation runs its backward pass before returning; None where nodes copy them
    (the eager tape, ``vjp``)."""

    __slots__ = ("held", "cls")

    def __init__(self, depth: int, cls: type) -> None:
        super().__init__(depth)
        self.held: list | None = None
        self.cls = cls  # the class of the tensors it makes

    def process(self, op: Any, args: tuple, params: dict) -> Tensor | tuple:
        if self.numpy and op.kind in PROMOTING_KINDS:
            args = numpy_operands(args)
        primals: list = []
        parents: list = []
        needs: list = []
        record = False
        checked = not op.ufunc  # a ufunc's result is new memory, and real for real operands
        for a in args:
            if type(a) in value_types and a._level is self:
                if a._view is not None:
                    fresh(a)
                primals.append(a.data)  # (never complex: no tensor holds complex data)
                key = a._node
                if key is None and a._requires_grad:
                    key = a
                if key is None:
                    parents.append(None)
                    needs.append(False)
                else:
                    parents.append(key)
                    needs.append(True)
                    record = True
            else:
                primals.append(a)
                parents.append(None)
                needs.append(False)
                if type(a) is not float and type(a) is not int:
                    checked = True  # a constant other than a real number may be complex
        if op.outputs != 1:
            return self._several(op, params, parents, primals, tuple(needs), args, record)
        if self.depth == EAGER_TAPE_DEPTH:  # nothing lives below the eager tape: plain values
            try:
                out = op.impl(*primals, **params) if params else op.impl(*primals)
            except (ValueError, IndexError, TypeError) as exc:
                raise op.error(exc, tuple(primals), params) from exc
            except FloatingPointError:  # numpy set to raise: under detect_anomaly, say which op
                if not mode.anomaly:
                    raise
                with np.errstate(all="ignore"):
                    out = op.impl(*primals, **params)
                anomaly.check_forward(op, primals, out, anomaly.origin())
                raise
            if type(out) is not _ndarray:
                out = np.asarray(out)  # numpy returns scalars for 0-d results; .data stays an array
            elif not op.view and not op.ufunc:  # sharing an input's memory: that input's copy
                if out.base is not None:
                    out = unaliased(out, primals)
                else:
                    for p in primals:
                        if p is out:
                            out = out.copy()
                            break
            if checked and out.dtype.kind == "c":
                raise complex_error(op, primals)
        else:
            out = bind(op, *primals, **params)
            if checked and (type(out) is not _ndarray or out.dtype.kind == "c"):
                check_real(op, out, primals)  # (a real array: nothing to check)
        node = None
        if record and self.depth > mode.floor:
            node = graph.record(op, params, parents, primals, out, tuple(needs), args, self)
            if mode.anomaly:
                node.origin = anomaly.origin()
                anomaly.check_forward(op, primals, out, node.origin)
        t = make_tensor(out, node, self)
        if op.view:
            link_view(t, args[0], op, params, self)
        return t

    def _several(self, op: Any, params: dict, parents: list, primals: list, needs: tuple,
                 args: tuple, record: bool) -> tuple:
        """An op with several outputs: one node for the op, and per output a tensor whose node
        selects that output from it."""
        if self.depth == EAGER_TAPE_DEPTH:
            try:
                outs = op.impl(*primals, **params)
            except (ValueError, IndexError, TypeError) as exc:
                raise op.error(exc, tuple(primals), params) from exc
            outs = tuple(unaliased(np.asarray(o), primals) for o in outs)
        else:
            outs = bind(op, *primals, **params)
        check_real(op, outs, primals)
        node = None
        if record and self.depth > mode.floor:
            node = graph.record(op, params, parents, primals, outs, needs, args, self)
        n = len(outs)
        return tuple(make_tensor(o, None if node is None else graph.select(node, i, n, o), self)
                     for i, o in enumerate(outs))

    def constant(self, value: Any) -> Tensor:
        if type(value) is not _ndarray and type(value) not in value_types:
            value = np.asarray(value)  # a number; a value of a lower level stays one
        return make_tensor(value, None, self)


_new = object.__new__


def make_tensor(data: Any, node: graph.Node | None, level: TapeLevel, cls: type | None = None
                ) -> Tensor:
    """A tensor of ``level`` (of the level's class, or ``cls``) without the constructor's checks
    (the engine's fast path)."""
    t: Tensor = _new(cls or level.cls)
    t.data = data
    t._grad = None
    t._node = node
    t._level = level
    t._requires_grad = False
    t._count = 0
    t._view = None
    t._hooks = None
    return t


def leaf(data: Any, level: TapeLevel) -> Tensor:
    """A leaf that requires grad at ``level`` (the inputs of a functional transformation)."""
    t = make_tensor(data, None, level)
    t._requires_grad = True
    return t


def rebuild(key: Any, value: Any, level: TapeLevel, root: Tensor | graph.Node | None = None
            ) -> Any:
    """The engine value a rule sees under create_graph: gradients flow into ``key``. It shares
    the version counter of ``root``, the tensor its value came from, so that the graph the rule
    builds sees a later in-place change of that tensor (PyTorch's saved variables do the same).

    A node's own output (``root`` is the node) shares the counter of the node's *anchor*, a
    tensor without history made here once, which ``changed`` bumps when the output's memory is
    changed in place (the node does not refer to the tensor it made)."""
    if key is None or type(value) is Meta:
        return value
    if type(key) is not graph.Node:
        return key  # a leaf tensor
    t = make_tensor(value, key, level)
    if isinstance(root, graph.Node):
        if root.anchor is None:
            root.anchor = make_tensor(value, None, level)
        t._view = View(root.anchor, None, None, {})
    elif root is not None:
        t._view = View(root_of(root), None, None, {})
    return t
