"""Operators and methods shared by the engines' value types (``Dual``, ``Tensor``).

Every method calls an op function of ``adcore.ops``; the op's level dispatch does the rest, so both
engines get one identical, PyTorch-like surface. Comparisons are not differentiable: they return what
the engine's ``_constant`` makes of a plain boolean array.
"""
from __future__ import annotations

from typing import Any, Iterator, Sequence

from adcore import ops
from adcore.levels import raw
from adcore.shapes import shape_of


def _shape_args(shape: tuple) -> tuple:
    """Accept both f(2, 3) and f((2, 3))."""
    if len(shape) == 1 and not isinstance(shape[0], int):
        return tuple(shape[0])
    return shape


class ArrayMethods:
    """Mixin: arithmetic operators, comparisons, indexing and one method per registry op."""

    __slots__ = ()
    __array_ufunc__ = None  # numpy arrays on the left defer to our reflected operators

    def _unwrap(self) -> Any:  # pragma: no cover - every engine value defines it
        raise NotImplementedError

    def _constant(self, value: Any) -> Any:
        """How the engine wraps a non-differentiable result (a comparison)."""
        return value

    # --- arithmetic (the op functions themselves serve as methods: x * y is ops.mul(x, y)) ------
    __add__ = ops.add

    def __radd__(self, other: Any) -> Any:
        return ops.add(other, self)

    __sub__ = ops.sub

    def __rsub__(self, other: Any) -> Any:
        return ops.sub(other, self)

    __mul__ = ops.mul

    def __rmul__(self, other: Any) -> Any:
        return ops.mul(other, self)

    __truediv__ = ops.div

    def __rtruediv__(self, other: Any) -> Any:
        return ops.div(other, self)

    __pow__ = ops.pow

    def __rpow__(self, other: Any) -> Any:
        return ops.pow(other, self)

    __matmul__ = ops.matmul

    def __rmatmul__(self, other: Any) -> Any:
        return ops.matmul(other, self)

    __neg__ = ops.neg

    def __pos__(self) -> Any:
        return self

    def __abs__(self) -> Any:
        return ops.abs(self)

    def __getitem__(self, index: Any) -> Any:
        return ops.getitem(self, index)

    # --- comparisons (not differentiable) ------------------------------------------------------
    def __lt__(self, other: Any) -> Any:
        return self._constant(ops.less(self, other))

    def __le__(self, other: Any) -> Any:
        return self._constant(ops.less_equal(self, other))

    def __gt__(self, other: Any) -> Any:
        return self._constant(ops.greater(self, other))

    def __ge__(self, other: Any) -> Any:
        return self._constant(ops.greater_equal(self, other))

    def __eq__(self, other: Any) -> Any:  # type: ignore[override]
        return self._constant(ops.equal(self, other))

    def __ne__(self, other: Any) -> Any:  # type: ignore[override]
        return self._constant(ops.not_equal(self, other))

    __hash__ = object.__hash__  # hashable by identity, as torch.Tensor

    # --- Python protocol ----------------------------------------------------------------------
    @property
    def shape(self) -> tuple:
        return shape_of(self._unwrap())

    @property
    def ndim(self) -> int:
        return len(self.shape)

    def numel(self) -> int:
        """The number of elements."""
        n = 1
        for s in self.shape:
            n *= s
        return n

    @property
    def dtype(self) -> Any:
        value = raw(self)
        return getattr(value, "dtype", type(value))

    def __len__(self) -> int:
        if not self.shape:
            raise TypeError(f"len() of a 0-d {type(self).__name__}")
        return self.shape[0]

    def __iter__(self) -> Iterator[Any]:
        for i in range(len(self)):
            yield self[i]

    def __bool__(self) -> bool:
        return bool(raw(self))

    def __float__(self) -> float:
        return float(raw(self))

    def __int__(self) -> int:
        return int(raw(self))

    def item(self) -> float:
        """The value of a one-element array as a Python number."""
        value = raw(self)
        return value.item() if hasattr(value, "item") else value

    # --- one method per op (x.exp() is ops.exp(x)) ---------------------------------------------
    add = ops.add
    sub = ops.sub
    mul = ops.mul
    div = ops.div
    neg = ops.neg
    exp = ops.exp

    log = ops.log

    sqrt = ops.sqrt

    sin = ops.sin

    cos = ops.cos

    tanh = ops.tanh

    sigmoid = ops.sigmoid

    relu = ops.relu

    abs = ops.abs

    def pow(self, exponent: Any) -> Any:
        return ops.pow(self, exponent)

    def maximum(self, other: Any) -> Any:
        return ops.maximum(self, other)

    def minimum(self, other: Any) -> Any:
        return ops.minimum(self, other)

    def clip(self, min: float | None = None, max: float | None = None) -> Any:
        return ops.clip(self, min, max)

    clamp = clip

    def astype(self, dtype: Any) -> Any:
        """Converted to another floating dtype (gradients are converted back)."""
        return ops.astype(self, dtype)

    def float(self) -> Any:
        """Converted to float32."""
        return ops.astype(self, "float32")

    def double(self) -> Any:
        """Converted to float64."""
        return ops.astype(self, "float64")

    def matmul(self, other: Any) -> Any:
        return ops.matmul(self, other)

    def where(self, cond: Any, other: Any) -> Any:
        """self where cond is true, else other (torch.Tensor.where)."""
        return ops.where(cond, self, other)

    def sum(self, axis: Any = None, keepdims: bool = False) -> Any:
        return ops.sum(self, axis, keepdims)

    def mean(self, axis: Any = None, keepdims: bool = False) -> Any:
        return ops.mean(self, axis, keepdims)

    def max(self, axis: Any = None, keepdims: bool = False) -> Any:
        return ops.max(self, axis, keepdims)

    def min(self, axis: Any = None, keepdims: bool = False) -> Any:
        return ops.min(self, axis, keepdims)

    def logsumexp(self, axis: Any = None, keepdims: bool = False) -> Any:
        return ops.logsumexp(self, axis, keepdims)

    def softmax(self, axis: int = -1) -> Any:
        return ops.softmax(self, axis)

    def log_softmax(self, axis: int = -1) -> Any:
        return ops.log_softmax(self, axis)

    def reshape(self, *shape: Any) -> Any:
        """x.reshape(2, 3) or x.reshape((2, 3)); one size may be -1."""
        return ops.reshape(self, _shape_args(shape))

    view = reshape

    def flatten(self) -> Any:
        return ops.flatten(self)

    def squeeze(self, axis: int | Sequence[int] | None = None) -> Any:
        return ops.squeeze(self, axis)

    def unsqueeze(self, axis: int) -> Any:
        return ops.expand_dims(self, axis)

    expand_dims = unsqueeze

    def broadcast_to(self, *shape: Any) -> Any:
        return ops.broadcast_to(self, _shape_args(shape))

    def expand(self, *sizes: Any) -> Any:
        """Broadcast to ``sizes`` (torch.Tensor.expand): -1 keeps the size of that axis."""
        sizes = _shape_args(sizes)
        shape = self.shape
        lead = len(sizes) - len(shape)
        return ops.broadcast_to(self, tuple(shape[i - lead] if s == -1 and i >= lead else s
                                            for i, s in enumerate(sizes)))

    def sum_to(self, *shape: Any) -> Any:
        """Sum over the axes that broadcasting ``shape`` up to this shape would add."""
        return ops.sum_to(self, _shape_args(shape))

    def permute(self, *axes: Any) -> Any:
        """Reorder the axes: x.permute(2, 0, 1)."""
        return ops.transpose(self, _shape_args(axes))

    def transpose(self, axis0: int = -2, axis1: int = -1) -> Any:
        """Exchange two axes, as torch.Tensor.transpose (numpy's axes order is ``permute``)."""
        return ops.swapaxes(self, axis0, axis1)

    @property
    def T(self) -> Any:
        """All axes reversed."""
        return ops.transpose(self)

    @property
    def mT(self) -> Any:
        """The last two axes exchanged (a stack of matrices, each transposed)."""
        return ops.swapaxes(self, -1, -2)
