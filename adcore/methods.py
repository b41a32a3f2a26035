"""Operators, methods and NumPy protocols shared by the engines' value types (``Dual``, ``Tensor``).

Most of the surface is generated from the registry: each op (and each public function that is not an
op, such as ``squeeze`` or ``argmax``) names its methods, its Python operator, its in-place method
and the NumPy ufuncs or functions it answers to, and a listener installs them here when the op is
registered. What is written by hand below is what no single op describes: Python's protocols
(``len``, ``float``, ``format``), and methods whose PyTorch signature differs from the op's
(``x.reshape(2, 3)``, ``x.max(dim)`` returning values and indices, ``x.var()`` with PyTorch's
correction).

In-place methods (``add_``, ``x += y``, ``x[i] = v``) call the engine's ``_inplace``; each engine
defines what updating one of its values in place means.
"""
from __future__ import annotations

import functools
import itertools
from collections import namedtuple
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import numpy as np

from adcore import keywords, ops
from adcore.levels import FIRST_TRANSFORM_DEPTH, raw, register_value_type
from adcore.ops.compare import Constant, constant_like
from adcore.registry import registry, subscribe
from adcore.shapes import normalize_axis, shape_of

# Python's operators: the name an op declares -> (method, reflected method, in-place method).
OPERATORS: dict[str, tuple[str, str | None, str | None]] = {
    "add": ("__add__", "__radd__", "__iadd__"),
    "sub": ("__sub__", "__rsub__", "__isub__"),
    "mul": ("__mul__", "__rmul__", "__imul__"),
    "truediv": ("__truediv__", "__rtruediv__", "__itruediv__"),
    "pow": ("__pow__", "__rpow__", "__ipow__"),
    "matmul": ("__matmul__", "__rmatmul__", None),
    "floordiv": ("__floordiv__", "__rfloordiv__", None),
    "mod": ("__mod__", "__rmod__", None),
    "and": ("__and__", "__rand__", None),
    "or": ("__or__", "__ror__", None),
    "xor": ("__xor__", "__rxor__", None),
    "lt": ("__lt__", None, None), "le": ("__le__", None, None),
    "gt": ("__gt__", None, None), "ge": ("__ge__", None, None),
    "eq": ("__eq__", None, None), "ne": ("__ne__", None, None),
    "neg": ("__neg__", None, None), "abs": ("__abs__", None, None),
    "invert": ("__invert__", None, None),
}

MaxResult = namedtuple("MaxResult", ["values", "indices"])
MaxResult.__doc__ = "(values, indices) of x.max(dim) / x.min(dim), as torch.return_types.max."


# A conversion to an integer or boolean dtype: no derivative, the result a constant of the level.
_cast = Constant("cast", lambda x, *, dtype: np.asarray(x).astype(dtype), elementwise=True)


def cast(x: Any, dtype: Any) -> Any:
    """x converted to ``dtype`` without a derivative (``x.long()``, ``x.to(np.int64)``)."""
    return _cast(x, dtype=np.dtype(dtype))


def _shape_args(shape: tuple) -> tuple:
    """Accept both f(2, 3) and f((2, 3))."""
    if len(shape) == 1 and not isinstance(shape[0], (int, np.integer)):
        return tuple(shape[0])
    return shape


_Method = Callable[..., Any]


class ArrayMethods:
    """Mixin: Python protocols, PyTorch-style methods, and (installed from the registry) one method
    per op, the operators, in-place methods and NumPy's
    ``__array_ufunc__``/``__array_function__``."""

    __slots__ = ()

    # The methods installed from the registry's declarations, named for type checkers and editors.
    # Generated: ``write_type_checking_block()`` (below) rewrites this block from the run-time
    # class, and tests/test_tensor_api.py fails when the two differ in either direction.
    if TYPE_CHECKING:
        abs: _Method
        absolute: _Method
        acos: _Method
        acosh: _Method
        add: _Method
        all: _Method
        amax: _Method
        amin: _Method
        any: _Method
        arccos: _Method
        arccosh: _Method
        arcsin: _Method
        arcsinh: _Method
        arctan: _Method
        arctan2: _Method
        arctanh: _Method
        argmax: _Method
        argmin: _Method
        asin: _Method
        asinh: _Method
        astype: _Method
        atan: _Method
        atan2: _Method
        atanh: _Method
        bmm: _Method
        cbrt: _Method
        ceil: _Method
        cholesky: _Method
        chunk: _Method
        clamp: _Method
        clamp_: _Method
        clip: _Method
        clip_: _Method
        clone: _Method
        conj: _Method
        conjugate: _Method
        copy: _Method
        copysign: _Method
        cos: _Method
        cosh: _Method
        cumprod: _Method
        cumsum: _Method
        deg2rad: _Method
        det: _Method
        diag: _Method
        diagonal: _Method
        diff: _Method
        div: _Method
        div_: _Method
        divide: _Method
        dot: _Method
        erf: _Method
        erfc: _Method
        exp: _Method
        exp2: _Method
        expand_dims: _Method
        expm1: _Method
        flatten: _Method
        fliplr: _Method
        flipud: _Method
        float_power: _Method
        floor: _Method
        fmax: _Method
        fmin: _Method
        fmod: _Method
        gather: _Method
        hypot: _Method
        inner: _Method
        inverse: _Method
        isfinite: _Method
        isinf: _Method
        isnan: _Method
        kron: _Method
        ldexp: _Method
        log: _Method
        log10: _Method
        log1p: _Method
        log2: _Method
        log_softmax: _Method
        logaddexp: _Method
        logaddexp2: _Method
        logical_and: _Method
        logical_not: _Method
        logical_or: _Method
        logical_xor: _Method
        logit: _Method
        logsumexp: _Method
        masked_fill: _Method
        masked_fill_: _Method
        matmul: _Method
        matrix_power: _Method
        max: _Method
        maximum: _Method
        mean: _Method
        min: _Method
        minimum: _Method
        mm: _Method
        moveaxis: _Method
        mul: _Method
        mul_: _Method
        multiply: _Method
        nan_to_num: _Method
        nanmean: _Method
        nansum: _Method
        neg: _Method
        negative: _Method
        outer: _Method
        pinverse: _Method
        positive: _Method
        pow: _Method
        pow_: _Method
        prod: _Method
        ptp: _Method
        quantile: _Method
        rad2deg: _Method
        ravel: _Method
        reciprocal: _Method
        relu: _Method
        repeat: _Method
        roll: _Method
        rot90: _Method
        round: _Method
        scatter: _Method
        scatter_add: _Method
        sigmoid: _Method
        sign: _Method
        sin: _Method
        sinc: _Method
        sinh: _Method
        size: Any
        slogdet: _Method
        softmax: _Method
        softplus: _Method
        sort: _Method
        split: _Method
        sqrt: _Method
        square: _Method
        squeeze: _Method
        std: _Method
        sub: _Method
        subtract: _Method
        sum: _Method
        swapaxes: _Method
        t: _Method
        tan: _Method
        tanh: _Method
        topk: _Method
        trace: _Method
        transpose: _Method
        tril: _Method
        triu: _Method
        true_divide: _Method
        trunc: _Method
        unsqueeze: _Method
        var: _Method
        view: _Method

    def _unwrap(self) -> Any:  # pragma: no cover - every engine value defines it
        raise NotImplementedError

    def _inplace(self, op: Any, args: tuple, params: dict) -> Any:  # pragma: no cover
        raise NotImplementedError

    def _traced(self) -> bool:  # pragma: no cover - every engine value defines it
        """Whether this value carries a derivative of a transformation (grad, jvp, ...)."""
        raise NotImplementedError

    def _snapshot(self) -> Any:
        """A value that later in-place ops on this one leave unchanged, for a recorded node to
        keep (values whose in-place ops rebind them return a shallow copy; tensors, checked by
        version instead, return themselves)."""
        return self

    def __init_subclass__(cls, **kwargs: Any) -> None:
        # Every engine value class, and every subclass of one (a Parameter is a Tensor), is a value
        # type that bind dispatches on.
        super().__init_subclass__(**kwargs)
        register_value_type(cls)

    # --- Python protocol ----------------------------------------------------------------------
    def __pos__(self) -> Any:
        return self

    def __getitem__(self, index: Any) -> Any:
        return ops.getitem(self, index)

    def __setitem__(self, index: Any, value: Any) -> None:
        self._inplace(registry["setitem"], (index, value), {})

    __hash__ = object.__hash__  # hashable by identity, as torch.Tensor

    @property
    def shape(self) -> tuple:
        return shape_of(self._unwrap())

    @property
    def ndim(self) -> int:
        return len(self.shape)

    def dim(self) -> int:
        """The number of axes (torch.Tensor.dim)."""
        return len(self.shape)

    def numel(self) -> int:
        """The number of elements."""
        n = 1
        for s in self.shape:
            n *= s
        return n

    def element_size(self) -> int:
        """The size of one element in bytes (torch.Tensor.element_size, numpy's itemsize)."""
        return int(np.dtype(self.dtype).itemsize)

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

    def _number(self, kind: str) -> Any:
        """The plain number inside a one-element value; refused inside a transformation, where the
        number would silently drop the derivative."""
        if self._traced():
            raise TypeError(
                f"{kind}() of a {type(self).__name__} that is being differentiated by a "
                f"transformation (grad, jvp, jacrev, ...): the result would be a plain number and "
                f"the derivative would be lost. Keep computing with the value (adcore.ops.exp(x), "
                f"x.sum()), or take the number outside the transformed function")
        value = raw(self)
        if np.size(value) != 1:
            raise TypeError(f"{kind}(): only a {type(self).__name__} with one element converts to "
                            f"a Python number; this one has shape {shape_of(value)}")
        return value.item() if hasattr(value, "item") else value

    def __bool__(self) -> bool:
        return bool(raw(self))

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        if self._traced():
            raise TypeError(
                f"np.array(x) / np.asarray(x) of a {type(self).__name__} that is being "
                f"differentiated by a transformation (jvp, jacfwd, vmap, ...): the array would "
                f"silently drop the derivative (numpy calls such as np.array([x, y]) and np.r_ "
                f"convert their inputs this way). Combine values with np.stack or np.concatenate, "
                f"or compute on plain arrays outside the transformed function")
        return np.array(raw(self), dtype=dtype, copy=copy)

    def __float__(self) -> float:
        return float(self._number("float"))

    def __int__(self) -> int:
        return int(self._number("int"))

    def __index__(self) -> int:
        if np.dtype(self.dtype).kind not in "iub":
            raise TypeError(f"only integer {type(self).__name__}s can be used as an index, got "
                            f"dtype {self.dtype}")
        return int(self._number("index"))

    def __complex__(self) -> complex:
        return complex(self._number("complex"))

    def item(self) -> Any:
        """The value of a one-element array as a Python number (leaves the graph)."""
        return self._number("item")

    def tolist(self) -> Any:
        """The values as nested Python lists of numbers (leaves the graph)."""
        if self._traced():
            self._number("tolist")
        value = raw(self)
        return value.tolist() if hasattr(value, "tolist") else value

    def __format__(self, spec: str) -> str:
        if spec and np.size(raw(self)) == 1:
            return format(self.item(), spec)
        return format(repr(self), spec) if spec else repr(self)

    def __round__(self, ndigits: int | None = None) -> Any:
        return ops.round(self, ndigits or 0)

    # --- methods with PyTorch's signatures ----------------------------------------------------
    def where(self, cond: Any, other: Any) -> Any:
        """self where cond is true, else other (torch.Tensor.where)."""
        return ops.where(cond, self, other)

    def reshape(self, *shape: Any) -> Any:
        """x.reshape(2, 3) or x.reshape((2, 3)); one size may be -1."""
        return ops.reshape(self, _shape_args(shape))

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

    sum_to_size = sum_to

    def permute(self, *axes: Any) -> Any:
        """Reorder the axes: x.permute(2, 0, 1)."""
        return ops.transpose(self, _shape_args(axes))

    @property
    def T(self) -> Any:
        """All axes reversed."""
        return ops.transpose(self)

    @property
    def mT(self) -> Any:
        """The last two axes exchanged (a stack of matrices, each transposed)."""
        return ops.swapaxes(self, -1, -2)

    def norm(self, p: Any = 2, dim: Any = None, keepdim: bool = False) -> Any:
        """The p-norm over ``dim`` (all entries when None), as torch.Tensor.norm."""
        return ops.norm(self, p, dim, keepdim)

    def to(self, *args: Any, **kwargs: Any) -> Any:
        """Converted to ``dtype``, as torch's ``x.to(dtype)``: to a floating dtype gradients are
        converted back, to an integer or boolean one the result is a constant. A device is
        accepted when it is the CPU (``x.to('cpu')``), the only one this library computes on,
        and refused by name otherwise."""
        dtype, device = to_arguments(type(self).__name__ + ".to", args, kwargs)
        check_device(type(self).__name__ + ".to", device)
        if dtype is None:
            return self
        return ops.astype(self, dtype) if dtype.kind == "f" else cast(self, dtype)

    def cpu(self) -> Any:
        """Itself: the CPU is where every value already is."""
        return self

    def cuda(self, *args: Any, **kwargs: Any) -> Any:
        """Refused: this library computes with numpy, on the CPU."""
        check_device(type(self).__name__ + ".cuda", "cuda")

    def float(self) -> Any:
        """Converted to float32."""
        return ops.astype(self, "float32")

    def double(self) -> Any:
        """Converted to float64."""
        return ops.astype(self, "float64")

    def long(self) -> Any:
        """Converted to int64, a constant (the gradient stops here, as in PyTorch)."""
        return cast(self, np.int64)

    def int(self) -> Any:
        """Converted to int32, a constant (the gradient stops here, as in PyTorch)."""
        return cast(self, np.int32)

    def bool(self) -> Any:
        """Converted to booleans (nonzero is True), a constant."""
        return cast(self, np.bool_)

    # --- in-place methods that no single op describes -----------------------------------------
    def add_(self, other: Any, *, alpha: Any = 1) -> Any:
        """self += alpha * other, in place (torch.Tensor.add_)."""
        return self._inplace(registry["add"], (other if alpha == 1 else ops.mul(other, alpha),), {})

    def sub_(self, other: Any, *, alpha: Any = 1) -> Any:
        """self -= alpha * other, in place (torch.Tensor.sub_)."""
        return self._inplace(registry["sub"], (other if alpha == 1 else ops.mul(other, alpha),), {})

    def fill_(self, value: Any) -> Any:
        """Every element set to ``value`` (a number or a 0-d value), in place."""
        return self._inplace(registry["setitem"], (Ellipsis, value), {})

    def zero_(self) -> Any:
        """Every element set to 0, in place."""
        return self.fill_(0.0)

    def copy_(self, src: Any) -> Any:
        """The values of ``src`` (broadcast to this shape, converted to this dtype), in place."""
        return self._inplace(registry["setitem"], (Ellipsis, src), {})


# --- two personalities: methods whose meaning differs between numpy and PyTorch ---------------
#
# A value's level says which one it speaks (``Level.numpy``): the values a transformation hands to
# a function of numpy arrays follow numpy (``v.var()`` divides by n, ``v.max(0)`` is an array,
# ``v.size`` is the number of elements), so that the function computes under the transformation
# exactly what it computes without one; tensors built by hand, and transformations of them, follow
# PyTorch (``t.var()`` divides by n - 1, ``t.max(0)`` is (values, indices), ``t.size()`` the
# shape). Each table maps a method name to its function for one personality; a name in either
# table becomes a method that looks at the value's level.

def _torch_size(self: Any, dim: int | None = None) -> Any:
    """The shape, or the length of axis ``dim`` (torch.Tensor.size)."""
    return self.shape if dim is None else self.shape[dim]


def _torch_transpose(self: Any, axis0: int = -2, axis1: int = -1) -> Any:
    """Exchange two axes, as torch.Tensor.transpose (numpy's axes order is ``permute``)."""
    return ops.swapaxes(self, axis0, axis1)


def _torch_extremum(self: Any, name: str, dim: Any, keepdim: bool, axis: Any,
                    keepdims: Any) -> Any:
    reduce, arg = (ops.max, ops.argmax) if name == "max" else (ops.min, ops.argmin)
    if dim is None:
        return reduce(self, axis, keepdims)  # ties share the gradient, as torch.amax
    if not isinstance(dim, (int, np.integer)):  # x.max(other): the elementwise maximum
        return (ops.maximum if name == "max" else ops.minimum)(self, dim)
    # As PyTorch: the values are the entries at the returned indices, so the gradient goes to
    # those entries only (the first of any ties), not shared among ties.
    shape = self.shape
    d = normalize_axis(int(dim), len(shape), name) + len(shape)
    indices = arg(self, dim=d, keepdim=True)
    index = tuple(raw(indices) if j == d else
                  np.arange(s).reshape([s if k == j else 1 for k in range(len(shape))])
                  for j, s in enumerate(shape))
    values = ops.getitem(self, index)
    if not keepdim:
        values, indices = ops.squeeze(values, d), ops.squeeze(indices, d)
    return MaxResult(values, indices)


def _torch_max(self: Any, dim: Any = None, keepdim: bool = False, *, axis: Any = None,
               keepdims: Any = None) -> Any:
    """The largest value: of all (x.max()), over ``axis`` (numpy), or over ``dim`` with its
    indices as (values, indices) (PyTorch); x.max(other) is the elementwise maximum."""
    return _torch_extremum(self, "max", dim, keepdim, axis, keepdims)


def _torch_min(self: Any, dim: Any = None, keepdim: bool = False, *, axis: Any = None,
               keepdims: Any = None) -> Any:
    """The smallest value, as ``max`` (values and indices when ``dim`` is given)."""
    return _torch_extremum(self, "min", dim, keepdim, axis, keepdims)


def _torch_var(self: Any, dim: Any = None, *, correction: Any = None, unbiased: Any = None,
               keepdim: Any = None, axis: Any = None, keepdims: Any = None,
               ddof: Any = None) -> Any:
    """The variance over ``dim``, with PyTorch's default correction=1 (n - 1 in the divisor);
    ddof=0 or correction=0 divides by n, as numpy does."""
    if ddof is None and correction is None and unbiased is None:
        correction = 1
    return ops.var(self, axis, keepdims, ddof=ddof, correction=correction, unbiased=unbiased,
                   dim=dim, keepdim=keepdim)


def _torch_std(self: Any, dim: Any = None, *, correction: Any = None, unbiased: Any = None,
               keepdim: Any = None, axis: Any = None, keepdims: Any = None,
               ddof: Any = None) -> Any:
    """The standard deviation, with PyTorch's default correction=1 (as ``var``)."""
    if ddof is None and correction is None and unbiased is None:
        correction = 1
    return ops.std(self, axis, keepdims, ddof=ddof, correction=correction, unbiased=unbiased,
                   dim=dim, keepdim=keepdim)


def _torch_view(self: Any, *shape: Any) -> Any:
    """The same values in another shape (torch.Tensor.view)."""
    return ops.reshape(self, _shape_args(shape))


def _torch_t(self: Any) -> Any:
    """The matrix transposed (torch.Tensor.t); a 0-d or 1-d value is returned as it is."""
    if len(self.shape) > 2:
        raise ValueError(f"t: expects at most 2 dimensions, got shape {self.shape}; use "
                         f"x.transpose(dim0, dim1) or x.mT for a stack of matrices")
    return self if len(self.shape) < 2 else ops.swapaxes(self, 0, 1)


def _torch_mm(self: Any, mat2: Any) -> Any:
    """The matrix product of two matrices (torch.Tensor.mm): (n, k) @ (k, m) -> (n, m)."""
    a, b = self.shape, shape_of(mat2)
    if len(a) != 2 or len(b) != 2 or a[1] != b[0]:
        raise ValueError(f"mm: expects matrices of shapes (n, k) and (k, m), got {a} and {b}; "
                         f"use matmul (@) for vectors, stacks or broadcasting")
    return ops.matmul(self, mat2)


def _torch_bmm(self: Any, mat2: Any) -> Any:
    """Batched matrix products (torch.Tensor.bmm): (b, n, k) @ (b, k, m) -> (b, n, m)."""
    a, b = self.shape, shape_of(mat2)
    if len(a) != 3 or len(b) != 3 or a[0] != b[0] or a[2] != b[1]:
        raise ValueError(f"bmm: expects stacks of matrices of shapes (b, n, k) and (b, k, m), got "
                         f"{a} and {b}; use matmul (@) to broadcast the batch")
    return ops.matmul(self, mat2)


def _torch_repeat(self: Any, *sizes: Any) -> Any:
    """The value repeated ``sizes[i]`` times along each dimension, new ones added in front
    (torch.Tensor.repeat, numpy's tile; numpy's element-wise repeat is repeat_interleave)."""
    sizes = _shape_args(sizes)
    if len(sizes) < len(self.shape):
        raise ValueError(f"repeat: {len(sizes)} repeat count(s) {tuple(sizes)} for a value with "
                         f"{len(self.shape)} dimensions (shape {self.shape}); give at least one "
                         f"count per dimension")
    if any(not isinstance(r, (int, np.integer)) or r < 0 for r in sizes):
        raise ValueError(f"repeat: the counts must be non-negative ints, got {tuple(sizes)}")
    return ops.tile(self, tuple(int(r) for r in sizes))


def _torch_split(self: Any, split_size_or_sections: Any, dim: int = 0) -> tuple:
    """Pieces along ``dim`` (torch.split): of ``split_size`` each (the last may be shorter), or of
    the lengths in a list, which must add up to the length of ``dim``. Views, as slices are."""
    shape = self.shape
    if not shape:
        raise ValueError("split: the value is 0-d; give one with at least one dimension")
    ax = normalize_axis(dim, len(shape), "split") % len(shape)
    length = shape[ax]
    given = split_size_or_sections
    if isinstance(given, (int, np.integer)) and not isinstance(given, (bool, np.bool_)):
        size = int(given)
        if size <= 0:
            raise ValueError(f"split: split_size must be positive, got {size}")
        sizes = [min(size, length - start) for start in range(0, length, size)] or [0]
    else:
        sizes = [int(n) for n in given]
        if any(n < 0 for n in sizes) or sum(sizes) != length:
            raise ValueError(f"split: the sizes {sizes} must be non-negative and add up to "
                             f"{length}, the length of dimension {ax} (shape {shape})")
    bounds = np.cumsum([0, *sizes])
    return tuple(ops.getitem(self, (slice(None),) * ax + (slice(int(lo), int(hi)),))
                 for lo, hi in itertools.pairwise(bounds))


def _torch_chunk(self: Any, chunks: int, dim: int = 0) -> tuple:
    """``chunks`` pieces along ``dim`` of ceil(length / chunks) each, the last shorter, so there
    may be fewer (torch.chunk)."""
    if isinstance(chunks, (bool, np.bool_)) or not isinstance(chunks, (int, np.integer)) \
            or chunks <= 0:
        raise ValueError(f"chunk: chunks must be a positive int, got {chunks!r}")
    shape = self.shape
    if not shape:
        raise ValueError("chunk: the value is 0-d; give one with at least one dimension")
    length = shape[normalize_axis(dim, len(shape), "chunk")]
    if length == 0:  # as PyTorch: that many empty pieces
        return _torch_split(self, [0] * int(chunks), dim)
    return _torch_split(self, -(-length // int(chunks)), dim)


def _torch_sort(self: Any, dim: int = -1, descending: bool = False, stable: bool = False) -> Any:
    """(values, indices) sorted along ``dim`` (torch.Tensor.sort); ties keep their order (a
    stable sort, whatever ``stable`` says). The gradient goes back to each entry's place."""
    if not self.shape:
        return ops.arrays.Sorted(self, cast(ops.zeros_like(self), np.int64))
    indices = ops.argsort(self, dim, descending=bool(descending))
    return ops.arrays.Sorted(ops.take_along_axis(self, indices, dim), indices)


def _torch_scatter_add(self: Any, dim: int, index: Any, src: Any) -> Any:
    """A copy with ``src`` added at ``index`` along ``dim`` (torch.Tensor.scatter_add, out of
    place); repeated indices accumulate."""
    return ops.scatter(self, dim, index, src, reduce="add")


def _no_out(fn: str, out: Any) -> None:
    if out is not None:
        raise TypeError(f"{fn}: out= is not supported on a value being differentiated (it would "
                        f"write around the transformation); use the returned value")


def _numpy_var(self: Any, axis: Any = None, dtype: Any = None, out: Any = None, ddof: Any = 0,
               keepdims: bool = False) -> Any:
    """The variance over ``axis``, dividing by n - ddof (ndarray.var: ddof 0)."""
    _no_out("var", out)
    result = ops.var(self, axis, keepdims, ddof=ddof)
    return result if dtype is None else ops.astype(result, dtype)


def _numpy_std(self: Any, axis: Any = None, dtype: Any = None, out: Any = None, ddof: Any = 0,
               keepdims: bool = False) -> Any:
    """The standard deviation over ``axis``, dividing by n - ddof (ndarray.std: ddof 0)."""
    _no_out("std", out)
    result = ops.std(self, axis, keepdims, ddof=ddof)
    return result if dtype is None else ops.astype(result, dtype)


def _numpy_max(self: Any, axis: Any = None, out: Any = None, keepdims: bool = False) -> Any:
    """The largest value over ``axis`` (ndarray.max: an array, not (values, indices))."""
    _no_out("max", out)
    return ops.max(self, axis, keepdims)


def _numpy_min(self: Any, axis: Any = None, out: Any = None, keepdims: bool = False) -> Any:
    """The smallest value over ``axis`` (ndarray.min)."""
    _no_out("min", out)
    return ops.min(self, axis, keepdims)


def _numpy_transpose(self: Any, *axes: Any) -> Any:
    """The axes reversed, or in the order ``axes`` (ndarray.transpose)."""
    if len(axes) == 1 and (axes[0] is None or not isinstance(axes[0], (int, np.integer))):
        axes = () if axes[0] is None else tuple(axes[0])
    return ops.transpose(self, axes or None)


def _numpy_view(self: Any, *args: Any, **kwargs: Any) -> Any:
    raise TypeError("ndarray.view (a reinterpretation of the bytes) has no derivative; use "
                    "reshape for another shape, astype for another dtype")


def _numpy_dot(self: Any, other: Any) -> Any:
    """The dot product (ndarray.dot) of vectors and matrices."""
    if len(self.shape) > 2 or len(shape_of(other)) > 2:
        raise TypeError(f"dot: arrays of shapes {self.shape} and {shape_of(other)}; dot of stacks "
                        f"of matrices is not supported here: use matmul (@) or tensordot")
    if not self.shape or not shape_of(other):
        return ops.mul(self, other)
    return ops.matmul(self, other)


TORCH_METHODS: dict[str, Callable[..., Any]] = {
    "size": _torch_size, "transpose": _torch_transpose, "max": _torch_max, "min": _torch_min,
    "var": _torch_var, "std": _torch_std, "view": _torch_view, "t": _torch_t, "mm": _torch_mm,
    "bmm": _torch_bmm, "repeat": _torch_repeat, "split": _torch_split, "chunk": _torch_chunk,
    "sort": _torch_sort, "scatter_add": _torch_scatter_add,
}
NUMPY_METHODS: dict[str, Callable[..., Any]] = {
    "transpose": _numpy_transpose, "max": _numpy_max, "min": _numpy_min, "var": _numpy_var,
    "std": _numpy_std, "view": _numpy_view, "dot": _numpy_dot,
}


def _personal(name: str) -> Callable[..., Any]:
    """The method ``name``: the numpy table's function or the PyTorch table's, by the level."""
    def method(self: Any, *args: Any, **kwargs: Any) -> Any:
        fn = (NUMPY_METHODS if self._level.numpy else TORCH_METHODS).get(name)
        if fn is None:
            kind = "a numpy array" if self._level.numpy else "a PyTorch tensor"
            raise AttributeError(f"{name}: this value stands for {kind}, which has no method "
                                 f"{name!r}")
        return fn(self, *args, **kwargs)
    method.__name__ = name
    method.__doc__ = (NUMPY_METHODS.get(name) or TORCH_METHODS[name]).__doc__
    return method


def _size(self: Any) -> Any:
    """numpy: the number of elements (an int); PyTorch: the method size(dim=None)."""
    if self._level.numpy:
        n = 1
        for s in self.shape:
            n *= s
        return n
    return functools.partial(_torch_size, self)


for _name in {*TORCH_METHODS, *NUMPY_METHODS} - {"size"}:
    setattr(ArrayMethods, _name, _personal(_name))
ArrayMethods.size = property(_size)

_EXPLICIT = frozenset(ArrayMethods.__dict__)


def _as_method(fn: Callable[..., Any]) -> Callable[..., Any]:
    """A function that binds as a method (partials and other callables do not)."""
    if type(fn).__name__ == "function":
        return fn

    def method(self: Any, *args: Any, **kwargs: Any) -> Any:
        return fn(self, *args, **kwargs)
    method.__name__ = getattr(fn, "__name__", "method")
    method.__doc__ = getattr(fn, "__doc__", None)
    return method


def _reflected(fn: Callable[..., Any]) -> Callable[..., Any]:
    def method(self: Any, other: Any) -> Any:
        return fn(other, self)
    return method


def _inplace_method(op: Any) -> Callable[..., Any]:
    def method(self: Any, *args: Any, **params: Any) -> Any:
        return self._inplace(op, args, params)
    method.__doc__ = f"In place: self = {op.name}(self, ...); returns self."
    return method


def _members(op: Any) -> dict[str, Callable[..., Any]]:
    """The class members that ``op`` gives a value type (names defined by hand win)."""
    members: dict[str, Callable[..., Any]] = {}
    for name in op.methods:
        members[name] = _as_method(op.fn)
    if op.operator is not None:
        method, reflected, inplace = OPERATORS[op.operator]
        members[method] = _as_method(op.fn)
        if reflected:
            members[reflected] = _reflected(op.fn)
        if inplace and op.inplace:
            members[inplace] = _inplace_method(op)
    for name in op.inplace:
        members[name] = _inplace_method(op)
    return {k: v for k, v in members.items() if k not in _EXPLICIT}


def _install(op: Any) -> None:
    for name, member in _members(op).items():
        setattr(ArrayMethods, name, member)
    for table, names in ((NUMPY_METHODS, op.numpy_methods), (TORCH_METHODS, op.torch_methods)):
        for name in names:
            table[name] = _as_method(op.fn)
            setattr(ArrayMethods, name, _personal(name))
    for fn in op.numpy:
        (UFUNCS if isinstance(fn, np.ufunc) else FUNCTIONS)[fn] = op.fn


def _uninstall(op: Any) -> None:
    for name in _members(op):
        if name in ArrayMethods.__dict__:
            delattr(ArrayMethods, name)
    for table, names in ((NUMPY_METHODS, op.numpy_methods), (TORCH_METHODS, op.torch_methods)):
        for name in names:
            table.pop(name, None)
    for fn in op.numpy:
        (UFUNCS if isinstance(fn, np.ufunc) else FUNCTIONS).pop(fn, None)


# --- NumPy protocols: np.sin(t), np.sum(t, axis=0), ndarray @ t go through the registry -------

UFUNCS: dict[Any, Callable[..., Any]] = {}
FUNCTIONS: dict[Any, Callable[..., Any]] = {}


def _inspect(np_fn: Callable[..., Any]) -> Callable[..., Any]:
    """NumPy functions that read values without producing differentiable numbers (shapes, tests of
    closeness, index searches): computed on the plain values."""
    def fn(*args: Any, **kwargs: Any) -> Any:
        plain = [raw(a) for a in args]
        out = np_fn(*plain, **{k: raw(v) for k, v in kwargs.items()})
        return constant_like(args, out) if isinstance(out, np.ndarray) and out.ndim else out
    return fn


for _fn in (np.allclose, np.isclose, np.array_equal, np.count_nonzero, np.argwhere,
            np.nonzero, np.result_type):
    FUNCTIONS[_fn] = _inspect(_fn)
# Shapes are the value's own (inside vmap, one example's), not those of the data underneath.
FUNCTIONS[np.shape] = shape_of
FUNCTIONS[np.ndim] = lambda x: len(shape_of(x))
FUNCTIONS[np.size] = lambda x, axis=None: (int(np.prod(shape_of(x))) if axis is None
                                           else shape_of(x)[axis])


def to_arguments(fn: str, args: tuple, kwargs: dict) -> tuple[Any, Any]:
    """(dtype, device) from torch's ``to`` arguments: a dtype, a device (a string such as 'cpu'),
    or both, positionally or as dtype= and device= (copy= and non_blocking= are accepted)."""
    dtype, device = kwargs.pop("dtype", None), kwargs.pop("device", None)
    kwargs.pop("copy", None)
    kwargs.pop("non_blocking", None)
    if kwargs:
        raise TypeError(f"{fn}: unexpected keyword(s) {sorted(kwargs)}")
    for a in args:
        if isinstance(a, str) and a.split(":")[0] in ("cpu", "cuda", "mps", "meta", "xpu"):
            device = a
        elif type(a).__name__ == "device":
            device = str(a)
        else:
            dtype = np.dtype(a)
    return dtype, device


def check_device(fn: str, device: Any) -> None:
    """Refuse any device but the CPU, by name."""
    if device is not None and str(device).split(":")[0] != "cpu":
        raise ValueError(f"{fn}({str(device)!r}): this library computes with numpy on the CPU, "
                         f"its only device; use 'cpu' (or leave the device out)")


def _array_ufunc(self: Any, ufunc: Any, method: str, *inputs: Any, **kwargs: Any) -> Any:
    kind = type(self).__name__
    if method != "__call__":
        raise TypeError(f"np.{ufunc.__name__}.{method} is not supported on a {kind}: the registry "
                        f"differentiates plain calls only; use the matching op (for np.add.reduce, "
                        f"x.sum(axis))")
    given = {k: v for k, v in kwargs.items() if v is not None}
    if given:
        out = given.get("out")
        if len(given) == 1 and type(out) is tuple and all(type(o) is np.ndarray for o in out):
            return _into_arrays(ufunc, inputs, out)
        raise TypeError(f"np.{ufunc.__name__}: the keyword(s) {sorted(given)} are not supported "
                        f"on a {kind} (out= would write around the tape); call it without them")
    fn = UFUNCS.get(ufunc)
    if fn is None:
        raise TypeError(f"np.{ufunc.__name__} is not supported on a {kind}: no registry op answers "
                        f"to it, so its derivative is unknown. Use np.asarray(x) to compute on the "
                        f"plain values (leaving the graph), or declare an op for it")
    return fn(*inputs)


def _into_arrays(ufunc: Any, inputs: tuple, out: tuple) -> Any:
    """``array -= lr * p.grad``: numpy writes into a plain array (``out=``), so the result leaves
    the graph, as an update of PyTorch's ``p.data`` does. Values that carry derivatives (a tensor
    that requires grad, a transformation's values) are refused: writing them would drop those."""
    plain = []
    for x in inputs:
        if isinstance(x, ArrayMethods):
            value = x._unwrap()
            if getattr(x, "requires_grad", True) or type(value) is not np.ndarray:
                op = _AUGMENTED.get(ufunc, "op=")
                raise TypeError(f"np.{ufunc.__name__} into a numpy array (array {op} "
                                f"{type(x).__name__}, or out=array): the {type(x).__name__} "
                                f"carries derivatives that a plain array cannot hold; use "
                                f"t.detach() for its values, or update a Tensor in place "
                                f"under no_grad()")
            x = value
        plain.append(x)
    ufunc(*plain, out=out)
    return out[0] if len(out) == 1 else out


_AUGMENTED = {np.add: "+=", np.subtract: "-=", np.multiply: "*=", np.true_divide: "/=",
              np.power: "**=", np.floor_divide: "//=", np.remainder: "%=", np.matmul: "@="}


def _array_function(self: Any, func: Any, types: Any, args: tuple, kwargs: dict) -> Any:
    kind = type(self).__name__
    fn = FUNCTIONS.get(func)
    if fn is None:
        raise TypeError(f"np.{func.__name__} is not supported on a {kind}: no registry op answers "
                        f"to it, so its derivative is unknown. Use np.asarray(x) to compute on the "
                        f"plain values (leaving the graph), or declare an op for it")
    try:
        if keywords.needs_binding(args, kwargs):
            return keywords.call(func, fn, args, kwargs, kind)
        return fn(*args, **kwargs)
    except TypeError as exc:
        if "argument" in str(exc) and "np." not in str(exc):
            raise TypeError(f"np.{func.__name__} on a {kind}: {exc}") from exc
        raise


ArrayMethods.__array_ufunc__ = _array_ufunc  # type: ignore[attr-defined]
ArrayMethods.__array_function__ = _array_function  # type: ignore[attr-defined]

subscribe(_install, _uninstall)


def is_traced_depth(depth: int) -> bool:
    """Whether a value at ``depth`` belongs to a transformation rather than to an eager level."""
    return depth >= FIRST_TRANSFORM_DEPTH


def installed_names() -> list[str]:
    """The public methods that the tables installed on ArrayMethods (not written in its body)."""
    import ast
    import inspect

    body = ast.parse(inspect.getsource(ArrayMethods)).body[0]
    written = {n.name for n in ast.walk(body) if isinstance(n, ast.FunctionDef)}
    written |= {t.id for n in getattr(body, "body", ()) if isinstance(n, ast.Assign)
                for t in n.targets if isinstance(t, ast.Name)}
    return sorted(k for k in vars(ArrayMethods) if not k.startswith("_") and k not in written)


def type_checking_block() -> str:
    """The TYPE_CHECKING block of ArrayMethods, as ``write_type_checking_block`` writes it."""
    kinds = {name: "Any" if isinstance(ArrayMethods.__dict__[name], property) else "_Method"
             for name in installed_names()}
    return "    if TYPE_CHECKING:\n" + "".join(f"        {n}: {k}\n" for n, k in kinds.items())


def write_type_checking_block() -> None:
    """Rewrite the TYPE_CHECKING block of ArrayMethods in this file from the run-time class:
    ``python -c "import adcore.methods as m; m.write_type_checking_block()"``."""
    with open(__file__, encoding="utf-8") as f:
        source = f.read()
    start = source.index("    if TYPE_CHECKING:\n")
    text = source[:start] + type_checking_block() + source[source.index("\n\n", start) + 1:]
    with open(__file__, "w", encoding="utf-8") as f:
        f.write(text)


__all__ = ["FUNCTIONS", "OPERATORS", "TORCH_METHODS", "UFUNCS", "ArrayMethods", "MaxResult", "cast",
           "installed_names", "is_traced_depth", "type_checking_block",
           "write_type_checking_block"]
