"""The reverse-mode Tensor: numpy data, a gradient, and the node of the tape that made it."""
from __future__ import annotations

from typing import Any

import numpy as np

from adcore import ops
from adcore.levels import EAGER_TAPE_DEPTH, Level, bind, raw, register_value_type
from adcore.methods import ArrayMethods
from adcore.shapes import shape_of
from reverse import graph
from reverse.modes import enable_grad, mode

DEFAULT_DTYPE = np.float32


class TapeLevel(Level):
    """Reverse mode at one level: ops on this level's tensors that need gradients are recorded."""

    __slots__ = ()

    def process(self, op: Any, args: tuple, params: dict) -> "Tensor":
        primals = []
        parents = []
        needs = []
        record = False
        for a in args:
            if type(a) is Tensor and a._level is self:
                primals.append(a.data)
                key = a._node
                if key is None and a._requires_grad:
                    key = a
                parents.append(key)
                needs.append(key is not None)
                record = record or key is not None
            else:
                if isinstance(a, np.floating):
                    a = float(a)  # a numpy scalar is a number: float32 tensors stay float32
                primals.append(a)
                parents.append(None)
                needs.append(False)
        if self is EAGER:  # nothing lives below the eager tape: the primals are plain values
            try:
                out = op.impl(*primals, **params)
            except (ValueError, IndexError, TypeError) as exc:
                raise op.error(exc, tuple(primals), params) from exc
            if type(out) is not np.ndarray:
                out = np.asarray(out)  # numpy returns scalars for 0-d results; .data stays an array
        else:
            out = bind(op, *primals, **params)
        node = None
        if record and self.depth > mode.floor:
            # Tuples of plain values (primals, needs) drop out of the garbage collector's view.
            node = graph.Node(op, params, parents, tuple(primals), out, tuple(needs))
        return _make(out, node, self)


# Tensors made by hand live on the eager tape, below every transformation's level.
EAGER = TapeLevel(EAGER_TAPE_DEPTH)


@register_value_type
class Tensor(ArrayMethods):
    """An n-dimensional array that records the ops applied to it, for reverse-mode differentiation.

    ``data`` is a numpy array. Python numbers and lists, and integer or boolean arrays, become
    float32 (the default dtype, as in PyTorch); floating numpy arrays keep their dtype; ``dtype=``
    converts explicitly.

    >>> x = Tensor([[1, 2], [3, 4]], requires_grad=True)
    >>> y = Tensor([[5, 6], [7, 8]], requires_grad=True)
    >>> (x @ y).sum().backward()
    >>> x.grad
    Tensor([[11., 15.],
            [11., 15.]])
    """

    __slots__ = ("data", "grad", "_node", "_level", "_requires_grad")

    def __init__(self, data: Any, requires_grad: bool = False, dtype: Any = None) -> None:
        self.data = _to_array(data, dtype)
        if requires_grad and self.data.dtype.kind != "f":
            raise TypeError(f"Tensor: only floating-point tensors can require gradients, got dtype "
                            f"{self.data.dtype}; pass dtype=np.float32 (or float64)")
        self.grad: Tensor | None = None
        self._node: graph.Node | None = None
        self._level: Level = EAGER
        self._requires_grad = bool(requires_grad)

    def _unwrap(self) -> Any:
        return self.data

    def _constant(self, value: Any) -> "Tensor":
        return _make(np.asarray(value), None, self._level)

    # --- autograd state -----------------------------------------------------------------------
    @property
    def requires_grad(self) -> bool:
        return self._node is not None or self._requires_grad

    @requires_grad.setter
    def requires_grad(self, flag: bool) -> None:
        self.requires_grad_(flag)

    def requires_grad_(self, flag: bool = True) -> "Tensor":
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
    def is_leaf(self) -> bool:
        """True for tensors made by hand (or by detach), False for results of recorded ops."""
        return self._node is None

    @property
    def grad_fn(self) -> graph.Node | None:
        """The recorded op that made this tensor (None for leaves)."""
        return self._node

    @property
    def strides(self) -> tuple:
        """Bytes to step in each axis of ``data`` (numpy's strides)."""
        return raw(self).strides

    def detach(self) -> "Tensor":
        """The same data, cut off from the graph (a leaf that does not require grad)."""
        return _make(self.data, None, self._level)

    def numpy(self) -> np.ndarray:
        """The data as a numpy array (shared, not copied)."""
        return np.asarray(raw(self))

    def __setitem__(self, index: Any, value: Any) -> None:
        raise TypeError("Tensor: item assignment is not supported (it would change values that "
                        "recorded ops depend on); build a new tensor with where(), concatenate() "
                        "or scatter_add(), or write into .data of a tensor outside any graph")

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        return np.asarray(raw(self), dtype=dtype)

    def __repr__(self) -> str:
        extra = ""
        if self._node is not None:
            extra = f", grad_fn={self._node!r}"
        elif self._requires_grad:
            extra = ", requires_grad=True"
        value = raw(self)
        if isinstance(value, np.ndarray) or isinstance(value, np.generic):
            body = np.array2string(np.asarray(value), separator=", ", prefix="Tensor(")
        else:
            body = repr(value)
        if self._level is not EAGER:
            extra += f", level={self._level.depth}"
        return f"Tensor({body}{extra})"

    # --- backward -----------------------------------------------------------------------------
    def backward(self, gradient: Any = None, retain_graph: bool | None = None,
                 create_graph: bool = False) -> None:
        """Accumulate d self / d leaf into ``leaf.grad`` for every leaf that requires grad.

        ``gradient`` (same shape as self) weights the outputs; it may be left out for a tensor
        with one element. The graph is freed afterwards unless ``retain_graph`` (which defaults to
        ``create_graph``); with ``create_graph`` the backward pass is itself recorded, so that the
        gradients can be differentiated again.
        """
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
            if type(gradient) is Tensor and not create_graph:
                gradient = gradient.data
            elif type(gradient) is not Tensor:
                gradient = np.asarray(gradient, dtype=raw(self).dtype)
            if shape_of(gradient) != shape:
                raise ValueError(f"backward: gradient has shape {shape_of(gradient)} but the output "
                                 f"has shape {shape}; they must match")
        retain = create_graph if retain_graph is None else retain_graph
        key = self._node if self._node is not None else self
        if create_graph:
            level = self._level
            with enable_grad():
                cts = graph.backward([(key, gradient)], retain_graph=retain,
                                     rebuild=lambda k, value: _rebuild(k, value, level))
        else:
            cts = graph.backward([(key, gradient)], retain_graph=retain)
        for leaf, ct in cts.items():
            leaf._accumulate(ct)

    def _accumulate(self, ct: Any) -> None:
        ct = like_leaf(ct, self.data)
        if type(ct) is not Tensor:
            ct = _make(ct, None, self._level)
        self.grad = ct if self.grad is None else self.grad + ct


def like_leaf(ct: Any, data: Any) -> Any:
    """A cotangent in the dtype of the leaf it belongs to: a float32 input keeps float32 gradients
    even when float64 constants took part (the cast is an op, so it is differentiable too)."""
    dtype = np.result_type(raw(data))
    if np.result_type(raw(ct)) != dtype:
        ct = ops.astype(ct, dtype)
    return np.asarray(ct) if isinstance(ct, np.generic) else ct


_new = object.__new__


def _make(data: Any, node: graph.Node | None, level: Level) -> Tensor:
    """A tensor without the constructor's checks (the engine's fast path)."""
    t = _new(Tensor)
    t.data = data
    t.grad = None
    t._node = node
    t._level = level
    t._requires_grad = False
    return t


def leaf(data: Any, level: Level) -> Tensor:
    """A leaf that requires grad at ``level`` (the inputs of a functional transformation)."""
    t = _make(data, None, level)
    t._requires_grad = True
    return t


def _rebuild(key: Any, value: Any, level: Level) -> Any:
    """The engine value a rule sees under create_graph: gradients flow into ``key``."""
    if key is None or type(key) is Tensor:
        return value if key is None else key
    return _make(value, key, level)


def _to_array(data: Any, dtype: Any) -> np.ndarray:
    if type(data) is Tensor:
        data = raw(data)
    python_data = not isinstance(data, (np.ndarray, np.generic))
    try:
        arr = np.asarray(data)
    except ValueError as exc:
        raise ValueError(f"Tensor: cannot make an array from this data ({exc}); nested lists must "
                         f"be rectangular") from exc
    if dtype is not None:
        target = np.dtype(dtype)
        if target.kind not in "biuf":
            raise TypeError(f"Tensor: dtype {target} is not supported; use a real numeric dtype "
                            f"such as np.float32")
        if arr.dtype.kind not in "biuf":
            raise TypeError(f"Tensor: data of dtype {arr.dtype} cannot become {target}; pass numbers")
        return arr.astype(target, copy=False)
    kind = arr.dtype.kind
    if kind == "f":
        return arr.astype(DEFAULT_DTYPE) if python_data else arr
    if kind in "biu":
        return arr.astype(DEFAULT_DTYPE)
    if kind == "c":
        raise TypeError("Tensor: complex numbers are not supported; pass real numbers")
    raise TypeError(f"Tensor: data of dtype {arr.dtype} is not numeric ({type(data).__name__}); "
                    f"pass numbers, (nested) lists of numbers or a numeric ndarray")
