"""In-place operations, views and versions of the reverse-mode Tensor.

Versions and views. Every tensor counts the in-place changes to its memory (``_version``, as in
PyTorch). A tensor whose data is a numpy view of another tensor's data (made by reshape, transpose,
basic indexing, ``detach()``) shares the counter of the tensor that owns the memory (its *root*): a
change through any of them bumps it for all. A node records the versions of the tensors whose data
its rule reads and ``backward`` checks them, so a value changed in place after it was used raises
an error instead of giving a wrong gradient.

In-place operations are recorded as the out-of-place op followed by a rebinding (PyTorch's
approach), so their derivatives still come from the registry: ``x.mul_(y)`` computes ``x * y`` on
the tape, writes the result into x's memory and makes that node x's history. Gradients then reach
x's earlier value and ``y``. Through a view, the base's history is rewritten too: after ``x[0] = v``
(or ``x[0].add_(v)``), x's history is ``setitem(x_before, 0, ...)``, PyTorch's CopySlices. Other
views of the same memory notice that their root changed and rebuild their own history from their
base the next time they are used.
"""
from __future__ import annotations

from typing import Any, cast

import numpy as np

from adcore import ops, views
from adcore.levels import Level, bind, raw, value_types
from adcore.registry import registry, select_op
from adcore.shapes import shape_of
from reverse import graph
from reverse.hooks import hooks_of
from reverse.modes import enable_grad

# The tensors this module works on are reverse.tensor.Tensor, which imports this module: named
# here for readers, not imported.
Tensor = Any

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


def root_of(t: Tensor) -> Tensor:
    view = t._view
    return t if view is None else view.root


def shares(out: Any, data: Any) -> bool:
    """Whether ``out`` is ``data`` or a numpy view of the same memory."""
    if out is data:
        return True
    base = out.base if type(out) is _ndarray else None
    if base is None or type(data) is not _ndarray:
        return False
    return base is data or base is data.base or np.may_share_memory(out, data)


def unaliased(out: _ndarray, primals: list) -> _ndarray:
    """``out``, or a copy of it when it shares memory with an input although its op is not
    declared a view (``where(True, a, 0)`` returns ``a``; a Function may return a slice of its
    input): a later in-place change of one must not silently change the other."""
    for p in primals:
        if type(p) is _ndarray and (out is p or np.may_share_memory(out, p)):
            return out.copy()
    return out


def link_view(t: Tensor, source: Any, op: Any, params: dict, level: Level) -> None:
    """Mark ``t`` as a view of ``source`` when op returned a view of its memory; at a level of
    numpy's personality an item (``views.is_item``) is a copy instead, as numpy's scalars are."""
    if type(source) in value_types and source._level is level and shares(raw(t.data),
                                                                          raw(source.data)):
        if level.numpy and op is _GETITEM and views.is_item(op, params):
            if type(t.data) is _ndarray:
                t.data = t.data.copy()
            return
        t._view = View(root_of(source), source, op, params)


def refresh(t: Tensor) -> None:
    """Rebuild a view's history from its base after their memory was changed in place."""
    view = t._view
    assert view is not None, "only a view is refreshed"
    if view.base is not None:
        base = view.base
        base_view = base._view
        if base_view is not None and base_view.version != base_view.root._count:
            refresh(base)
        with enable_grad():  # the history must exist whatever the grad mode of the caller
            rebuilt = bind(view.op, base, **view.params)
        set_history(t, rebuilt._node)
        if type(t.data) is not _ndarray or type(rebuilt.data) is not _ndarray:
            t.data = rebuilt.data  # a value of a lower level: rebound to the new one
    view.version = view.root._count


def fresh(t: Tensor) -> None:
    """Bring a view's history up to date if its memory was changed since (through its base or
    another view)."""
    view = t._view
    if view is not None and view.version != view.root._count:
        refresh(t)


def changed(t: Tensor) -> None:
    """Count an in-place change of t's memory. The node that made the memory saved it as its
    output if its rule reads the output (tanh, exp): that saved value is gone now, so the node is
    marked, and backward through it raises."""
    root = root_of(t)
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


def inplace_name(op: Any) -> str:
    return op.inplace[0] if op.inplace else "item assignment" if op is _SETITEM else op.name


def plain_index(index: Any) -> Any:
    if type(index) is tuple:
        return tuple(raw(i) for i in index)
    return raw(index)


def write_inplace(t: Tensor, op: Any, args: tuple, params: dict) -> None:
    """numpy's own in-place operation on t's memory (nothing is recorded)."""
    data = t.data
    try:
        if op is _SETITEM:
            index, value = args
            data[plain_index(index)] = raw(value)
        elif op.numpy and isinstance(op.numpy[0], np.ufunc):
            op.numpy[0](data, *[raw(a) for a in args], out=data, **params)
        else:
            np.copyto(data, op.impl(data, *[raw(a) for a in args], **params))
    except (ValueError, TypeError, IndexError) as exc:
        raise inplace_error(t, op, exc) from exc


def inplace_error(t: Tensor, op: Any, exc: Exception) -> Exception:
    name, message = inplace_name(op), str(exc)
    if op is _SETITEM and "broadcast" in message:
        return ValueError(f"x[index] = value: {message}; the value must broadcast to the shape of "
                          f"x[index] (x has shape {shape_of(t.data)})")
    if "read-only" in message:
        data = t.data
        if any(step == 0 and n > 1 for step, n in zip(data.strides, data.shape)):
            return ValueError(f"{name}: this tensor's data is read-only (a broadcast view made by "
                              f"expand or broadcast_to shares one element among many positions); "
                              f"clone() it before changing it in place")
        return ValueError(f"{name}: this tensor's data is read-only (it shares a read-only "
                          f"array: a gradient handed to a hook, or Tensor.from_numpy of an array "
                          f"whose flags.writeable is False, as np.load(..., mmap_mode='r') "
                          f"gives); clone() it before changing it in place")
    if "broadcast" in message or "shape" in message:
        return ValueError(f"{name}: {message}; an in-place op keeps the tensor's shape "
                          f"{shape_of(t.data)}, so the other operand must broadcast to it")
    if "cast" in message:
        return TypeError(f"{name}: {message}; an in-place op keeps the tensor's dtype "
                         f"{t.data.dtype}: convert the tensor first (x = x.to(np.float32))")
    return type(exc)(f"{name}: {message}")


def record_inplace(t: Tensor, op: Any, args: tuple, params: dict, recording: bool = True
                    ) -> None:
    """The out-of-place op on the tape, its result written into t's memory, and t (with every base
    it views) given the new history.

    Under a nested transformation t's data is a value of a lower level (a Dual, inside hessian):
    such values are never written into, so t and its bases are rebound to the new values instead
    (and t's views, linked by the memory of the arrays underneath, are rebuilt when next used)."""
    name = inplace_name(op)
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
    fresh(t)
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
    root = root_of(t)
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
            raise inplace_error(t, op, exc) from exc
    changed(t)
    for x in chain:  # their histories are rewritten below: not stale
        if x._view is not None:
            x._view.version = root._count
    if recording:  # (unrecorded, as under no_grad: the histories stay as they were)
        set_history(t, node)
    child = t
    for base in chain[1:]:  # the bases' histories, rewritten around the change (CopySlices)
        new = _put(base, child, cast(View, child._view))
        if recording:
            set_history(base, new._node)
        if type(base.data) is not _ndarray or type(new.data) is not _ndarray:
            base.data = new.data
        child = base


def set_history(t: Tensor, node: graph.Node | None) -> None:
    """Make ``node`` t's history; a retained gradient moves with it (as PyTorch moves its hook),
    so that it is counted once, for t's latest value. Hooks registered with ``register_hook``
    stay on the old node: they see the gradient with respect to the value they were registered
    on, as in PyTorch."""
    old = t._node
    t._node = node
    hooks = old.hook if old is not None and old is not node else None
    if hooks is not None and hooks.retained is not None and hooks.retained.holds(t):
        if node is not None:
            hooks_of(node).retained = hooks.retained
        hooks.retained = None
        if hooks.empty():
            old.hook = None


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
