"""Module beyond the MLP: forward hooks and their handles, the traversals (named_modules, children,
apply, requires_grad_), Sequential from an OrderedDict; the channel-wise and alpha dropouts; and
the layers' default initialisation, tested by its moments. Against PyTorch where it is installed
(optional)."""
from __future__ import annotations

import gc
import math
import weakref
from collections import OrderedDict

import numpy as np
import pytest

import nn
from nn import functional as F
from reverse import Tensor

RNG = np.random.default_rng(17)


class Scale(nn.Module):
    def __init__(self, factor: float) -> None:
        super().__init__()
        self.factor = factor

    def forward(self, x, shift=0.0):
        return x * self.factor + shift


# --- forward hooks ------------------------------------------------------------------------------

def test_pre_hooks_see_and_replace_the_input() -> None:
    m = Scale(3.0)
    seen = []
    m.register_forward_pre_hook(lambda module, args: seen.append((module, args)))
    h = m.register_forward_pre_hook(lambda module, args: args[0] + 1)  # a non-tuple: wrapped
    assert m(1.0) == 6.0
    assert seen == [(m, (1.0,))]
    h.remove()
    m.register_forward_pre_hook(lambda module, args: (args[0], 10.0))  # a tuple: the new args
    assert m(1.0) == 13.0


def test_forward_hooks_see_the_input_after_the_pre_hooks_and_replace_the_output() -> None:
    m = Scale(2.0)
    calls = []
    m.register_forward_pre_hook(lambda module, args: (args[0] * 10,))
    m.register_forward_hook(lambda module, args, out: calls.append(("first", args, out)))
    m.register_forward_hook(lambda module, args, out: out + 1)
    m.register_forward_hook(lambda module, args, out: calls.append(("last", args, out)))
    assert m(1.0) == 21.0
    assert calls == [("first", (10.0,), 20.0), ("last", (10.0,), 21.0)]


def test_hook_order_prepend_and_handles() -> None:
    m = Scale(1.0)
    order = []
    a = m.register_forward_hook(lambda *_: order.append("a"))
    b = m.register_forward_hook(lambda *_: order.append("b"))
    m.register_forward_hook(lambda *_: order.append("first"), prepend=True)
    m(0.0)
    assert order == ["first", "a", "b"] and a.id != b.id
    a.remove()
    a.remove()  # a second remove does nothing
    order.clear()
    m(0.0)
    assert order == ["first", "b"]
    with m.register_forward_pre_hook(lambda *_: order.append("pre")):
        m(0.0)
    order.clear()
    m(0.0)
    assert order == ["first", "b"]  # the pre-hook left with its with-block


def test_hooks_with_kwargs() -> None:
    m = Scale(2.0)
    got = []

    def pre(module, args, kwargs):
        return args, {**kwargs, "shift": 100.0}

    def post(module, args, kwargs, out):
        got.append(kwargs)
        return out * -1

    m.register_forward_pre_hook(pre, with_kwargs=True)
    m.register_forward_hook(post, with_kwargs=True)
    assert m(1.0, shift=5.0) == -102.0
    assert got == [{"shift": 100.0}]
    m.register_forward_pre_hook(lambda module, args, kwargs: args, with_kwargs=True)
    with pytest.raises(TypeError, match=r"Scale: a forward pre-hook registered with "
                                        r"with_kwargs=True must return None or a pair \(args, "
                                        r"kwargs\), got tuple"):
        m(1.0)


def test_always_call_hooks_run_when_forward_raises() -> None:
    class Broken(nn.Module):
        def forward(self, x):
            raise RuntimeError("broken forward")

    m = Broken()
    seen = []
    m.register_forward_hook(lambda module, args, out: seen.append(("plain", out)))
    m.register_forward_hook(lambda module, args, out: seen.append(("always", out)),
                            always_call=True)
    with pytest.raises(RuntimeError, match="broken forward"):
        m(1.0)
    assert seen == [("always", None)]


def test_a_hook_on_a_layer_inside_a_network_changes_the_gradient_too() -> None:
    model = nn.Sequential(nn.Linear(3, 2, dtype=np.float64), nn.ReLU())
    x = Tensor(RNG.normal(size=(4, 3)), requires_grad=True)
    model(x).sum().backward()
    before = x.grad.data.copy()
    x.grad = None
    handle = model[0].register_forward_hook(lambda module, args, out: out * 3)
    model(x).sum().backward()
    np.testing.assert_allclose(x.grad.data, 3 * before, rtol=1e-15)
    handle.remove()


def test_hook_errors_and_handles_hold_modules_weakly() -> None:
    m = Scale(1.0)
    with pytest.raises(TypeError, match=r"Scale.register_forward_hook: hook must be callable .* "
                                        r"got int"):
        m.register_forward_hook(3)  # type: ignore[arg-type]
    handle = m.register_forward_hook(lambda *_: None)
    ref = weakref.ref(m)
    del m
    gc.collect()
    assert ref() is None
    handle.remove()  # its module gone: nothing to do


def test_forward_returning_none_is_still_named_with_hooks() -> None:
    class Forgot(nn.Module):
        def forward(self, x):
            x * 2

    m = Forgot()
    m.register_forward_hook(lambda *_: None)
    with pytest.raises(TypeError, match=r"Forgot.forward returned None"):
        m(Tensor([1.0]))


def test_hook_call_signatures_match_pytorch() -> None:
    torch = pytest.importorskip("torch")

    def record(log):
        def pre(module, args):
            log.append(("pre", len(args)))

        def pre_kw(module, args, kwargs):
            log.append(("pre_kw", len(args), sorted(kwargs)))

        def post(module, args, out):
            log.append(("post", len(args), tuple(out.shape)))

        def post_kw(module, args, kwargs, out):
            log.append(("post_kw", len(args), sorted(kwargs), tuple(out.shape)))
        return pre, pre_kw, post, post_kw

    logs = []
    for layer, x in ((nn.Linear(3, 2), Tensor(np.ones((4, 3), np.float32))),
                     (torch.nn.Linear(3, 2), torch.ones(4, 3))):
        log: list = []
        pre, pre_kw, post, post_kw = record(log)
        layer.register_forward_pre_hook(pre)
        layer.register_forward_pre_hook(pre_kw, with_kwargs=True)
        layer.register_forward_hook(post)
        layer.register_forward_hook(post_kw, with_kwargs=True, prepend=True)
        layer(x)
        logs.append(log)
    assert logs[0] == logs[1]


# --- traversal ------------------------------------------------------------------------------------

def _tree(lib):
    """The same network in nn or torch.nn: a block shared under two names, nested Sequentials."""
    shared = lib.Linear(2, 2)
    inner = lib.Sequential(OrderedDict([("a", shared), ("act", lib.ReLU())]))
    return lib.Sequential(OrderedDict([("first", inner), ("again", shared),
                                       ("head", lib.Sequential(lib.Linear(2, 1), lib.Tanh()))]))


def test_traversals_by_hand() -> None:
    net = _tree(nn)
    assert [n for n, _ in net.named_modules()] == ["", "first", "first.a", "first.act", "head",
                                                   "head.0", "head.1"]
    assert [n for n, _ in net.named_modules(remove_duplicate=False)] == [
        "", "first", "first.a", "first.act", "again", "head", "head.0", "head.1"]
    assert [n for n, _ in net.named_modules(prefix="net")][:2] == ["net", "net.first"]
    memo = {net.head}
    assert "head" not in [n for n, _ in net.named_modules(memo)] and net.first in memo
    assert [n for n, _ in net.named_children()] == ["first", "again", "head"]
    assert list(net.children()) == [net.first, net.again, net.head]
    assert len(list(net.modules())) == 7
    visited = []
    assert net.apply(lambda m: visited.append(type(m).__name__)) is net
    assert visited == ["Linear", "ReLU", "Sequential", "Linear", "Linear", "Tanh", "Sequential",
                       "Sequential"]  # children before parents; the shared Linear twice
    assert net.requires_grad_(False) is net
    assert not any(p.requires_grad for p in net.parameters())
    net.head.requires_grad_(requires_grad=True)
    assert [n for n, p in net.named_parameters() if p.requires_grad] == ["head.0.weight",
                                                                         "head.0.bias"]


def test_traversals_iterate_so_deep_networks_do_not_overflow_the_stack() -> None:
    net: nn.Module = nn.Identity()
    for _ in range(3000):
        net = nn.Sequential(net)
    assert len(list(net.modules())) == 3001
    count = []
    net.apply(lambda m: count.append(1))
    assert len(count) == 3001


def test_traversals_match_pytorch() -> None:
    torch = pytest.importorskip("torch")
    ours, theirs = _tree(nn), _tree(torch.nn)
    for kwargs in ({}, {"remove_duplicate": False}, {"prefix": "p"}):
        assert ([n for n, _ in ours.named_modules(**kwargs)]
                == [n for n, _ in theirs.named_modules(**kwargs)])
    assert [n for n, _ in ours.named_children()] == [n for n, _ in theirs.named_children()]
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in theirs.named_parameters()]
    a, b = [], []
    ours.apply(lambda m: a.append(type(m).__name__))
    theirs.apply(lambda m: b.append(type(m).__name__))
    assert a == b


def test_sequential_from_an_ordered_dict_keeps_the_names() -> None:
    seq = nn.Sequential(OrderedDict([("encode", nn.Linear(4, 3)), ("act", nn.ReLU()),
                                     ("decode", nn.Linear(3, 4))]))
    assert [n for n, _ in seq.named_children()] == ["encode", "act", "decode"]
    assert list(seq.state_dict()) == ["encode.weight", "encode.bias", "decode.weight",
                                      "decode.bias"]
    assert seq.encode is seq[0] and seq[-1] is seq.decode
    tail = seq[1:]
    assert [n for n, _ in tail.named_children()] == ["act", "decode"]
    assert repr(seq).splitlines()[1] == ("  (encode): Linear(in_features=4, out_features=3, "
                                         "bias=True)")
    assert seq(Tensor(np.ones((2, 4), np.float32))).shape == (2, 4)
    with pytest.raises(TypeError, match=r"Sequential: the entry 'act' is a function, not a Module"):
        nn.Sequential(OrderedDict([("encode", nn.Linear(4, 3)), ("act", F.relu)]))


# --- dropout, channel-wise and alpha --------------------------------------------------------------

DROPOUTS = [(nn.Dropout1d, F.dropout1d, (8, 6, 5), 2), (nn.Dropout1d, F.dropout1d, (6, 5), 1),
            (nn.Dropout2d, F.dropout2d, (8, 6, 3, 4), 2),
            (nn.Dropout2d, F.dropout2d, (8, 6, 5), 2),  # read as (N, C, L), as PyTorch
            (nn.Dropout3d, F.dropout3d, (4, 6, 2, 3, 2), 2),
            (nn.Dropout3d, F.dropout3d, (6, 2, 3, 2), 1)]


@pytest.mark.parametrize("layer, fn, shape, channel_axes", DROPOUTS,
                         ids=[f"{d[0].__name__}{d[2]}" for d in DROPOUTS])
def test_channel_dropout_zeroes_whole_channels(layer, fn, shape, channel_axes) -> None:
    p = 0.4
    x = Tensor(RNG.normal(size=shape), requires_grad=True)
    y = layer(p, generator=np.random.default_rng(3))(x)
    mask_shape = shape[:channel_axes] + (1,) * (len(shape) - channel_axes)
    keep = np.random.default_rng(3).random(mask_shape) >= p  # the generator's draw, per channel
    np.testing.assert_array_equal(y.data, x.data * keep / (1 - p))
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.data, np.broadcast_to(keep / (1 - p), shape))
    np.testing.assert_array_equal(
        fn(x, p, generator=np.random.default_rng(3)).data, y.data)  # the functional form
    assert layer(p).eval()(x) is x and fn(x, p, training=False) is x
    assert fn(x, 0.0) is x and not fn(x, 1.0).data.any()


def test_channel_dropout_keeps_the_right_fraction_and_follows_manual_seed() -> None:
    nn.manual_seed(5)
    y = nn.Dropout2d(0.25)(Tensor(np.ones((400, 100, 2, 2))))
    kept = y.data[:, :, 0, 0] != 0
    assert np.all(y.data == y.data[:, :, :1, :1])  # constant over each channel
    assert abs(kept.mean() - 0.75) < 5 * math.sqrt(0.75 * 0.25 / kept.size)
    nn.manual_seed(5)
    np.testing.assert_array_equal(nn.Dropout2d(0.25)(Tensor(np.ones((400, 100, 2, 2)))).data,
                                  y.data)


def test_alpha_dropout_values_moments_and_gradient() -> None:
    p, alpha = 0.2, 1.7580993408473766
    a = 1 / math.sqrt((alpha ** 2 * p + 1) * (1 - p))
    x = Tensor(RNG.normal(size=400_000), requires_grad=True)
    y = nn.AlphaDropout(p, generator=np.random.default_rng(9))(x)
    keep = np.random.default_rng(9).random(x.shape) >= p
    np.testing.assert_allclose(y.data, np.where(keep, a * x.data + alpha * a * p,
                                                alpha * a * (p - 1)), rtol=1e-15, atol=1e-16)
    n = x.data.size  # mean 0 and variance 1 kept, within 5 standard errors (the output's
    assert abs(y.data.mean()) < 5 / math.sqrt(n)  # kurtosis is about 2.27: var's error is
    assert abs(y.data.var() - 1) < 5 * math.sqrt(1.3 / n)  # sqrt((2.27 - 1) / n))
    y.sum().backward()
    np.testing.assert_allclose(x.grad.data, a * keep, rtol=1e-15)
    assert F.alpha_dropout(x, p) is x  # training=False by default, as PyTorch
    assert nn.AlphaDropout(p).eval()(x) is x


def test_dropout_errors_name_the_function_and_the_shape() -> None:
    with pytest.raises(ValueError, match=r"dropout1d: expected an input of shape \(C, L\) or "
                                         r"\(N, C, L\) \(2 or 3 axes\), got shape \(4,\)"):
        F.dropout1d(Tensor(np.ones(4)))
    with pytest.raises(ValueError, match=r"dropout2d: expected an input of shape \(N, C, L\) or "
                                         r"\(N, C, H, W\) \(3 or 4 axes\), got shape \(2, 3\)"):
        nn.Dropout2d()(Tensor(np.ones((2, 3))))
    with pytest.raises(ValueError, match=r"dropout3d: expected .* \(C, D, H, W\) or "
                                         r"\(N, C, D, H, W\) \(4 or 5 axes\)"):
        F.dropout3d(Tensor(np.ones((2, 3, 4))))
    with pytest.raises(ValueError, match=r"Dropout3d: p must be a probability in \[0, 1\], "
                                         r"got 1.5"):
        nn.Dropout3d(1.5)
    with pytest.raises(ValueError, match=r"alpha_dropout: p must be a probability"):
        F.alpha_dropout(Tensor(np.ones(3)), -0.1, True)
    # PyTorch's inplace=False given positionally lands on generator: named, not ignored
    with pytest.raises(TypeError, match=r"dropout2d: generator must be a numpy.random.Generator"):
        F.dropout2d(Tensor(np.ones((1, 2, 3))), 0.5, True, False)  # type: ignore[arg-type]


def test_dropouts_against_pytorch() -> None:
    torch = pytest.importorskip("torch")
    x = np.ones((50, 40, 3, 2))
    for ours, theirs in ((F.dropout2d, torch.nn.functional.dropout2d),
                         (F.alpha_dropout, torch.nn.functional.alpha_dropout)):
        a = ours(Tensor(x), 0.3, True).data
        b = theirs(torch.tensor(x), 0.3, True).numpy()
        np.testing.assert_allclose(np.unique(a), np.unique(b), rtol=1e-15)  # the same two values
    b = torch.nn.functional.dropout3d(torch.ones(6, 2, 3, 2, dtype=torch.float64), 0.5).numpy()
    a = F.dropout3d(Tensor(np.ones((6, 2, 3, 2))), 0.5).data
    for out in (a, b):  # unbatched (C, D, H, W): one draw per channel
        assert np.all(out == out[:, :1, :1, :1])


# --- default initialisation, by moments -----------------------------------------------------------

def _moments(w: np.ndarray) -> tuple[float, float, float]:
    w = w.astype(np.float64).ravel()
    m, v = w.mean(), w.var()
    return m, v, ((w - m) ** 4).mean() / v ** 2


def _uniform_within_tolerance(w: np.ndarray, bound: float) -> None:
    """w looks like U(-bound, bound): the range, the mean and variance within 5 standard errors,
    and the kurtosis of a uniform (1.8, where a normal has 3)."""
    n = w.size
    mean, var, kurt = _moments(w)
    assert np.abs(w).max() <= bound * (1 + 1e-6) and np.abs(w).max() > bound * (1 - 20 / n)
    assert abs(mean) < 5 * bound / math.sqrt(3 * n)
    assert abs(var - bound ** 2 / 3) < 5 * math.sqrt(4 / 45) * bound ** 2 / math.sqrt(n)
    assert abs(kurt - 1.8) < 0.02


def test_linear_is_kaiming_uniform_with_a_sqrt5_and_its_bias_uniform() -> None:
    nn.manual_seed(0)
    layer = nn.Linear(1000, 1000)
    _uniform_within_tolerance(layer.weight.data, 1 / math.sqrt(1000))
    gain = nn.init.calculate_gain("leaky_relu", math.sqrt(5))  # kaiming_uniform_'s own bound
    assert math.sqrt(3) * gain / math.sqrt(1000) == pytest.approx(1 / math.sqrt(1000), rel=1e-15)
    wide = nn.Linear(4, 250_000)  # many biases: U(-1/sqrt(fan_in), 1/sqrt(fan_in)) = U(-0.5, 0.5)
    _uniform_within_tolerance(wide.bias.data, 0.5)
    empty = nn.Linear(0, 3)  # fan_in 0: the weight has no entries, the bias bound is 0
    assert empty.weight.shape == (3, 0) and not empty.bias.data.any()


def test_embedding_is_standard_normal_and_layer_norm_ones_and_zeros() -> None:
    nn.manual_seed(1)
    table = nn.Embedding(1000, 1000, padding_idx=3)
    assert not table.weight.data[3].any()
    w = np.delete(table.weight.data, 3, axis=0)
    n = w.size
    mean, var, kurt = _moments(w)
    assert abs(mean) < 5 / math.sqrt(n) and abs(var - 1) < 5 * math.sqrt(2 / n)
    assert abs(kurt - 3) < 5 * math.sqrt(24 / n)
    skew = ((w.astype(np.float64) - mean) ** 3).mean() / var ** 1.5
    assert abs(skew) < 5 * math.sqrt(6 / n)
    ln = nn.LayerNorm((3, 4))
    assert np.all(ln.weight.data == 1) and np.all(ln.bias.data == 0)


def test_default_initialisation_moments_match_pytorch() -> None:
    torch = pytest.importorskip("torch")
    theirs = torch.nn.Linear(1000, 1000).weight.detach().numpy()
    ours = nn.Linear(1000, 1000).weight.data
    assert ours.dtype == theirs.dtype == np.float32
    for w in (ours, theirs):  # the same test holds for both
        _uniform_within_tolerance(w, 1 / math.sqrt(1000))
    e = torch.nn.Embedding(500, 400).weight.detach().numpy()
    assert abs(_moments(e)[1] - 1) < 5 * math.sqrt(2 / e.size)
    for name in ("linear", "conv1d", "conv2d", "conv_transpose3d", "sigmoid", "tanh", "relu",
                 "selu"):
        assert nn.init.calculate_gain(name) == torch.nn.init.calculate_gain(name)
    assert nn.init.calculate_gain("leaky_relu", 0.2) == torch.nn.init.calculate_gain(
        "leaky_relu", 0.2)
