"""The reverse-mode Tensor: numpy data, a gradient, and the node of the tape that made it.

The class holds what a user sees: construction, the gradient, ``backward`` and the in-place
methods. Recording lives in reverse/tape.py, in-place operations, views and versions in
reverse/versions.py, the graph and the backward pass in reverse/graph.py.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from adcore import ops
from adcore.levels import (
    EAGER_TAPE_DEPTH,
    FIRST_TRANSFORM_DEPTH,
    raw,
    top_level,
    value_types,
)
from adcore.methods import ArrayMethods
from adcore.shapes import dtype_of, refuse_tensors_in, shape_of
from reverse import graph
from reverse.hooks import Hooks, RemovableHandle, RetainedGrad, hooks_of, use_eager
from reverse.modes import enable_grad, mode
from reverse.random import resolve
from reverse.tape import TapeLevel, make_tensor, rebuild
from reverse.versions import (
    View,
    changed,
    fresh,
    inplace_name,
    record_inplace,
    root_of,
    write_inplace,
)

DEFAULT_DTYPE = np.float32
_ndarray = np.ndarray


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
                 "_hooks", "__weakref__")

    def __init__(self, data: Any, requires_grad: bool = False, dtype: Any = None) -> None:
        self.data = _to_array(data, dtype)
        if requires_grad and self.data.dtype.kind != "f":
            raise TypeError(f"Tensor: only floating-point tensors can require gradients, got dtype "
                            f"{self.data.dtype}; pass dtype=np.float32 (or float64)")
        self._grad: Tensor | None = None
        self._node: graph.Node | None = None
        self._level: TapeLevel = EAGER
        self._requires_grad = bool(requires_grad)
        self._count = 0
        self._view: View | None = None
        self._hooks: Hooks | None = None  # a leaf's register_hook functions

    @classmethod
    def from_numpy(cls, array: np.ndarray, requires_grad: bool = False) -> Tensor:
        """A tensor that shares ``array``'s memory (torch.from_numpy): changes to either show in
        the other, and the dtype is kept as it is. Changes made through the ndarray are not seen by
        the version counter."""
        if not isinstance(array, np.ndarray):
            raise TypeError(f"Tensor.from_numpy: expected a numpy ndarray, got "
                            f"{type(array).__name__}; use Tensor(data) to copy other data")
        t = make_tensor(array, None, EAGER, cls)
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
        return root_of(self)._count

    @property
    def is_leaf(self) -> bool:
        """True for tensors made by hand (or by detach), False for results of recorded ops."""
        return self._node is None

    @property
    def grad_fn(self) -> graph.Node | None:
        """The recorded op that made this tensor (None for leaves)."""
        fresh(self)
        return self._node

    @property
    def strides(self) -> tuple:
        """Bytes to step in each axis of ``data`` (numpy's strides)."""
        return raw(self).strides

    def retain_grad(self) -> None:
        """Keep this non-leaf tensor's gradient in ``.grad`` after backward (leaves always do)."""
        fresh(self)
        node = self._node
        if node is not None:
            hooks_of(node).retained = RetainedGrad(self)

    @property
    def retains_grad(self) -> bool:
        node = self._node
        hooks = node.hook if node is not None else None
        return hooks is not None and hooks.retained is not None and hooks.retained.holds(self)

    def register_hook(self, hook: Callable[[Tensor], Tensor | None]) -> RemovableHandle:
        """Call ``hook(grad)`` when the gradient with respect to this tensor is computed during
        backward; a tensor it returns (of the gradient's shape and dtype) replaces the gradient
        from there on, None keeps it (torch.Tensor.register_hook). On a leaf the hook runs before
        the gradient is accumulated into ``.grad``; on a non-leaf before the gradient flows on to
        the tensor's inputs. Hooks run in the order registered. The gradient a hook is given is
        read-only (the backward pass may still use it): return a new tensor rather than change
        it in place. Returns a handle whose ``remove()`` takes the hook away.

        >>> x = Tensor([1.0, 2.0], requires_grad=True)
        >>> handle = x.register_hook(lambda g: g * 2)
        >>> (x * x).sum().backward()
        >>> x.grad
        Tensor([4., 8.])
        >>> handle.remove()
        """
        if not callable(hook):
            raise TypeError(f"register_hook: the hook must be callable (a function of the "
                            f"gradient), got {type(hook).__name__}")
        fresh(self)
        if not self.requires_grad:
            raise RuntimeError("register_hook: cannot register a hook on a tensor that does not "
                               "require grad (no gradient is computed for it); call "
                               "requires_grad_() on the leaf first, or register the hook on a "
                               "result of ops on tensors that require grad")
        owner: Any = self if self._node is None else self._node
        return hooks_of(owner).add(hook)

    # --- random fills -------------------------------------------------------------------------
    def normal_(self, mean: float = 0.0, std: float = 1.0, *,
                generator: np.random.Generator | None = None) -> Tensor:
        """Fill with samples of N(mean, std ** 2), in place (torch.Tensor.normal_), drawn from
        ``generator`` or the default generator (``reverse.manual_seed`` seeds it)."""
        self._random_fill("normal_")
        if not std >= 0:
            raise ValueError(f"normal_: std must be >= 0, got std={std}")
        gen = resolve(generator, "normal_")
        return self.copy_(gen.normal(mean, std, self.shape))

    def uniform_(self, from_: float = 0.0, to: float = 1.0, *,
                 generator: np.random.Generator | None = None) -> Tensor:
        """Fill with samples of the uniform distribution on [from_, to), in place
        (torch.Tensor.uniform_), drawn from ``generator`` or the default generator."""
        self._random_fill("uniform_")
        if not from_ <= to:
            raise ValueError(f"uniform_: expects from_ <= to, got from_={from_} > to={to}")
        gen = resolve(generator, "uniform_")
        return self.copy_(gen.uniform(from_, to, self.shape))

    def _random_fill(self, name: str) -> None:
        dtype = dtype_of(raw(self))
        if dtype.kind != "f":
            raise TypeError(f"{name}: fills floating-point tensors only, this one has dtype "
                            f"{dtype}; convert it first (x = x.float())")
        if self._node is None and self._requires_grad and self._level.depth > mode.floor:
            raise RuntimeError(f"{name}: this tensor is a leaf that requires grad; filling it in "
                               f"place would change the value that gradients are taken with "
                               f"respect to. Fill it under `with no_grad():` (as nn.init does)")

    def detach(self) -> Tensor:
        """The same data, cut off from the graph (a leaf that does not require grad). It shares
        memory and the version counter with this tensor, as in PyTorch."""
        t = make_tensor(self.data, None, self._level)
        t._view = View(root_of(self), None, None, {})
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
                f"{inplace_name(op)}: the value written depends on a value that an inner "
                f"transformation (grad, jvp, ...) is differentiating, so this tensor of an outer "
                f"level cannot hold it without losing that derivative; use the out-of-place form")
        recording = level.depth > mode.floor and (self.requires_grad or any(
            type(a) in value_types and a._level is level and a.requires_grad for a in args))
        if recording or type(self.data) is not _ndarray:
            record_inplace(self, op, args, params, recording)
        else:
            write_inplace(self, op, args, params)
            changed(self)
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
        fresh(self)
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
                try:
                    given = np.asarray(gradient)
                except (TypeError, ValueError):  # a ragged list
                    given = np.asarray(None)
                if given.dtype.kind not in "biuf":
                    shown = repr(gradient)
                    shown = shown if len(shown) <= 60 else shown[:57] + "..."
                    raise TypeError(f"backward: gradient must be a tensor or array of real "
                                    f"numbers of the output's shape {shape}, got {shown} "
                                    f"({type(gradient).__name__}); e.g. "
                                    f"y.backward(gradient=np.ones({shape}))")
                gradient = given.astype(raw(self).dtype)
            if shape_of(gradient) != shape:
                raise ValueError(f"backward: gradient has shape {shape_of(gradient)} but the "
                                 f"output has shape {shape}; they must match")
        retain = create_graph if retain_graph is None else retain_graph
        key = self._node if self._node is not None else self
        if create_graph:
            level = self._level
            with enable_grad():
                cts = graph.backward([(key, gradient)], retain_graph=retain,
                                     rebuild=lambda k, value, root: rebuild(k, value, level, root),
                                     trace=_trace)
        else:
            cts = graph.backward([(key, gradient)], retain_graph=retain, trace=_trace)
        for leaf, ct in cts.sums.items():
            leaf._accumulate(ct, cts.owns(leaf))

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
            owned = owned or converted is not ct  # a converted cotangent is a new array
            ct = converted
        if type(ct) in value_types:  # create_graph: the gradient keeps its history
            if grad is None:  # its own copy: never the caller's gradient= tensor, never shared
                self._grad = ops.clone(ct)
            else:
                self._grad = grad + ct
            return
        if grad is None:
            if owned and type(ct) is _ndarray and ct.shape == leaf.shape and ct.flags.c_contiguous:
                self._grad = make_tensor(ct, None, self._level)  # the pass's own buffer: no copy
                return
            data = np.array(ct, dtype=leaf.dtype, order="C", copy=True)
            if data.shape != leaf.shape:
                data = np.array(np.broadcast_to(data, leaf.shape), order="C")
            self._grad = make_tensor(data, None, self._level)
        elif grad._node is None and type(grad.data) is _ndarray and grad.data.flags.writeable:
            np.add(grad.data, ct, out=grad.data)
            changed(grad)
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


# The eager tape: the level of the tensors a user builds.
EAGER = TapeLevel(EAGER_TAPE_DEPTH, Tensor)
use_eager(EAGER)  # hooks get plain cotangents as its tensors (reverse.hooks imports no Tensor)


def tape_level(depth: int) -> TapeLevel:
    """A tape level that makes Tensors (what a reverse-mode transformation opens)."""
    return TapeLevel(depth, Tensor)


def like_leaf(ct: Any, data: Any) -> Any:
    """A cotangent in the dtype of the leaf it belongs to: a float32 input keeps float32 gradients
    even when float64 constants took part (the cast is an op, so it is differentiable too)."""
    dtype = dtype_of(raw(data))
    if dtype_of(raw(ct)) != dtype:
        ct = ops.astype(ct, dtype)
    return np.asarray(ct) if isinstance(ct, np.generic) else ct


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
