"""RNN, LSTM, GRU and their cells: against hand-written numpy gates (no torch needed), through both
modes and to second order, their initialisation and errors, and against PyTorch in float64 when it
is installed (optional)."""
from __future__ import annotations

import math
from contextlib import contextmanager
from typing import Any

import numpy as np
import pytest

from adcore import numerical_jacobian
from forward import jacfwd
from nn.recurrent import (
    GRU,
    LSTM,
    RNN,
    GRUCell,
    LSTMCell,
    RNNBase,
    RNNCell,
    gru_cell,
    lstm_cell,
)
from reverse import Tensor, grad, hessian, jacrev, no_grad

RNG = np.random.default_rng(3)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _np(x):
    """An array from a result that may still hold a graph (the layers' parameters require grad,
    so derivatives taken through them do too)."""
    return np.asarray(x.detach() if isinstance(x, Tensor) else x)


def _numeric(f, x):
    """Central differences of f at x, outside any graph."""
    with no_grad():
        return numerical_jacobian(lambda v: np.asarray(f(v)), x)


def _slope_numeric(loss, param, direction, eps=1e-6):
    """The derivative of loss along ``direction`` in param's entries, by central differences."""
    keep = param.data.copy()
    with no_grad():
        param.data[...] = keep + eps * direction
        up = float(loss())
        param.data[...] = keep - eps * direction
        down = float(loss())
        param.data[...] = keep
    return (up - down) / (2 * eps)


def _randomize(module, scale=0.6):
    """Every parameter random in float64 (so that the biases are not all alike)."""
    for p in module.parameters():
        p.data[...] = RNG.normal(size=p.shape) * scale
    return module


# --- one step, by hand --------------------------------------------------------------------------


def test_cells_against_hand_written_gates() -> None:
    x, h, c = RNG.normal(size=(2, 3)), RNG.normal(size=(2, 4)), RNG.normal(size=(2, 4))
    cell = _randomize(LSTMCell(3, 4, dtype=np.float64))
    W_ih, W_hh = cell.weight_ih.data, cell.weight_hh.data
    b = cell.bias_ih.data + cell.bias_hh.data
    pre = x @ W_ih.T + h @ W_hh.T + b
    i, f, g, o = _sigmoid(pre[:, :4]), _sigmoid(pre[:, 4:8]), np.tanh(pre[:, 8:12]), _sigmoid(
        pre[:, 12:])
    c_new = f * c + i * g
    h1, c1 = cell(x, (h, c))
    np.testing.assert_allclose(c1.data, c_new, rtol=1e-13)
    np.testing.assert_allclose(h1.data, o * np.tanh(c_new), rtol=1e-13)
    _, c0 = cell(x)  # missing states are zeros
    np.testing.assert_allclose(c0.data, _sigmoid(
        (x @ W_ih.T + b)[:, :4]) * np.tanh((x @ W_ih.T + b)[:, 8:12]), rtol=1e-13)

    gru = _randomize(GRUCell(3, 4, dtype=np.float64))
    gi = x @ gru.weight_ih.data.T + gru.bias_ih.data
    gh = h @ gru.weight_hh.data.T + gru.bias_hh.data
    r, z = _sigmoid(gi[:, :4] + gh[:, :4]), _sigmoid(gi[:, 4:8] + gh[:, 4:8])
    n = np.tanh(gi[:, 8:] + r * gh[:, 8:])  # b_hn inside r * (...)
    np.testing.assert_allclose(gru(x, h).data, (1 - z) * n + z * h, rtol=1e-13)

    rnn = _randomize(RNNCell(3, 4, nonlinearity="relu", dtype=np.float64))
    want = np.maximum(x @ rnn.weight_ih.data.T + rnn.bias_ih.data + h @ rnn.weight_hh.data.T
                      + rnn.bias_hh.data, 0)
    np.testing.assert_allclose(rnn(x, h).data, want, rtol=1e-13)
    np.testing.assert_allclose(rnn(x[0], h[0]).data, want[0], rtol=1e-13)  # unbatched


# --- sequences, by hand -------------------------------------------------------------------------


def _step_numpy(mode, x, h, c, w_ih, w_hh, b_ih, b_hh, w_hr):
    gi, gh = x @ w_ih.T + b_ih, h @ w_hh.T + b_hh
    if mode == "LSTM":
        k = c.shape[-1]
        pre = gi + gh
        c = _sigmoid(pre[:, k:2 * k]) * c + _sigmoid(pre[:, :k]) * np.tanh(pre[:, 2 * k:3 * k])
        h = _sigmoid(pre[:, 3 * k:]) * np.tanh(c)
        return (h if w_hr is None else h @ w_hr.T), c
    if mode == "GRU":
        k = h.shape[-1]
        r = _sigmoid(gi[:, :k] + gh[:, :k])
        z = _sigmoid(gi[:, k:2 * k] + gh[:, k:2 * k])
        n = np.tanh(gi[:, 2 * k:] + r * gh[:, 2 * k:])
        return (1 - z) * n + z * h, c
    return (np.tanh if mode == "RNN_TANH" else lambda v: np.maximum(v, 0))(gi + gh), c


def _sequence_numpy(module, x, h0, c0):
    """(output, h_n, c_n) of a sequence-first batched input, one layer, direction and step at
    a time."""
    p = {name: t.data for name, t in module.named_parameters()}
    directions = 2 if module.bidirectional else 1
    length = x.shape[0]
    h_n, c_n = [], []
    for layer in range(module.num_layers):
        outs = []
        for d in range(directions):
            sfx = f"_l{layer}" + ("_reverse" if d else "")
            weights = (p[f"weight_ih{sfx}"], p[f"weight_hh{sfx}"], p.get(f"bias_ih{sfx}", 0.0),
                       p.get(f"bias_hh{sfx}", 0.0), p.get(f"weight_hr{sfx}"))
            h, c = h0[layer * directions + d], c0[layer * directions + d]
            ys = [None] * length
            for t in (reversed(range(length)) if d else range(length)):
                h, c = _step_numpy(module.mode, x[t], h, c, *weights)
                ys[t] = h
            outs.append(np.stack(ys))
            h_n.append(h)
            c_n.append(c)
        x = np.concatenate(outs, -1)
    return x, np.stack(h_n), np.stack(c_n)


SEQUENCES = [
    ("rnn", lambda: RNN(3, 4, dtype=np.float64)),
    ("rnn relu 2 layers bidirectional",
     lambda: RNN(3, 4, 2, nonlinearity="relu", bidirectional=True, dtype=np.float64)),
    ("lstm 2 layers bidirectional", lambda: LSTM(3, 4, 2, bidirectional=True, dtype=np.float64)),
    ("lstm proj_size", lambda: LSTM(3, 4, 2, proj_size=2, dtype=np.float64)),
    ("gru no bias bidirectional",
     lambda: GRU(3, 4, bias=False, bidirectional=True, dtype=np.float64)),
    ("gru 3 layers", lambda: GRU(3, 4, 3, dtype=np.float64)),
]


@pytest.mark.parametrize("name, make", SEQUENCES, ids=[c[0] for c in SEQUENCES])
def test_sequences_against_hand_written_steps(name, make) -> None:
    module = _randomize(make())
    directions = 2 if module.bidirectional else 1
    out_size = module.proj_size or module.hidden_size
    x = RNG.normal(size=(5, 2, 3))
    h0 = RNG.normal(size=(module.num_layers * directions, 2, out_size))
    c0 = RNG.normal(size=(module.num_layers * directions, 2, 4))
    want, want_h, want_c = _sequence_numpy(module, x, h0, c0)
    hx = (h0, c0) if isinstance(module, LSTM) else h0
    out, state = module(x, hx)
    h_n = state[0] if isinstance(module, LSTM) else state
    np.testing.assert_allclose(out.data, want, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(h_n.data, want_h, rtol=1e-12, atol=1e-14)
    if isinstance(module, LSTM):
        np.testing.assert_allclose(state[1].data, want_c, rtol=1e-12, atol=1e-14)
    # batch first, and one sequence without a batch axis, give the same numbers
    module.batch_first = True
    out_bf, _ = module(x.transpose(1, 0, 2), hx)
    np.testing.assert_allclose(out_bf.data, want.transpose(1, 0, 2), rtol=1e-12, atol=1e-14)
    hx1 = (h0[:, 1], c0[:, 1]) if isinstance(module, LSTM) else h0[:, 1]
    out1, state1 = module(x[:, 1], hx1)  # unbatched: batch_first does not apply
    np.testing.assert_allclose(out1.data, want[:, 1], rtol=1e-12, atol=1e-14)
    h1 = state1[0] if isinstance(module, LSTM) else state1
    np.testing.assert_allclose(h1.data, want_h[:, 1], rtol=1e-12, atol=1e-14)


def test_zero_initial_states_and_the_last_output() -> None:
    gru = _randomize(GRU(2, 3, dtype=np.float64))
    x = RNG.normal(size=(4, 2, 2))
    out, h_n = gru(x)
    np.testing.assert_array_equal(out.data, gru(x, np.zeros((1, 2, 3)))[0].data)
    np.testing.assert_array_equal(out.data[-1], h_n.data[0])  # one layer, one direction


def test_dropout_between_layers_draws_from_the_generator() -> None:
    deep = _randomize(RNN(3, 4, 2, dropout=0.5, dtype=np.float64))
    first = RNN(3, 4, dtype=np.float64)
    second = RNN(4, 4, dtype=np.float64)
    p = dict(deep.named_parameters())
    first.load_state_dict({n: p[n].data for n in ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0",
                                                  "bias_hh_l0")})
    second.load_state_dict({n.replace("l1", "l0"): p[n].data for n in p if n.endswith("l1")})
    x = RNG.normal(size=(3, 2, 3))
    deep.generator = np.random.default_rng(5)
    out, _ = deep(x)
    keep = np.random.default_rng(5).random((3, 2, 4)) >= 0.5
    hidden, _ = first(x)
    np.testing.assert_allclose(out.data, second(hidden.data * keep * 2.0)[0].data, rtol=1e-13)
    deep.eval()  # no dropout: the two layers in a row
    np.testing.assert_allclose(deep(x)[0].data, second(hidden.data)[0].data, rtol=1e-13)
    with pytest.warns(UserWarning, match=r"non-zero dropout expects num_layers greater than 1"):
        LSTM(3, 4, dropout=0.2)


# --- derivatives --------------------------------------------------------------------------------


def test_lstm_derivatives_in_both_modes_and_second_order() -> None:
    lstm = _randomize(LSTM(2, 3, bidirectional=True, dtype=np.float64))
    x = RNG.normal(size=(3, 1, 2))
    h0, c0 = RNG.normal(size=(2, 1, 3)), RNG.normal(size=(2, 1, 3))
    f = lambda v: lstm(v, (h0, c0))[0]
    j = _numeric(f, x)
    np.testing.assert_allclose(_np(jacrev(f)(x)), j, rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(_np(jacfwd(f)(x)), j, rtol=1e-6, atol=1e-9)
    g = lambda c: lstm(x, (h0, c))[1][1]  # c_n with respect to c_0
    np.testing.assert_allclose(_np(jacfwd(g)(c0)), _numeric(g, c0), rtol=1e-6, atol=1e-9)
    loss = lambda v: (lstm(v, (h0, c0))[0] ** 2).sum()
    np.testing.assert_allclose(_np(hessian(loss)(x)), _numeric(grad(loss), x), rtol=1e-5,
                               atol=1e-7)


def test_gru_and_rnn_derivatives_to_second_order() -> None:
    gru = _randomize(GRU(2, 2, 2, dtype=np.float64))
    x = RNG.normal(size=(3, 2))  # unbatched
    loss = lambda v: (gru(v)[0] ** 3).sum() + gru(v)[1].sum()
    np.testing.assert_allclose(_np(grad(loss)(x)), _numeric(loss, x).ravel().reshape(3, 2),
                               rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(_np(hessian(loss)(x)), _numeric(grad(loss), x), rtol=1e-5,
                               atol=1e-7)
    rnn = _randomize(RNN(2, 3, batch_first=True, dtype=np.float64))
    h0 = RNG.normal(size=(1, 2, 3))
    xs = RNG.normal(size=(2, 4, 2))
    f = lambda h: rnn(xs, h)[0]
    np.testing.assert_allclose(_np(jacfwd(f)(h0)), _numeric(f, h0), rtol=1e-6, atol=1e-9)


def test_cell_function_derivatives_with_respect_to_weights() -> None:
    x, h, c = RNG.normal(size=(2, 3)), RNG.normal(size=(2, 2)), RNG.normal(size=(2, 2))
    w_ih, w_hh, b = RNG.normal(size=(8, 3)), RNG.normal(size=(8, 2)), RNG.normal(size=8)
    cases = [(lambda w: lstm_cell(x, (h, c), w, w_hh, b, b)[0], w_ih),
             (lambda w: lstm_cell(x, (h, c), w_ih, w, None, b)[1], w_hh),
             (lambda w: gru_cell(x, h, w_ih[:6], w, b[:6], b[2:]), w_hh[:6])]
    for f, arg in cases:
        j = _numeric(f, arg)
        np.testing.assert_allclose(jacrev(f)(arg), j, rtol=1e-6, atol=1e-9)
        np.testing.assert_allclose(jacfwd(f)(arg), j, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("make", [lambda: GRU(2, 2, 2, bidirectional=True, dtype=np.float64),
                                  lambda: LSTM(2, 3, proj_size=2, dtype=np.float64)],
                         ids=["gru bidirectional 2 layers", "lstm proj_size"])
def test_parameter_gradients_against_finite_differences(make) -> None:
    module = _randomize(make())
    x = RNG.normal(size=(2, 2, 2))
    weights = RNG.normal(size=module(x)[0].shape)

    def loss():
        out = module(x)[0]
        return (out * weights).sum() + (out ** 2).sum()

    loss().backward()
    for name, p in module.named_parameters():  # two random directions in each parameter
        for direction in RNG.normal(size=(2, *p.shape)):
            want = _slope_numeric(loss, p, direction)
            got = float(np.sum(p.grad.data * direction))
            assert abs(got - want) <= 1e-6 * (1 + abs(want)), (name, got, want)


# --- parameters and errors ----------------------------------------------------------------------


def test_parameter_names_shapes_and_init() -> None:
    names = [(n, p.shape) for n, p in LSTM(3, 5, 2, bidirectional=True, proj_size=2)
             .named_parameters()][:6]
    assert names == [("weight_ih_l0", (20, 3)), ("weight_hh_l0", (20, 2)), ("bias_ih_l0", (20,)),
                     ("bias_hh_l0", (20,)), ("weight_hr_l0", (2, 5)),
                     ("weight_ih_l0_reverse", (20, 3))]
    assert [n for n, _ in GRU(3, 4, 2, bias=False).named_parameters()] == [
        "weight_ih_l0", "weight_hh_l0", "weight_ih_l1", "weight_hh_l1"]
    assert GRU(3, 4, 2, bidirectional=True).weight_ih_l1.shape == (12, 8)
    assert [n for n, _ in GRUCell(3, 4).named_parameters()] == [
        "weight_ih", "weight_hh", "bias_ih", "bias_hh"]
    for module in (LSTM(8, 64, dtype=np.float64, generator=np.random.default_rng(1)),
                   GRUCell(8, 64, dtype=np.float64, generator=np.random.default_rng(2))):
        values = np.concatenate([p.data.ravel() for p in module.parameters()])
        bound = 1 / math.sqrt(64)
        assert np.abs(values).max() <= bound
        assert abs(values.var() / (bound ** 2 / 3) - 1) < 0.05  # uniform in +-bound
        assert abs(values.mean()) < 0.02 * bound


def test_errors_name_the_layer_and_shapes() -> None:
    lstm = LSTM(3, 4, 2)
    cases = [
        (lambda: lstm(np.zeros((5, 2, 6))), r"LSTM: input of shape \(5, 2, 6\) has feature size "
                                            r"6, expected input_size=3"),
        (lambda: lstm(np.zeros((1, 5, 2, 3))), r"LSTM: expected input of shape \(L, N, 3\) "
                                               r"\(batched, batch_first=False\) or \(L, 3\) "
                                               r"\(unbatched\), got a 4-d input of shape "
                                               r"\(1, 5, 2, 3\)"),
        (lambda: lstm(np.zeros((5, 2, 3)), (np.zeros((1, 2, 4)), np.zeros((2, 2, 4)))),
         r"LSTM: expected h_0 of shape \(2, 2, 4\) \(num_layers \* num_directions, N, "
         r"hidden_size\), got \(1, 2, 4\)"),
        (lambda: lstm(np.zeros((5, 3)), (np.zeros((2, 1, 4)), np.zeros((2, 4)))),
         r"LSTM: expected h_0 of shape \(2, 4\) .* \(unbatched input, so a 2-d state\), got "
         r"\(2, 1, 4\)"),
        (lambda: lstm(np.zeros((5, 2, 3)), np.zeros((2, 2, 4))), r"LSTM: hx must be a tuple "
                                                                  r"\(h_0, c_0\)"),
        (lambda: lstm(np.zeros((0, 2, 3))), r"sequence of length 0"),
        (lambda: GRU(3, 4, batch_first=True)(np.zeros((2, 5, 3)), np.zeros((1, 5, 4))),
         r"GRU: expected h_0 of shape \(1, 2, 4\)"),
        (lambda: GRU(3, 4)(np.zeros((5, 2, 3)), (np.zeros((1, 2, 4)),)),
         r"GRU: hx must be one tensor h_0"),
        (lambda: RNN(3, 4, nonlinearity="sigmoid"), r"RNN: unknown nonlinearity 'sigmoid'"),
        (lambda: RNNBase("GRU", 3, 4, proj_size=2), r"GRU: proj_size argument is only supported "
                                                     r"for LSTM"),
        (lambda: LSTM(3, 4, proj_size=4), r"LSTM: proj_size has to be smaller than hidden_size"),
        (lambda: LSTM(3, 4, dropout=1.5), r"LSTM: dropout should be a number in range \[0, 1\]"),
        (lambda: LSTM(3, 0), r"LSTM: hidden_size must be greater than zero, got 0"),
        (lambda: LSTMCell(3, 4)(np.zeros((2, 5))), r"LSTMCell: input of shape \(2, 5\) has "
                                                   r"feature size 5, expected input_size=3"),
        (lambda: GRUCell(3, 4)(np.zeros((2, 3)), np.zeros((3, 4))),
         r"GRUCell: expected hx of shape \(2, 4\) \(N, hidden_size\), got \(3, 4\)"),
        (lambda: RNNCell(3, 4)(np.zeros((1, 2, 3))), r"RNNCell: expected input of shape "
                                                     r"\(N, 3\) \(batched\) or \(3,\) "
                                                     r"\(unbatched\), got a 3-d input"),
    ]
    for call, message in cases:
        with pytest.raises((ValueError, TypeError), match=message):
            call()


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


def _flat(value) -> list:
    if isinstance(value, tuple):
        return [a for v in value for a in _flat(v)]
    return [value]


def test_against_pytorch_in_float64() -> None:
    torch = pytest.importorskip("torch")
    with _one_torch_thread(torch):
        nn = torch.nn
        cases: list[tuple[Any, ...]] = [  # (ours, theirs, args, kwargs, input shape, states)
            (RNN, nn.RNN, (3, 4), {"nonlinearity": "relu", "num_layers": 2, "bidirectional": True},
             (5, 2, 3), [(4, 2, 4)]),
            (LSTM, nn.LSTM, (3, 4), {"num_layers": 2, "bidirectional": True, "batch_first": True},
             (2, 5, 3), [(4, 2, 4), (4, 2, 4)]),
            (LSTM, nn.LSTM, (3, 4), {"proj_size": 2, "num_layers": 2}, (5, 2, 3),
             [(2, 2, 2), (2, 2, 4)]),
            (LSTM, nn.LSTM, (3, 4), {"bias": False}, (5, 3), []),
            (GRU, nn.GRU, (3, 4), {"num_layers": 2, "bidirectional": True}, (5, 3), [(4, 4)]),
            (RNNCell, nn.RNNCell, (3, 4), {}, (2, 3), [(2, 4)]),
            (LSTMCell, nn.LSTMCell, (3, 4), {"bias": False}, (3,), [(4,), (4,)]),
            (GRUCell, nn.GRUCell, (3, 4), {}, (2, 3), []),
        ]
        for ours_cls, theirs_cls, args, kwargs, x_shape, state_shapes in cases:
            label = f"{ours_cls.__name__} {kwargs}"
            theirs = theirs_cls(*args, dtype=torch.float64, **kwargs)
            ours = ours_cls(*args, dtype=np.float64, **kwargs)
            assert repr(ours) == repr(theirs)
            ours.load_state_dict({n: t.detach().numpy() for n, t in theirs.state_dict().items()})
            assert [n for n, _ in ours.named_parameters()] == [n for n, _ in
                                                              theirs.named_parameters()]
            arrays = [RNG.normal(size=s) for s in [x_shape, *state_shapes]]
            mine = [Tensor(a, requires_grad=True) for a in arrays]
            tmine = [torch.tensor(a, requires_grad=True) for a in arrays]
            state = (tuple(mine[1:]) if len(mine) == 3 else mine[1]) if len(mine) > 1 else None
            tstate = (tuple(tmine[1:]) if len(tmine) == 3 else tmine[1]) if len(tmine) > 1 else None
            outs, touts = _flat(ours(mine[0], state)), _flat(theirs(tmine[0], tstate))
            for a, b in zip(outs, touts):
                _close(a, b, label)
            loss, tloss = (outs[0] ** 2).sum(), (touts[0] ** 2).sum()
            for i in range(1, len(outs)):  # each output weighted differently
                loss = loss + (outs[i] ** 2).sum() * (i + 1)
                tloss = tloss + (touts[i] ** 2).sum() * (i + 1)
            loss.backward()
            tloss.backward()
            for a, b in zip(mine, tmine):
                _close(a.grad, b.grad, label)
            for (name, p), (_, tp) in zip(ours.named_parameters(), theirs.named_parameters()):
                _close(p.grad, tp.grad, f"{label} {name}")
