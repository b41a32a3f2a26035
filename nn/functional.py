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
from reverse import Tensor

relu = ops.relu
sigmoid = ops.sigmoid
tanh = ops.tanh
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


def l1_loss(input: Any, target: Any, reduction: str = "mean") -> Any:
    """The mean (or sum) of |input - target| (slope 0 where they are equal, as PyTorch)."""
    _check_reduction("l1_loss", reduction)
    _same_shape("l1_loss", input, target)
    return _reduce(ops.abs(ops.sub(input, target)), reduction)


def smooth_l1_loss(input: Any, target: Any, reduction: str = "mean", beta: float = 1.0) -> Any:
    """0.5 d ** 2 / beta where |d| < beta, else |d| - 0.5 beta, d = input - target."""
    _check_reduction("smooth_l1_loss", reduction)
    _same_shape("smooth_l1_loss", input, target)
    if beta < 0:
        raise ValueError(f"smooth_l1_loss: beta must be >= 0, got {beta}")
    d = ops.abs(ops.sub(input, target))
    if beta == 0:
        return _reduce(d, reduction)
    near = ops.less(d, beta)
    return _reduce(ops.where(near, ops.div(ops.mul(ops.mul(d, d), 0.5), beta),
                             ops.sub(d, 0.5 * beta)), reduction)


def huber_loss(input: Any, target: Any, reduction: str = "mean", delta: float = 1.0) -> Any:
    """0.5 d ** 2 where |d| < delta, else delta (|d| - 0.5 delta), d = input - target."""
    _check_reduction("huber_loss", reduction)
    _same_shape("huber_loss", input, target)
    if delta <= 0:
        raise ValueError(f"huber_loss: delta must be > 0, got {delta}")
    d = ops.abs(ops.sub(input, target))
    near = ops.less(d, delta)
    return _reduce(ops.where(near, ops.mul(ops.mul(d, d), 0.5),
                             ops.mul(ops.sub(d, 0.5 * delta), delta)), reduction)


_LOG_FLOOR = -100.0  # PyTorch clamps binary_cross_entropy's logarithms here
_EXP_FLOOR = float(np.exp(_LOG_FLOOR))


def _floored_log(p: Any) -> Any:
    """log(p), and -100 where p <= exp(-100) (0 included, with derivative 0 there)."""
    above = ops.greater(p, _EXP_FLOOR)
    return ops.where(above, ops.log(ops.where(above, p, 1.0)), _LOG_FLOOR)


def binary_cross_entropy(input: Any, target: Any, weight: Any = None,
                         reduction: str = "mean") -> Any:
    """-(y log p + (1 - y) log(1 - p)) for probabilities p, each log floored at -100 as PyTorch
    does (prefer binary_cross_entropy_with_logits on logits)."""
    _check_reduction("binary_cross_entropy", reduction)
    _same_shape("binary_cross_entropy", input, target)
    losses = ops.neg(ops.add(ops.mul(target, _floored_log(input)),
                             ops.mul(ops.sub(1.0, target), _floored_log(ops.sub(1.0, input)))))
    if weight is not None:
        losses = ops.mul(losses, weight)
    return _reduce(losses, reduction)


def kl_div(input: Any, target: Any, reduction: str = "mean", log_target: bool = False) -> Any:
    """target (log target - input) for log-probabilities ``input``, 0 where target is 0;
    reduction 'batchmean' divides the sum by the batch size (the mathematical KL divergence)."""
    if reduction not in (*REDUCTIONS, "batchmean"):
        raise ValueError(f"kl_div: reduction must be one of {(*REDUCTIONS, 'batchmean')}, got "
                         f"{reduction!r}")
    _same_shape("kl_div", input, target)
    if log_target:
        losses = ops.mul(ops.exp(target), ops.sub(target, input))
    else:
        positive = ops.greater(target, 0)
        log_t = ops.log(ops.where(positive, target, 1.0))
        losses = ops.where(positive, ops.mul(target, ops.sub(log_t, input)),
                           ops.mul(target, ops.neg(input)))
    if reduction == "batchmean":
        n = np.shape(input)[0] if np.ndim(input) else 1
        return ops.div(ops.sum(losses), n)
    return _reduce(losses, reduction)


def one_hot(tensor: Any, num_classes: int = -1) -> Any:
    """Integer class indices as one-hot rows of int64, (..., num_classes) (not differentiable);
    num_classes=-1 takes the largest index plus one."""
    idx = np.asarray(getattr(tensor, "data", tensor))
    if idx.dtype.kind not in "iu":
        raise TypeError(f"one_hot: class indices must be integers, got dtype {idx.dtype}")
    if idx.size and idx.min() < 0:
        raise ValueError(f"one_hot: class indices must be >= 0, got {int(idx.min())}")
    n = int(idx.max()) + 1 if num_classes == -1 and idx.size else int(num_classes)
    if idx.size and idx.max() >= n:
        raise ValueError(f"one_hot: class index {int(idx.max())} is out of range for "
                         f"num_classes={n}")
    return Tensor(np.eye(n, dtype=np.int64)[idx], dtype=np.int64)


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


# --- activations beyond relu, as PyTorch defines them (values and the derivative at the kinks) ---

_SQRT_HALF = 0.5 ** 0.5
_SQRT_TWO_OVER_PI = (2.0 / np.pi) ** 0.5


def gelu(input: Any, approximate: str = "none") -> Any:
    """x Phi(x) with Phi the standard normal CDF, 0.5 x (1 + erf(x / sqrt 2)); with
    ``approximate='tanh'``, 0.5 x (1 + tanh(sqrt(2 / pi) (x + 0.044715 x ** 3)))."""
    if approximate == "none":
        return ops.mul(ops.mul(input, 0.5), ops.add(ops.erf(ops.mul(input, _SQRT_HALF)), 1.0))
    if approximate == "tanh":
        inner = ops.mul(ops.add(input, ops.mul(ops.mul(ops.mul(input, input), input), 0.044715)),
                        _SQRT_TWO_OVER_PI)
        return ops.mul(ops.mul(input, 0.5), ops.add(ops.tanh(inner), 1.0))
    raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")


def silu(input: Any) -> Any:
    """x sigmoid(x) (also called swish)."""
    return ops.mul(input, ops.sigmoid(input))


def leaky_relu(input: Any, negative_slope: float = 0.01) -> Any:
    """x for x > 0, negative_slope x otherwise (slope negative_slope at 0, as PyTorch)."""
    return ops.where(ops.greater(input, 0), input, ops.mul(input, negative_slope))


def elu(input: Any, alpha: float = 1.0) -> Any:
    """x for x > 0, alpha (exp(x) - 1) otherwise (slope alpha at 0, as PyTorch). The negative
    branch is computed at 0 where x > 0, so that a large x never overflows exp, even in the
    branch not taken."""
    positive = ops.greater(input, 0)
    negative = ops.mul(ops.expm1(ops.where(positive, 0.0, input)), alpha)
    return ops.where(positive, input, negative)


def softplus(input: Any, beta: float = 1.0, threshold: float = 20.0) -> Any:
    """log(1 + exp(beta x)) / beta, and x itself where beta x > threshold (PyTorch's
    softplus with its beta and threshold)."""
    scaled = ops.mul(input, beta)
    smooth = ops.softplus(scaled) if beta == 1.0 else ops.div(ops.softplus(scaled), beta)
    return ops.where(ops.greater(scaled, threshold), input, smooth)


def hardtanh(input: Any, min_val: float = -1.0, max_val: float = 1.0) -> Any:
    """x clipped to [min_val, max_val]; slope 1 strictly inside, 0 at and beyond the bounds (as
    PyTorch's hardtanh, where clamp's slope is 1 at the bounds)."""
    if min_val > max_val:
        raise ValueError(f"hardtanh: min_val {min_val} is greater than max_val {max_val}")
    inside = ops.logical_and(ops.greater(input, min_val), ops.less(input, max_val))
    edge = ops.where(ops.greater(input, min_val), max_val, min_val)  # a constant
    return ops.where(inside, input, edge)


def layer_norm(input: Any, normalized_shape: Any, weight: Any = None, bias: Any = None,
               eps: float = 1e-5) -> Any:
    """(x - mean) / sqrt(var + eps) over the last axes ``normalized_shape`` (biased variance),
    then times weight plus bias (torch.nn.functional.layer_norm)."""
    shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    got = np.shape(input)
    if tuple(got[len(got) - len(shape):]) != shape:
        raise ValueError(f"layer_norm: normalized_shape {shape} must be the last axes of the "
                         f"input, whose shape is {got}")
    axes = tuple(range(-len(shape), 0))
    mean = ops.mean(input, axes, True)
    centred = ops.sub(input, mean)
    var = ops.mean(ops.mul(centred, centred), axes, True)
    out = ops.div(centred, ops.sqrt(ops.add(var, eps)))
    if weight is not None:
        out = ops.mul(out, weight)
    if bias is not None:
        out = ops.add(out, bias)
    return out


def embedding(input: Any, weight: Any, padding_idx: int | None = None) -> Any:
    """weight[input]: the rows of ``weight`` at the integer indices ``input``; the row at
    ``padding_idx`` gets no gradient (torch.nn.functional.embedding)."""
    idx = np.asarray(getattr(input, "data", input))
    if idx.dtype.kind not in "iu":
        raise TypeError(f"embedding: indices must be integers, got dtype {idx.dtype}")
    n = np.shape(weight)[0]
    if idx.size and (idx.min() < -n or idx.max() >= n):
        bad = idx.max() if idx.max() >= n else idx.min()
        raise IndexError(f"embedding: index {int(bad)} is out of range for a table of {n} rows "
                         f"(nn.Embedding with num_embeddings={n}); indices must be in "
                         f"[0, {n - 1}]")
    rows = weight[idx]
    if padding_idx is None:
        return rows
    keep = (idx != padding_idx % n)[..., None]
    return ops.where(keep, rows, rows.detach() if hasattr(rows, "detach") else rows)


def flatten(input: Any, start_dim: int = 0, end_dim: int = -1) -> Any:
    """The axes from start_dim to end_dim merged into one (torch.flatten)."""
    return ops.flatten(input, start_dim, end_dim)


__all__ = [
    "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
    "cross_entropy",
    "dropout",
    "elu",
    "embedding",
    "flatten",
    "gelu",
    "hardtanh",
    "huber_loss",
    "kl_div",
    "l1_loss",
    "layer_norm",
    "leaky_relu",
    "linear",
    "log_softmax",
    "mse_loss",
    "nll_loss",
    "one_hot",
    "relu",
    "sigmoid",
    "silu",
    "smooth_l1_loss",
    "softmax",
    "softplus",
    "tanh",
]
