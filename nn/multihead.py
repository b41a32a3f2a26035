"""The multi-head attention layer (torch.nn.MultiheadAttention): PyTorch's parameter names,
shapes, order and default initialisation, over nn.attention's ``multi_head_attention_forward``."""
from __future__ import annotations

from typing import Any

import numpy as np

from adcore import ops
from nn import init, rng
from nn.attention import check_mha_inputs, multi_head_attention_forward
from nn.layers import Linear
from nn.module import Module, Parameter


class NonDynamicallyQuantizableLinear(Linear):
    """A Linear under PyTorch's name for MultiheadAttention's out_proj (which PyTorch keeps out of
    dynamic quantisation); here it is exactly a Linear."""


class MultiheadAttention(Module):
    """Multi-head attention (torch.nn.MultiheadAttention):

        head_h = softmax(q_h k_h^T / sqrt(d) + mask) v_h,  output = concat(heads) W_o^T + b_o,

    q, k, v the projections of query, key and value, cut into ``num_heads`` heads of
    d = embed_dim / num_heads features.

    Shapes: query (L, N, embed_dim), key (S, N, kdim), value (S, N, vdim); (N, L, E) ... with
    ``batch_first=True``; (L, E) ... unbatched. The output has query's shape; the weights are
    (N, L, S) (averaged over heads) or (N, num_heads, L, S).

    Parameters, in PyTorch's order: ``in_proj_weight`` (3 E, E) (or ``q_proj_weight`` (E, E),
    ``k_proj_weight`` (E, kdim), ``v_proj_weight`` (E, vdim) when kdim or vdim differ from E),
    ``in_proj_bias`` (3 E,), ``bias_k``, ``bias_v`` (1, 1, E) with ``add_bias_kv``,
    ``out_proj.weight`` (E, E), ``out_proj.bias`` (E,).

    Initialisation (PyTorch's): xavier_uniform_ on the in-projection weights, zero biases,
    out_proj.weight as a Linear's (uniform in +-1/sqrt(E)), xavier_normal_ on bias_k and bias_v.

    ``dropout`` applies to the attention weights in training mode, drawing from ``generator`` (a
    numpy Generator; by default nn's).

    >>> mha = MultiheadAttention(4, 2, batch_first=True)
    >>> out, weights = mha(np.ones((3, 5, 4), np.float32), np.ones((3, 6, 4), np.float32),
    ...                    np.ones((3, 6, 4), np.float32))
    >>> out.shape, weights.shape
    ((3, 5, 4), (3, 5, 6))
    """

    def __init__(self, embed_dim: int, num_heads: int, dropout: float = 0.0, bias: bool = True,
                 add_bias_kv: bool = False, add_zero_attn: bool = False, kdim: int | None = None,
                 vdim: int | None = None, batch_first: bool = False, *, dtype: Any = np.float32,
                 generator: np.random.Generator | None = None) -> None:
        super().__init__()
        if embed_dim <= 0 or num_heads <= 0:
            raise ValueError(f"MultiheadAttention: embed_dim and num_heads must be greater than "
                             f"0, got embed_dim={embed_dim} and num_heads={num_heads}")
        if embed_dim % num_heads:
            raise ValueError(f"MultiheadAttention: embed_dim must be divisible by num_heads, got "
                             f"embed_dim={embed_dim} and num_heads={num_heads}")
        if not 0.0 <= dropout <= 1.0:
            raise ValueError(f"MultiheadAttention: dropout must be a probability in [0, 1], got "
                             f"{dropout}")
        self.embed_dim, self.num_heads = int(embed_dim), int(num_heads)
        self.kdim = int(kdim) if kdim is not None else self.embed_dim
        self.vdim = int(vdim) if vdim is not None else self.embed_dim
        self._qkv_same_embed_dim = self.kdim == self.embed_dim and self.vdim == self.embed_dim
        self.dropout = float(dropout)
        self.batch_first = bool(batch_first)
        self.head_dim = self.embed_dim // self.num_heads
        self.generator = (rng.resolve(generator, "MultiheadAttention")
                          if generator is not None else None)
        E = self.embed_dim
        if self._qkv_same_embed_dim:
            self.in_proj_weight = Parameter(np.empty((3 * E, E), dtype))
            for name in ("q_proj_weight", "k_proj_weight", "v_proj_weight"):
                self.register_parameter(name, None)
        else:
            self.q_proj_weight = Parameter(np.empty((E, E), dtype))
            self.k_proj_weight = Parameter(np.empty((E, self.kdim), dtype))
            self.v_proj_weight = Parameter(np.empty((E, self.vdim), dtype))
            self.register_parameter("in_proj_weight", None)
        if bias:
            self.in_proj_bias = Parameter(np.empty((3 * E,), dtype))
        else:
            self.register_parameter("in_proj_bias", None)
        self.out_proj = NonDynamicallyQuantizableLinear(E, E, bias=bias, dtype=dtype)
        if add_bias_kv:
            self.bias_k = Parameter(np.empty((1, 1, E), dtype))
            self.bias_v = Parameter(np.empty((1, 1, E), dtype))
        else:
            self.register_parameter("bias_k", None)
            self.register_parameter("bias_v", None)
        self.add_zero_attn = bool(add_zero_attn)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """PyTorch's _reset_parameters: xavier_uniform_ on in_proj_weight (or q/k/v_proj_weight),
        in_proj_bias and out_proj.bias zero, xavier_normal_ on bias_k and bias_v; out_proj.weight
        keeps the Linear initialisation it got at construction."""
        if self._qkv_same_embed_dim:
            init.xavier_uniform_(self.in_proj_weight, generator=self.generator)
        else:
            for w in (self.q_proj_weight, self.k_proj_weight, self.v_proj_weight):
                init.xavier_uniform_(w, generator=self.generator)
        if self.in_proj_bias is not None:
            init.zeros_(self.in_proj_bias)
            init.zeros_(self.out_proj.bias)
        if self.bias_k is not None:
            init.xavier_normal_(self.bias_k, generator=self.generator)
            init.xavier_normal_(self.bias_v, generator=self.generator)

    def forward(self, query: Any, key: Any, value: Any, key_padding_mask: Any = None,
                need_weights: bool = True, attn_mask: Any = None,
                average_attn_weights: bool = True, is_causal: bool = False) -> tuple[Any, Any]:
        """(output, weights or None): see the class docstring for the shapes. Boolean masks
        mark the positions left out (True = masked), float masks are added to the scores."""
        who = type(self).__name__
        batched = check_mha_inputs(who, query, key, value, key_padding_mask, attn_mask,
                                    self.embed_dim, self.kdim, self.vdim, self.num_heads,
                                    self.batch_first)
        if self.batch_first and batched:
            query, key, value = (ops.swapaxes(t, 0, 1) for t in (query, key, value))
        separate = not self._qkv_same_embed_dim
        out, weights = multi_head_attention_forward(
            query, key, value, self.embed_dim, self.num_heads, self.in_proj_weight,
            self.in_proj_bias, self.bias_k, self.bias_v, self.add_zero_attn, self.dropout,
            self.out_proj.weight, self.out_proj.bias, training=self.training,
            key_padding_mask=key_padding_mask, need_weights=need_weights, attn_mask=attn_mask,
            use_separate_proj_weight=separate, q_proj_weight=self.q_proj_weight,
            k_proj_weight=self.k_proj_weight, v_proj_weight=self.v_proj_weight,
            average_attn_weights=average_attn_weights, is_causal=is_causal,
            generator=self.generator)
        if self.batch_first and batched:
            out = ops.swapaxes(out, 0, 1)
        return out, weights


__all__ = ["MultiheadAttention", "NonDynamicallyQuantizableLinear"]
