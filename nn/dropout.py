"""Dropout (torch.nn.functional.dropout and its channel-wise and SELU variants): random masks
from an explicit generator, applied with registry ops (a multiplication by a constant mask), so
that the gradient is the mask scaled as the forward pass scaled it.

Every function takes ``generator=`` (a numpy Generator; by default nn's, which ``nn.manual_seed``
seeds), so the same seed gives the same mask. nn.functional re-exports them.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from adcore import ops
from adcore.shapes import dtype_of, shape_of
from nn import rng

__all__ = ["alpha_dropout", "dropout", "dropout1d", "dropout2d", "dropout3d"]


def dropout(input: Any, p: float = 0.5, training: bool = True,
            generator: np.random.Generator | None = None) -> Any:
    """Zero each element with probability p and scale the rest by 1 / (1 - p), in training only.

    The mask is ``generator.random(shape) >= p`` (``generator``: a numpy Generator; by default
    nn's, which ``nn.manual_seed`` seeds), so the same seed gives the same mask. The gradient with
    respect to ``input`` is mask / (1 - p).
    """
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout: p must be a probability in [0, 1], got {p}")
    if not training or p == 0.0:
        return input
    if p == 1.0:
        return ops.mul(input, 0.0)
    gen = rng.resolve(generator, "dropout")
    shape, dtype = np.shape(input), np.result_type(input)
    keep = gen.random(shape, dtype=np.float64) >= p
    return ops.mul(input, keep.astype(dtype) * np.asarray(1.0 / (1.0 - p), dtype))


def _channel_dropout(fn: str, input: Any, p: float, training: bool, generator: Any,
                     spatial: int, batch_axis_optional: bool) -> Any:
    """Zero whole channels with probability p and scale the rest by 1 / (1 - p): the mask has
    shape (N, C, 1, ...), one draw per channel (``generator.random((N, C)) >= p``); without a
    batch axis (when ``batch_axis_optional``), (C, 1, ...)."""
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"{fn}: p must be a probability in [0, 1], got {p}")
    shape = shape_of(input)
    ranks = (spatial + 1, spatial + 2)
    if len(shape) not in ranks:
        axes = ", ".join(("L",) if spatial == 1 else ("H", "W") if spatial == 2
                         else ("D", "H", "W"))
        unbatched = f"(C, {axes}) or " if batch_axis_optional else "(N, C, L) or "
        raise ValueError(f"{fn}: expected an input of shape {unbatched}(N, C, {axes}) "
                         f"({ranks[0]} or {ranks[1]} axes), got shape {shape}; channel-wise "
                         f"dropout zeroes whole channels of feature maps (use dropout for "
                         f"elementwise dropout)")
    if not training or p == 0.0 or math.prod(shape) == 0:
        return input
    if p == 1.0:
        return ops.mul(input, 0.0)
    gen = rng.resolve(generator, fn)
    channels = 1 if batch_axis_optional and len(shape) == ranks[0] else 2
    mask_shape = tuple(shape[:channels]) + (1,) * (len(shape) - channels)
    dtype = dtype_of(input)
    keep = gen.random(mask_shape, dtype=np.float64) >= p
    return ops.mul(input, keep.astype(dtype) * np.asarray(1.0 / (1.0 - p), dtype))


def dropout1d(input: Any, p: float = 0.5, training: bool = True,
              generator: np.random.Generator | None = None) -> Any:
    """Channel-wise dropout of (N, C, L) or (C, L) inputs: each channel input[n, c] is zeroed
    with probability p, the others scaled by 1 / (1 - p) (torch.nn.functional.dropout1d)."""
    return _channel_dropout("dropout1d", input, p, training, generator, 1, True)


def dropout2d(input: Any, p: float = 0.5, training: bool = True,
              generator: np.random.Generator | None = None) -> Any:
    """Channel-wise dropout of (N, C, H, W) inputs: each channel input[n, c] is zeroed with
    probability p, the others scaled by 1 / (1 - p). A 3-axis input is read as (N, C, L), as
    PyTorch 2.x reads it (not as an unbatched (C, H, W)); dropout1d says so more plainly."""
    return _channel_dropout("dropout2d", input, p, training, generator, 2, False)


def dropout3d(input: Any, p: float = 0.5, training: bool = True,
              generator: np.random.Generator | None = None) -> Any:
    """Channel-wise dropout of (N, C, D, H, W) or (C, D, H, W) inputs: each channel is zeroed
    with probability p, the others scaled by 1 / (1 - p) (torch.nn.functional.dropout3d)."""
    return _channel_dropout("dropout3d", input, p, training, generator, 3, True)


_SELU_ALPHA_SCALE = 1.7580993408473766  # SELU's scale times its alpha: where it saturates, negated


def alpha_dropout(input: Any, p: float = 0.5, training: bool = False,
                  generator: np.random.Generator | None = None) -> Any:
    """Dropout for SELU networks, keeping mean 0 and variance 1: a x + a alpha' p where kept,
    a alpha' (p - 1) where dropped, a = 1 / sqrt((alpha'^2 p + 1)(1 - p)), alpha' = 1.7581
    (torch.nn.functional.alpha_dropout; note that training defaults to False there too).

    The mask is ``generator.random(shape) >= p``; the gradient with respect to ``input`` is
    a times the mask.
    """
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"alpha_dropout: p must be a probability in [0, 1], got {p}")
    shape = shape_of(input)
    if not training or p == 0.0 or math.prod(shape) == 0:
        return input
    if p == 1.0:
        return ops.mul(input, 0.0)
    gen = rng.resolve(generator, "alpha_dropout")
    dtype = dtype_of(input)
    keep = (gen.random(shape, dtype=np.float64) >= p).astype(dtype)
    a = 1.0 / math.sqrt((_SELU_ALPHA_SCALE ** 2 * p + 1.0) * (1.0 - p))
    shift = (keep - 1) * (_SELU_ALPHA_SCALE * a) + _SELU_ALPHA_SCALE * a * p
    return ops.add(ops.mul(input, keep * np.asarray(a, dtype)), shift.astype(dtype))
