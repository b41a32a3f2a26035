"""Making tensors as PyTorch's factories do: ``zeros``, ``ones``, ``full``, ``empty``, ``eye``,
``arange``, ``linspace``, ``tensor``; the random ``rand``, ``randn``, ``randint``; the ``*_like``
ones; and joining and splitting: ``cat``, ``stack``, ``split``, ``chunk``.

Signatures and dtypes are PyTorch's: a size is ``zeros(2, 3)`` or ``zeros((2, 3))``; ``dtype=``,
``requires_grad=`` and ``device=`` (the CPU only) are keywords; floating results are float32 unless
a dtype says otherwise; ``tensor([1, 2])``, ``arange(5)``, ``full((2,), 3)`` and ``randint`` are
int64, as in PyTorch (``Tensor([1, 2])`` is float32: the constructor always makes floats). The
random ones draw from ``generator=`` (a ``numpy.random.Generator``) or from the default generator
of reverse/random.py, which ``manual_seed`` reseeds (``nn`` draws from the same one).

Each returns a leaf tensor of the eager tape that owns its memory; ``split`` and ``chunk`` return
views, as PyTorch's do.

>>> zeros(2, 3).shape, arange(4).dtype, tensor([1.0, 2.0]).dtype
((2, 3), dtype('int64'), dtype('float32'))
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from adcore import ops
from adcore.levels import raw, value_types
from adcore.methods import TORCH_METHODS, check_device
from adcore.shapes import dtype_of, refuse_tensors_in, shape_of
from reverse.random import resolve
from reverse.tensor import DEFAULT_DTYPE, Tensor

__all__ = [
    "arange", "cat", "chunk", "empty", "empty_like", "eye", "full", "full_like", "linspace",
    "ones", "ones_like", "rand", "rand_like", "randint", "randn", "randn_like", "split", "stack",
    "tensor", "zeros", "zeros_like",
]

_FLOAT = np.dtype(DEFAULT_DTYPE)
_INT = np.dtype(np.int64)


# --- arguments ------------------------------------------------------------------------------

def _is_int(n: Any) -> bool:
    return isinstance(n, (int, np.integer)) and not isinstance(n, (bool, np.bool_))


def _size(fn: str, size: tuple) -> tuple[int, ...]:
    """A size given as ``f(2, 3)``, ``f((2, 3))`` or ``f([2, 3])``, checked."""
    if len(size) == 1 and not _is_int(size[0]):
        try:
            size = tuple(size[0])
        except TypeError:
            raise TypeError(f"{fn}: the size must be ints, as {fn}(2, 3) or {fn}((2, 3)); got "
                            f"{size[0]!r}") from None
    if not all(_is_int(n) for n in size):
        raise TypeError(f"{fn}: the size must be ints, as {fn}(2, 3) or {fn}((2, 3)); got "
                        f"{size!r}")
    if any(n < 0 for n in size):
        raise ValueError(f"{fn}: sizes must be non-negative, got {tuple(size)}")
    return tuple(int(n) for n in size)


def _dtype(fn: str, dtype: Any, default: Any) -> np.dtype:
    if dtype is None:
        return np.dtype(default)
    try:
        chosen = np.dtype(dtype)
    except TypeError:
        raise TypeError(f"{fn}: dtype={dtype!r} is not a numpy dtype; pass np.float32, np.int64, "
                        f"bool, 'float64', ...") from None
    if chosen.kind not in "biuf":
        raise TypeError(f"{fn}: dtype {chosen} is not supported; use a real numeric dtype or "
                        f"bool")
    return chosen


def _floating(fn: str, dtype: np.dtype) -> None:
    if dtype.kind != "f":
        raise TypeError(f"{fn}: draws floating-point numbers, not {dtype}; pass a floating dtype "
                        f"(np.float32, np.float64) or leave dtype out (randint draws integers)")


def _leaf(data: np.ndarray, requires_grad: bool, device: Any, fn: str) -> Tensor:
    """A leaf tensor that owns ``data`` (made here, so not copied)."""
    check_device(fn, device)
    if requires_grad and data.dtype.kind != "f":
        raise TypeError(f"{fn}: only floating-point tensors can require gradients, got dtype "
                        f"{data.dtype}; pass a floating dtype (np.float32) or "
                        f"requires_grad=False")
    t = Tensor.from_numpy(data if data.flags.c_contiguous else np.array(data, order="C"))
    if requires_grad:
        t.requires_grad_(True)
    return t


def _number(fn: str, name: str, value: Any) -> Any:
    """A Python number from a number or a one-element tensor or array."""
    if type(value) in value_types or isinstance(value, np.ndarray):
        if np.size(raw(value)) != 1:
            raise ValueError(f"{fn}: {name} must be a number, got an array of shape "
                             f"{shape_of(value)}")
        value = np.asarray(raw(value)).item()
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.number)):
        raise TypeError(f"{fn}: {name} must be a real number, got {value!r}")
    return value.item() if isinstance(value, np.generic) else value


# --- filled ---------------------------------------------------------------------------------

def zeros(*size: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False
          ) -> Tensor:
    """A tensor of zeros (torch.zeros): ``zeros(2, 3)`` or ``zeros((2, 3))``, float32 by default.

    >>> zeros(2, dtype=np.int64)
    Tensor([0, 0])
    """
    shape = _size("zeros", size)
    return _leaf(np.zeros(shape, _dtype("zeros", dtype, _FLOAT)), requires_grad, device, "zeros")


def ones(*size: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False
         ) -> Tensor:
    """A tensor of ones (torch.ones), float32 by default.

    >>> ones(2, 2).sum().item()
    4.0
    """
    shape = _size("ones", size)
    return _leaf(np.ones(shape, _dtype("ones", dtype, _FLOAT)), requires_grad, device, "ones")


def empty(*size: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False
          ) -> Tensor:
    """A tensor of the given size (torch.empty): uninitialised in PyTorch, zeros here."""
    shape = _size("empty", size)
    return _leaf(np.zeros(shape, _dtype("empty", dtype, _FLOAT)), requires_grad, device, "empty")


def _fill_dtype(fn: str, fill_value: Any, dtype: Any) -> np.dtype:
    """PyTorch's dtype for a fill value: bool for bools, int64 for ints, float32 for floats."""
    if dtype is not None:
        return _dtype(fn, dtype, _FLOAT)
    value = raw(fill_value)
    kind = np.asarray(value).dtype.kind if not isinstance(value, str) else "U"
    if kind not in "biuf":
        raise TypeError(f"{fn}: fill_value must be a real number or bool, got {fill_value!r}")
    return np.dtype(np.bool_) if kind == "b" else _INT if kind in "iu" else _FLOAT


def full(size: Any, fill_value: Any, *, dtype: Any = None, device: Any = None,
         requires_grad: bool = False) -> Tensor:
    """A tensor of ``size`` filled with ``fill_value`` (torch.full); its dtype follows the value
    (float32 for a float, int64 for an int, bool for a bool) unless ``dtype`` is given.

    >>> full((2,), 7)
    Tensor([7, 7])
    """
    shape = _size("full", (size,))
    chosen = _fill_dtype("full", fill_value, dtype)
    return _leaf(np.full(shape, raw(fill_value), chosen), requires_grad, device, "full")


def eye(n: int, m: int | None = None, *, dtype: Any = None, device: Any = None,
        requires_grad: bool = False) -> Tensor:
    """The n x m identity matrix (m = n by default), as torch.eye.

    >>> eye(2)
    Tensor([[1., 0.],
            [0., 1.]])
    """
    for name, value in (("n", n), ("m", m)):
        if value is not None and (not _is_int(value) or value < 0):
            raise ValueError(f"eye: {name} must be a non-negative int, got {value!r}")
    return _leaf(np.eye(n, m, dtype=_dtype("eye", dtype, _FLOAT)), requires_grad, device, "eye")


def arange(start: Any, end: Any = None, step: Any = 1, *, dtype: Any = None, device: Any = None,
           requires_grad: bool = False) -> Tensor:
    """start, start + step, ... up to and excluding ``end`` (torch.arange); ``arange(end)``
    starts at 0. int64 when start, end and step are ints, else float32.

    >>> arange(3), arange(0, 1, 0.25)
    (Tensor([0, 1, 2]), Tensor([0.  , 0.25, 0.5 , 0.75]))
    """
    if end is None:
        start, end = 0, start
    start, end, step = (_number("arange", name, v)
                        for name, v in (("start", start), ("end", end), ("step", step)))
    if step == 0:
        raise ValueError("arange: step must be nonzero, got 0")
    if (end - start) * step < 0:
        raise ValueError(f"arange: the range from start={start} to end={end} goes the other way "
                         f"from step={step}; swap start and end or change the sign of step")
    integral = all(isinstance(v, int) for v in (start, end, step))
    chosen = _dtype("arange", dtype, _INT if integral else _FLOAT)
    if integral:
        data = np.arange(start, end, step, dtype=np.int64).astype(chosen)
    else:  # as PyTorch: ceil((end - start) / step) values of start + i * step
        count = max(0, math.ceil((end - start) / step))
        data = (start + step * np.arange(count, dtype=np.float64)).astype(chosen)
    return _leaf(data, requires_grad, device, "arange")


def linspace(start: Any, end: Any, steps: int, *, dtype: Any = None, device: Any = None,
             requires_grad: bool = False) -> Tensor:
    """``steps`` evenly spaced values from start to end, both included (torch.linspace), float32
    by default.

    >>> linspace(0, 1, 5)
    Tensor([0.  , 0.25, 0.5 , 0.75, 1.  ])
    """
    if not _is_int(steps) or steps < 0:
        raise ValueError(f"linspace: steps must be a non-negative int, got {steps!r}")
    start, end = _number("linspace", "start", start), _number("linspace", "end", end)
    chosen = _dtype("linspace", dtype, _FLOAT)
    data = np.linspace(start, end, int(steps), dtype=np.float64).astype(chosen)
    return _leaf(data, requires_grad, device, "linspace")


def tensor(data: Any, *, dtype: Any = None, device: Any = None, requires_grad: bool = False
           ) -> Tensor:
    """A tensor with a copy of ``data`` (torch.tensor): Python floats become float32, ints int64,
    bools bool; numpy arrays (and tensors) keep their dtype; ``dtype=`` converts.

    >>> tensor([1, 2]).dtype, tensor([1.0, 2.0]).dtype, tensor(np.arange(2.0)).dtype
    (dtype('int64'), dtype('float32'), dtype('float64'))
    """
    check_device("tensor", device)
    if type(data) in (list, tuple):
        refuse_tensors_in(data, "tensor")
    chosen = _dtype("tensor", dtype, None) if dtype is not None else _inferred_dtype(data)
    made = Tensor(data, dtype=chosen)  # a copy; Tensor names what it cannot convert
    return _leaf(made.data, requires_grad, device, "tensor")


def _inferred_dtype(data: Any) -> Any:
    """PyTorch's dtype for data given without one: an array's (or a tensor's) own; for Python
    numbers and lists, bool, int64 or float32 by the kind of the numbers (None: not numbers,
    which Tensor refuses by name)."""
    if type(data) in value_types:
        return dtype_of(raw(data))
    try:
        kind = np.asarray(data).dtype
    except (ValueError, TypeError):
        return None
    if type(data) not in (list, tuple, int, float, bool):  # an array, a numpy scalar
        return kind if kind.kind in "biuf" else None
    return {"b": np.bool_, "i": np.int64, "u": np.int64, "f": DEFAULT_DTYPE}.get(kind.kind)


# --- random ---------------------------------------------------------------------------------

def _uniform(gen: np.random.Generator, shape: tuple, dtype: np.dtype) -> np.ndarray:
    """Samples in [0, 1) in ``dtype`` (drawn in it where numpy can, so never rounded up to 1)."""
    if dtype in (np.float32, np.float64):
        return gen.random(shape, dtype=dtype)
    return np.minimum(gen.random(shape).astype(dtype), np.nextafter(dtype.type(1), 0))


def _normal(gen: np.random.Generator, shape: tuple, dtype: np.dtype) -> np.ndarray:
    if dtype in (np.float32, np.float64):
        return gen.standard_normal(shape, dtype=dtype)
    return gen.standard_normal(shape).astype(dtype)


def rand(*size: Any, generator: np.random.Generator | None = None, dtype: Any = None,
         device: Any = None, requires_grad: bool = False) -> Tensor:
    """Samples of the uniform distribution on [0, 1) (torch.rand), float32 by default.

    >>> bool(((rand(100, generator=np.random.default_rng(0)) < 1).all()))
    True
    """
    shape, chosen = _size("rand", size), _dtype("rand", dtype, _FLOAT)
    _floating("rand", chosen)
    data = _uniform(resolve(generator, "rand"), shape, chosen)
    return _leaf(data, requires_grad, device, "rand")


def randn(*size: Any, generator: np.random.Generator | None = None, dtype: Any = None,
          device: Any = None, requires_grad: bool = False) -> Tensor:
    """Samples of the standard normal distribution (torch.randn), float32 by default.

    >>> randn(2, 3, generator=np.random.default_rng(0)).shape
    (2, 3)
    """
    shape, chosen = _size("randn", size), _dtype("randn", dtype, _FLOAT)
    _floating("randn", chosen)
    data = _normal(resolve(generator, "randn"), shape, chosen)
    return _leaf(data, requires_grad, device, "randn")


def randint(*args: Any, low: Any = None, high: Any = None, size: Any = None,
            generator: np.random.Generator | None = None, dtype: Any = None,
            device: Any = None, requires_grad: bool = False) -> Tensor:
    """Integers drawn uniformly from [low, high) (torch.randint): ``randint(high, size)`` or
    ``randint(low, high, size)``, the size a tuple; int64 by default.

    >>> randint(3, 5, (4,), generator=np.random.default_rng(0)).tolist()
    [4, 4, 4, 3]
    """
    given = list(args)
    if size is None and given and not _is_int(given[-1]):
        size = given.pop()
    named = low is not None or high is not None
    if len(given) > 2 or size is None or (len(given) == 2 and named):
        raise TypeError(f"randint: expects randint(high, size) or randint(low, high, size), as "
                        f"randint(10, (3,)); got {len(args)} positional argument(s) "
                        f"{tuple(args)!r} and size={size!r}")
    if len(given) == 2:
        low, high = given
    elif len(given) == 1:
        if high is None:
            high = given[0]
        else:
            low = given[0]
    if high is None:
        raise TypeError("randint: high is missing; call randint(high, size) or "
                        "randint(low, high, size)")
    low = 0 if low is None else _number("randint", "low", low)
    high = _number("randint", "high", high)
    if not (isinstance(low, int) and isinstance(high, int)):
        raise TypeError(f"randint: low and high must be ints, got low={low!r}, high={high!r}")
    if low >= high:
        raise ValueError(f"randint: expects low < high, got low={low}, high={high}")
    shape = _size("randint", (size,) if _is_int(size) else tuple(size))
    chosen = _dtype("randint", dtype, _INT)
    data = resolve(generator, "randint").integers(low, high, shape, dtype=np.int64)
    return _leaf(data.astype(chosen), requires_grad, device, "randint")


# --- like another tensor ------------------------------------------------------------------------

def _like(fn: str, x: Any, dtype: Any) -> tuple[tuple, np.dtype]:
    """(shape, dtype) of a tensor or array, the dtype replaced by ``dtype`` if given."""
    if type(x) in value_types:
        shape, own = shape_of(x), dtype_of(raw(x))
    elif isinstance(x, np.ndarray):
        shape, own = x.shape, x.dtype
    else:
        raise TypeError(f"{fn}: expects a tensor (or a numpy array), got {type(x).__name__}; "
                        f"use the factory with a size instead ({fn[:-5]}(2, 3))")
    return shape, _dtype(fn, dtype, own)


def zeros_like(input: Any, *, dtype: Any = None, device: Any = None,
               requires_grad: bool = False) -> Tensor:
    """Zeros of input's shape and dtype (torch.zeros_like); not attached to input's graph."""
    shape, chosen = _like("zeros_like", input, dtype)
    return _leaf(np.zeros(shape, chosen), requires_grad, device, "zeros_like")


def ones_like(input: Any, *, dtype: Any = None, device: Any = None,
              requires_grad: bool = False) -> Tensor:
    """Ones of input's shape and dtype (torch.ones_like)."""
    shape, chosen = _like("ones_like", input, dtype)
    return _leaf(np.ones(shape, chosen), requires_grad, device, "ones_like")


def empty_like(input: Any, *, dtype: Any = None, device: Any = None,
               requires_grad: bool = False) -> Tensor:
    """A tensor of input's shape and dtype (torch.empty_like): zeros here."""
    shape, chosen = _like("empty_like", input, dtype)
    return _leaf(np.zeros(shape, chosen), requires_grad, device, "empty_like")


def full_like(input: Any, fill_value: Any, *, dtype: Any = None, device: Any = None,
              requires_grad: bool = False) -> Tensor:
    """``fill_value`` in input's shape and dtype (torch.full_like).

    >>> full_like(zeros(2), 3)
    Tensor([3., 3.])
    """
    shape, chosen = _like("full_like", input, dtype)
    _fill_dtype("full_like", fill_value, None)  # refuses what is not a number
    return _leaf(np.full(shape, raw(fill_value), chosen), requires_grad, device, "full_like")


def rand_like(input: Any, *, generator: np.random.Generator | None = None, dtype: Any = None,
              device: Any = None, requires_grad: bool = False) -> Tensor:
    """Uniform samples on [0, 1) in input's shape and (floating) dtype (torch.rand_like)."""
    shape, chosen = _like("rand_like", input, dtype)
    _floating("rand_like", chosen)
    data = _uniform(resolve(generator, "rand_like"), shape, chosen)
    return _leaf(data, requires_grad, device, "rand_like")


def randn_like(input: Any, *, generator: np.random.Generator | None = None, dtype: Any = None,
               device: Any = None, requires_grad: bool = False) -> Tensor:
    """Standard normal samples in input's shape and (floating) dtype (torch.randn_like)."""
    shape, chosen = _like("randn_like", input, dtype)
    _floating("randn_like", chosen)
    data = _normal(resolve(generator, "randn_like"), shape, chosen)
    return _leaf(data, requires_grad, device, "randn_like")


# --- joining and splitting ----------------------------------------------------------------------

def _tensors(fn: str, tensors: Any) -> list:
    """The tensors to join: a non-empty list or tuple of tensors (or numpy arrays)."""
    if type(tensors) in value_types or not isinstance(tensors, Sequence):
        raise TypeError(f"{fn}: expects a list or tuple of tensors, got "
                        f"{type(tensors).__name__}; write {fn}([a, b])")
    if not tensors:
        raise ValueError(f"{fn}: expects a non-empty list of tensors")
    for i, t in enumerate(tensors):
        if type(t) not in value_types and not isinstance(t, np.ndarray):
            raise TypeError(f"{fn}: entry {i} is a {type(t).__name__}, not a tensor; make it one "
                            f"with tensor(...)")
    return list(tensors)


def _as_tensor(x: Any) -> Any:
    return x if type(x) in value_types else Tensor.from_numpy(np.asarray(x))


def cat(tensors: Sequence[Any], dim: int = 0) -> Tensor:
    """The tensors joined along the existing dimension ``dim`` (torch.cat); their shapes must
    agree elsewhere. Gradients flow back to each piece.

    >>> cat([zeros(1, 2), ones(2, 2)]).shape
    (3, 2)
    """
    xs = _tensors("cat", tensors)
    shapes = [shape_of(x) for x in xs]
    ndim = len(shapes[0])
    if ndim == 0 or any(len(s) != ndim for s in shapes):
        raise ValueError(f"cat: the tensors have shapes {shapes}; they need the same number of "
                         f"dimensions, at least one (use stack to join along a new one)")
    if not -ndim <= dim < ndim:
        raise ValueError(f"cat: dim={dim} is out of range for tensors of {ndim} dimension(s); "
                         f"use a dim in [{-ndim}, {ndim - 1}]")
    d = dim % ndim
    for i, s in enumerate(shapes):
        if s[:d] + s[d + 1:] != shapes[0][:d] + shapes[0][d + 1:]:
            raise ValueError(f"cat: tensor {i} has shape {s} but tensor 0 has shape {shapes[0]}; "
                             f"the sizes must match except along dim={dim}")
    return _as_tensor(ops.concatenate([_as_tensor(x) for x in xs], axis=d))


def stack(tensors: Sequence[Any], dim: int = 0) -> Tensor:
    """The tensors, all of one shape, joined along a new dimension ``dim`` (torch.stack).

    >>> stack([zeros(2), ones(2)], dim=1).shape
    (2, 2)
    """
    xs = _tensors("stack", tensors)
    shapes = [shape_of(x) for x in xs]
    for i, s in enumerate(shapes):
        if s != shapes[0]:
            raise ValueError(f"stack: tensor {i} has shape {s} but tensor 0 has shape "
                             f"{shapes[0]}; stacked tensors must have equal shapes")
    ndim = len(shapes[0]) + 1
    if not -ndim <= dim < ndim:
        raise ValueError(f"stack: dim={dim} is out of range for a result of {ndim} "
                         f"dimension(s); use a dim in [{-ndim}, {ndim - 1}]")
    return _as_tensor(ops.stack([_as_tensor(x) for x in xs], axis=dim))


def split(tensor: Any, split_size_or_sections: int | Sequence[int], dim: int = 0) -> tuple:
    """Pieces along ``dim`` (torch.split): of ``split_size`` each, the last shorter if need be,
    or of the lengths in a list, which add up to the length of ``dim``. Views of ``tensor``.

    >>> [p.shape for p in split(arange(5), 2)]
    [(2,), (2,), (1,)]
    """
    return TORCH_METHODS["split"](_as_tensor(tensor), split_size_or_sections, dim)


def chunk(input: Any, chunks: int, dim: int = 0) -> tuple:
    """``chunks`` pieces along ``dim`` of ceil(length / chunks) each, the last shorter, so there
    may be fewer (torch.chunk). Views of ``input``.

    >>> [p.shape for p in chunk(arange(5), 3)]
    [(2,), (2,), (1,)]
    """
    return TORCH_METHODS["chunk"](_as_tensor(input), chunks, dim)
