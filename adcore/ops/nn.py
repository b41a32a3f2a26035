"""Neural-network ops, fused where it pays: a layer or a loss as one node instead of several.

``linear`` (x @ W^T + b) and ``cross_entropy`` (log-softmax and the negative log-likelihood of the
target class, reduced) are ordinary registry entries: their rules are written with adcore's ops,
they declare test domains, and the registry suite checks them in both modes and to second order. A
training step of an MLP is then a handful of nodes, not a dozen. ``softplus`` is the elementwise
log(1 + e^x) that BCE-with-logits is made of.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from adcore import domains as D
from adcore.levels import bind, raw
from adcore.ops.compare import equal
from adcore.ops.elementwise import (
    _quiet_underflow,
    _scalar_or_array,
    _unary,
    add,
    div,
    mul,
    neg,
    retry_quietly,
    sigmoid,
    sqrt,
    sub,
    where,
)
from adcore.ops.linalg import matmul
from adcore.ops.reduce import _log_softmax_impl, mean, softmax_op, sum_op
from adcore.ops.shape import broadcast_to_op, reshape_op, swapaxes
from adcore.registry import declare, defop, public
from adcore.shapes import dtype_of, shape_of

# --- softplus --------------------------------------------------------------------------------


def _softplus_array(x: Any) -> Any:
    try:
        return np.maximum(x, 0) + np.log1p(np.exp(-np.abs(x)))  # no overflow for either sign
    except FloatingPointError as exc:  # e ** -|x| underflows, benignly: see retry_quietly
        return retry_quietly(exc, _softplus_array, x)


softplus = _unary("softplus", _scalar_or_array(_softplus_array),
                  lambda x, out: sigmoid(x), D.unary(),
                  "softplus(x) = log(1 + e ** x), computed without overflow.  d/dx = sigmoid(x).",
                  method="softplus", saves="x")
_quiet_underflow(softplus.op)  # type: ignore[attr-defined]



@declare()
def log_sigmoid(x: Any) -> Any:
    """log_sigmoid(x) = log(sigmoid(x)) = -softplus(-x), without overflow (PyTorch's
    logsigmoid)."""
    return neg(softplus(neg(x)))


# --- linear: x @ weight^T + bias ---------------------------------------------------------------
# The op takes x with two axes of its own, (rows, in); ``linear`` reshapes other inputs around it.
# Every rule then works as it is on a batch in front (tangents, cotangents, vmap).


def _linear_impl(x: Any, w: Any, b: Any) -> Any:
    out = np.matmul(x, w.T if np.ndim(w) == 2 else np.swapaxes(w, -1, -2))
    if b is None:
        return out
    b = np.asarray(b)[..., None, :]  # (..., out) -> (..., 1, out): one bias per row
    if type(out) is np.ndarray and b.dtype == out.dtype and out.ndim >= b.ndim:
        np.add(out, b, out=out)  # the product is a fresh array: add the bias in place
        return out
    return out + b


def _linear_jvp_b(b_dot: Any, x: Any, w: Any, b: Any, out: Any) -> Any:
    rows, o = shape_of(x)[0], shape_of(w)[0]
    lifted = bind(reshape_op, b_dot, shape=(1, o), in_shape=(o,))
    return bind(broadcast_to_op, lifted, shape=(rows, o), in_shape=(1, o))


def _linear_domain(draw: D.Draw) -> tuple[tuple, dict]:
    i, o, rows = draw.integers(1, 3), draw.integers(1, 3), draw.integers(1, 3)
    x = draw.array((rows, i), -2.0, 2.0)
    w = draw.array((o, i), -2.0, 2.0)
    return (x, w, draw.array((o,)) if draw.boolean() else None), {}


linear_op = defop(
    "linear", _linear_impl,
    jvp=(lambda x_dot, x, w, b, out: matmul(x_dot, swapaxes(w, -1, -2)),
         lambda w_dot, x, w, b, out: matmul(x, swapaxes(w_dot, -1, -2)),
         _linear_jvp_b),
    vjp=(lambda y_bar, x, w, b, out: matmul(y_bar, w),
         lambda y_bar, x, w, b, out: matmul(swapaxes(y_bar, -1, -2), x),
         lambda y_bar, x, w, b, out: bind(sum_op, y_bar, axes=(-2,), keepdims=False)),
    domain=_linear_domain,
    doc="linear(x, weight, bias) = x @ weight^T + bias, x of shape (rows, in), weight (out, in).  "
        "x_bar = y_bar @ weight, weight_bar = y_bar^T x, bias_bar = y_bar summed over the rows.",
    saves=("w", "x", ""))


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
    if len(xs) == 2:
        return bind(linear_op, x, weight, bias)
    rows = bind(reshape_op, x, shape=(math.prod(xs[:-1]), xs[-1]), in_shape=xs)
    out = bind(linear_op, rows, weight, bias)
    return bind(reshape_op, out, shape=xs[:-1] + (ws[0],), in_shape=(math.prod(xs[:-1]), ws[0]))


# --- cross_entropy: log-softmax and the negative log-likelihood, reduced ----------------------
# The target (class indices) is an operand without a derivative, so that it can be batched like the
# logits (vmap of a per-example loss); ``rows`` says how many of the logits' own axes are rows
# (1 for (N, C), 0 for (C,)), so that any axes in front of them are a batch.

REDUCTIONS = ("mean", "sum", "none")


def _cross_entropy_impl(x: Any, target: Any, *, reduction: str, label_smoothing: float,
                        rows: int) -> Any:
    logp = _log_softmax_impl(np.asarray(x), axis=-1)
    k = logp.shape[-1]
    flat = logp.reshape(-1, k)  # the target's entry of each row, by one fancy index
    target = np.asarray(target)
    losses = -flat[np.arange(len(flat)), target.reshape(-1)].reshape(target.shape)
    try:  # tiny losses (confident rows) times the smoothing, or their mean, may underflow
        if label_smoothing:
            losses = (1.0 - label_smoothing) * losses - label_smoothing * logp.mean(axis=-1)
        if reduction == "none" or not rows:
            return np.asarray(losses)
        total = losses.sum(axis=-1)
        if reduction == "mean":  # 0 / 0 over no rows: nan, as PyTorch
            with np.errstate(invalid="ignore", divide="ignore"):
                total = total / losses.shape[-1]
    except FloatingPointError as exc:  # benignly: see retry_quietly
        return retry_quietly(exc, _cross_entropy_impl, x, target, reduction=reduction,
                              label_smoothing=label_smoothing, rows=rows)
    return np.asarray(total)


def _mean_factor(rows: int) -> float:
    """1 / rows for reduction='mean'; nan over no rows (the loss is nan there, as in PyTorch)."""
    return 1.0 / rows if rows else math.nan


def _ce_grad(x: Any, target: Any, label_smoothing: float) -> Any:
    """d loss_n / d x_nk = softmax(x)_nk - q_nk, q = (1 - e) onehot(target) + e / K, written with
    ops so that it differentiates again."""
    k = shape_of(x)[-1]
    probs = bind(softmax_op, x, axis=-1)
    ts = shape_of(target)
    onehot = equal(np.arange(k), bind(reshape_op, target, shape=ts + (1,), in_shape=ts))
    if not label_smoothing:
        return sub(probs, onehot)  # (a boolean operand does not promote probs' dtype)
    low = label_smoothing / k  # q off the target (numbers, so that x's dtype is kept)
    return where(onehot, sub(probs, 1.0 - label_smoothing + low), sub(probs, low))


def _ce_weights(y_bar: Any, x: Any, reduction: str, rows: int) -> Any:
    """The cotangent of the (reduced) losses, shaped to broadcast against x (batch axes first)."""
    xs = shape_of(x)
    if reduction == "none" or not rows:
        return bind(reshape_op, y_bar, shape=xs[:-1] + (1,), in_shape=xs[:-1])
    # One loss: a cotangent without batch axes broadcasts as it is; a batch of them is lifted.
    lifted = y_bar if not shape_of(y_bar) else bind(reshape_op, y_bar, shape=(1, 1), in_shape=())
    return mul(lifted, _mean_factor(xs[0])) if reduction == "mean" else lifted


def _ce_jvp(x_dot: Any, x: Any, target: Any, out: Any, *, reduction: str, label_smoothing: float,
            rows: int) -> Any:
    try:  # softmax times the tangent may underflow, benignly (see retry_quietly)
        per_row = bind(sum_op, mul(_ce_grad(x, target, label_smoothing), x_dot), axes=(-1,),
                       keepdims=False)
        if reduction == "none" or not rows:
            return per_row
        total = bind(sum_op, per_row, axes=(-1,), keepdims=False)
        return mul(total, _mean_factor(shape_of(x)[0])) if reduction == "mean" else total
    except FloatingPointError as exc:
        return retry_quietly(exc, _ce_jvp, x_dot, x, target, out, reduction=reduction,
                              label_smoothing=label_smoothing, rows=rows)


def _ce_vjp(y_bar: Any, x: Any, target: Any, out: Any, *, reduction: str, label_smoothing: float,
            rows: int) -> Any:
    try:  # softmax times the cotangent may underflow, benignly (see retry_quietly)
        return mul(_ce_weights(y_bar, x, reduction, rows), _ce_grad(x, target, label_smoothing))
    except FloatingPointError as exc:  # (out is not read: None)
        return retry_quietly(exc, _ce_vjp, y_bar, x, target, None, reduction=reduction,
                              label_smoothing=label_smoothing, rows=rows)


def _cross_entropy_domain(draw: D.Draw) -> tuple[tuple, dict]:
    k = draw.integers(1, 4)
    rows = draw.choice([(), (draw.integers(1, 3),)])
    target = np.array(draw.integers(0, k - 1) if not rows else
                      [draw.integers(0, k - 1) for _ in range(rows[0])], dtype=np.intp)
    return (draw.array(rows + (k,)), target), {"reduction": draw.choice(list(REDUCTIONS)),
                                              "label_smoothing": draw.choice([0.0, 0.1])}


cross_entropy_op = defop(
    "cross_entropy", _cross_entropy_impl,
    jvp=(_ce_jvp, None),
    vjp=(_ce_vjp, None),
    domain=_cross_entropy_domain,
    doc="cross_entropy(logits, target): -log softmax(logits)[target] (with label smoothing, "
        "(1 - e) times that plus e times the mean of -log softmax), reduced.  d/dlogits = "
        "softmax(logits) - q, q the smoothed one-hot target.", saves=("x target", ""))


# --- standardize: the normalisation inside batch, layer and group norm ------------------------

def _standardize_impl(x: Any, *, axes: tuple, eps: float) -> Any:
    x = np.asarray(x)
    centred = x - x.mean(axis=axes, keepdims=True)
    inv_std = np.mean(np.square(centred), axis=axes, keepdims=True)
    inv_std += eps
    np.sqrt(inv_std, out=inv_std)
    np.divide(1.0, inv_std, out=inv_std)
    centred *= inv_std  # times the reciprocal standard deviation, as PyTorch's norms compute it
    return centred


def _inv_std(x: Any, axes: tuple, eps: float) -> Any:
    """1 / sqrt(var(x) + eps) over ``axes`` (biased variance), kept as length-1 axes."""
    centred = sub(x, mean(x, axes, True))
    return div(1.0, sqrt(add(mean(mul(centred, centred), axes, True), eps)))


def _standardize_map(v: Any, x: Any, out: Any, *, axes: tuple, eps: float) -> Any:
    """The derivative of standardize at x applied to v, (v - mean(v) - out mean(v out)) / std:
    one symmetric map, so it is the JVP (v a tangent) and the VJP (v a cotangent) alike."""
    v_out = mean(mul(v, out), axes, True)
    return mul(sub(sub(v, mean(v, axes, True)), mul(out, v_out)), _inv_std(x, axes, eps))


def _standardize_domain(draw: D.Draw) -> tuple[tuple, dict]:
    shape = draw.shape(min_dims=1, max_dims=3, min_side=2)
    axes = draw.axes(len(shape), allow_none=False)
    (x,) = draw.separated([shape], -2.0, 2.0)  # distinct entries: a variance well above eps
    return (x,), {"axis": axes if axes != () else -1}


standardize_op = defop(
    "standardize", _standardize_impl,
    jvp=(lambda x_dot, x, out, *, axes, eps: _standardize_map(x_dot, x, out, axes=axes, eps=eps),),
    vjp=(lambda y_bar, x, out, *, axes, eps: _standardize_map(y_bar, x, out, axes=axes, eps=eps),),
    domain=_standardize_domain,
    doc="standardize(x, axis, eps) = (x - mean) / sqrt(var + eps) over ``axis`` (biased "
        "variance): the normalisation of batch, layer and group norm.  Its derivative is the "
        "symmetric map v -> (v - mean(v) - out mean(v out)) / std.")


@public(standardize_op)
def standardize(x: Any, axis: Any = -1, eps: float = 1e-5) -> Any:
    """standardize(x, axis=-1, eps=1e-5): (x - mean) / sqrt(var + eps) over ``axis`` (an int or
    a tuple), with the biased variance, as batch_norm, layer_norm and group_norm normalise; one
    node, whose derivative is written once for both modes."""
    n = len(shape_of(x))
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    if not axes or len(set(a % n if n else a for a in axes)) != len(axes) or any(
            not -n <= a < n for a in axes):
        raise ValueError(f"standardize: axis {axis!r} must name distinct axes of the input of "
                         f"shape {shape_of(x)}")
    return bind(standardize_op, x, axes=tuple(sorted(a % n - n for a in axes)), eps=float(eps))


def target_shape(logits_shape: tuple) -> tuple:
    """The shape of the class-index target for logits of ``logits_shape``: () for (C,), (N,) for
    (N, C), (N, d1, ...) for (N, C, d1, ...) (the classes on axis 1, as PyTorch)."""
    if len(logits_shape) <= 1:
        return ()
    return (logits_shape[0],) + tuple(logits_shape[2:])


def class_indices(target: Any, logits_shape: tuple, fn: str, ignore_index: int | None = None,
                  probabilities: bool = False) -> Any:
    """``target`` checked as integer class indices for logits of ``logits_shape`` ((C,), (N, C) or
    (N, C, d1, ...)): lists and integer arrays become intp arrays; tensors pass through. Every
    index is in [0, C) or equals ``ignore_index``. ``probabilities`` says that ``fn`` also takes
    class probabilities of the logits' shape (the error then offers them)."""
    if type(target) in (list, tuple, int) or isinstance(target, np.integer):
        target = np.asarray(target)
    dtype = dtype_of(target)
    rows = target_shape(logits_shape)
    k = logits_shape[0] if len(logits_shape) == 1 else logits_shape[1]
    if dtype.kind not in "iu":
        other = (f", or class probabilities of the logits' shape {tuple(logits_shape)}"
                 if probabilities else ". Class probabilities as targets are not supported")
        raise TypeError(f"{fn}: target has dtype {dtype}; it must hold integer class indices "
                        f"(a Tensor with dtype=np.int64, or an integer ndarray), one per row of "
                        f"the logits{other}")
    if shape_of(target) != rows:
        raise ValueError(f"{fn}: target has shape {shape_of(target)} but the logits have shape "
                         f"{logits_shape}: give one class index per row, shape {rows}")
    values = np.asarray(raw(target))
    if ignore_index is not None:
        values = values[values != ignore_index]
    if values.size and (values.min() < 0 or values.max() >= k):
        bad = int(values.min()) if values.min() < 0 else int(values.max())
        ignored = f"; ignore_index={ignore_index} marks a target to skip" if (
            ignore_index is not None) else ""
        raise IndexError(f"{fn}: target holds the class index {bad}, but the logits have {k} "
                         f"classes (indices 0 to {k - 1}{ignored})")
    return target.astype(np.intp, copy=False) if type(target) is np.ndarray else target


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
    return bind(cross_entropy_op, input, class_indices(target, xs, "cross_entropy"),
                reduction=reduction, label_smoothing=float(label_smoothing), rows=len(xs) - 1)


__all__ = ["cross_entropy", "linear", "log_sigmoid", "softplus", "standardize"]
