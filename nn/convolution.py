"""Convolution and pooling layers (torch.nn.Conv2d, MaxPool2d, ...): thin Modules over
nn.functional, with PyTorch's parameter names, shapes, default initialisation and input checks."""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from adcore import ops
from nn import functional as F
from nn import init
from nn.module import Module, Parameter, check_input_dtype

_PADDING_MODES = {"zeros": None, "reflect": "reflect", "replicate": "edge", "circular": "wrap"}


def _ntuple(value: Any, d: int) -> tuple:
    return (value,) * d if isinstance(value, (int, np.integer)) else tuple(value)


def _check_input(layer: Module, x: Any, d: int, channels: int) -> None:
    """A wrong input is named with the layer, the shape it got and the shape it expects."""
    shape = tuple(np.shape(x))
    spatial = {1: "L", 2: "H, W", 3: "D, H, W"}[d]
    if len(shape) not in (d + 1, d + 2):
        raise ValueError(f"{layer!r:.80}: expected a {d + 2}-d input (N, C, {spatial}) or a "
                         f"{d + 1}-d unbatched one (C, {spatial}), got shape {shape}")
    got = shape[-d - 1]
    if got != channels:
        raise ValueError(f"{layer!r:.80}: expected {channels} input channels (axis {-d - 1} of "
                         f"(N, C, {spatial})), got shape {shape} with {got}")
    check_input_dtype(layer, x, layer.weight)


class _ConvNd(Module):
    """What Conv1d, Conv2d, Conv3d and the transposed convolutions share: geometry, parameters
    and PyTorch's initialisation (kaiming_uniform_(a=sqrt(5)) for the weight, and the bias
    uniform in +-1/sqrt(fan_in))."""

    _d = 2
    _transposed = False

    def __init__(self, in_channels: int, out_channels: int, kernel_size: Any, stride: Any = 1,
                 padding: Any = 0, dilation: Any = 1, groups: int = 1, bias: bool = True,
                 padding_mode: str = "zeros", dtype: Any = np.float32,
                 output_padding: Any = 0) -> None:
        super().__init__()
        name, d = type(self).__name__, self._d
        if in_channels <= 0 or out_channels <= 0:
            raise ValueError(f"{name}: in_channels and out_channels must be positive, got "
                             f"{in_channels} and {out_channels}")
        if groups <= 0 or in_channels % groups or out_channels % groups:
            raise ValueError(f"{name}: in_channels={in_channels} and out_channels={out_channels} "
                             f"must both divide into groups={groups}")
        if padding_mode not in _PADDING_MODES:
            raise ValueError(f"{name}: padding_mode must be one of {sorted(_PADDING_MODES)}, got "
                             f"{padding_mode!r}")
        if padding_mode != "zeros" and self._transposed:
            raise ValueError(f"{name}: only padding_mode='zeros' is supported (as PyTorch)")
        self.in_channels, self.out_channels = int(in_channels), int(out_channels)
        self.kernel_size = _ntuple(kernel_size, d)
        self.stride = _ntuple(stride, d)
        self.padding = padding if isinstance(padding, str) else _ntuple(padding, d)
        self.dilation = _ntuple(dilation, d)
        self.output_padding = _ntuple(output_padding, d)
        self.groups, self.padding_mode = int(groups), padding_mode
        shape = ((in_channels, out_channels // groups) if self._transposed
                 else (out_channels, in_channels // groups)) + self.kernel_size
        self.weight = Parameter(np.empty(shape, dtype))
        if bias:
            self.bias = Parameter(np.empty((out_channels,), dtype))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in = self.weight.shape[1] * math.prod(self.kernel_size)
            bound = 1.0 / math.sqrt(fan_in) if fan_in > 0 else 0.0
            init.uniform_(self.bias, -bound, bound)

    def _padded(self, x: Any) -> tuple[Any, Any]:
        """The input padded by a non-zero padding_mode (then the convolution pads no more)."""
        mode = _PADDING_MODES[self.padding_mode]
        if mode is None:
            return x, self.padding
        d = self._d
        if self.padding == "same":  # PyTorch's split: the odd entry goes after
            total = [r * (k - 1) for k, r in zip(self.kernel_size, self.dilation)]
            pairs = tuple((t // 2, t - t // 2) for t in total)
        else:
            pairs = ((0, 0),) * d if self.padding == "valid" else tuple(
                (p, p) for p in self.padding)
        widths = ((0, 0),) * (len(np.shape(x)) - d) + pairs
        return ops.pad(x, widths, mode=mode), 0

    def extra_repr(self) -> str:
        s = (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
             f"stride={self.stride}")
        if self.padding != (0,) * self._d:
            s += f", padding={self.padding}"
        if self.dilation != (1,) * self._d:
            s += f", dilation={self.dilation}"
        if self.output_padding != (0,) * self._d:
            s += f", output_padding={self.output_padding}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        if self.padding_mode != "zeros":
            s += f", padding_mode={self.padding_mode!r}"
        return s


class _Conv(_ConvNd):
    def __init__(self, in_channels: int, out_channels: int, kernel_size: Any, stride: Any = 1,
                 padding: Any = 0, dilation: Any = 1, groups: int = 1, bias: bool = True,
                 padding_mode: str = "zeros", dtype: Any = np.float32) -> None:
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation,
                         groups, bias, padding_mode, dtype)

    def forward(self, x: Any) -> Any:
        _check_input(self, x, self._d, self.in_channels)
        x, padding = self._padded(x)
        fn = (F.conv1d, F.conv2d, F.conv3d)[self._d - 1]
        return fn(x, self.weight, self.bias, self.stride, padding, self.dilation, self.groups)


class Conv1d(_Conv):
    """1-d convolution over (N, C_in, L): weight (C_out, C_in / groups, K), bias (C_out,)."""

    _d = 1


class Conv2d(_Conv):
    """2-d convolution over (N, C_in, H, W): weight (C_out, C_in / groups, kH, kW), bias
    (C_out,); stride, padding (numbers, 'valid' or 'same'), dilation, groups, padding_mode
    ('zeros', 'reflect', 'replicate', 'circular') as PyTorch's."""

    _d = 2


class Conv3d(_Conv):
    """3-d convolution over (N, C_in, D, H, W)."""

    _d = 3


class _ConvTranspose(_ConvNd):
    _transposed = True

    def __init__(self, in_channels: int, out_channels: int, kernel_size: Any, stride: Any = 1,
                 padding: Any = 0, output_padding: Any = 0, groups: int = 1, bias: bool = True,
                 dilation: Any = 1, padding_mode: str = "zeros", dtype: Any = np.float32) -> None:
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation,
                         groups, bias, padding_mode, dtype, output_padding)

    def forward(self, x: Any) -> Any:
        _check_input(self, x, self._d, self.in_channels)
        fn = (F.conv_transpose1d, F.conv_transpose2d)[self._d - 1]
        return fn(x, self.weight, self.bias, self.stride, self.padding, self.output_padding,
                  self.groups, self.dilation)


class ConvTranspose1d(_ConvTranspose):
    """The transposed 1-d convolution: weight (C_in, C_out / groups, K)."""

    _d = 1


class ConvTranspose2d(_ConvTranspose):
    """The transposed 2-d convolution (the adjoint of Conv2d in its input, used to upsample):
    weight (C_in, C_out / groups, kH, kW)."""

    _d = 2


class _Pool(Module):
    _d = 2

    def __init__(self, kernel_size: Any, stride: Any = None, padding: Any = 0,
                 **options: Any) -> None:
        super().__init__()
        self.kernel_size, self.padding = kernel_size, padding
        self.stride = kernel_size if stride is None else stride
        self.options = options

    def _check(self, x: Any) -> None:
        shape = tuple(np.shape(x))
        if len(shape) not in (self._d + 1, self._d + 2):
            raise ValueError(f"{type(self).__name__}: expected a {self._d + 2}-d input (N, C, "
                             f"*S) or a {self._d + 1}-d unbatched one, got shape {shape}")

    def extra_repr(self) -> str:
        extra = "".join(f", {k}={v}" for k, v in self.options.items())
        return (f"kernel_size={self.kernel_size}, stride={self.stride}, "
                f"padding={self.padding}{extra}")


class _MaxPool(_Pool):
    def __init__(self, kernel_size: Any, stride: Any = None, padding: Any = 0, dilation: Any = 1,
                 return_indices: bool = False, ceil_mode: bool = False) -> None:
        if return_indices:
            raise ValueError(f"{type(self).__name__}: return_indices=True is not supported; the "
                             f"gradient already goes to the first largest entry of each window")
        super().__init__(kernel_size, stride, padding, dilation=dilation, ceil_mode=ceil_mode)

    def forward(self, x: Any) -> Any:
        self._check(x)
        fn = (F.max_pool1d, F.max_pool2d)[self._d - 1]
        return fn(x, self.kernel_size, self.stride, self.padding, **self.options)


class MaxPool1d(_MaxPool):
    """The largest entry of each window along L (the first one gets the gradient)."""

    _d = 1


class MaxPool2d(_MaxPool):
    """The largest entry of each kH x kW window (the first one gets the gradient)."""

    _d = 2


class AvgPool1d(_Pool):
    """The mean of each window along L."""

    _d = 1

    def __init__(self, kernel_size: Any, stride: Any = None, padding: Any = 0,
                 ceil_mode: bool = False, count_include_pad: bool = True) -> None:
        super().__init__(kernel_size, stride, padding, ceil_mode=ceil_mode,
                         count_include_pad=count_include_pad)

    def forward(self, x: Any) -> Any:
        self._check(x)
        return F.avg_pool1d(x, self.kernel_size, self.stride, self.padding, **self.options)


class AvgPool2d(_Pool):
    """The mean of each kH x kW window."""

    _d = 2

    def __init__(self, kernel_size: Any, stride: Any = None, padding: Any = 0,
                 ceil_mode: bool = False, count_include_pad: bool = True,
                 divisor_override: int | None = None) -> None:
        super().__init__(kernel_size, stride, padding, ceil_mode=ceil_mode,
                         count_include_pad=count_include_pad, divisor_override=divisor_override)

    def forward(self, x: Any) -> Any:
        self._check(x)
        return F.avg_pool2d(x, self.kernel_size, self.stride, self.padding, **self.options)


class AdaptiveAvgPool1d(Module):
    """Averages over windows chosen so that L becomes ``output_size``."""

    def __init__(self, output_size: Any) -> None:
        super().__init__()
        self.output_size = output_size

    def forward(self, x: Any) -> Any:
        return F.adaptive_avg_pool1d(x, self.output_size)

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"


class AdaptiveAvgPool2d(AdaptiveAvgPool1d):
    """Averages over windows chosen so that (H, W) becomes ``output_size`` (an int for both;
    None keeps an axis); AdaptiveAvgPool2d(1) is global average pooling."""

    def forward(self, x: Any) -> Any:
        return F.adaptive_avg_pool2d(x, self.output_size)
