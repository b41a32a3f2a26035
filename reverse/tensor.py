"""The reverse-mode Tensor: numpy data, a gradient, and the node of the tape that made it.

Versions and views. Every tensor counts the in-place changes to its memory (``_version``, as in
PyTorch). A tensor
whose data is a numpy view of another tensor's data (made by reshape, transpose, basic indexing,
``detach()``) shares the counter of the tensor that owns the memory (its *root*): a change through
any of them bumps it for all. A node records the versions of the tensors whose data its rule reads
and ``backward`` checks them, so a value changed in place after it was used raises an error instead
of giving a wrong gradient.

In-place operations are recorded as the out-of-place op followed by a rebinding (PyTorch's
approach), so their derivatives still come from the registry: ``x.mul_(y)`` computes ``x * y`` on
the tape, writes the result into x's memory and makes that node x's history. Gradients then reach
x's earlier value and ``y``. Through a view, the base's history is rewritten too: after ``x[0] = v``
(or ``x[0].add_(v)``), x's history is ``setitem(x_before, 0, ...)``, PyTorch's CopySlices. Other
views of the same memory notice that their root changed and rebuild their own history from their
base the next time they are used.
"""
from __future__ import annotations

import weakref
from typing import Any, cast

import numpy as np

from adcore import ops, views
from adcore.levels import (
    EAGER_TAPE_DEPTH,
    FIRST_TRANSFORM_DEPTH,
    Level,
    bind,
    raw,
    top_level,
    value_types,
)
from adcore.methods import ArrayMethods
from adcore.promotion import PROMOTING_KINDS, numpy_operands
from adcore.registry import registry, select_op
from adcore.shapes import Meta, check_real, complex_error, dtype_of, refuse_tensors_in, shape_of
from reverse import anomaly, graph
from reverse.modes import enable_grad, mode

DEFAULT_DTYPE = np.float32
_ndarray = np.ndarray
_SETITEM = registry["setitem"]
_SELECT = select_op
_GETITEM = registry["getitem"]


class View:
    """How a tensor's data views another tensor's memory: the tensor that owns the memory and its
    version counter (``root``), and, when the view has a history of its own, the tensor it was made
    from (``base``) with the op that made it, to rebuild that history when the memory changes."""

    __slots__ = ("root", "base", "op", "params", "version")

    def __init__(self, root: Tensor, base: Tensor | None, op: Any, params: dict) -> None:
        self.root = root
        self.base = base
        self.op = op
        self.params = params
        self.version = root._count


class TapeLevel(Level):
    """Reverse mode at one level: ops on this level's tensors that need gradients are recorded.

    ``held`` lists the numpy arrays its nodes read and hold read-only (``reverse.held``) when the
    level's transformation runs its backward pass before returning; None where nodes copy them
    (the eager tape, ``vjp``)."""

    __slots__ = ("held",)

    def __init__(self, depth: int) -> None:
        super().__init__(depth)
        self.held: list | None = None

    def process(self, op: Any, args: tuple, params: dict) -> Tensor | tuple:
        if self.numpy and op.kind in PROMOTING_KINDS:
            args = numpy_operands(args)
        primals: list = []
        parents: list = []
        needs: list = []
        record = False
        checked = not op.fresh  # a ufunc's result is new memory, and real for real operands
        for a in args:
            if type(a) in value_types and a._level is self:
                if a._view is not None:
                    _fresh(a)
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
                checked = True  # a constant may be complex
        if op.outputs != 1:
            return self._several(op, params, parents, primals, tuple(needs), args, record)
        if self is EAGER:  # nothing lives below the eager tape: the primals are plain values
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
            elif not op.view and not op.fresh:  # sharing an input's memory: that input's copy
                if out.base is not None:
                    out = _unaliased(out, primals)
                else:
                    for p in primals:
                        if p is out:
                            out = out.copy()
                            break
            if checked and out.dtype.kind == "c":
                raise complex_error(op, primals)
        else:
            out = bind(op, *primals, **params)
            if checked:
                check_real(op, out, primals)
        node = None
        if record and self.depth > mode.floor:
            node = graph.record(op, params, parents, primals, out, tuple(needs), args, self)
            if mode.anomaly:
                node.origin = anomaly.origin()
                anomaly.check_forward(op, primals, out, node.origin)
        t = _make(out, node, self)
        if op.view:
            _link_view(t, args[0], op, params, self)
        return t

    def _several(self, op: Any, params: dict, parents: list, primals: list, needs: tuple,
                 args: tuple, record: bool) -> tuple:
        """An op with several outputs: one node for the op, and per output a tensor whose node
        selects that output from it."""
        if self is EAGER:
            try:
                outs = op.impl(*primals, **params)
            except (ValueError, IndexError, TypeError) as exc:
                raise op.error(exc, tuple(primals), params) from exc
            outs = tuple(_unaliased(np.asarray(o), primals) for o in outs)
        else:
            outs = bind(op, *primals, **params)
        check_real(op, outs, primals)
        node = None
        if record and self.depth > mode.floor:
            node = graph.record(op, params, parents, primals, outs, needs, args, self)
        n = len(outs)
        return tuple(_make(o, None if node is None else graph.select(node, i, n, o), self)
                     for i, o in enumerate(outs))

    def constant(self, value: Any) -> Tensor:
        if type(value) is not _ndarray and type(value) not in value_types:
            value = np.asarray(value)  # a number; a value of a lower level stays one
        return _make(value, None, self)


# Tensors made by hand live on the eager tape, below every transformation's level.
EAGER = TapeLevel(EAGER_TAPE_DEPTH)


class Tensor(ArrayMethods):
    """An n-dimensional array that records the ops applied to it, for reverse-mode differentiation.

    ``data`` is a numpy array. ``Tensor(data)`` copies ``data``, as ``torch.tensor`` does (use
    ``Tensor.from_numpy`` to share memory with an ndarray). Python numbers and lists, and integer or
    boolean arrays, become float32 (the default dtype, as in PyTorch); floating arrays (numpy's,
    PyTorch's, anything with ``__array__``) keep their dtype; ``dtype=`` converts explicitly. Mixed
    dtypes promote as in PyTorch: a 0-d value never promotes a tensor with dimensions (see
    adcore/dtypes.py).

    Change a tensor with the in-place methods (``add_``, ``mul_``, ``x += y``, ``x[i] = v``,
    ``zero_``, ``copy_``, ...): they are recorded, and checked against the values that recorded ops
    saved. Writing into ``.data`` directly is PyTorch's unchecked escape hatch: it is not recorded
    and not checked, so a gradient computed afterwards may silently use the new values.

    >>> x = Tensor([[1, 2], [3, 4]], requires_grad=True)
    >>> y = Tensor([[5, 6], [7, 8]], requires_grad=True)
    >>> (x @ y).sum().backward()
    >>> x.grad
    Tensor([[11., 15.],
            [11., 15.]])
    """

    __slots__ = ("data", "_grad", "_node", "_level", "_requires_grad", "_count", "_view",
                 "__weakref__")

    def __init__(self, data: Any, requires_grad: bool = False, dtype: Any = None) -> None:
        self.data = _to_array(data, dtype)
        if requires_grad and self.data.dtype.kind != "f":
            raise TypeError(f"Tensor: only floating-point tensors can require gradients, got dtype "
                            f"{self.data.dtype}; pass dtype=np.float32 (or float64)")
        self._grad: Tensor | None = None
        self._node: graph.Node | None = None
        self._level: Level = EAGER
        self._requires_grad = bool(requires_grad)
        self._count = 0
        self._view: View | None = None

    @classmethod
    def from_numpy(cls, array: np.ndarray, requires_grad: bool = False) -> Tensor:
        """A tensor that shares ``array``'s memory (torch.from_numpy): changes to either show in
        the other, and the dtype is kept as it is. Changes made through the ndarray are not seen by
        the version counter."""
        if not isinstance(array, np.ndarray):
            raise TypeError(f"Tensor.from_numpy: expected a numpy ndarray, got "
                            f"{type(array).__name__}; use Tensor(data) to copy other data")
        t = _make(array, None, EAGER, cls)
        if requires_grad:
            t.requires_grad_(True)
        return t

    def _unwrap(self) -> Any:
        return self.data

    def _traced(self) -> bool:
        return self._level.depth >= FIRST_TRANSFORM_DEPTH and self.requires_grad

    # --- autograd state -----------------------------------------------------------------------
    @property
    def grad(self) -> Tensor | None:
        """The accumulated gradient (None until a backward pass reaches this tensor)."""
        return self._grad

    @grad.setter
    def grad(self, value: Tensor | None) -> None:
        if value is not None:
            if not isinstance(value, Tensor):
                raise TypeError(f"x.grad = ...: the gradient must be a Tensor or None, got "
                                f"{type(value).__name__}; wrap an array as Tensor(array)")
            mine, given = raw(self), raw(value)
            if shape_of(given) != shape_of(mine):
                raise ValueError(f"x.grad = ...: the gradient has shape {shape_of(given)} but "
                                 f"the tensor has shape {shape_of(mine)}; they must match")
            if dtype_of(given) != dtype_of(mine):
                raise TypeError(f"x.grad = ...: the gradient has dtype {dtype_of(given)} but the "
                                f"tensor has dtype {dtype_of(mine)}; convert it with "
                                f".to({dtype_of(mine)})")
        self._grad = value

    @property
    def requires_grad(self) -> bool:
        return self._node is not None or self._requires_grad

    @requires_grad.setter
    def requires_grad(self, flag: bool) -> None:
        self.requires_grad_(flag)

    def requires_grad_(self, flag: bool = True) -> Tensor:
        """Start (or stop) recording ops on this leaf tensor; returns the tensor."""
        if self._node is not None:
            if flag:
                return self  # a result of recorded ops already requires grad
            raise RuntimeError(f"requires_grad_: only leaf tensors can stop requiring grad; this "
                               f"one was made by {self._node!r}. Use .detach() to get a leaf")
        if flag and raw(self).dtype.kind != "f":
            raise TypeError(f"requires_grad_: only floating-point tensors can require gradients, "
                            f"got dtype {raw(self).dtype}")
        self._requires_grad = bool(flag)
        return self

    @property
    def _version(self) -> int:
        """How many in-place changes this tensor's memory has seen (shared with its views)."""
        return _root(self)._count

    @property
    def is_leaf(self) -> bool:
        """True for tensors made by hand (or by detach), False for results of recorded ops."""
        return self._node is None

    @property
    def grad_fn(self) -> graph.Node | None:
        """The recorded op that made this tensor (None for leaves)."""
        _fresh(self)
        return self._node

    @property
    def strides(self) -> tuple:
        """Bytes to step in each axis of ``data`` (numpy's strides)."""
        return raw(self).strides

    def retain_grad(self) -> None:
        """Keep this non-leaf tensor's gradient in ``.grad`` after backward (leaves always do)."""
        _fresh(self)
        node = self._node
        if node is not None:
            node.retain = weakref.ref(self)
            node.versions = node.versions or ()  # makes backward look at the node's extras

    @property
    def retains_grad(self) -> bool:
        node = self._node
        return node is not None and node.retain is not None and node.retain() is self

    def detach(self) -> Tensor:
        """The same data, cut off from the graph (a leaf that does not require grad). It shares
        memory and the version counter with this tensor, as in PyTorch."""
        t = _make(self.data, None, self._level)
        t._view = View(_root(self), None, None, {})
        return t

    def numpy(self) -> np.ndarray:
        """The data as a numpy array (shared, not copied). Refused for a tensor that requires
        grad, as in PyTorch: the array would silently leave the graph; ``x.detach().numpy()``
        says that is meant."""
        if self.requires_grad:
            raise RuntimeError(_leaves_graph("x.numpy()", self))
        return np.asarray(raw(self))

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        if self.requires_grad:
            raise RuntimeError(_leaves_graph("np.array(x) / np.asarray(x)", self))
        return np.array(self.data, dtype=dtype, copy=copy)  # a Dual underneath says if it may

    def __repr__(self) -> str:
        extra = ""
        if self._node is not None:
            extra = f", grad_fn={self._node!r}"
        elif self._requires_grad:
            extra = ", requires_grad=True"
        value = raw(self)
        if isinstance(value, (np.ndarray, np.generic)):
            body = np.array2string(np.asarray(value), separator=", ", prefix="Tensor(")
            if value.dtype not in (DEFAULT_DTYPE, np.int64, np.bool_):
                extra = f", dtype={value.dtype}" + extra
        else:
            body = repr(value)
        if self._level is not EAGER:
            extra += f", level={self._level.depth}"
        return f"Tensor({body}{extra})"

    # --- in place -----------------------------------------------------------------------------
    def _inplace(self, op: Any, args: tuple, params: dict) -> Tensor:
        """self = op(self, *args): recorded when gradients are involved, else numpy in place."""
        level = self._level
        deeper = top_level(args)
        if deeper is not None and deeper.depth > level.depth:
            raise RuntimeError(
                f"{_inplace_name(op)}: the value written depends on a value that an inner "
                f"transformation (grad, jvp, ...) is differentiating, so this tensor of an outer "
                f"level cannot hold it without losing that derivative; use the out-of-place form")
        recording = level.depth > mode.floor and (self.requires_grad or any(
            type(a) in value_types and a._level is level and a.requires_grad for a in args))
        if recording or type(self.data) is not _ndarray:
            _record_inplace(self, op, args, params, recording)
        else:
            _write_inplace(self, op, args, params)
            _changed(self)
        return self

    # --- backward -----------------------------------------------------------------------------
    def backward(self, gradient: Any = None, retain_graph: bool | None = None,
                 create_graph: bool = False, explain: bool = False,
                 _trace: Any = None) -> None:
        """Accumulate d self / d leaf into ``leaf.grad`` for every leaf that requires grad.

        ``gradient`` (same shape as self) weights the outputs; it may be left out for a tensor
        with one element. The graph is freed afterwards unless ``retain_graph`` (which defaults to
        ``create_graph``); with ``create_graph`` the backward pass is itself recorded, so that the
        gradients can be differentiated again. ``explain=True`` also prints the pass node by node
        (see ``reverse.explain``).
        """
        if explain:
            assert _explainer is not None, "reverse/__init__.py hands reverse.explain over"
            _explainer(self, gradient, retain_graph)
            return
        _fresh(self)
        if not self.requires_grad:
            raise RuntimeError(
                "backward: this tensor does not require grad and has no graph: it was computed "
                "from tensors with requires_grad=False, or under no_grad(). Create the inputs with "
                "Tensor(..., requires_grad=True)")
        shape = shape_of(self.data)
        if gradient is None:
            if np.size(raw(self)) != 1:
                raise RuntimeError(
                    f"backward: the output has shape {shape}; backward() without a gradient needs "
                    f"an output with one element. Reduce it first (y.sum().backward()) or pass "
                    f"gradient= with shape {shape}")
            gradient = np.ones(shape, dtype=raw(self).dtype)
        else:
            if type(gradient) in value_types and not create_graph:
                gradient = raw(gradient)
            elif type(gradient) not in value_types:
                given = np.asarray(gradient)
                if given.dtype.kind not in "biuf":
                    raise TypeError(f"backward: gradient must hold real numbers, got dtype "
                                    f"{given.dtype} ({type(gradient).__name__}); pass an array "
                                    f"or a tensor of the output's shape {shape}")
                gradient = given.astype(raw(self).dtype)
            if shape_of(gradient) != shape:
                raise ValueError(f"backward: gradient has shape {shape_of(gradient)} but the "
                                 f"output has shape {shape}; they must match")
        retain = create_graph if retain_graph is None else retain_graph
        key = self._node if self._node is not None else self
        owned: set = set()  # the ids of the cotangents the pass made and nobody else holds
        if create_graph:
            level = self._level
            with enable_grad():
                cts = graph.backward([(key, gradient)], retain_graph=retain,
                                     rebuild=lambda k, value, root: _rebuild(k, value, level, root),
                                     trace=_trace)
        else:
            cts = graph.backward([(key, gradient)], retain_graph=retain, trace=_trace,
                                 owned=owned)
        for leaf, ct in cts.items():
            leaf._accumulate(ct, id(ct) in owned)

    def _accumulate(self, ct: Any, owned: bool = False) -> None:
        """Add a cotangent into ``.grad``: the first one becomes an array the tensor owns
        (writable, contiguous, of the tensor's shape and dtype: the cotangent itself when the
        backward pass made it and nothing else holds it (``owned``), else a copy); later ones are
        added in place, or out of place when the gradient is itself part of a graph
        (create_graph)."""
        grad = self._grad
        leaf = self.data
        if type(ct) is not _ndarray or ct.dtype != leaf.dtype:
            converted = like_leaf(ct, leaf)
            owned = owned or converted is not ct  # a converted cotangent is a fresh array
            ct = converted
        if type(ct) in value_types:  # create_graph: the gradient keeps its history
            if grad is None:  # its own copy: never the caller's gradient= tensor, never shared
                self._grad = ops.clone(ct)
            else:
                self._grad = grad + ct
            return
        if grad is None:
            if owned and type(ct) is _ndarray and ct.shape == leaf.shape and ct.flags.c_contiguous:
                self._grad = _make(ct, None, self._level)  # the pass's own buffer: no copy
                return
            data = np.array(ct, dtype=leaf.dtype, order="C", copy=True)
            if data.shape != leaf.shape:
                data = np.array(np.broadcast_to(data, leaf.shape), order="C")
            self._grad = _make(data, None, self._level)
        elif grad._node is None and type(grad.data) is _ndarray and grad.data.flags.writeable:
            np.add(grad.data, ct, out=grad.data)
            _changed(grad)
        else:
            self._grad = grad + ct


# ``backward(explain=True)`` prints the pass with reverse.explain, which builds on backward and
# imports this module; reverse/__init__.py hands it over (``use_explainer``) instead.
_explainer: Any = None


def use_explainer(explain: Any) -> None:
    """Set the printer that ``backward(explain=True)`` calls (``reverse.explain.explain``)."""
    global _explainer
    _explainer = explain


def _leaves_graph(call: str, t: Tensor) -> str:
    where = " inside a transformation (grad, vjp, jacrev, ...)" if t._traced() else ""
    return (f"{call}: this tensor (shape {shape_of(raw(t))}) requires grad{where}, and a numpy "
            f"array would silently drop its gradient (numpy calls such as np.array([x, y]) and "
            f"np.r_ convert their inputs this way). To combine tensors use their ops (np.stack, "
            f"np.concatenate, ops.stack); to leave the graph on purpose, x.detach().numpy()")


def like_leaf(ct: Any, data: Any) -> Any:
    """A cotangent in the dtype of the leaf it belongs to: a float32 input keeps float32 gradients
    even when float64 constants took part (the cast is an op, so it is differentiable too)."""
    dtype = dtype_of(raw(data))
    if dtype_of(raw(ct)) != dtype:
        ct = ops.astype(ct, dtype)
    return np.asarray(ct) if isinstance(ct, np.generic) else ct


_new = object.__new__


def _make(data: Any, node: graph.Node | None, level: Level, cls: type = Tensor) -> Tensor:
    """A tensor without the constructor's checks (the engine's fast path)."""
    t: Tensor = _new(cls)
    t.data = data
    t._grad = None
    t._node = node
    t._level = level
    t._requires_grad = False
    t._count = 0
    t._view = None
    return t


def leaf(data: Any, level: Level) -> Tensor:
    """A leaf that requires grad at ``level`` (the inputs of a functional transformation)."""
    t = _make(data, None, level)
    t._requires_grad = True
    return t


def _rebuild(key: Any, value: Any, level: Level, root: Tensor | graph.Node | None = None) -> Any:
    """The engine value a rule sees under create_graph: gradients flow into ``key``. It shares
    the version counter of ``root``, the tensor its value came from, so that the graph the rule
    builds sees a later in-place change of that tensor (PyTorch's saved variables do the same).

    A node's own output (``root`` is the node) shares the counter of the node's *anchor*, a
    tensor without history made here once, which ``_changed`` bumps when the output's memory is
    changed in place (the node does not refer to the tensor it made)."""
    if key is None or type(value) is Meta:
        return value
    if type(key) is not graph.Node:
        return key  # a leaf tensor
    t = _make(value, key, level)
    if isinstance(root, graph.Node):
        if root.anchor is None:
            root.anchor = _make(value, None, level)
        t._view = View(root.anchor, None, None, {})
    elif root is not None:
        t._view = View(_root(root), None, None, {})
    return t


# --- views and versions ----------------------------------------------------------------------

def _root(t: Tensor) -> Tensor:
    view = t._view
    return t if view is None else view.root


def _shares(out: Any, data: Any) -> bool:
    """Whether ``out`` is ``data`` or a numpy view of the same memory."""
    if out is data:
        return True
    base = out.base if type(out) is _ndarray else None
    if base is None or type(data) is not _ndarray:
        return False
    return base is data or base is data.base or np.may_share_memory(out, data)


def _unaliased(out: _ndarray, primals: list) -> _ndarray:
    """``out``, or a copy of it when it shares memory with an input although its op is not
    declared a view (``where(True, a, 0)`` returns ``a``; a Function may return a slice of its
    input): a later in-place change of one must not silently change the other."""
    for p in primals:
        if type(p) is _ndarray and (out is p or np.may_share_memory(out, p)):
            return out.copy()
    return out


def _link_view(t: Tensor, source: Any, op: Any, params: dict, level: TapeLevel) -> None:
    """Mark ``t`` as a view of ``source`` when op returned a view of its memory; at a level of
    numpy's personality an item (``views.is_item``) is a copy instead, as numpy's scalars are."""
    if type(source) in value_types and source._level is level and _shares(raw(t.data),
                                                                          raw(source.data)):
        if level.numpy and op is _GETITEM and views.is_item(op, params):
            if type(t.data) is _ndarray:
                t.data = t.data.copy()
            return
        t._view = View(_root(source), source, op, params)


def _refresh(t: Tensor) -> None:
    """Rebuild a view's history from its base after their memory was changed in place."""
    view = t._view
    assert view is not None, "only a view is refreshed"
    if view.base is not None:
        base = view.base
        base_view = base._view
        if base_view is not None and base_view.version != base_view.root._count:
            _refresh(base)
        with enable_grad():  # the history must exist whatever the grad mode of the caller
            rebuilt = bind(view.op, base, **view.params)
        _set_history(t, rebuilt._node)
        if type(t.data) is not _ndarray or type(rebuilt.data) is not _ndarray:
            t.data = rebuilt.data  # a value of a lower level: rebound to the new one
    view.version = view.root._count


def fresh(t: Tensor) -> None:
    """Bring a view's history up to date if its memory was changed since (through its base or
    another view)."""
    _fresh(t)


def _fresh(t: Tensor) -> None:
    view = t._view
    if view is not None and view.version != view.root._count:
        _refresh(t)


def _changed(t: Tensor) -> None:
    """Count an in-place change of t's memory. The node that made the memory saved it as its
    output if its rule reads the output (tanh, exp): that saved value is gone now, so the node is
    marked, and backward through it raises."""
    root = _root(t)
    node = root._node
    if node is not None and node.op is _SELECT:  # an output of an op with several
        node = node[0] if node and type(node[0]) is graph.Node else None
        if node is not None and type(node.out) is tuple and node.primals is not None \
                and node.reads_out() and any(o is root.data for o in node.out):
            node.out = graph.Modified(root.data, root._count, root._count + 1)
            node.versions = node.versions or ()
    elif node is not None and node.out is root.data and node.primals is not None \
            and node.reads_out():
        node.out = graph.Modified(root.data, root._count, root._count + 1)
        node.versions = node.versions or ()
        if node.anchor is not None:  # the output rebuilt under create_graph changes with it
            node.anchor._count += 1
    root._count += 1


def _inplace_name(op: Any) -> str:
    return op.inplace[0] if op.inplace else "item assignment" if op is _SETITEM else op.name


def _plain_index(index: Any) -> Any:
    if type(index) is tuple:
        return tuple(raw(i) for i in index)
    return raw(index)


def _write_inplace(t: Tensor, op: Any, args: tuple, params: dict) -> None:
    """numpy's own in-place operation on t's memory (nothing is recorded)."""
    data = t.data
    try:
        if op is _SETITEM:
            index, value = args
            data[_plain_index(index)] = raw(value)
        elif op.numpy and isinstance(op.numpy[0], np.ufunc):
            op.numpy[0](data, *[raw(a) for a in args], out=data, **params)
        else:
            np.copyto(data, op.impl(data, *[raw(a) for a in args], **params))
    except (ValueError, TypeError, IndexError) as exc:
        raise _inplace_error(t, op, exc) from exc


def _inplace_error(t: Tensor, op: Any, exc: Exception) -> Exception:
    name, message = _inplace_name(op), str(exc)
    if op is _SETITEM and "broadcast" in message:
        return ValueError(f"x[index] = value: {message}; the value must broadcast to the shape of "
                          f"x[index] (x has shape {shape_of(t.data)})")
    if "read-only" in message:
        return ValueError(f"{name}: this tensor's data is read-only (a broadcast view made by "
                          f"expand or broadcast_to shares one element among many positions); "
                          f"clone() it before changing it in place")
    if "broadcast" in message or "shape" in message:
        return ValueError(f"{name}: {message}; an in-place op keeps the tensor's shape "
                          f"{shape_of(t.data)}, so the other operand must broadcast to it")
    if "cast" in message:
        return TypeError(f"{name}: {message}; an in-place op keeps the tensor's dtype "
                         f"{t.data.dtype}: convert the tensor first (x = x.to(np.float32))")
    return type(exc)(f"{name}: {message}")


def _record_inplace(t: Tensor, op: Any, args: tuple, params: dict, recording: bool = True
                    ) -> None:
    """The out-of-place op on the tape, its result written into t's memory, and t (with every base
    it views) given the new history.

    Under a nested transformation t's data is a value of a lower level (a Dual, inside hessian):
    such values are never written into, so t and its bases are rebound to the new values instead
    (and t's views, linked by the memory of the arrays underneath, are rebuilt when next used)."""
    name = _inplace_name(op)
    chain = [t]
    while chain[-1]._view is not None and chain[-1]._view.base is not None:
        chain.append(chain[-1]._view.base)
    for x in chain:
        if recording and x._node is None and x._requires_grad:
            what = "this tensor" if x is t else "the tensor that this one is a view of"
            raise RuntimeError(
                f"{name}: {what} is a leaf that requires grad (shape {shape_of(x.data)}); changing "
                f"it in place would change the value that gradients are taken with respect to. "
                f"Update it under `with no_grad():` (as optimizers do), or use the out-of-place "
                f"form (y = x + ...)")
    _fresh(t)
    result = op.fn(t, *args, **params)
    if type(result) not in value_types or result._level is not t._level:
        raise RuntimeError(f"{name}: the result is not a tensor of this tensor's level")
    if result.data.shape != t.data.shape:
        raise ValueError(f"{name}: the result has shape {result.data.shape} but the tensor has "
                         f"shape {t.data.shape}; an in-place op keeps the tensor's shape, so the "
                         f"other operand must broadcast to it")
    if result.data.dtype != t.data.dtype:
        if t.data.dtype.kind != "f":
            raise TypeError(f"{name}: the result has dtype {result.data.dtype} but the tensor "
                            f"has dtype {t.data.dtype}; convert the tensor first")
        result = ops.astype(result, t.data.dtype)
    node = result._node
    root = _root(t)
    if type(t.data) is not _ndarray or type(result.data) is not _ndarray:
        # a value of a lower level (a Dual inside hessian, a batch whose examples now differ, as
        # after x[i] = 0 with i mapped by vmap): rebound, never written into
        t.data = result.data
    else:
        if node is not None:  # values the rule reads that live in this memory: keep them as were
            node.primals = tuple(p.copy() if type(p) is _ndarray and
                                 np.may_share_memory(p, root.data) else p for p in node.primals)
            node.versions = _drop_root(node.versions, root)
        try:
            np.copyto(t.data, result.data)
        except (ValueError, TypeError) as exc:
            raise _inplace_error(t, op, exc) from exc
    _changed(t)
    for x in chain:  # their histories are rewritten below: not stale
        if x._view is not None:
            x._view.version = root._count
    if recording:  # (unrecorded, as under no_grad: the histories stay as they were)
        _set_history(t, node)
    child = t
    for base in chain[1:]:  # the bases' histories, rewritten around the change (CopySlices)
        new = _put(base, child, cast(View, child._view))
        if recording:
            _set_history(base, new._node)
        if type(base.data) is not _ndarray or type(new.data) is not _ndarray:
            base.data = new.data
        child = base


def _set_history(t: Tensor, node: graph.Node | None) -> None:
    """Make ``node`` t's history; a retained gradient moves with it (as PyTorch moves its hook),
    so that it is counted once, for t's latest value."""
    old = t._node
    t._node = node
    if old is not None and old.retain is not None and old.retain() is t:
        old.retain = None
        if node is not None:
            node.retain = weakref.ref(t)
            node.versions = node.versions or ()


def _drop_root(versions: tuple | None, root: Tensor) -> tuple | None:
    """Version entries without those of ``root`` (its saved values were just copied)."""
    if versions is None:
        return None
    kept = tuple(v for j in range(0, len(versions), 3) if versions[j + 1] is not root
                 for v in versions[j:j + 3])
    return kept or None


def _put(base: Tensor, child: Tensor, view: View) -> Tensor:
    """base with the region that ``child`` views replaced by child's (new) value."""
    if view.op is _GETITEM:
        return bind(_SETITEM, base, child, index=view.params["index"],
                    shape=view.params["in_shape"], vshape=shape_of(child.data))
    # reshape, transpose, astype: the view covers all of base, so the transpose maps it back
    return view.op.vjp(child, [base], child, view.params, (True,))[0]


def _to_array(data: Any, dtype: Any) -> np.ndarray:
    if type(data) in value_types:
        data = raw(data)
    python_data = type(data) in (list, tuple, int, float, bool)  # not numpy's float64 (a float)
    if type(data) in (list, tuple):
        refuse_tensors_in(data, "Tensor")
    try:
        arr = np.asarray(data)
        if not python_data:  # an array (numpy's, PyTorch's, ...): the tensor gets its own copy
            arr = arr.copy()
    except (ValueError, TypeError) as exc:
        raise ValueError(f"Tensor: cannot make an array from this data ({exc}); nested lists must "
                         f"be rectangular and hold numbers, not tensors (use stack for tensors)") \
            from exc
    if dtype is not None:
        target = np.dtype(dtype)
        if target.kind not in "biuf":
            raise TypeError(f"Tensor: dtype {target} is not supported; use a real numeric dtype "
                            f"such as np.float32")
        if arr.dtype.kind not in "biuf":
            raise TypeError(f"Tensor: data of dtype {arr.dtype} cannot become {target}; pass "
                            f"numbers")
        return arr.astype(target, copy=False)
    kind = arr.dtype.kind
    if kind == "f":
        return arr.astype(DEFAULT_DTYPE, copy=False) if python_data else arr
    if kind in "biu":
        return arr.astype(DEFAULT_DTYPE)
    if kind == "c":
        raise TypeError("Tensor: complex numbers are not supported; pass real numbers")
    raise TypeError(f"Tensor: data of dtype {arr.dtype} is not numeric ({type(data).__name__}); "
                    f"pass numbers, (nested) lists of numbers or a numeric ndarray")
