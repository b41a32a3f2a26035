"""scaled_dot_product_attention and MultiheadAttention: against a direct numpy computation (no
torch needed), through both modes and to second order, their errors, and against PyTorch in
float64 when it is installed (optional)."""
from __future__ import annotations

import math
from contextlib import contextmanager
from typing import Any

import numpy as np
import pytest

from adcore import numerical_jacobian
from forward import jacfwd
from nn.attention import scaled_dot_product_attention
from nn.multihead import MultiheadAttention
from reverse import Tensor, grad, hessian, jacrev, no_grad

RNG = np.random.default_rng(11)


def _softmax(s: np.ndarray) -> np.ndarray:
    e = np.exp(s - s.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def _np(x):
    """An array from a result that may still hold a graph (the layers' parameters require
    grad, so derivatives taken through them do too)."""
    return np.asarray(x.detach() if isinstance(x, Tensor) else x)


def _numeric(f, x):
    """Central differences of f at x, outside any graph."""
    with no_grad():
        return numerical_jacobian(lambda v: np.asarray(f(v)), x)


def _param_grad_numeric(loss, param, eps=1e-6):
    """d loss / d param by central differences on param's entries, in place."""
    out = np.zeros(param.shape)
    with no_grad():
        for i in np.ndindex(*param.shape):
            keep = param.data[i]
            param.data[i] = keep + eps
            up = float(loss())
            param.data[i] = keep - eps
            down = float(loss())
            param.data[i] = keep
            out[i] = (up - down) / (2 * eps)
    return out


def _mha_numpy(query, key, value, w_in, b_in, w_out, b_out, heads, add_mask=None):
    """Multi-head attention, sequence first, one head and one batch entry at a time."""
    L, N, E = query.shape
    S, d = key.shape[0], E // heads
    q = query @ w_in[:E].T + b_in[:E]
    k = key @ w_in[E:2 * E].T + b_in[E:2 * E]
    v = value @ w_in[2 * E:].T + b_in[2 * E:]
    heads_out, weights = np.zeros((L, N, E)), np.zeros((N, heads, L, S))
    for n in range(N):
        for h in range(heads):
            cols = slice(h * d, (h + 1) * d)
            scores = q[:, n, cols] @ k[:, n, cols].T / math.sqrt(d)
            if add_mask is not None:
                scores = scores + add_mask[n]
            weights[n, h] = _softmax(scores)
            heads_out[:, n, cols] = weights[n, h] @ v[:, n, cols]
    return heads_out @ w_out.T + b_out, weights


# --- scaled_dot_product_attention ---------------------------------------------------------------


def test_sdpa_formula_masks_causal_and_scale() -> None:
    q, k, v = RNG.normal(size=(2, 3, 4)), RNG.normal(size=(2, 5, 4)), RNG.normal(size=(2, 5, 6))
    scores = q @ k.transpose(0, 2, 1) / 2.0  # 1 / sqrt(E), E = 4
    np.testing.assert_allclose(scaled_dot_product_attention(q, k, v), _softmax(scores) @ v,
                               rtol=1e-13)
    np.testing.assert_allclose(scaled_dot_product_attention(q, k, v, scale=0.3),
                               _softmax(q @ k.transpose(0, 2, 1) * 0.3) @ v, rtol=1e-13)
    keep = RNG.random((3, 5)) < 0.6
    keep[:, 0] = True
    want = _softmax(np.where(keep, scores, -np.inf)) @ v
    np.testing.assert_allclose(scaled_dot_product_attention(q, k, v, keep), want, rtol=1e-13)
    bias = RNG.normal(size=(2, 1, 5))  # a float mask is added; it broadcasts
    np.testing.assert_allclose(scaled_dot_product_attention(q, k, v, bias),
                               _softmax(scores + bias) @ v, rtol=1e-13)
    causal = scaled_dot_product_attention(q, k, v, is_causal=True)
    np.testing.assert_allclose(causal, _softmax(np.where(np.tril(np.ones((3, 5))) > 0, scores,
                                                         -np.inf)) @ v, rtol=1e-13)
    np.testing.assert_allclose(causal[:, 0], v[:, 0], rtol=1e-13)  # query 0 sees key 0 only


def test_sdpa_all_masked_query_gets_zero_and_finite_derivatives() -> None:
    q, k, v = RNG.normal(size=(3, 2)), RNG.normal(size=(4, 2)), RNG.normal(size=(4, 3))
    keep = np.ones((3, 4), bool)
    keep[1] = False
    out = scaled_dot_product_attention(q, k, v, keep)
    assert np.all(out[1] == 0)
    np.testing.assert_allclose(out[[0, 2]], _softmax(q[[0, 2]] @ k.T / math.sqrt(2)) @ v,
                               rtol=1e-13)
    j = jacrev(lambda x: scaled_dot_product_attention(x, k, v, keep))(q)
    assert np.all(np.isfinite(j)) and np.all(np.asarray(j)[3:6] == 0)


def test_sdpa_grouped_query_attention_repeats_key_heads() -> None:
    q, k, v = RNG.normal(size=(4, 2, 3)), RNG.normal(size=(2, 5, 3)), RNG.normal(size=(2, 5, 2))
    out = scaled_dot_product_attention(q, k, v, enable_gqa=True)
    kk, vv = np.repeat(k, 2, axis=0), np.repeat(v, 2, axis=0)  # heads 0, 1 share key head 0
    np.testing.assert_allclose(out, scaled_dot_product_attention(q, kk, vv), rtol=1e-14)


def test_sdpa_dropout_draws_from_its_generator() -> None:
    q, k, v = RNG.normal(size=(3, 4)), RNG.normal(size=(5, 4)), RNG.normal(size=(5, 2))
    out = scaled_dot_product_attention(q, k, v, dropout_p=0.4,
                                       generator=np.random.default_rng(7))
    keep = np.random.default_rng(7).random((3, 5)) >= 0.4
    weights = _softmax(q @ k.T / 2.0) * keep / 0.6
    np.testing.assert_allclose(out, weights @ v, rtol=1e-13)


def test_sdpa_derivatives_in_both_modes_and_second_order() -> None:
    q, k, v = RNG.normal(size=(2, 3)), RNG.normal(size=(4, 3)), RNG.normal(size=(4, 2))
    bias = RNG.normal(size=(2, 4))

    def f(z):  # q, k and v packed in one vector
        return scaled_dot_product_attention(z[:6].reshape(2, 3), z[6:18].reshape(4, 3),
                                            z[18:].reshape(4, 2), bias)

    z = np.concatenate([q.ravel(), k.ravel(), v.ravel()])
    j = _numeric(f, z)
    np.testing.assert_allclose(jacrev(f)(z), j, rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(jacfwd(f)(z), j, rtol=1e-6, atol=1e-9)
    loss = lambda x: (f(x) ** 3).sum()
    np.testing.assert_allclose(hessian(loss)(z), _numeric(grad(loss), z), rtol=1e-5, atol=1e-7)
    # a float mask is differentiable too
    g = jacrev(lambda m: scaled_dot_product_attention(q, k, v, m))(bias)
    np.testing.assert_allclose(g, _numeric(lambda m: scaled_dot_product_attention(q, k, v, m),
                                           bias), rtol=1e-6, atol=1e-9)


def test_sdpa_errors_name_the_shapes() -> None:
    q, k, v = np.zeros((2, 3, 4)), np.zeros((2, 5, 4)), np.zeros((2, 5, 6))
    with pytest.raises(ValueError, match=r"scaled_dot_product_attention: query \(\.\.\., L, E\) "
                                         r"and key \(\.\.\., S, E\) must share E: got query "
                                         r"\(2, 3, 4\) and key \(2, 5, 3\)"):
        scaled_dot_product_attention(q, np.zeros((2, 5, 3)), v)
    with pytest.raises(ValueError, match=r"same length S: got key \(2, 5, 4\) and value "
                                         r"\(2, 4, 6\)"):
        scaled_dot_product_attention(q, k, np.zeros((2, 4, 6)))
    with pytest.raises(ValueError, match=r"at least 2 axes"):
        scaled_dot_product_attention(np.zeros(4), np.zeros(4), np.zeros(4))
    with pytest.raises(ValueError, match=r"attn_mask of shape \(3, 4\) does not broadcast to "
                                         r"the scores' shape \(2, 3, 5\)"):
        scaled_dot_product_attention(q, k, v, np.ones((3, 4), bool))
    with pytest.raises(ValueError, match=r"either attn_mask or is_causal=True, not both"):
        scaled_dot_product_attention(q, k, v, np.ones((3, 5), bool), is_causal=True)
    with pytest.raises(TypeError, match=r"attn_mask must be a bool or floating-point mask, got "
                                        r"dtype int64"):
        scaled_dot_product_attention(q, k, v, np.ones((3, 5), np.int64))


# --- MultiheadAttention -------------------------------------------------------------------------


def _random_mha(*args, **kwargs) -> MultiheadAttention:
    """A layer in float64 with every parameter random (the default init zeroes the biases)."""
    mha = MultiheadAttention(*args, dtype=np.float64, **kwargs)
    for p in mha.parameters():
        p.data[...] = RNG.normal(size=p.shape) * 0.5
    return mha


def test_mha_formula_per_head() -> None:
    mha = _random_mha(6, 3)
    x, mem = RNG.normal(size=(4, 2, 6)), RNG.normal(size=(5, 2, 6))
    out, weights = mha(x, mem, mem, average_attn_weights=False)
    want, want_w = _mha_numpy(x, mem, mem, mha.in_proj_weight.data, mha.in_proj_bias.data,
                              mha.out_proj.weight.data, mha.out_proj.bias.data, 3)
    np.testing.assert_allclose(out.data, want, rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(weights.data, want_w, rtol=1e-12, atol=1e-14)
    _, mean_w = mha(x, mem, mem)
    np.testing.assert_allclose(mean_w.data, want_w.mean(1), rtol=1e-12)
    no_w, none = mha(x, mem, mem, need_weights=False)  # through scaled_dot_product_attention
    assert none is None
    np.testing.assert_allclose(no_w.data, want, rtol=1e-12, atol=1e-13)
    mha.batch_first = True  # the same numbers with the batch axis first
    out_bf, _ = mha(x.transpose(1, 0, 2), mem.transpose(1, 0, 2), mem.transpose(1, 0, 2))
    np.testing.assert_allclose(out_bf.data, want.transpose(1, 0, 2), rtol=1e-12, atol=1e-13)
    mha.batch_first = False
    out_1, w_1 = mha(x[:, 0], mem[:, 0], mem[:, 0])  # unbatched: (L, E)
    np.testing.assert_allclose(out_1.data, want[:, 0], rtol=1e-12, atol=1e-13)
    assert w_1.shape == (4, 5)


def test_mha_masks_leave_out_the_true_positions() -> None:
    mha = _random_mha(4, 2)
    x, mem = RNG.normal(size=(3, 2, 4)), RNG.normal(size=(5, 2, 4))
    pad = np.zeros((2, 5), bool)
    pad[0, 3:] = True
    causal = np.triu(np.ones((3, 5), bool), 1)  # True = left out, in MultiheadAttention
    out, w = mha(mem[:3], mem, mem, key_padding_mask=pad, attn_mask=causal)
    add = np.where(pad[:, None, :] | causal[None], -np.inf, 0.0)
    want, want_w = _mha_numpy(mem[:3], mem, mem, mha.in_proj_weight.data, mha.in_proj_bias.data,
                              mha.out_proj.weight.data, mha.out_proj.bias.data, 2, add)
    np.testing.assert_allclose(out.data, want, rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(w.data, want_w.mean(1), rtol=1e-12, atol=1e-14)
    # a padded key changes nothing; a float mask of -inf is the same as a boolean one
    moved = mem.copy()
    moved[3:, 0] += 10.0
    again, _ = mha(x, moved, moved, key_padding_mask=pad)
    base, _ = mha(x, mem, mem, key_padding_mask=np.where(pad, -np.inf, 0.0))
    np.testing.assert_allclose(again.data, base.data, rtol=1e-13)
    moved[0, 0] += 10.0  # a key that takes part does change the output
    assert np.abs(mha(x, moved, moved, key_padding_mask=pad)[0].data - base.data).max() > 1e-3


def test_mha_parameters_names_shapes_and_init() -> None:
    names = lambda m: [(n, p.shape) for n, p in m.named_parameters()]
    assert names(MultiheadAttention(8, 2)) == [
        ("in_proj_weight", (24, 8)), ("in_proj_bias", (24,)), ("out_proj.weight", (8, 8)),
        ("out_proj.bias", (8,))]
    assert names(MultiheadAttention(8, 2, kdim=3, vdim=5, add_bias_kv=True, bias=False)) == [
        ("q_proj_weight", (8, 8)), ("k_proj_weight", (8, 3)), ("v_proj_weight", (8, 5)),
        ("bias_k", (1, 1, 8)), ("bias_v", (1, 1, 8)), ("out_proj.weight", (8, 8))]
    assert repr(MultiheadAttention(8, 2)) == (
        "MultiheadAttention(\n  (out_proj): NonDynamicallyQuantizableLinear(in_features=8, "
        "out_features=8, bias=True)\n)")
    E = 96
    mha = MultiheadAttention(E, 4, add_bias_kv=True, dtype=np.float64,
                             generator=np.random.default_rng(0))
    w, wo = mha.in_proj_weight.data, mha.out_proj.weight.data
    assert np.abs(w).max() <= math.sqrt(6 / (4 * E))  # xavier_uniform_: fan_in E, fan_out 3 E
    assert abs(w.var() / (1 / (2 * E)) - 1) < 0.05 and abs(w.mean()) < 0.01 * w.std()
    assert np.abs(wo).max() <= 1 / math.sqrt(E)  # Linear's init, uniform in +-1/sqrt(E)
    assert abs(wo.var() / (1 / (3 * E)) - 1) < 0.05
    assert np.all(mha.in_proj_bias.data == 0) and np.all(mha.out_proj.bias.data == 0)
    both = np.concatenate([mha.bias_k.data.ravel(), mha.bias_v.data.ravel()])
    assert abs(both.std() * math.sqrt(E) - 1) < 0.2  # xavier_normal_: std 1/sqrt(E)


def test_mha_derivatives_in_both_modes_and_second_order() -> None:
    mha = _random_mha(4, 2)
    mem = RNG.normal(size=(3, 1, 4))
    x = RNG.normal(size=(2, 1, 4))
    pad = np.array([[False, False, True]])
    for need in (True, False):
        f = lambda q, need=need: mha(q, mem, mem, key_padding_mask=pad, need_weights=need)[0]
        j = _numeric(f, x)
        np.testing.assert_allclose(_np(jacrev(f)(x)), j, rtol=1e-6, atol=1e-9)
        np.testing.assert_allclose(_np(jacfwd(f)(x)), j, rtol=1e-6, atol=1e-9)
    weights = lambda q: mha(q, mem, mem)[1]
    np.testing.assert_allclose(_np(jacfwd(weights)(x)), _numeric(weights, x), rtol=1e-6, atol=1e-9)
    loss = lambda q: (mha(q, q, q)[0] ** 2).sum()  # self-attention
    np.testing.assert_allclose(_np(hessian(loss)(x)), _numeric(grad(loss), x), rtol=1e-5, atol=1e-7)


def test_mha_parameter_gradients_against_finite_differences() -> None:
    mha = _random_mha(4, 2, kdim=3, add_bias_kv=True, add_zero_attn=True)
    x, k, v = RNG.normal(size=(2, 2, 4)), RNG.normal(size=(3, 2, 3)), RNG.normal(size=(3, 2, 4))

    def loss():
        out, weights = mha(x, k, v)
        return (out ** 2).sum() + (weights ** 2).sum()

    loss().backward()
    for name, p in mha.named_parameters():
        np.testing.assert_allclose(_np(p.grad), _param_grad_numeric(loss, p), rtol=1e-6,
                                   atol=1e-8, err_msg=name)


def test_mha_dropout_only_in_training() -> None:
    mha = _random_mha(4, 2, dropout=0.5)
    x = RNG.normal(size=(3, 2, 4))
    mha.eval()
    a, _ = mha(x, x, x)
    b, _ = mha(x, x, x)
    np.testing.assert_array_equal(a.data, b.data)
    plain = _random_mha(4, 2)
    plain.load_state_dict(mha.state_dict())
    np.testing.assert_array_equal(plain(x, x, x)[0].data, a.data)
    mha.train()
    mha.generator = np.random.default_rng(3)
    _, w = mha(x, x, x, average_attn_weights=False)
    keep = np.random.default_rng(3).random((4, 3, 3)) >= 0.5  # (N * heads, L, S)
    _, w_eval = plain(x, x, x, average_attn_weights=False)
    np.testing.assert_allclose(w.data, w_eval.data * keep.reshape(2, 2, 3, 3) * 2, rtol=1e-13)


def test_mha_errors_name_the_layer_and_shapes() -> None:
    with pytest.raises(ValueError, match=r"MultiheadAttention: embed_dim must be divisible by "
                                         r"num_heads, got embed_dim=10 and num_heads=3"):
        MultiheadAttention(10, 3)
    mha = MultiheadAttention(8, 2, kdim=5)
    x, kv = np.zeros((3, 2, 8), np.float32), np.zeros((4, 2, 5), np.float32)
    v = np.zeros((4, 2, 8), np.float32)
    cases: list[tuple[Any, ...]] = [
        ((np.zeros((3, 2, 7)), kv, v), {}, r"MultiheadAttention: query of shape \(3, 2, 7\) has "
                                           r"feature size 7, expected embed_dim=8"),
        ((x, np.zeros((4, 2, 8)), v), {}, r"key of shape \(4, 2, 8\) has feature size 8, "
                                          r"expected kdim=5"),
        ((np.zeros((1, 3, 2, 8)), kv, v), {}, r"expected query of shape \(L, N, 8\) \(batched, "
                                              r"batch_first=False\) or \(L, 8\) \(unbatched\), "
                                              r"got a 4-d query of shape \(1, 3, 2, 8\)"),
        ((x, kv, np.zeros((3, 2, 8))), {}, r"key of shape \(4, 2, 5\) and value of shape "
                                           r"\(3, 2, 8\) must have the same sequence length"),
        ((x, np.zeros((4, 5)), v), {}, r"query of shape \(3, 2, 8\) is 3-d, so key and value "
                                       r"must be 3-d too"),
        ((x, kv, v), {"key_padding_mask": np.zeros((2, 3), bool)},
         r"expected key_padding_mask of shape \(2, 4\) \(N, S\), got \(2, 3\)"),
        ((x, kv, v), {"attn_mask": np.zeros((4, 3), bool)},
         r"expected attn_mask of shape \(3, 4\) \(L, S\) or \(4, 3, 4\) \(N \* num_heads, L, "
         r"S\), got \(4, 3\)"),
        ((x, kv, v), {"key_padding_mask": np.zeros((2, 4), np.int32)},
         r"key_padding_mask must be a bool or floating-point mask, got dtype int32"),
        ((x, kv, v), {"is_causal": True}, r"is_causal=True is a hint .* give that attn_mask"),
    ]
    for args, kwargs, message in cases:
        with pytest.raises((ValueError, TypeError), match=message):
            mha(*args, **kwargs)
    batch_first = MultiheadAttention(8, 2, batch_first=True)
    with pytest.raises(ValueError, match=r"query of shape \(2, 3, 8\) and key of shape "
                                         r"\(4, 5, 8\) must have the same batch size N \(axis 0 "
                                         r"with batch_first=True\)"):
        batch_first(np.zeros((2, 3, 8)), np.zeros((4, 5, 8)), np.zeros((4, 5, 8)))


# --- against PyTorch ----------------------------------------------------------------------------


@contextmanager
def _one_torch_thread(torch):
    """torch on one thread for tiny tensors: its thread pool only contends on a shared machine."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _close(ours, theirs, name="") -> None:
    theirs = theirs.detach().numpy()
    scale = max(1.0, float(np.abs(theirs).max()))
    np.testing.assert_allclose(np.asarray(ours.data), theirs, rtol=0, atol=1e-10 * scale,
                               err_msg=name)


def test_sdpa_against_pytorch_in_float64() -> None:
    torch = pytest.importorskip("torch")
    with _one_torch_thread(torch):
        F = torch.nn.functional
        q, k, v = RNG.normal(size=(2, 4, 3, 5)), RNG.normal(size=(2, 4, 6, 5)), RNG.normal(
            size=(2, 4, 6, 2))
        keep = RNG.random((3, 6)) < 0.5
        keep[1] = False  # a query with every key masked
        cases: list[tuple[dict, dict]] = [
            ({}, {}), ({"attn_mask": keep}, {}), ({"attn_mask": RNG.normal(size=(4, 3, 6))}, {}),
            ({"is_causal": True, "scale": 0.7}, {}), ({"enable_gqa": True}, {"kv_heads": 2})]
        for kwargs, extra in cases:
            kk, vv = (k[:, :2], v[:, :2]) if extra else (k, v)
            ours = [Tensor(a, requires_grad=True) for a in (q, kk, vv)]
            theirs = [torch.tensor(a, requires_grad=True) for a in (q, kk, vv)]
            tk = {n: torch.tensor(a) if isinstance(a, np.ndarray) else a for n, a in kwargs.items()}
            out = scaled_dot_product_attention(ours[0], ours[1], ours[2], **kwargs)
            tout = F.scaled_dot_product_attention(*theirs, **tk)
            _close(out, tout, str(kwargs))
            (out ** 3).sum().backward()
            (tout ** 3).sum().backward()
            for a, b in zip(ours, theirs):
                _close(a.grad, b.grad, str(kwargs))


def test_mha_against_pytorch_in_float64() -> None:
    torch = pytest.importorskip("torch")
    with _one_torch_thread(torch):
        causal = np.triu(np.ones((3, 4), bool), 1)
        pad = np.array([[False, True, False, False], [False] * 4])
        cases: list[tuple[Any, ...]] = [  # (constructor kwargs, forward kwargs, query, key, value)
            ({}, {}, None),
            ({}, {"need_weights": False, "key_padding_mask": pad}, None),
            ({}, {"average_attn_weights": False, "attn_mask": RNG.normal(size=(4, 3, 4))}, None),
            ({"kdim": 5, "vdim": 3}, {}, ((3, 2, 8), (4, 2, 5), (4, 2, 3))),
            ({"add_bias_kv": True, "add_zero_attn": True}, {"key_padding_mask": pad}, None),
            ({"bias": False}, {"attn_mask": causal, "is_causal": True, "need_weights": False},
             None),
            ({"batch_first": True}, {"attn_mask": causal}, ((2, 3, 8), (2, 4, 8), (2, 4, 8))),
            ({}, {"key_padding_mask": pad[0]}, ((3, 8), (4, 8), (4, 8))),
        ]
        for kwargs, fkwargs, shapes in cases:
            theirs = torch.nn.MultiheadAttention(8, 2, dtype=torch.float64, **kwargs)
            with torch.no_grad():
                for p in theirs.parameters():
                    p.copy_(torch.tensor(RNG.normal(size=tuple(p.shape)) * 0.5))
            ours = MultiheadAttention(8, 2, dtype=np.float64, **kwargs)
            ours.load_state_dict({n: t.detach().numpy() for n, t in theirs.state_dict().items()})
            assert [n for n, _ in ours.named_parameters()] == [n for n, _ in
                                                              theirs.named_parameters()]
            arrays = [RNG.normal(size=s) for s in (shapes or ((3, 2, 8), (4, 2, 8), (4, 2, 8)))]
            x = [Tensor(a, requires_grad=True) for a in arrays]
            tx = [torch.tensor(a, requires_grad=True) for a in arrays]
            tf = {n: torch.tensor(a) if isinstance(a, np.ndarray) else a
                  for n, a in fkwargs.items()}
            out, w = ours(*x, **fkwargs)
            tout, tw = theirs(*tx, **tf)
            label = f"{kwargs} {list(fkwargs)}"
            _close(out, tout, label)
            assert (w is None) == (tw is None)
            loss = (out ** 2).sum() + (0 if w is None else (w ** 3).sum())
            tloss = (tout ** 2).sum() + (0 if tw is None else (tw ** 3).sum())
            if w is not None:
                _close(w, tw, label)
            loss.backward()
            tloss.backward()
            for a, b in zip(x, tx):
                _close(a.grad, b.grad, label)
            for (name, p), (_, tp) in zip(ours.named_parameters(), theirs.named_parameters()):
                _close(p.grad, tp.grad, f"{label} {name}")
