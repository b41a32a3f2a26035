"""vmap: a function of one example, applied to a batch, as a level of its own.

``vmap(f)(xs)`` runs ``f`` once on values that stand for the whole batch (``Batched``: the data of
every example, the batch on its first axis) while ``f`` sees the shape of one example. A
``BatchLevel`` processes each op by lining up its arguments' batch axes and running the op's forward
rule one level down, with the parameters the op's public function computed from one example's
shapes. Nothing per op is written for it: an op's forward rule already accepts axes in front of the
ones its parameters describe (that is what lets tangents and cotangents come in batches), so vmap is
those rules applied to the examples' own values.

Lining up: for elementwise and bilinear ops (broadcasting), a batched argument with fewer axes of
its own than the others gets length-1 axes after its batch axis; for other ops, an argument without
a batch is broadcast to have one. Functions without a derivative (comparisons, masks) are lined up
the same way. vmap is a level like grad's and jvp's, so it nests with them in any order: per-example
gradients are ``vmap(grad(loss), in_axes=(None, 0, 0))(params, xs, ys)``.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from adcore import views
from adcore.levels import Level, bind, new_level, raw, speaks_numpy, value_types
from adcore.methods import ArrayMethods
from adcore.promotion import PROMOTING_KINDS, numpy_operands
from adcore.pytree import flatten, leaf_paths, unflatten
from adcore.registry import registry
from adcore.shapes import check_real, shape_of

_RESHAPE = registry["reshape"]
_BROADCAST = registry["broadcast_to"]
_TRANSPOSE = registry["transpose"]


class BatchLevel(Level):
    """A vmap in progress: ops on its values run once on the whole batch."""

    __slots__ = ("size",)

    def __init__(self, depth: int, size: int) -> None:
        super().__init__(depth)
        self.size = size

    def _unwrap_args(self, args: Sequence[Any]) -> tuple[list, list]:
        values, batched = [], []
        for a in args:
            if type(a) in value_types and a._level is self:
                if a._link is not None:
                    views.fresh(a)
                values.append(a.value)
                batched.append(True)
            else:
                values.append(a)
                batched.append(False)
        return values, batched

    def _line_up(self, values: list, batched: list, broadcasting: bool) -> list:
        """The arguments with their batch axes where the op's forward rule expects them."""
        arrays = [i for i, v in enumerate(values) if _is_array(v)]
        if broadcasting:
            own = {i: len(shape_of(values[i])) - batched[i] for i in arrays}
            widest = max(own.values(), default=0)
            for i in arrays:
                if batched[i] and own[i] < widest:
                    shape = shape_of(values[i])
                    values[i] = bind(_RESHAPE, values[i],
                                     shape=shape[:1] + (1,) * (widest - own[i]) + shape[1:],
                                     in_shape=shape)
        else:
            for i in arrays:
                if not batched[i]:
                    shape = shape_of(values[i])
                    values[i] = bind(_BROADCAST, values[i], shape=(self.size,) + shape,
                                     in_shape=shape)
        return values

    def process(self, op: Any, args: tuple, params: dict) -> Batched | tuple:
        if self.numpy and op.kind in PROMOTING_KINDS:
            args = numpy_operands(args)
        values, batched = self._unwrap_args(args)
        values = self._line_up(values, batched, op.broadcasts)
        out = bind(op, *values, **params)
        check_real(op, out, values)
        if op.outputs != 1:
            return tuple(make_batched(o, self) for o in out)
        result = make_batched(out, self)
        if op.view:
            views.link(result, args[0], op, params)
        return result

    def nondiff(self, fn: Any, args: tuple, kwargs: dict) -> Batched:
        values, batched = self._unwrap_args(args)
        values = self._line_up(values, batched, getattr(fn, "elementwise", True))
        return make_batched(fn(*values, **kwargs), self)

    def constant(self, value: Any) -> Batched:  # pragma: no cover - results always carry a batch
        shape = shape_of(value)
        return make_batched(bind(_BROADCAST, value, shape=(self.size,) + shape, in_shape=shape),
                            self)


def _is_array(v: Any) -> bool:
    return type(v) in value_types or isinstance(v, np.ndarray)


class Batched(ArrayMethods):
    """The values of one example inside a vmapped function: ``shape`` is one example's shape,
    ``value`` holds every example (the batch on its first axis)."""

    __slots__ = ("value", "_level", "_link", "_box", "__weakref__")
    value: Any
    _level: BatchLevel
    _link: views.Link | None
    _box: list | None

    @property
    def shape(self) -> tuple:
        return shape_of(self.value)[1:]

    def _unwrap(self) -> Any:
        return self.value

    def _traced(self) -> bool:
        return True  # one example's number does not exist: each example has its own

    def _snapshot(self) -> Batched:
        """This value as it is now (an in-place op rebinds this one, never the snapshot)."""
        return make_batched(self.value, self._level)

    def _assign(self, other: Batched) -> None:
        self.value = other.value

    def _inplace(self, op: Any, args: tuple, params: dict) -> Batched:
        return views.rebind_in_place(self, op, args, params, "vmap")

    def __bool__(self) -> bool:
        raise TypeError("vmap: the truth value of a batched value differs from example to "
                        "example; use where(cond, a, b) instead of `if` inside a vmapped function")

    def __repr__(self) -> str:
        return (f"Batched(shape={self.shape}, batch={self._level.size}, "
                f"dtype={np.result_type(raw(self))})")


def make_batched(value: Any, level: BatchLevel) -> Batched:
    b = Batched.__new__(Batched)
    b.value = value
    b._level = level
    b._link = None
    b._box = None
    return b


def _move(value: Any, source: int, target: int) -> Any:
    """``value`` with its axis ``source`` moved to position ``target`` (an op: differentiable)."""
    ndim = len(shape_of(value))
    source, target = source % ndim, target % ndim
    if source == target:
        return value
    axes = [a for a in range(ndim) if a != source]
    axes.insert(target, source)
    return bind(_TRANSPOSE, value, axes=tuple(axes))


def _axes_per_leaf(axes: Any, tree: Any, where: str) -> list:
    """One in_axes/out_axes entry per leaf of ``tree``: an int or None applies to every leaf; a
    tree of them must match ``tree``'s structure."""
    leaves, spec = flatten(tree)
    if axes is None or isinstance(axes, int):
        axis_leaves = [axes] * len(leaves)
    else:
        axis_leaves, axis_spec = flatten(axes, leaf_none=True)
        if axis_spec != spec:
            raise ValueError(f"vmap: {where} has the structure {axes!r}, which does not match the "
                             f"structure of the values it describes")
    for axis in axis_leaves:
        if axis is not None and (isinstance(axis, (bool, np.bool_))
                                 or not isinstance(axis, (int, np.integer))):
            raise TypeError(f"vmap: {where} holds {axis!r} ({type(axis).__name__}); an axis is "
                            f"an int (0 for the first), or None for a value that is not mapped")
    return [None if axis is None else int(axis) for axis in axis_leaves]


def vmap(f: Callable[..., Any], in_axes: Any = 0, out_axes: Any = 0) -> Callable[..., Any]:
    """The function that applies ``f`` to every example of a batch at once.

    ``in_axes`` gives, per argument, the axis that holds the batch (None: the argument is the same
    for every example); an int applies to all arguments, a tuple holds one entry per argument (or a
    tree of entries for an argument that is a tuple, list or dict). ``out_axes`` says where the
    batch axis goes in the outputs. Arguments may be arrays, numbers and tensors, or tuples, lists
    and dicts of them.

    >>> vmap(lambda x: x @ x)(np.arange(6.0).reshape(3, 2))  # a dot product per row
    array([ 1., 13., 41.])
    """
    def batched(*args: Any, **kwargs: Any) -> Any:
        if isinstance(in_axes, (list, tuple)):
            if len(in_axes) != len(args):
                raise ValueError(f"vmap: in_axes has {len(in_axes)} entries but the function was "
                                 f"called with {len(args)} positional arguments")
            per_arg = list(in_axes)
        else:
            per_arg = [in_axes] * len(args)
        plan = []  # per argument: (leaves, spec, axis per leaf)
        size = None
        for n, (arg, axes) in enumerate(zip(args, per_arg)):
            leaves, spec = flatten(arg)
            leaf_axes = _axes_per_leaf(axes, arg, f"in_axes[{n}]")
            for path, leaf, axis in zip(leaf_paths(arg), leaves, leaf_axes):
                if axis is None:
                    continue
                shape = shape_of(leaf) if _is_array(leaf) else ()
                if not shape:
                    raise ValueError(f"vmap: argument {n}{path} has no axis {axis} to map over "
                                     f"(shape {shape}); give it in_axes None")
                if not -len(shape) <= axis < len(shape):
                    raise ValueError(f"vmap: in_axes {axis} for argument {n}{path} of shape "
                                     f"{shape}: it has {len(shape)} axes (0 to {len(shape) - 1}, "
                                     f"or -1 to {-len(shape)}); give one of those, or None to "
                                     f"pass it unmapped")
                if size is None:
                    size = shape[axis]
                elif shape[axis] != size:
                    raise ValueError(f"vmap: argument {n}{path} has {shape[axis]} examples along "
                                     f"axis {axis}, but another argument has {size}; every mapped "
                                     f"axis must have the same length")
            plan.append((leaves, spec, leaf_axes))
        if size is None:
            raise ValueError("vmap: no argument is mapped (every in_axes entry is None); map at "
                             "least one axis")
        with new_level(lambda depth: BatchLevel(depth, size)) as level:
            level.numpy = speaks_numpy(leaf for leaves, _, _ in plan for leaf in leaves)
            inner = []
            for leaves, spec, leaf_axes in plan:
                wrapped = [leaf if axis is None else
                           make_batched(_move(_as_array(leaf), axis, 0), level)
                           for leaf, axis in zip(leaves, leaf_axes)]
                inner.append(unflatten(spec, wrapped))
            result = f(*inner, **kwargs)
            out_leaves, out_spec = flatten(result)
            out = [_unbatch(leaf, axis, level)
                   for leaf, axis in zip(out_leaves, _axes_per_leaf(out_axes, result, "out_axes"))]
        return unflatten(out_spec, out)

    batched.__name__ = f"vmap({getattr(f, '__name__', 'f')})"
    batched.__doc__ = f.__doc__
    return batched


def _as_array(leaf: Any) -> Any:
    return leaf if type(leaf) in value_types else np.asarray(leaf)


def _unbatch(leaf: Any, axis: int | None, level: BatchLevel) -> Any:
    """An output of the vmapped function, with the batch axis moved to ``axis``."""
    if type(leaf) in value_types and leaf._level is level:
        if axis is None:
            raise ValueError("vmap: out_axes is None for an output that differs from example to "
                             "example; give it an axis")
        if leaf._link is not None:
            views.fresh(leaf)  # a view whose base changed since it was made
        ndim = len(shape_of(leaf.value))
        if not -ndim <= axis < ndim:
            raise ValueError(f"vmap: out_axes {axis} for an output of {ndim - 1} axes per example: "
                             f"the batched output has {ndim} axes (0 to {ndim - 1}, or -1 to "
                             f"{-ndim}); give one of those")
        return _move(leaf.value, 0, axis)
    if axis is None:
        return leaf
    value = _as_array(leaf)  # the same for every example: repeated along the batch axis
    shape = shape_of(value)
    if not -len(shape) - 1 <= axis <= len(shape):
        raise ValueError(f"vmap: out_axes {axis} for an output of {len(shape)} axes per example: "
                         f"the batched output has {len(shape) + 1} axes (0 to {len(shape)}, or -1 "
                         f"to {-len(shape) - 1}); give one of those")
    return _move(bind(_BROADCAST, value, shape=(level.size,) + shape, in_shape=shape), 0, axis)
