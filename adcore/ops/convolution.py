"""Convolution and pooling: two linear ops, ``im2col`` and ``col2im``, and compositions on them.

``im2col`` gathers every window a kernel visits (the classic "image to columns" of convolution
networks): from ``x`` of shape (..., C, *S) it makes (..., C, *K, *So), a column of C * prod(K)
entries for each output position (PyTorch's unfold layout), with zero padding, stride and
dilation; it copies one strided slice per kernel offset. Its transpose is ``col2im``,
which adds every row back onto the positions it came from (overlapping windows add up); each is
the other's transpose, so every order of derivative is one of the two.

On them:

- ``conv(x, w)`` is im2col followed by a matrix product with the kernels, (C_out, C * K) times
  (N, C * K, P) for each group, which lands in (N, C_out, *So) as it is: the fast way to convolve
  with BLAS. Its derivatives are those of the
  composition: the kernels' gradient is one matrix product of the cotangent with the saved columns,
  the input's a matrix product followed by col2im.
- ``conv_transpose(x, w)``, the adjoint of conv in its input (PyTorch's ConvTranspose), is a matrix
  product followed by col2im.
- ``max_pool`` picks, in each window of the columns, the first largest entry (PyTorch's choice,
  which matters where a window holds ties, as after a ReLU); ``avg_pool`` sums each window and
  divides by its count; ``adaptive_avg_pool`` multiplies by one averaging matrix per axis.

Layouts are PyTorch's: x is (N, C, *S) and a kernel (C_out, C_in / groups, *K); every function
takes the batch axis N (nn.functional adds the unbatched forms).
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from adcore import domains as D
from adcore.levels import bind
from adcore.ops.arrays import moveaxis
from adcore.ops.compare import Constant
from adcore.ops.construct import pad
from adcore.ops.elementwise import div, where
from adcore.ops.linalg import matmul
from adcore.ops.reduce import sum as sum_
from adcore.ops.shape import reshape, transpose
from adcore.registry import Op, declare, defop, public
from adcore.shapes import dtype_of, shape_of

__all__ = [  # its public functions, re-exported by adcore.ops
    "adaptive_avg_pool",
    "avg_pool",
    "col2im",
    "conv",
    "conv_transpose",
    "im2col",
    "max_pool",
]

Pairs = tuple[tuple[int, int], ...]


def _windows_shape(size: Sequence[int], kernel: tuple, stride: tuple, padding: Pairs,
                   dilation: tuple) -> tuple[int, ...]:
    """The number of window positions along each axis (So): floor((S + pads - extent) / s) + 1."""
    return tuple((n + lo + hi - d * (k - 1) - 1) // s + 1
                 for n, k, s, (lo, hi), d in zip(size, kernel, stride, padding, dilation))


def _im2col_impl(x: Any, *, kernel: tuple, stride: tuple, padding: Pairs,
                 dilation: tuple) -> Any:
    d = len(kernel)
    x = np.asarray(x)
    if any(lo or hi for lo, hi in padding):
        x = np.pad(x, ((0, 0),) * (x.ndim - d) + tuple(padding))
    so = _windows_shape(x.shape[-d:], kernel, stride, ((0, 0),) * d, dilation)
    if _tiles(x.shape[-d:], kernel, stride, dilation, so):  # windows side by side: a permutation
        tiled = x.reshape(x.shape[:-d] + tuple(n for pair in zip(so, kernel) for n in pair))
        return tiled.transpose(_tile_axes(x.ndim - d, d)).copy()
    out = np.empty(x.shape[:-d] + kernel + so, dtype=x.dtype)
    every = (slice(None),) * d
    for k in np.ndindex(*kernel):  # one strided copy per kernel offset: rows stay contiguous
        out[(Ellipsis,) + k + every] = x[(Ellipsis,) + _window(k, stride, dilation, so)]
    return out


def _tiles(size: tuple, kernel: tuple, stride: tuple, dilation: tuple, so: tuple) -> bool:
    """Whether the windows tile the input exactly, side by side (2x2 pooling with stride 2)."""
    return (stride == kernel and all(r == 1 for r in dilation)
            and all(n == m * k for n, m, k in zip(size, so, kernel)))


def _tile_axes(lead: int, d: int) -> tuple[int, ...]:
    """From (*lead, So0, K0, So1, K1, ...) to (*lead, K0, K1, ..., So0, So1, ...)."""
    return (tuple(range(lead)) + tuple(lead + 2 * i + 1 for i in range(d))
            + tuple(lead + 2 * i for i in range(d)))


def _window(k: tuple, stride: tuple, dilation: tuple, so: tuple) -> tuple[slice, ...]:
    """The entries of the padded input that kernel offset ``k`` meets, one per window."""
    return tuple(slice(i * r, i * r + s * (n - 1) + 1, s)
                 for i, r, s, n in zip(k, dilation, stride, so))


def _col2im_impl(cols: Any, *, size: tuple, kernel: tuple, stride: tuple, padding: Pairs,
                 dilation: tuple) -> Any:
    d = len(kernel)
    cols = np.asarray(cols)
    so = cols.shape[-d:]
    padded = tuple(n + lo + hi for n, (lo, hi) in zip(size, padding))
    lead = cols.ndim - 2 * d
    if not any(lo or hi for lo, hi in padding) and _tiles(size, kernel, stride, dilation, so):
        back = np.argsort(_tile_axes(lead, d))  # each entry back where it came from, no sums
        return cols.transpose(back).reshape(cols.shape[:lead] + size)
    out = np.zeros(cols.shape[:-2 * d] + padded, dtype=cols.dtype)
    every = (slice(None),) * d
    for k in np.ndindex(*kernel):
        target = out[(Ellipsis,) + _window(k, stride, dilation, so)]
        np.add(target, cols[(Ellipsis,) + k + every], out=target)
    crop = tuple(slice(lo, lo + n) for n, (lo, _) in zip(size, padding))
    return out[(Ellipsis,) + crop] if any(lo or hi for lo, hi in padding) else out


def _conv_params(draw: D.Draw) -> tuple[tuple, dict]:
    """A small random geometry: 1 or 2 spatial axes, kernel, stride, padding and dilation."""
    d = draw.integers(1, 2)
    kernel = tuple(draw.integers(1, 3) for _ in range(d))
    stride = tuple(draw.integers(1, 2) for _ in range(d))
    dilation = tuple(draw.integers(1, 2) for _ in range(d))
    padding = tuple((draw.integers(0, 1), draw.integers(0, 1)) for _ in range(d))
    size = tuple(r * (k - 1) + draw.integers(1, 3) for k, r in zip(kernel, dilation))
    return size, {"kernel_size": kernel, "stride": stride, "padding": padding,
                  "dilation": dilation}


def _im2col_domain(draw: D.Draw) -> tuple[tuple, dict]:
    size, params = _conv_params(draw)
    lead = (draw.integers(1, 2), draw.integers(1, 2))  # (N, C)
    return (draw.array(lead + size),), params


def _col2im_domain(draw: D.Draw) -> tuple[tuple, dict]:
    size, params = _conv_params(draw)
    so = _windows_shape(size, params["kernel_size"], params["stride"], params["padding"],
                        params["dilation"])
    n, c = draw.integers(1, 2), draw.integers(1, 2)
    return (draw.array((n, c) + params["kernel_size"] + so),), {**params, "size": size}


im2col_op: Op = defop(
    "im2col", _im2col_impl,
    transpose=(lambda y_bar, x, *, kernel, stride, padding, dilation:
               bind(col2im_op, y_bar, size=shape_of(x)[-len(kernel):], kernel=kernel,
                    stride=stride, padding=padding, dilation=dilation),),
    domain=_im2col_domain,
    doc="im2col(x, kernel, stride, padding, dilation): (..., C, *S) -> (..., C, *K, *So), every "
        "window a kernel visits (zero padding).  Transpose: col2im.")

col2im_op: Op = defop(
    "col2im", _col2im_impl,
    transpose=(lambda y_bar, cols, *, size, kernel, stride, padding, dilation:
               bind(im2col_op, y_bar, kernel=kernel, stride=stride, padding=padding,
                    dilation=dilation),),
    domain=_col2im_domain,
    doc="col2im(cols, size, kernel, stride, padding, dilation): (..., C, *K, *So) -> (..., C, *S), "
        "each window's entries added back where im2col took them.  Transpose: im2col.")


# --- the geometry arguments, as PyTorch takes them ----------------------------------------------

def _tuple(value: Any, d: int, name: str, fn: str, low: int = 1) -> tuple[int, ...]:
    items = (value,) * d if isinstance(value, (int, np.integer)) else tuple(value)
    if len(items) != d or not all(isinstance(v, (int, np.integer)) and v >= low for v in items):
        raise ValueError(f"{fn}: {name} must be an int >= {low} or {d} of them (one per spatial "
                         f"axis), got {value!r}")
    return tuple(int(v) for v in items)


def _padding(padding: Any, d: int, kernel: tuple, dilation: tuple, stride: tuple,
             fn: str) -> Pairs:
    """Padding as (before, after) per axis, from an int, one int per axis, pairs, or PyTorch's
    'valid' and 'same' (the extra entry of an even extent goes after, as PyTorch pads)."""
    if isinstance(padding, str):
        if padding == "valid":
            return ((0, 0),) * d
        if padding == "same":
            if any(s != 1 for s in stride):
                raise ValueError(f"{fn}: padding='same' needs stride 1 (as PyTorch), got stride "
                                 f"{stride}; give the padding as numbers")
            total = tuple(r * (k - 1) for k, r in zip(kernel, dilation))
            return tuple((t // 2, t - t // 2) for t in total)
        raise ValueError(f"{fn}: padding must be a number, numbers, 'valid' or 'same', got "
                         f"{padding!r}")
    if (not isinstance(padding, (int, np.integer)) and len(padding) == d
            and all(isinstance(p, (tuple, list)) for p in padding)):
        pairs = tuple((int(lo), int(hi)) for lo, hi in padding)
    else:
        pairs = tuple((p, p) for p in _tuple(padding, d, "padding", fn, low=0))
    if any(lo < 0 or hi < 0 for lo, hi in pairs):
        raise ValueError(f"{fn}: padding must be >= 0, got {padding!r}")
    return pairs


def _geometry(fn: str, x_shape: tuple, d: int, kernel: Any, stride: Any, padding: Any,
              dilation: Any) -> dict:
    """The op parameters, checked against the input: every axis fits at least one window."""
    if len(x_shape) < d + 1:
        raise ValueError(f"{fn}: the input has shape {x_shape}; it needs {d} spatial axes after "
                         f"the channels (..., C, {', '.join('S' + str(i) for i in range(d))})")
    k = _tuple(kernel, d, "kernel_size", fn)
    s = _tuple(stride, d, "stride", fn)
    r = _tuple(dilation, d, "dilation", fn)
    p = _padding(padding, d, k, r, s, fn)
    size = x_shape[-d:]
    so = _windows_shape(size, k, s, p, r)
    if any(n < 1 for n in so):
        raise ValueError(f"{fn}: the spatial size {size} with padding {p} is smaller than the "
                         f"kernel's extent {tuple(q * (j - 1) + 1 for j, q in zip(k, r))} (kernel "
                         f"{k}, dilation {r}); pad the input or use a smaller kernel")
    return {"kernel": k, "stride": s, "padding": p, "dilation": r}


@public(im2col_op)
def im2col(x: Any, kernel_size: Any, stride: Any = 1, padding: Any = 0,
           dilation: Any = 1) -> Any:
    """im2col(x, kernel_size, stride=1, padding=0, dilation=1): from x of shape (..., C, *S), the
    windows (..., C, *K, *So) a kernel of ``kernel_size`` visits (its length gives the number of
    spatial axes; an int means one)."""
    d = 1 if isinstance(kernel_size, (int, np.integer)) else len(kernel_size)
    params = _geometry("im2col", shape_of(x), d, kernel_size, stride, padding, dilation)
    return bind(im2col_op, x, **params)


@public(col2im_op)
def col2im(cols: Any, size: Any, kernel_size: Any, stride: Any = 1, padding: Any = 0,
           dilation: Any = 1) -> Any:
    """col2im(cols, size, kernel_size, ...): the transpose of im2col: windows (..., C, *K, *So)
    added back into (..., C, *size)."""
    d = 1 if isinstance(kernel_size, (int, np.integer)) else len(kernel_size)
    size = _tuple(size, d, "size", "col2im")
    shape = shape_of(cols)
    params = _geometry("col2im", (1,) + size, d, kernel_size, stride, padding, dilation)
    so = _windows_shape(size, params["kernel"], params["stride"], params["padding"],
                        params["dilation"])
    if len(shape) < 2 * d + 1 or shape[-2 * d:] != params["kernel"] + so:
        raise ValueError(f"col2im: columns of shape {shape} do not fit size {size}: they need "
                         f"the kernel {params['kernel']} and the window positions {so}, as "
                         f"(..., C, *K, *So)")
    return bind(col2im_op, cols, size=size, **params)


# --- convolution ---------------------------------------------------------------------------------

def _check_kernels(fn: str, x_shape: tuple, w_shape: tuple, groups: int, transposed: bool) -> int:
    """The number of spatial axes; the channels of x, the kernels and the groups must agree."""
    d = len(w_shape) - 2
    if d < 1 or len(x_shape) != d + 2:
        layout = "(C_in, C_out / groups, *K)" if transposed else "(C_out, C_in / groups, *K)"
        raise ValueError(f"{fn}: the input has shape {x_shape} and the weight {w_shape}; the "
                         f"weight is {layout} and the input (N, C_in, *S) with as many spatial "
                         f"axes as the kernel")
    if not isinstance(groups, (int, np.integer)) or groups < 1:
        raise ValueError(f"{fn}: groups must be an int >= 1, got {groups!r}")
    c_in = x_shape[1]
    per_group = w_shape[0] // groups if transposed else w_shape[1]
    if (w_shape[0] if transposed else per_group * groups) != c_in:
        raise ValueError(f"{fn}: the input has {c_in} channels (shape {x_shape}) but the weight "
                         f"{w_shape} with groups={groups} expects "
                         f"{w_shape[0] if transposed else per_group * groups}")
    if w_shape[0] % groups:
        raise ValueError(f"{fn}: weight {w_shape}: its {w_shape[0]} "
                         f"{'input' if transposed else 'output'} channels do not divide into "
                         f"groups={groups}")
    return d


@declare()
def conv(x: Any, w: Any, stride: Any = 1, padding: Any = 0, dilation: Any = 1,
         groups: int = 1) -> Any:
    """conv(x, w, stride=1, padding=0, dilation=1, groups=1): the cross-correlation PyTorch's
    convolutions compute, out[n, o] = sum_{c, k} w[o, c, k] x_padded[n, c, s * i + r * k], for x
    (N, C_in, *S) and w (C_out, C_in / groups, *K) with 1, 2 or 3 spatial axes; padding is an int,
    one per axis, (before, after) pairs, 'valid' or 'same'. Computed as im2col and one matrix
    product (per group)."""
    xs, ws = shape_of(x), shape_of(w)
    d = _check_kernels("conv", xs, ws, groups, transposed=False)
    params = _geometry("conv", xs, d, ws[2:], stride, padding, dilation)
    cols = bind(im2col_op, x, **params)  # (N, C, *K, *So)
    n, c_out = xs[0], ws[0]
    so = shape_of(cols)[-d:]
    # (G, C_out / G, C K / G) @ (N, G, C K / G, P): one product per example and group (numpy's
    # stacked matmul, faster here than one large product of transposed copies)
    out = matmul(reshape(w, (groups, c_out // groups, -1)),
                 reshape(cols, (n, groups, -1, math.prod(so))))
    return reshape(out, (n, c_out) + so)


@declare()
def conv_transpose(x: Any, w: Any, stride: Any = 1, padding: Any = 0, output_padding: Any = 0,
                   groups: int = 1, dilation: Any = 1) -> Any:
    """conv_transpose(x, w, stride=1, padding=0, output_padding=0, groups=1, dilation=1): the
    adjoint of conv in its input (PyTorch's conv_transpose), for x (N, C_in, *S) and w (C_in,
    C_out / groups, *K): each input entry scatters its kernel, scaled, onto the output; the
    result has (S - 1) * stride - 2 * padding + dilation * (K - 1) + output_padding + 1 entries
    per axis."""
    xs, ws = shape_of(x), shape_of(w)
    d = _check_kernels("conv_transpose", xs, ws, groups, transposed=True)
    kernel = ws[2:]
    s = _tuple(stride, d, "stride", "conv_transpose")
    r = _tuple(dilation, d, "dilation", "conv_transpose")
    p = _tuple(padding, d, "padding", "conv_transpose", low=0)
    extra = _tuple(output_padding, d, "output_padding", "conv_transpose", low=0)
    if any(e >= si for e, si in zip(extra, s)):
        raise ValueError(f"conv_transpose: output_padding {extra} must be smaller than the stride "
                         f"{s}")
    size = tuple((n - 1) * si - 2 * pi + ri * (k - 1) + e + 1
                 for n, si, pi, ri, k, e in zip(xs[2:], s, p, r, kernel, extra))
    if any(n < 1 for n in size):
        raise ValueError(f"conv_transpose: input {xs}, kernel {kernel}, stride {s}, padding {p}: "
                         f"the output would have spatial size {size}; lower the padding")
    n, c_in, c_out = xs[0], xs[1], ws[1] * groups
    positions = math.prod(xs[2:])
    # (G, C_out K / G, C_in / G) @ (N, G, C_in / G, P)
    cols = matmul(transpose(reshape(w, (groups, c_in // groups, -1)), (0, 2, 1)),
                  reshape(x, (n, groups, c_in // groups, positions)))
    cols = reshape(cols, (n, c_out) + tuple(kernel) + tuple(xs[2:]))
    return bind(col2im_op, cols, size=size, kernel=tuple(kernel), stride=s,
                padding=tuple((q, q) for q in p), dilation=r)


# --- pooling -------------------------------------------------------------------------------------

def _pool_geometry(fn: str, x_shape: tuple, kernel_size: Any, stride: Any, padding: Any,
                   dilation: Any, ceil_mode: bool) -> tuple[tuple, tuple, tuple, tuple, tuple]:
    """(kernel, stride, padding, dilation, extra): PyTorch's pooling geometry, with ``extra``
    entries padded after each axis so that ceil_mode's last, partial window exists."""
    d = len(x_shape) - 2
    if d < 1:
        raise ValueError(f"{fn}: the input has shape {x_shape}; it needs (N, C) and the spatial "
                         f"axes")
    k = _tuple(kernel_size, d, "kernel_size", fn)
    s = k if stride is None or stride == () else _tuple(stride, d, "stride", fn)
    p = _tuple(padding, d, "padding", fn, low=0)
    r = _tuple(dilation, d, "dilation", fn)
    if any(2 * pi > ki for pi, ki in zip(p, k)):
        raise ValueError(f"{fn}: padding {p} must be at most half the kernel {k} (as PyTorch)")
    extra = []
    for n, ki, si, pi, ri in zip(x_shape[-d:], k, s, p, r):
        span = n + 2 * pi - ri * (ki - 1) - 1
        if span < 0:
            raise ValueError(f"{fn}: the input {x_shape} with padding {p} is smaller than the "
                             f"window {k} (dilation {r})")
        out = (-(-span // si) if ceil_mode else span // si) + 1
        if ceil_mode and (out - 1) * si >= n + pi:  # the last window must start inside
            out -= 1
        extra.append(max(0, (out - 1) * si + ri * (ki - 1) + 1 - (n + 2 * pi)))
    return k, s, p, r, tuple(extra)


@declare()
def max_pool(x: Any, kernel_size: Any, stride: Any = None, padding: Any = 0, dilation: Any = 1,
             ceil_mode: bool = False) -> Any:
    """max_pool(x, kernel_size, stride=kernel_size, padding=0, dilation=1, ceil_mode=False): the
    largest entry of each window of x (N, C, *S), padding counting as -inf. Its gradient goes to
    the first largest entry of each window (PyTorch's choice where a window holds ties)."""
    xs = shape_of(x)
    k, s, p, r, extra = _pool_geometry("max_pool", xs, kernel_size, stride, padding, dilation,
                                       ceil_mode)
    d = len(k)
    widths = ((0, 0),) * (len(xs) - d) + tuple((pi, pi + e) for pi, e in zip(p, extra))
    if any(lo or hi for lo, hi in widths):
        x = pad(x, widths, constant_values=-np.inf)
    cols = bind(im2col_op, x, kernel=k, stride=s, padding=((0, 0),) * d, dilation=r)
    shape = shape_of(cols)  # (N, C, *K, *So)
    lead, so = shape[:-2 * d], shape[-d:]
    flat = reshape(cols, lead + (math.prod(k), math.prod(so)))
    # the largest entry of each window, as a mask: selecting it (where) and summing keeps the value
    # exactly, and the gradient is a select too (cheaper than scattering through indices)
    return reshape(sum_(where(_largest(flat), flat, 0.0), axis=-2), lead + so)


def _largest_compute(flat: np.ndarray) -> np.ndarray:
    """The mask (..., K, P) of the largest entry along axis -2, the first of ties and the last
    NaN (PyTorch's choice: an entry replaces the best so far when it is greater, or NaN)."""
    top = flat.max(axis=-2, keepdims=True)
    if np.isnan(top).any():
        return _largest_with_nan(flat)
    mask = flat == top
    taken = mask[..., 0, :].copy()
    for i in range(1, flat.shape[-2]):  # ties: only the first keeps its place
        later = mask[..., i, :]
        later &= ~taken
        taken |= later
    return mask


def _largest_with_nan(flat: np.ndarray) -> np.ndarray:
    """As _largest_compute, one entry at a time (as PyTorch's loop), for windows holding NaN."""
    best = flat[..., 0, :].copy()
    where_best = np.zeros(best.shape, dtype=np.intp)
    for i in range(1, flat.shape[-2]):
        entry = flat[..., i, :]
        take = (entry > best) | np.isnan(entry)
        np.copyto(best, entry, where=take)
        np.copyto(where_best, i, where=take)
    return where_best[..., None, :] == np.arange(flat.shape[-2])[:, None]


_largest = Constant("largest_in_window", _largest_compute, elementwise=False)


def _window_counts(size: tuple, k: tuple, s: tuple, p: tuple, so: tuple, include_pad: bool,
                   dtype: Any) -> np.ndarray:
    """How many entries each window of avg_pool averages: those inside the padded input
    (count_include_pad) or inside the input itself, as PyTorch counts them."""
    counts = np.ones((), dtype=np.int64)
    for n, ki, si, pi, m in zip(size, k, s, p, so):
        start = np.arange(m) * si - pi
        if include_pad:
            c = np.minimum(start + ki, n + pi) - start
        else:
            c = np.minimum(start + ki, n) - np.maximum(start, 0)
        counts = np.multiply.outer(counts, c)
    return counts.astype(dtype)


@declare()
def avg_pool(x: Any, kernel_size: Any, stride: Any = None, padding: Any = 0,
             ceil_mode: bool = False, count_include_pad: bool = True,
             divisor_override: int | None = None) -> Any:
    """avg_pool(x, kernel_size, stride=kernel_size, padding=0, ceil_mode=False,
    count_include_pad=True, divisor_override=None): the mean of each window of x (N, C, *S), as
    PyTorch's avg_pool: the sum of the window divided by its count (padding zeros included, or
    not), or by ``divisor_override``."""
    xs = shape_of(x)
    k, s, p, r, extra = _pool_geometry("avg_pool", xs, kernel_size, stride, padding, 1,
                                       ceil_mode)
    d = len(k)
    cols = bind(im2col_op, x, kernel=k, stride=s,
                padding=tuple((pi, pi + e) for pi, e in zip(p, extra)), dilation=r)
    so = shape_of(cols)[-d:]
    total = sum_(cols, axis=tuple(range(-2 * d, -d)))  # (N, C, *So)
    if divisor_override is not None:
        if not isinstance(divisor_override, (int, np.integer)) or divisor_override <= 0:
            raise ValueError(f"avg_pool: divisor_override must be a positive int, got "
                             f"{divisor_override!r}")
        return div(total, divisor_override)
    counts = _window_counts(xs[-d:], k, s, p, so, count_include_pad, dtype_of(x))
    if np.all(counts == math.prod(k)):
        return div(total, math.prod(k))
    return div(total, counts)


def _averaging_matrix(n: int, m: int, dtype: Any) -> np.ndarray:
    """(m, n): row i averages entries floor(i n / m) to ceil((i + 1) n / m) - 1, PyTorch's
    adaptive windows."""
    i = np.arange(m)
    start, end = (i * n) // m, -((-(i + 1) * n) // m)
    cols = np.arange(n)
    inside = (cols >= start[:, None]) & (cols < end[:, None])
    return (inside / (end - start)[:, None]).astype(dtype)


@declare()
def adaptive_avg_pool(x: Any, output_size: Any) -> Any:
    """adaptive_avg_pool(x, output_size): x (N, C, *S) averaged over windows chosen so that the
    result has ``output_size`` along the last axes (None keeps an axis), PyTorch's adaptive
    pooling; computed as a product with one averaging matrix per axis."""
    xs = shape_of(x)
    d = len(xs) - 2
    sizes = (output_size,) * d if not isinstance(output_size, (tuple, list)) else output_size
    if d < 1 or len(sizes) != d:
        raise ValueError(f"adaptive_avg_pool: the input has shape {xs} and output_size is "
                         f"{output_size!r}; the input is (N, C, *S) with one output size per "
                         f"spatial axis")
    out = x
    for ax, (n, m) in enumerate(zip(xs[-d:], sizes)):
        m = n if m is None else int(m)
        if m < 1:
            raise ValueError(f"adaptive_avg_pool: output_size must be >= 1, got {output_size!r}")
        if m == n:
            continue
        a = _averaging_matrix(n, m, dtype_of(x))
        axis = len(xs) - d + ax
        out = moveaxis(matmul(moveaxis(out, axis, -1), a.T), -1, axis)
    return out
