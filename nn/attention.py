"""Attention: scaled dot-product attention and multi-head attention, as PyTorch 2.x computes them.

``scaled_dot_product_attention`` is torch.nn.functional.scaled_dot_product_attention,
``multi_head_attention_forward`` is torch.nn.functional.multi_head_attention_forward (the layer
over it, ``MultiheadAttention``, is in nn/multihead.py). Everything is a composition of registry
ops (linear, matmul, softmax, where, reshape, swapaxes, concatenate); no derivative is written
here.

Two mask conventions meet here, as in PyTorch: for ``scaled_dot_product_attention`` a boolean
mask says which positions *take part* (True = attend), for ``MultiheadAttention`` which are
*left out* (True = masked). Float masks are added to the scores in both.

>>> import numpy as np
>>> q = np.array([[1.0, 0.0], [0.0, 1.0]])
>>> out = scaled_dot_product_attention(q, q, np.array([[1.0], [2.0]]), is_causal=True)
>>> out.tolist()[0]  # the first query sees only the first key
[1.0]
"""
from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np

from adcore import ops
from adcore.levels import raw
from adcore.shapes import broadcasts_to, dtype_of, shape_of
from nn.dropout import dropout

# --- masks --------------------------------------------------------------------------------------


def _mask_kind(who: str, name: str, mask: Any) -> str:
    """'b' for a boolean mask, 'f' for a floating one; any other dtype is refused."""
    kind = dtype_of(mask).kind
    if kind not in "bf":
        raise TypeError(f"{who}: {name} must be a bool or floating-point mask, got dtype "
                        f"{dtype_of(mask)}")
    return kind


def _additive_mask(who: str, name: str, mask: Any, dtype: Any) -> Any:
    """MultiheadAttention's convention: a boolean mask becomes -inf where True (left out) and 0
    elsewhere; a float mask is returned as it is (it is added to the scores, and differentiable)."""
    if mask is None:
        return None
    if _mask_kind(who, name, mask) == "b":
        return ops.astype(ops.where(mask, -np.inf, 0.0), dtype)  # the mask stays an operand
    return mask


def _pad_column(mask: Any) -> Any:
    """A mask with one more key position on its last axis, 0 there (it takes part)."""
    if mask is None:
        return None
    s = shape_of(mask)
    return ops.concatenate([mask, np.zeros(s[:-1] + (1,), dtype_of(mask))], axis=-1)


def _softmax_rows(scores: Any, safe: bool) -> Any:
    """softmax over the last axis. With ``safe``, a row whose every score is -inf (every key
    masked) gives weights 0 instead of nan, as PyTorch's scaled_dot_product_attention does; such
    rows are set to 0 before the softmax, so that no nan reaches the derivatives either."""
    if safe:
        empty = np.all(np.isneginf(np.asarray(raw(scores))), axis=-1, keepdims=True)
        if empty.any():
            return ops.where(empty, 0.0, ops.softmax(ops.where(empty, 0.0, scores), -1))
    return ops.softmax(scores, -1)


# --- scaled dot-product attention ---------------------------------------------------------------


def scaled_dot_product_attention(query: Any, key: Any, value: Any, attn_mask: Any = None,
                                 dropout_p: float = 0.0, is_causal: bool = False,
                                 scale: float | None = None, enable_gqa: bool = False,
                                 generator: np.random.Generator | None = None) -> Any:
    """softmax(q k^T * scale + bias) v, over the last two axes (torch.nn.functional.
    scaled_dot_product_attention).

    Args:
        query: (..., L, E); key: (..., S, E); value: (..., S, Ev); the leading axes broadcast.
        attn_mask: a boolean mask (True = the position takes part; bias 0 there, -inf elsewhere)
            or a float bias added to the scores; it broadcasts to (..., L, S).
        dropout_p: dropout on the attention weights (always applied when > 0, as PyTorch; pass
            0.0 in evaluation), through ``nn.functional.dropout`` with ``generator``.
        is_causal: the lower-triangular mask (query i attends keys j <= i); not with attn_mask.
        scale: defaults to 1 / sqrt(E).
        enable_gqa: grouped-query attention: key and value may have fewer heads (axis -3) than
            query, each shared by query.shape[-3] // key.shape[-3] query heads.

    Returns (..., L, Ev). A query whose keys are all masked gets 0 (PyTorch's safe softmax).

    >>> out = scaled_dot_product_attention(np.ones((2, 3, 4)), np.ones((2, 5, 4)),
    ...                                    np.ones((2, 5, 6)))
    >>> out.shape
    (2, 3, 6)
    """
    who = "scaled_dot_product_attention"
    qs, ks, vs = shape_of(query), shape_of(key), shape_of(value)
    if min(len(qs), len(ks), len(vs)) < 2:
        raise ValueError(f"{who}: query, key and value need at least 2 axes, (..., L, E), "
                         f"(..., S, E) and (..., S, Ev); got shapes {qs}, {ks} and {vs}")
    if qs[-1] != ks[-1]:
        raise ValueError(f"{who}: query (..., L, E) and key (..., S, E) must share E: got query "
                         f"{qs} and key {ks}")
    if ks[-2] != vs[-2]:
        raise ValueError(f"{who}: key (..., S, E) and value (..., S, Ev) must have the same "
                         f"length S: got key {ks} and value {vs}")
    if enable_gqa:
        if min(len(qs), len(ks), len(vs)) < 3 or ks[-3] != vs[-3] or qs[-3] % ks[-3]:
            raise ValueError(f"{who}: with enable_gqa, query (..., Hq, L, E) must have a number "
                             f"of heads Hq divisible by that of key and value (..., Hk, S, E); "
                             f"got shapes {qs}, {ks} and {vs}")
        group = qs[-3] // ks[-3]
        if group > 1:  # each key head serves `group` consecutive query heads
            key, value = ops.repeat(key, group, -3), ops.repeat(value, group, -3)
            ks, vs = shape_of(key), shape_of(value)
    try:
        batch = np.broadcast_shapes(qs[:-2], ks[:-2], vs[:-2])
    except ValueError:
        raise ValueError(f"{who}: the leading axes of query {qs}, key {ks} and value {vs} do not "
                         f"broadcast") from None
    L, S = qs[-2], ks[-2]
    score_shape = batch + (L, S)
    if attn_mask is not None:
        if is_causal:
            raise ValueError(f"{who}: give either attn_mask or is_causal=True, not both (the "
                             f"causal mask would replace attn_mask)")
        kind = _mask_kind(who, "attn_mask", attn_mask)
        ms = shape_of(attn_mask)
        if not broadcasts_to(ms, score_shape):
            raise ValueError(f"{who}: attn_mask of shape {ms} does not broadcast to the scores' "
                             f"shape {score_shape} (..., L, S)")
    factor = 1.0 / math.sqrt(qs[-1]) if scale is None else float(scale)
    scores = ops.mul(ops.matmul(query, ops.swapaxes(key, -1, -2)), factor)
    if is_causal:
        scores = ops.where(np.tril(np.ones((L, S), dtype=bool)), scores, -np.inf)
    elif attn_mask is not None:
        if kind == "b":
            scores = ops.where(attn_mask, scores, -np.inf)  # the mask stays an operand
        else:
            scores = ops.add(scores, attn_mask)
    weights = _softmax_rows(scores, safe=True)
    if dropout_p > 0.0:
        weights = dropout(weights, dropout_p, True, generator)
    return ops.matmul(weights, value)


# --- multi-head attention -----------------------------------------------------------------------


def check_mha_inputs(who: str, query: Any, key: Any, value: Any, key_padding_mask: Any,
                      attn_mask: Any, embed_dim: int, kdim: int, vdim: int, num_heads: int,
                      batch_first: bool) -> bool:
    """PyTorch's shape checks of multi-head attention, each error naming what it got and what it
    expects; returns whether the input is batched."""
    qs, ks, vs = shape_of(query), shape_of(key), shape_of(value)
    layout = "(N, L, E)" if batch_first else "(L, N, E)"
    if len(qs) not in (2, 3):
        raise ValueError(f"{who}: expected query of shape {layout.replace('E', str(embed_dim))} "
                         f"(batched, batch_first={batch_first}) or (L, {embed_dim}) (unbatched), "
                         f"got a {len(qs)}-d query of shape {qs}")
    batched = len(qs) == 3
    if len(ks) != len(qs) or len(vs) != len(qs):
        raise ValueError(f"{who}: query of shape {qs} is {len(qs)}-d, so key and value must be "
                         f"{len(qs)}-d too; got key {ks} and value {vs}")
    for name, s, want in (("query", qs, embed_dim), ("key", ks, kdim), ("value", vs, vdim)):
        if s[-1] != want:
            dim = {"query": "embed_dim", "key": "kdim", "value": "vdim"}[name]
            raise ValueError(f"{who}: {name} of shape {s} has feature size {s[-1]}, expected "
                             f"{dim}={want}")
    seq, bat = (1, 0) if batch_first and batched else (0, 1)
    if ks[seq] != vs[seq] or (batched and ks[bat] != vs[bat]):
        raise ValueError(f"{who}: key of shape {ks} and value of shape {vs} must have the same "
                         f"sequence length S{' and batch size N' if batched else ''}")
    if batched and qs[bat] != ks[bat]:
        raise ValueError(f"{who}: query of shape {qs} and key of shape {ks} must have the same "
                         f"batch size N (axis {bat} with batch_first={batch_first})")
    n, L, S = (qs[bat] if batched else 1), qs[seq], ks[seq]
    if key_padding_mask is not None:
        want_kpm = (n, S) if batched else (S,)
        if shape_of(key_padding_mask) != want_kpm:
            raise ValueError(f"{who}: expected key_padding_mask of shape {want_kpm} "
                             f"{'(N, S)' if batched else '(S,)'}, got "
                             f"{shape_of(key_padding_mask)}")
    if attn_mask is not None:
        ms = shape_of(attn_mask)
        if ms not in ((L, S), (n * num_heads, L, S)):
            raise ValueError(f"{who}: expected attn_mask of shape {(L, S)} (L, S) or "
                             f"{(n * num_heads, L, S)} (N * num_heads, L, S), got {ms}")
    return batched


def multi_head_attention_forward(
        query: Any, key: Any, value: Any, embed_dim_to_check: int, num_heads: int,
        in_proj_weight: Any, in_proj_bias: Any, bias_k: Any, bias_v: Any, add_zero_attn: bool,
        dropout_p: float, out_proj_weight: Any, out_proj_bias: Any, training: bool = True,
        key_padding_mask: Any = None, need_weights: bool = True, attn_mask: Any = None,
        use_separate_proj_weight: bool = False, q_proj_weight: Any = None,
        k_proj_weight: Any = None, v_proj_weight: Any = None, static_k: Any = None,
        static_v: Any = None, average_attn_weights: bool = True, is_causal: bool = False,
        generator: np.random.Generator | None = None) -> tuple[Any, Any]:
    """Multi-head attention, sequence first (torch.nn.functional.multi_head_attention_forward).

    With H = num_heads heads of size d = E / H, and q = query W_q^T + b_q, k = key W_k^T + b_k,
    v = value W_v^T + b_v cut into H slices of d features,

        head_h = softmax(q_h k_h^T / sqrt(d) + mask) v_h,
        output = concat(head_1, ..., head_H) W_o^T + b_o.

    query (L, N, E), key (S, N, kdim), value (S, N, vdim), or without the N axis (unbatched).
    Boolean masks mark the positions *left out* (True = -inf); float masks are added. attn_mask is
    (L, S) or (N * H, L, S); key_padding_mask (N, S). ``bias_k``, ``bias_v`` (1, 1, E) append one
    learned key and value; ``add_zero_attn`` appends a key and value of zeros. ``static_k``,
    ``static_v`` (N * H, S, d) replace the projected keys and values.

    Returns (output (L, N, E), weights) with the weights (N, L, S) averaged over the heads, or
    (N, H, L, S) with ``average_attn_weights=False``, or None unless ``need_weights``. As in
    PyTorch, a query whose keys are all masked gets nan with ``need_weights=True`` (the weights
    are computed by a plain softmax) and 0 (then out_proj's bias) without (through
    scaled_dot_product_attention).
    """
    who = "multi_head_attention_forward"
    if use_separate_proj_weight:
        if q_proj_weight is None or k_proj_weight is None or v_proj_weight is None:
            raise ValueError(f"{who}: use_separate_proj_weight=True needs q_proj_weight, "
                             f"k_proj_weight and v_proj_weight")
        kdim, vdim = shape_of(k_proj_weight)[-1], shape_of(v_proj_weight)[-1]
    else:
        if in_proj_weight is None:
            raise ValueError(f"{who}: in_proj_weight is None; give it, or "
                             f"use_separate_proj_weight=True with q/k/v_proj_weight")
        kdim = vdim = embed_dim_to_check
    batched = check_mha_inputs(who, query, key, value, key_padding_mask, attn_mask,
                                embed_dim_to_check, kdim, vdim, num_heads, False)
    E, H = embed_dim_to_check, num_heads
    if H <= 0 or E % H:
        raise ValueError(f"{who}: embed_dim {E} is not divisible by num_heads {H}")
    d = E // H
    if not batched:  # a batch of one, removed again at the end
        query, key, value = (ops.expand_dims(t, 1) for t in (query, key, value))
        if key_padding_mask is not None:
            key_padding_mask = ops.expand_dims(key_padding_mask, 0)
    L, N = shape_of(query)[:2]

    dtype = dtype_of(query)
    if (key_padding_mask is not None and attn_mask is not None
            and dtype_of(key_padding_mask) != dtype_of(attn_mask)):
        warnings.warn("Support for mismatched key_padding_mask and attn_mask is deprecated. Use "
                      "same type for both instead.", UserWarning, stacklevel=2)
    key_padding_mask = _additive_mask(who, "key_padding_mask", key_padding_mask, dtype)
    if is_causal and attn_mask is None:
        raise ValueError(f"{who}: is_causal=True is a hint that attn_mask is the causal mask; "
                         f"give that attn_mask too (of shape {(L, shape_of(key)[0])})")
    causal_hint = is_causal and key_padding_mask is None and not need_weights
    attn_mask = None if causal_hint else _additive_mask(who, "attn_mask", attn_mask, dtype)

    # the in-projection: q, k, v of shape (L or S, N, E)
    if use_separate_proj_weight:
        w_q, w_k, w_v = q_proj_weight, k_proj_weight, v_proj_weight
    else:
        w_q, w_k, w_v = ops.split(in_proj_weight, 3, axis=0)
    b_q, b_k, b_v = (None, None, None) if in_proj_bias is None else ops.split(in_proj_bias, 3)
    q = ops.linear(query, w_q, b_q)
    k = ops.linear(key, w_k, b_k)
    v = ops.linear(value, w_v, b_v)

    if attn_mask is not None and len(shape_of(attn_mask)) == 2:
        attn_mask = ops.expand_dims(attn_mask, 0)  # (1, L, S): the same for every batch and head
    if (bias_k is None) != (bias_v is None):
        raise ValueError(f"{who}: give both bias_k and bias_v, or neither")
    if bias_k is not None:
        if static_k is not None or static_v is not None:
            raise ValueError(f"{who}: bias_k and bias_v cannot be added to static_k / static_v")
        k = ops.concatenate([k, ops.broadcast_to(bias_k, (1, N, E))], axis=0)
        v = ops.concatenate([v, ops.broadcast_to(bias_v, (1, N, E))], axis=0)
        attn_mask, key_padding_mask = _pad_column(attn_mask), _pad_column(key_padding_mask)

    # heads: (L, N, E) -> (L, N * H, d) -> (N * H, L, d), batch-major, heads of one batch together
    q = ops.swapaxes(ops.reshape(q, (L, N * H, d)), 0, 1)
    k = _heads(who, "static_k", static_k, k, N * H, d)
    v = _heads(who, "static_v", static_v, v, N * H, d)
    if add_zero_attn:
        k = ops.concatenate([k, np.zeros((N * H, 1, d), dtype_of(k))], axis=1)
        v = ops.concatenate([v, np.zeros((N * H, 1, d), dtype_of(v))], axis=1)
        attn_mask, key_padding_mask = _pad_column(attn_mask), _pad_column(key_padding_mask)
    S = shape_of(k)[1]

    if key_padding_mask is not None:  # (N, S) -> (N * H, 1, S), merged into attn_mask
        kpm = ops.broadcast_to(ops.reshape(key_padding_mask, (N, 1, 1, S)), (N, H, 1, S))
        kpm = ops.reshape(kpm, (N * H, 1, S))
        attn_mask = kpm if attn_mask is None else ops.add(attn_mask, kpm)
    p = dropout_p if training else 0.0

    if need_weights:
        scores = ops.matmul(ops.mul(q, math.sqrt(1.0 / d)), ops.swapaxes(k, 1, 2))
        if attn_mask is not None:
            scores = ops.add(attn_mask, scores)
        weights = _softmax_rows(scores, safe=False)
        if p > 0.0:
            weights = dropout(weights, p, True, generator)
        heads = ops.matmul(weights, v)  # (N * H, L, d)
        heads = ops.reshape(ops.swapaxes(heads, 0, 1), (L * N, E))
        out = ops.reshape(ops.linear(heads, out_proj_weight, out_proj_bias), (L, N, E))
        weights = ops.reshape(weights, (N, H, L, S))
        if average_attn_weights:
            weights = ops.mean(weights, 1)
        if not batched:
            out, weights = ops.squeeze(out, 1), ops.squeeze(weights, 0)
        return out, weights

    if attn_mask is not None:  # (1, L, S) or (N * H, L or 1, S) -> broadcasts to (N, H, L, S)
        ms = shape_of(attn_mask)
        attn_mask = (ops.expand_dims(attn_mask, 0) if ms[0] == 1
                     else ops.reshape(attn_mask, (N, H, ms[1], S)))
    heads = scaled_dot_product_attention(
        ops.reshape(q, (N, H, L, d)), ops.reshape(k, (N, H, S, d)), ops.reshape(v, (N, H, S, d)),
        attn_mask, p, causal_hint, generator=generator)
    heads = ops.reshape(ops.transpose(heads, (2, 0, 1, 3)), (L * N, E))
    out = ops.reshape(ops.linear(heads, out_proj_weight, out_proj_bias), (L, N, E))
    return (out if batched else ops.squeeze(out, 1)), None


def _heads(who: str, name: str, static: Any, x: Any, nh: int, d: int) -> Any:
    """Keys or values (S, N, E) as (N * H, S, d), or ``static`` (N * H, S, d) in their place."""
    if static is None:
        return ops.swapaxes(ops.reshape(x, (shape_of(x)[0], nh, d)), 0, 1)
    s = shape_of(static)
    if len(s) != 3 or s[0] != nh or s[2] != d:
        raise ValueError(f"{who}: expected {name} of shape ({nh}, S, {d}) (N * num_heads, S, "
                         f"head_dim), got {s}")
    return static


__all__ = [
    "multi_head_attention_forward",
    "scaled_dot_product_attention",
]
