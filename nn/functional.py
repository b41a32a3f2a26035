"""The functional API (torch.nn.functional): layers and losses as functions of tensors.

Each function is a registry op or a short composition of registry ops; nothing here knows a
derivative. ``linear`` and ``cross_entropy`` are fused ops of adcore (one node each); the rest
compose.

>>> from reverse import Tensor
>>> logits = Tensor([[2.0, 0.5, -1.0]], requires_grad=True)
>>> loss = cross_entropy(logits, Tensor([0], dtype=np.int64))
>>> round(float(loss), 4)
0.2413
"""
from __future__ import annotations

from typing import Any

import numpy as np

from adcore import ops
from adcore.ops.nn import REDUCTIONS, class_indices
from nn import rng

relu = ops.relu
sigmoid = ops.sigmoid
tanh = ops.tanh
softplus = ops.softplus
linear = ops.linear
cross_entropy = ops.cross_entropy


def softmax(input: Any, dim: int = -1) -> Any:
    """exp(x) / sum(exp(x)) along ``dim`` (torch.nn.functional.softmax)."""
    return ops.softmax(input, dim=dim)


def log_softmax(input: Any, dim: int = -1) -> Any:
    """log(softmax(x)) along ``dim``, computed without cancellation."""
    return ops.log_softmax(input, dim=dim)


def _check_reduction(fn: str, reduction: str) -> None:
    if reduction not in REDUCTIONS:
        raise ValueError(f"{fn}: reduction must be one of {REDUCTIONS}, got {reduction!r}")


def _reduce(losses: Any, reduction: str) -> Any:
    if reduction == "mean":
        return ops.mean(losses)
    return ops.sum(losses) if reduction == "sum" else losses


def _same_shape(fn: str, input: Any, target: Any) -> None:
    a, b = np.shape(input), np.shape(target)
    if a != b:
        raise ValueError(f"{fn}: input has shape {a} but target has shape {b}; they must match "
                         f"(broadcasting a target silently averages the wrong pairs)")


def mse_loss(input: Any, target: Any, reduction: str = "mean") -> Any:
    """The mean (or sum) of (input - target) ** 2 (torch.nn.functional.mse_loss)."""
    _check_reduction("mse_loss", reduction)
    _same_shape("mse_loss", input, target)
    diff = ops.sub(input, target)
    return _reduce(ops.mul(diff, diff), reduction)


def nll_loss(input: Any, target: Any, reduction: str = "mean") -> Any:
    """-input[n, target[n]], reduced: the loss for log-probabilities (after log_softmax)."""
    _check_reduction("nll_loss", reduction)
    shape = np.shape(input)
    if len(shape) not in (1, 2):
        raise ValueError(f"nll_loss: input must have shape (N, C) or (C,), got {shape}")
    t = class_indices(target, shape, "nll_loss")
    picked = input[t] if len(shape) == 1 else input[np.arange(shape[0]), t]
    return _reduce(ops.neg(picked), reduction)


def binary_cross_entropy_with_logits(input: Any, target: Any, reduction: str = "mean") -> Any:
    """-(y log sigmoid(z) + (1 - y) log(1 - sigmoid(z))) = softplus(z) - y z, without overflow."""
    _check_reduction("binary_cross_entropy_with_logits", reduction)
    _same_shape("binary_cross_entropy_with_logits", input, target)
    return _reduce(ops.sub(ops.softplus(input), ops.mul(target, input)), reduction)


def dropout(input: Any, p: float = 0.5, training: bool = True,
            generator: np.random.Generator | None = None) -> Any:
    """Zero each element with probability p and scale the rest by 1 / (1 - p), in training only.

    The mask is ``generator.random(shape) >= p`` (``generator``: a numpy Generator; by default
    nn's, which ``nn.manual_seed`` seeds), so the same seed gives the same mask. The gradient with
    respect to ``input`` is mask / (1 - p).
    """
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout: p must be a probability in [0, 1], got {p}")
    gen = rng.resolve(generator, "dropout")
    if not training or p == 0.0:
        return input
    if p == 1.0:
        return ops.mul(input, 0.0)
    shape, dtype = np.shape(input), np.result_type(input)
    keep = gen.random(shape, dtype=np.float64) >= p
    return ops.mul(input, keep.astype(dtype) * np.asarray(1.0 / (1.0 - p), dtype))


def flatten(input: Any, start_dim: int = 0, end_dim: int = -1) -> Any:
    """The axes from start_dim to end_dim merged into one (torch.flatten)."""
    return ops.flatten(input, start_dim, end_dim)


__all__ = ["binary_cross_entropy_with_logits", "cross_entropy", "dropout", "flatten",
           "linear", "log_softmax", "mse_loss", "nll_loss", "relu", "sigmoid", "softmax",
           "softplus", "tanh"]
