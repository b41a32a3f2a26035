"""Neural-network ops, fused where it pays: a layer or a loss as one node instead of several.

``linear`` (x @ W^T + b) and ``cross_entropy`` (log-softmax and the negative log-likelihood of the
target class, reduced) are ordinary registry entries: their rules are written with adcore's ops, they
declare test domains, and the registry suite checks them in both modes and to second order. A
training step of an MLP is then a handful of nodes, not a dozen. ``softplus`` is the elementwise
log(1 + e^x) that BCE-with-logits is made of.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from adcore import domains as D
from adcore.levels import bind, raw
from adcore.ops.elementwise import _scalar_or_array, _unary, exp, mul, sigmoid, sub
from adcore.ops.linalg import matmul
from adcore.ops.reduce import log_softmax, sum_op
from adcore.ops.shape import broadcast_to_op, reshape_op, swapaxes
from adcore.registry import defop, public
from adcore.shapes import shape_of

# --- softplus --------------------------------------------------------------------------------


def _softplus_scalar(x: float) -> float:
    return (x if x > 0.0 else 0.0) + math.log1p(math.exp(-abs(x)))


def _softplus_array(x: Any) -> Any:
    return np.maximum(x, 0) + np.log1p(np.exp(-np.abs(x)))  # no overflow for either sign


softplus = _unary("softplus", _scalar_or_array(_softplus_scalar, _softplus_array),
                  lambda x, out: sigmoid(x), D.unary(),
                  "softplus(x) = log(1 + e ** x), computed without overflow.  d/dx = sigmoid(x).",
                  method="softplus")

# --- linear: x @ weight^T + bias ---------------------------------------------------------------


def _linear_impl(x: Any, w: Any, b: Any) -> Any:
    out = np.matmul(x, np.swapaxes(w, -1, -2))
    if b is None:
        return out
    if type(out) is np.ndarray and np.result_type(b) == out.dtype:
        np.add(out, b, out=out)  # the product is a fresh array: add the bias in place
        return out
    return out + b


def _flat(v: Any, lead: tuple, last: int) -> Any:
    """v of core shape lead + (last,) as (prod(lead), last), keeping any batch axes in front."""
    return bind(reshape_op, v, shape=(math.prod(lead), last), in_shape=lead + (last,))


def _linear_jvp_w(w_dot: Any, x: Any, w: Any, b: Any, out: Any) -> Any:
    xs, (o, i) = shape_of(x), shape_of(w)
    lead = xs[:-1]
    rows = matmul(_flat(x, lead, i), swapaxes(w_dot, -1, -2))  # batch + (P, O)
    return bind(reshape_op, rows, shape=lead + (o,), in_shape=(math.prod(lead), o))


def _linear_jvp_b(b_dot: Any, x: Any, w: Any, b: Any, out: Any) -> Any:
    lead, o = shape_of(x)[:-1], shape_of(w)[0]
    ones = (1,) * len(lead)
    lifted = bind(reshape_op, b_dot, shape=ones + (o,), in_shape=(o,))
    return bind(broadcast_to_op, lifted, shape=lead + (o,), in_shape=ones + (o,))


def _linear_vjp_w(y_bar: Any, x: Any, w: Any, b: Any, out: Any) -> Any:
    xs, (o, i) = shape_of(x), shape_of(w)
    lead = xs[:-1]
    return matmul(swapaxes(_flat(y_bar, lead, o), -1, -2), _flat(x, lead, i))  # batch + (O, I)


def _linear_vjp_b(y_bar: Any, x: Any, w: Any, b: Any, out: Any) -> Any:
    lead, o = shape_of(x)[:-1], shape_of(w)[0]
    return bind(sum_op, _flat(y_bar, lead, o), axes=(-2,), keepdims=False)


def _linear_domain(draw: D.Draw) -> tuple[tuple, dict]:
    i, o = draw.integers(1, 3), draw.integers(1, 3)
    lead = draw.choice([(), (draw.integers(1, 3),), (draw.integers(1, 2), draw.integers(1, 3))])
    x = draw.array(lead + (i,), -2.0, 2.0)
    w = draw.array((o, i), -2.0, 2.0)
    return (x, w, draw.array((o,)) if draw.boolean() else None), {}


linear_op = defop(
    "linear", _linear_impl,
    jvp=(lambda x_dot, x, w, b, out: matmul(x_dot, swapaxes(w, -1, -2)), _linear_jvp_w,
         _linear_jvp_b),
    vjp=(lambda y_bar, x, w, b, out: matmul(y_bar, w), _linear_vjp_w, _linear_vjp_b),
    domain=_linear_domain,
    doc="linear(x, weight, bias) = x @ weight^T + bias, weight of shape (out, in).  x_bar = "
        "y_bar @ weight, weight_bar = y_bar^T x, bias_bar = y_bar summed over the rows.")


@public(linear_op)
def linear(x: Any, weight: Any, bias: Any = None) -> Any:
    """linear(x, weight, bias=None) = x @ weight^T + bias (torch.nn.functional.linear).

    ``x`` has shape (..., in), ``weight`` (out, in), ``bias`` (out,); the result (..., out).
    """
    xs, ws = shape_of(x), shape_of(weight)
    if len(ws) != 2:
        raise ValueError(f"linear: weight must have shape (out_features, in_features), got {ws}")
    if not xs or xs[-1] != ws[1]:
        raise ValueError(f"linear: input of shape {xs} does not fit weight of shape {ws}: the last "
                         f"axis of the input must be in_features = {ws[1]} (flatten images first, "
                         f"e.g. x.reshape(len(x), -1))")
    if bias is not None and shape_of(bias) != (ws[0],):
        raise ValueError(f"linear: bias must have shape ({ws[0]},) to match weight {ws}, got "
                         f"{shape_of(bias)}")
    return bind(linear_op, x, weight, bias)


# --- cross_entropy: log-softmax and the negative log-likelihood, reduced ----------------------

REDUCTIONS = ("mean", "sum", "none")


def _log_probs(x: Any) -> Any:
    shift = np.max(x, axis=-1, keepdims=True)
    z = x - shift
    return z - np.log(np.sum(np.exp(z), axis=-1, keepdims=True))


def _smoothed_target(x: Any, target: np.ndarray, smoothing: float) -> np.ndarray:
    """q = (1 - smoothing) * onehot(target) + smoothing / K, in x's dtype."""
    k = shape_of(x)[-1]
    dtype = np.result_type(raw(x), np.float32)
    q = np.full(target.shape + (k,), smoothing / k, dtype=dtype)
    np.put_along_axis(q, target[..., None], 1.0 - smoothing + smoothing / k, axis=-1)
    return q


def _reduce_losses(losses: Any, reduction: str) -> Any:
    if reduction == "none":
        return losses
    total = np.sum(losses)
    return total / losses.size if reduction == "mean" else total


def _cross_entropy_impl(x: Any, *, target: np.ndarray, reduction: str,
                        label_smoothing: float) -> Any:
    logp = _log_probs(x)
    picked = np.take_along_axis(logp, target[..., None], axis=-1)[..., 0]
    losses = -picked
    if label_smoothing:
        losses = (1.0 - label_smoothing) * losses - label_smoothing * np.mean(logp, axis=-1)
    return np.asarray(_reduce_losses(losses, reduction))


def _ce_grad(x: Any, target: np.ndarray, label_smoothing: float) -> Any:
    """d loss_n / d x_nk = softmax(x)_nk - q_nk, written with ops so it differentiates again
    (softmax as exp(log_softmax), which is exact for logits of any size)."""
    probs = exp(log_softmax(x, axis=-1))
    return sub(probs, _smoothed_target(x, target, label_smoothing))


def _ce_weights(y_bar: Any, x: Any, reduction: str) -> Any:
    """The cotangent of the (reduced) losses, shaped to broadcast against x (batch axes first)."""
    xs = shape_of(x)
    rows = xs[:-1]
    if reduction == "none":
        return bind(reshape_op, y_bar, shape=rows + (1,), in_shape=rows)
    lifted = bind(reshape_op, y_bar, shape=(1,) * len(xs), in_shape=())
    return mul(lifted, 1.0 / math.prod(rows)) if reduction == "mean" else lifted


def _reduce_core(v: Any, x: Any, reduction: str) -> Any:
    """Per-row values (core shape rows) reduced as the losses are, batch axes kept."""
    rows = shape_of(x)[:-1]
    if reduction == "none" or not rows:
        return v
    total = bind(sum_op, v, axes=tuple(range(-len(rows), 0)), keepdims=False)
    return mul(total, 1.0 / math.prod(rows)) if reduction == "mean" else total


def _cross_entropy_domain(draw: D.Draw) -> tuple[tuple, dict]:
    k = draw.integers(1, 4)
    rows = draw.choice([(), (draw.integers(1, 3),)])
    target = np.array(draw.integers(0, k - 1) if not rows else
                      [draw.integers(0, k - 1) for _ in range(rows[0])], dtype=np.intp)
    return (draw.array(rows + (k,)), target), {"reduction": draw.choice(list(REDUCTIONS)),
                                              "label_smoothing": draw.choice([0.0, 0.1])}


cross_entropy_op = defop(
    "cross_entropy", _cross_entropy_impl,
    jvp=(lambda x_dot, x, out, *, target, reduction, label_smoothing:
         _reduce_core(bind(sum_op, mul(_ce_grad(x, target, label_smoothing), x_dot), axes=(-1,),
                           keepdims=False), x, reduction),),
    vjp=(lambda y_bar, x, out, *, target, reduction, label_smoothing:
         mul(_ce_weights(y_bar, x, reduction), _ce_grad(x, target, label_smoothing)),),
    domain=_cross_entropy_domain,
    doc="cross_entropy(logits, target): -log softmax(logits)[target] (with label smoothing, "
        "(1 - e) times that plus e times the mean of -log softmax), reduced.  d/dlogits = "
        "softmax(logits) - q, q the smoothed one-hot target.")


def class_indices(target: Any, logits_shape: tuple, fn: str) -> np.ndarray:
    """``target`` as an integer array of class indices for logits of ``logits_shape``, checked."""
    t = np.asarray(raw(target))
    if t.dtype.kind not in "iu":
        raise TypeError(f"{fn}: target has dtype {t.dtype}; it must hold integer class indices "
                        f"(a Tensor with dtype=np.int64, or an integer ndarray), one per row of "
                        f"the logits. Class probabilities as targets are not supported")
    rows, k = logits_shape[:-1], logits_shape[-1]
    if t.shape != rows:
        raise ValueError(f"{fn}: target has shape {t.shape} but the logits have shape "
                         f"{logits_shape}: give one class index per row, shape {rows}")
    if t.size and (t.min() < 0 or t.max() >= k):
        bad = int(t.min()) if t.min() < 0 else int(t.max())
        raise IndexError(f"{fn}: target holds the class index {bad}, but the logits have {k} "
                         f"classes (indices 0 to {k - 1})")
    return t.astype(np.intp, copy=False)


@public(cross_entropy_op)
def cross_entropy(input: Any, target: Any, reduction: str = "mean",
                  label_smoothing: float = 0.0) -> Any:
    """cross_entropy(logits, target, reduction='mean', label_smoothing=0.0), as
    torch.nn.functional.cross_entropy with integer class targets.

    ``input`` holds unnormalised scores of shape (N, C) (or (C,) for one example), ``target`` the
    class index of each row, as an integer array or Tensor. Finite and exact for scores of any size.
    """
    xs = shape_of(input)
    if len(xs) not in (1, 2):
        raise ValueError(f"cross_entropy: logits must have shape (N, C) or (C,), got {xs}")
    if reduction not in REDUCTIONS:
        raise ValueError(f"cross_entropy: reduction must be one of {REDUCTIONS}, got "
                         f"{reduction!r}")
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"cross_entropy: label_smoothing must be in [0, 1], got "
                         f"{label_smoothing}")
    return bind(cross_entropy_op, input, target=class_indices(target, xs, "cross_entropy"),
                reduction=reduction, label_smoothing=float(label_smoothing))


__all__ = ["class_indices", "cross_entropy", "linear", "softplus"]
