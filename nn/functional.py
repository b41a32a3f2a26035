"""The functional API (torch.nn.functional): layers and losses as functions of tensors.

Each function is a registry op or a short composition of registry ops; nothing here knows a
derivative. ``linear`` and ``cross_entropy`` are fused ops of adcore (one node each); the rest
compose. ``cross_entropy`` takes the fused op for (N, C) logits and class indices without class
weights or ignored targets (the training hot path), and composes log_softmax, take_along_axis,
where and sum for the rest (weights, ignore_index, (N, C, d1, ...) logits, class probabilities).

>>> from reverse import Tensor
>>> logits = Tensor([[2.0, 0.5, -1.0]], requires_grad=True)
>>> loss = cross_entropy(logits, Tensor([0], dtype=np.int64))
>>> round(float(loss), 4)
0.2413
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from adcore import ops
from adcore.levels import bind, is_engine_value, raw
from adcore.ops.elementwise import retry_quietly
from adcore.ops.nn import REDUCTIONS, class_indices, cross_entropy_op, target_shape
from adcore.shapes import broadcasts_to, dtype_of, shape_of
from nn.attention import multi_head_attention_forward, scaled_dot_product_attention
from nn.dropout import alpha_dropout, dropout, dropout1d, dropout2d, dropout3d
from reverse import Tensor

relu = ops.relu
sigmoid = ops.sigmoid
tanh = ops.tanh
linear = ops.linear


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
    """The target of a loss that compares values: the input's shape, and floating (as PyTorch)."""
    a, b = np.shape(input), np.shape(target)
    if a != b:
        raise ValueError(f"{fn}: input has shape {a} but target has shape {b}; they must match "
                         f"(broadcasting a target silently averages the wrong pairs)")
    dtype = getattr(target, "dtype", None)
    if not isinstance(dtype, np.dtype):
        dtype = np.asarray(target).dtype
    if dtype.kind in "biu":
        name = dtype_of(input).name
        raise TypeError(f"{fn}: target is {dtype}, but this loss compares values and needs a "
                        f"floating target, as PyTorch's does; convert it, "
                        f"target.astype(np.{name}) (or Tensor(target, dtype=np.{name})); class "
                        f"indices belong with cross_entropy")


def mse_loss(input: Any, target: Any, reduction: str = "mean") -> Any:
    """The mean (or sum) of (input - target) ** 2 (torch.nn.functional.mse_loss)."""
    _check_reduction("mse_loss", reduction)
    _same_shape("mse_loss", input, target)
    diff = ops.sub(input, target)
    return _reduce(ops.mul(diff, diff), reduction)


# --- cross-entropies with PyTorch's options: nll_loss, cross_entropy, BCE with logits ---------

def _refuse_str_weight(fn: str, weight: Any) -> None:
    """A reduction passed where PyTorch puts ``weight`` (the third argument) is named."""
    if isinstance(weight, str):
        raise TypeError(f"{fn}: weight must be None or a tensor of weights, got the str "
                        f"{weight!r}; pass the reduction by keyword, reduction={weight!r} "
                        f"(the arguments are (input, target, weight, ...), as in PyTorch)")


def _float_like(value: Any, input: Any) -> Any:
    """``value`` (a weight) in the input's floating dtype: arrays and lists are converted, tensors
    of another dtype cast (float32 logits stay float32, as PyTorch requires of its weights)."""
    dtype = np.result_type(dtype_of(input), np.float32)
    if raw(value) is value:
        return np.asarray(value, dtype=dtype)
    return value if dtype_of(value) == dtype else ops.astype(value, dtype)


def _class_axis(fn: str, shape: tuple) -> int:
    """The axis of the classes: 0 for (C,), 1 for (N, C) and (N, C, d1, ...)."""
    if not shape:
        raise ValueError(f"{fn}: input must have shape (C,), (N, C) or (N, C, d1, ...) with the "
                         f"classes on axis 1, got a scalar")
    return 0 if len(shape) == 1 else 1


def _class_weights(fn: str, weight: Any, input: Any, shape: tuple) -> Any:
    """``weight`` checked as one weight per class (shape (C,)), in the input's dtype."""
    if weight is None:
        return None
    _refuse_str_weight(fn, weight)
    weight = _float_like(weight, input)
    classes = shape[_class_axis(fn, shape)]
    if shape_of(weight) != (classes,):
        raise ValueError(f"{fn}: weight must hold one weight per class, shape ({classes},) for "
                         f"input of shape {shape}, got shape {shape_of(weight)}")
    return weight


def _per_class(weight: Any, ndim: int) -> Any:
    """Weights of shape (C,) shaped to broadcast along the class axis of an ndim-axis input."""
    return weight if ndim <= 2 else ops.reshape(weight, (-1,) + (1,) * (ndim - 2))


def _mean_over(total: Any, count: Any) -> Any:
    """total / count, and nan (with a zero gradient, as PyTorch) where count is 0."""
    empty = ops.equal(count, 0)
    return ops.where(empty, math.nan, ops.div(total, ops.where(empty, 1, count)))


def _class_index_loss(logp: Any, target: Any, weight: Any, ignore_index: int, reduction: str,
                      label_smoothing: float) -> Any:
    """PyTorch's nll_loss of log-probabilities ``logp`` (classes on axis 1, or 0 for (C,)), with
    cross_entropy's label smoothing: per target, (1 - e) w[t] (-logp[t]) + e / C sum_c w_c
    (-logp[c]), 0 where t == ignore_index; the mean divides by the sum of w[t] over the targets
    kept (their count without weights)."""
    shape = shape_of(logp)
    axis = 0 if len(shape) == 1 else 1
    keep = ops.not_equal(target, ignore_index)
    safe = ops.where(keep, target, 0)  # a valid index where the target is ignored
    picked = ops.squeeze(ops.take_along_axis(logp, ops.expand_dims(safe, axis), axis), axis)
    if weight is None:
        losses = ops.where(keep, ops.neg(picked), 0.0)
        total_weight = ops.sum(keep)
    else:
        w_t = ops.where(keep, ops.take(weight, safe), 0.0)
        losses = ops.where(keep, ops.neg(ops.mul(picked, w_t)), 0.0)
        total_weight = ops.sum(w_t)
    if label_smoothing:
        scaled = logp if weight is None else ops.mul(logp, _per_class(weight, len(shape)))
        smooth = ops.where(keep, ops.neg(ops.sum(scaled, axis)), 0.0)
        losses = ops.add(ops.mul(losses, 1.0 - label_smoothing),
                         ops.mul(smooth, label_smoothing / shape[axis]))
    if reduction == "none":
        return losses
    total = ops.sum(losses)
    return total if reduction == "sum" else _mean_over(total, total_weight)


def _probability_loss(fn: str, logp: Any, target: Any, weight: Any, ignore_index: int,
                      reduction: str, label_smoothing: float) -> Any:
    """-sum_c w_c q_c logp_c for class probabilities q (smoothed: (1 - e) q + e / C); the mean
    divides by the number of rows (N d1 ..., not the weights), as PyTorch."""
    shape = shape_of(logp)
    dtype = dtype_of(target)
    if dtype.kind != "f":
        raise TypeError(f"{fn}: target has the logits' shape {shape}, so it is read as class "
                        f"probabilities, which must be floating-point; got dtype {dtype} (class "
                        f"indices have shape {target_shape(shape)})")
    if ignore_index >= 0:
        raise ValueError(f"{fn}: ignore_index={ignore_index} is not supported with class-"
                         f"probability targets (a target of the logits' shape {shape}); leave it "
                         f"at its default, -100")
    axis = 0 if len(shape) == 1 else 1
    classes = shape[axis]
    q = target
    if label_smoothing:
        q = ops.add(ops.mul(target, 1.0 - label_smoothing), label_smoothing / classes)
    terms = ops.mul(logp, q)
    if weight is not None:
        terms = ops.mul(terms, _per_class(weight, len(shape)))
    losses = ops.neg(ops.sum(terms, axis))
    if reduction == "none":
        return losses
    total = ops.sum(losses)
    if reduction == "sum":
        return total
    rows = math.prod(shape) // classes if classes else 0
    return ops.div(total, rows) if rows else ops.add(ops.mul(total, 0.0), math.nan)


def _check_smoothing(fn: str, label_smoothing: float) -> float:
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"{fn}: label_smoothing must be in [0, 1], got {label_smoothing}")
    return float(label_smoothing)


def cross_entropy(input: Any, target: Any, weight: Any = None, *, ignore_index: int = -100,
                  reduction: str = "mean", label_smoothing: float = 0.0) -> Any:
    """-sum_c q_c log softmax(input)_c over the classes (torch.nn.functional.cross_entropy).

    ``input``: logits of shape (C,), (N, C) or (N, C, d1, ...) (classes on axis 1). ``target``:
    integer class indices of shape (), (N,) or (N, d1, ...) (q one-hot at the index), or class
    probabilities of the logits' shape (float). ``weight``: one weight per class, (C,).
    ``ignore_index``: targets equal to it add nothing and are left out of the mean.
    ``label_smoothing`` e mixes q with the uniform distribution: (1 - e) q + e / C. The mean
    divides by the sum of the targets' weights (class indices) or by the number of rows
    (probabilities). Finite and exact for logits of any size; (N, C) logits with class indices
    and no weight or ignored target are one fused node (adcore's ``cross_entropy``).

    >>> logits = Tensor([[0.0, 0.0], [2.0, 0.0]])
    >>> weighted = cross_entropy(logits, np.array([0, 1]), Tensor([3.0, 1.0]))
    >>> round(float(weighted), 4)  # (3 log 2 + log(1 + e^2)) / 4: divided by the weights' sum
    1.0516
    >>> round(float(cross_entropy(logits, np.array([0, -100]))), 4)  # log 2: row 1 is ignored
    0.6931
    """
    fn = "cross_entropy"
    _check_reduction(fn, reduction)
    _refuse_str_weight(fn, weight)
    smoothing = _check_smoothing(fn, label_smoothing)
    shape = shape_of(input)
    axis = _class_axis(fn, shape)
    if type(target) in (list, tuple):
        target = np.asarray(target)
    w = _class_weights(fn, weight, input, shape)
    if shape_of(target) == shape:
        return _probability_loss(fn, ops.log_softmax(input, axis), target, w, ignore_index,
                                 reduction, smoothing)
    t = class_indices(target, shape, fn, ignore_index, probabilities=True)
    if w is None and len(shape) <= 2 and not np.any(np.asarray(raw(t)) == ignore_index):
        return bind(cross_entropy_op, input, t, reduction=reduction, label_smoothing=smoothing,
                    rows=len(shape) - 1)
    return _class_index_loss(ops.log_softmax(input, axis), t, w, ignore_index, reduction,
                             smoothing)


def nll_loss(input: Any, target: Any, weight: Any = None, *, ignore_index: int = -100,
             reduction: str = "mean") -> Any:
    """-w[t] input[t] for log-probabilities ``input`` (after log_softmax), reduced
    (torch.nn.functional.nll_loss).

    Shapes, ``weight`` and ``ignore_index`` as in cross_entropy with class indices; the mean
    divides by the sum of w[t] over the targets kept.
    """
    fn = "nll_loss"
    _check_reduction(fn, reduction)
    _refuse_str_weight(fn, weight)
    shape = shape_of(input)
    _class_axis(fn, shape)
    if type(target) in (list, tuple):
        target = np.asarray(target)
    t = class_indices(target, shape, fn, ignore_index)
    w = _class_weights(fn, weight, input, shape)
    return _class_index_loss(input, t, w, ignore_index, reduction, 0.0)


def _broadcasts_to(fn: str, name: str, value: Any, shape: tuple) -> None:
    if value is None:
        return
    got = shape_of(value)
    if not broadcasts_to(got, shape):
        last = shape[-1] if shape else 1
        raise ValueError(f"{fn}: {name} of shape {got} does not broadcast to the input's shape "
                         f"{shape}; give it the input's shape or one that expands to it (one "
                         f"weight per class along the last axis: shape ({last},))")


def binary_cross_entropy_with_logits(input: Any, target: Any, weight: Any = None, *,
                                     reduction: str = "mean", pos_weight: Any = None) -> Any:
    """w ((1 - y) z + (1 + (pos_weight - 1) y) softplus(-z)), PyTorch's formula for
    -w (pos_weight y log sigmoid(z) + (1 - y) log(1 - sigmoid(z))), without overflow for any
    logit z (softplus(-z) = -log sigmoid(z)).

    ``weight`` rescales each element and ``pos_weight`` the positive term (one per class along
    the last axis); both broadcast to the input's shape.
    """
    fn = "binary_cross_entropy_with_logits"
    _check_reduction(fn, reduction)
    _refuse_str_weight(fn, weight)
    _same_shape(fn, input, target)
    shape = shape_of(input)
    if weight is not None:
        weight = _float_like(weight, input)
        _broadcasts_to(fn, "weight", weight, shape)
    if pos_weight is not None:
        pos_weight = _float_like(pos_weight, input)
        _broadcasts_to(fn, "pos_weight", pos_weight, shape)
    try:  # softplus(-z) is tiny for a large margin: products and the mean of it may underflow
        negative_part = ops.softplus(ops.neg(input))  # -log sigmoid(z)
        if pos_weight is not None:
            negative_part = ops.mul(ops.add(ops.mul(ops.sub(pos_weight, 1.0), target), 1.0),
                                    negative_part)
        losses = ops.add(ops.mul(ops.sub(1.0, target), input), negative_part)
        if weight is not None:
            losses = ops.mul(losses, weight)
        return _reduce(losses, reduction)
    except FloatingPointError as exc:  # benign underflow: once more with it ignored
        return retry_quietly(exc, binary_cross_entropy_with_logits, input, target, weight,
                             reduction=reduction, pos_weight=pos_weight)


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
    if weight is not None:
        _refuse_str_weight("binary_cross_entropy", weight)
        weight = _float_like(weight, input)
        _broadcasts_to("binary_cross_entropy", "weight", weight, shape_of(input))
    try:  # tiny probabilities: products and the mean of them (and their tangents) may underflow
        losses = ops.neg(ops.add(ops.mul(target, _floored_log(input)),
                                 ops.mul(ops.sub(1.0, target),
                                         _floored_log(ops.sub(1.0, input)))))
        if weight is not None:
            losses = ops.mul(losses, weight)
        return _reduce(losses, reduction)
    except FloatingPointError as exc:  # benign underflow: once more with it ignored
        return retry_quietly(exc, binary_cross_entropy, input, target, weight, reduction)


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
    positive = ops.logical_not(ops.less_equal(input, 0))  # and NaN: slope 1 there, as PyTorch
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
    # "Not at or beyond a bound" is also true at NaN: NaN stays NaN, with slope 1, as PyTorch.
    inside = ops.logical_not(ops.logical_or(ops.less_equal(input, min_val),
                                            ops.greater_equal(input, max_val)))
    edge = ops.astype(ops.where(ops.greater(input, min_val), max_val, min_val),  # a constant
                      dtype_of(input))
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
    out = ops.standardize(input, tuple(range(-len(shape), 0)), eps)
    if weight is not None:
        out = ops.mul(out, weight)
    if bias is not None:
        out = ops.add(out, bias)
    return out


def embedding(input: Any, weight: Any, padding_idx: int | None = None) -> Any:
    """weight[input]: the rows of ``weight`` at the integer indices ``input``; the row at
    ``padding_idx`` gets no gradient (torch.nn.functional.embedding)."""
    n = np.shape(weight)[0]
    if is_engine_value(input) and not isinstance(input, Tensor):
        # Indices of a transformation (an argument of a jitted function): an operand of the
        # lookup, whose values are not known here (numpy checks the bounds when it runs).
        if dtype_of(input).kind not in "iu":
            raise TypeError(f"embedding: indices must be integers, got dtype {dtype_of(input)}")
        if padding_idx is not None:
            raise NotImplementedError(f"embedding: padding_idx={padding_idx} with indices of a "
                                      f"transformation (jit's arguments) is not supported yet; "
                                      f"pass the indices as a Tensor, or padding_idx=None")
        return ops.take(weight, input, axis=0)
    idx = np.asarray(getattr(input, "data", input))
    if idx.dtype.kind not in "iu":
        raise TypeError(f"embedding: indices must be integers, got dtype {idx.dtype}")
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


# --- convolution, pooling and normalisation over (N, C, *S) -------------------------------------

def _batched(fn: str, input: Any, d: int) -> tuple[Any, bool]:
    """``input`` with a batch axis: (C, *S) unbatched inputs get one (and lose it after), as
    PyTorch's functions accept them."""
    shape = tuple(np.shape(input))
    if len(shape) == d + 1:
        return ops.expand_dims(input, 0), True
    if len(shape) != d + 2:
        raise ValueError(f"{fn}: expected a {d + 1}-d (unbatched, C, *S) or {d + 2}-d (batched, "
                         f"N, C, *S) input with {d} spatial axes, got shape {shape}")
    return input, False


def _unbatched(out: Any, added: bool) -> Any:
    return ops.squeeze(out, 0) if added else out


def _with_bias(out: Any, bias: Any, d: int) -> Any:
    if bias is None:
        return out
    return ops.add(out, ops.reshape(bias, (-1,) + (1,) * d))


def _conv(fn: str, d: int, input: Any, weight: Any, bias: Any, stride: Any, padding: Any,
          dilation: Any, groups: int) -> Any:
    x, added = _batched(fn, input, d)
    if len(np.shape(weight)) != d + 2:
        raise ValueError(f"{fn}: the weight must be (C_out, C_in / groups, *K) with {d} kernel "
                         f"axes, got shape {tuple(np.shape(weight))}")
    out = ops.conv(x, weight, stride=stride, padding=padding, dilation=dilation, groups=groups)
    return _unbatched(_with_bias(out, bias, d), added)


def conv1d(input: Any, weight: Any, bias: Any = None, stride: Any = 1, padding: Any = 0,
           dilation: Any = 1, groups: int = 1) -> Any:
    """The 1-d convolution (cross-correlation) of input (N, C_in, L) with weight (C_out,
    C_in / groups, K), plus bias (torch.nn.functional.conv1d)."""
    return _conv("conv1d", 1, input, weight, bias, stride, padding, dilation, groups)


def conv2d(input: Any, weight: Any, bias: Any = None, stride: Any = 1, padding: Any = 0,
           dilation: Any = 1, groups: int = 1) -> Any:
    """The 2-d convolution (cross-correlation) of input (N, C_in, H, W) with weight (C_out,
    C_in / groups, kH, kW), plus bias (torch.nn.functional.conv2d); padding may be 'same'."""
    return _conv("conv2d", 2, input, weight, bias, stride, padding, dilation, groups)


def conv3d(input: Any, weight: Any, bias: Any = None, stride: Any = 1, padding: Any = 0,
           dilation: Any = 1, groups: int = 1) -> Any:
    """The 3-d convolution of input (N, C_in, D, H, W) with weight (C_out, C_in / groups, kD,
    kH, kW), plus bias (torch.nn.functional.conv3d)."""
    return _conv("conv3d", 3, input, weight, bias, stride, padding, dilation, groups)


def _conv_transpose(fn: str, d: int, input: Any, weight: Any, bias: Any, stride: Any,
                    padding: Any, output_padding: Any, groups: int, dilation: Any) -> Any:
    x, added = _batched(fn, input, d)
    if len(np.shape(weight)) != d + 2:
        raise ValueError(f"{fn}: the weight must be (C_in, C_out / groups, *K) with {d} kernel "
                         f"axes, got shape {tuple(np.shape(weight))}")
    out = ops.conv_transpose(x, weight, stride=stride, padding=padding,
                             output_padding=output_padding, groups=groups, dilation=dilation)
    return _unbatched(_with_bias(out, bias, d), added)


def conv_transpose1d(input: Any, weight: Any, bias: Any = None, stride: Any = 1,
                     padding: Any = 0, output_padding: Any = 0, groups: int = 1,
                     dilation: Any = 1) -> Any:
    """The transposed 1-d convolution (the adjoint of conv1d in its input), weight (C_in,
    C_out / groups, K) (torch.nn.functional.conv_transpose1d)."""
    return _conv_transpose("conv_transpose1d", 1, input, weight, bias, stride, padding,
                           output_padding, groups, dilation)


def conv_transpose2d(input: Any, weight: Any, bias: Any = None, stride: Any = 1,
                     padding: Any = 0, output_padding: Any = 0, groups: int = 1,
                     dilation: Any = 1) -> Any:
    """The transposed 2-d convolution (the adjoint of conv2d in its input), weight (C_in,
    C_out / groups, kH, kW) (torch.nn.functional.conv_transpose2d)."""
    return _conv_transpose("conv_transpose2d", 2, input, weight, bias, stride, padding,
                           output_padding, groups, dilation)


def _pool(fn: str, d: int, input: Any, pool: Any, **options: Any) -> Any:
    x, added = _batched(fn, input, d)
    return _unbatched(pool(x, **options), added)


def max_pool1d(input: Any, kernel_size: Any, stride: Any = None, padding: Any = 0,
               dilation: Any = 1, ceil_mode: bool = False) -> Any:
    """The largest entry of each window along the last axis (torch.nn.functional.max_pool1d);
    the gradient goes to the first largest entry of a window."""
    return _pool("max_pool1d", 1, input, ops.max_pool, kernel_size=kernel_size, stride=stride,
                 padding=padding, dilation=dilation, ceil_mode=ceil_mode)


def max_pool2d(input: Any, kernel_size: Any, stride: Any = None, padding: Any = 0,
               dilation: Any = 1, ceil_mode: bool = False) -> Any:
    """The largest entry of each window over the last two axes (torch.nn.functional.max_pool2d);
    the gradient goes to the first largest entry of a window."""
    return _pool("max_pool2d", 2, input, ops.max_pool, kernel_size=kernel_size, stride=stride,
                 padding=padding, dilation=dilation, ceil_mode=ceil_mode)


def avg_pool1d(input: Any, kernel_size: Any, stride: Any = None, padding: Any = 0,
               ceil_mode: bool = False, count_include_pad: bool = True) -> Any:
    """The mean of each window along the last axis (torch.nn.functional.avg_pool1d)."""
    return _pool("avg_pool1d", 1, input, ops.avg_pool, kernel_size=kernel_size, stride=stride,
                 padding=padding, ceil_mode=ceil_mode, count_include_pad=count_include_pad)


def avg_pool2d(input: Any, kernel_size: Any, stride: Any = None, padding: Any = 0,
               ceil_mode: bool = False, count_include_pad: bool = True,
               divisor_override: int | None = None) -> Any:
    """The mean of each window over the last two axes (torch.nn.functional.avg_pool2d)."""
    return _pool("avg_pool2d", 2, input, ops.avg_pool, kernel_size=kernel_size, stride=stride,
                 padding=padding, ceil_mode=ceil_mode, count_include_pad=count_include_pad,
                 divisor_override=divisor_override)


def adaptive_avg_pool1d(input: Any, output_size: Any) -> Any:
    """Averages over windows chosen so that the last axis has ``output_size`` entries."""
    return _pool("adaptive_avg_pool1d", 1, input, ops.adaptive_avg_pool,
                 output_size=(output_size,) if isinstance(output_size, int) else output_size)


def adaptive_avg_pool2d(input: Any, output_size: Any) -> Any:
    """Averages over windows chosen so that the last two axes have ``output_size`` entries
    (an int for both; None keeps an axis) (torch.nn.functional.adaptive_avg_pool2d)."""
    return _pool("adaptive_avg_pool2d", 2, input, ops.adaptive_avg_pool,
                 output_size=(output_size,) * 2 if isinstance(output_size, int) else output_size)


def _data(t: Any) -> np.ndarray:
    """The numbers of a value, without its derivative (running statistics are not learned)."""
    t = t.detach() if hasattr(t, "detach") else t
    return np.asarray(getattr(t, "data", t))


def _per_channel(v: Any, ndim: int) -> Any:
    return ops.reshape(v, (-1,) + (1,) * (ndim - 2))


def batch_norm(input: Any, running_mean: Any, running_var: Any, weight: Any = None,
               bias: Any = None, training: bool = False, momentum: float = 0.1,
               eps: float = 1e-5) -> Any:
    """(x - mean) / sqrt(var + eps) * weight + bias per channel (axis 1) of input (N, C, *S)
    (torch.nn.functional.batch_norm). In training, or without running statistics, mean and the
    biased var are the batch's, and running_mean and running_var (when given) move toward the
    batch's mean and unbiased var by ``momentum``, in place; otherwise the running ones are used."""
    shape = tuple(np.shape(input))
    if len(shape) < 2:
        raise ValueError(f"batch_norm: expected an input (N, C) or (N, C, *S), got shape {shape}")
    c = shape[1]
    for name, v in (("running_mean", running_mean), ("running_var", running_var),
                    ("weight", weight), ("bias", bias)):
        if v is not None and tuple(np.shape(v)) != (c,):
            raise ValueError(f"batch_norm: {name} has shape {tuple(np.shape(v))}; the input "
                             f"{shape} has {c} channels, so it must be ({c},)")
    axes = (0,) + tuple(range(2, len(shape)))
    if training or running_mean is None or running_var is None:
        count = math.prod(shape) // max(c, 1)
        if training and count <= 1:
            raise ValueError(f"batch_norm: expected more than 1 value per channel when training, "
                             f"got input shape {shape}; use a batch of more than one example, or "
                             f"eval()")
        out = ops.standardize(input, axes, eps)
        if training and running_mean is not None and running_var is not None:
            data = _data(input)
            m = data.mean(axis=axes)
            v = data.var(axis=axes) * (count / (count - 1))
            rm, rv = _data(running_mean), _data(running_var)
            rm *= 1.0 - momentum
            rm += momentum * m
            rv *= 1.0 - momentum
            rv += momentum * v
    else:
        scale = ops.sqrt(ops.add(_per_channel(running_var, len(shape)), eps))
        out = ops.div(ops.sub(input, _per_channel(running_mean, len(shape))), scale)
    if weight is not None:
        out = ops.mul(out, _per_channel(weight, len(shape)))
    if bias is not None:
        out = ops.add(out, _per_channel(bias, len(shape)))
    return out


def group_norm(input: Any, num_groups: int, weight: Any = None, bias: Any = None,
               eps: float = 1e-5) -> Any:
    """Each example's channels split into ``num_groups`` groups, each normalised over its
    channels and positions (biased variance), then times weight plus bias per channel
    (torch.nn.functional.group_norm)."""
    shape = tuple(np.shape(input))
    if len(shape) < 2 or shape[1] % num_groups:
        raise ValueError(f"group_norm: the input (N, C, *S) has shape {shape}; its channels must "
                         f"divide into num_groups={num_groups}")
    grouped = ops.reshape(input, (shape[0], num_groups, -1))
    out = ops.reshape(ops.standardize(grouped, -1, eps), shape)
    if weight is not None:
        out = ops.mul(out, _per_channel(weight, len(shape)))
    if bias is not None:
        out = ops.add(out, _per_channel(bias, len(shape)))
    return out


__all__ = [
    "adaptive_avg_pool1d",
    "adaptive_avg_pool2d",
    "alpha_dropout",
    "avg_pool1d",
    "avg_pool2d",
    "batch_norm",
    "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
    "conv1d",
    "conv2d",
    "conv3d",
    "conv_transpose1d",
    "conv_transpose2d",
    "cross_entropy",
    "dropout",
    "dropout1d",
    "dropout2d",
    "dropout3d",
    "elu",
    "embedding",
    "flatten",
    "gelu",
    "group_norm",
    "hardtanh",
    "huber_loss",
    "kl_div",
    "l1_loss",
    "layer_norm",
    "leaky_relu",
    "linear",
    "log_softmax",
    "max_pool1d",
    "max_pool2d",
    "mse_loss",
    "multi_head_attention_forward",
    "nll_loss",
    "one_hot",
    "relu",
    "scaled_dot_product_attention",
    "sigmoid",
    "silu",
    "smooth_l1_loss",
    "softmax",
    "softplus",
    "tanh",
]
