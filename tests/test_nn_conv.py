"""Convolution, pooling and normalisation layers: each against a direct computation of its formula
(no torch needed), through forward mode, vmap and to second order, and against PyTorch in float64
(forward values, and gradients with respect to the input and every parameter) when it is
installed."""
from __future__ import annotations

import math

import numpy as np
import pytest

import nn
from adcore import numerical_jacobian, ops
from forward import jacfwd
from nn import functional as F
from reverse import Tensor, grad, hessian, jacrev, vmap

RNG = np.random.default_rng(11)


def direct_conv(x: np.ndarray, w: np.ndarray, stride: int, pad: int, dilation: int,
                groups: int) -> np.ndarray:
    """The definition, one output entry at a time: sum over the group's channels and the kernel."""
    n, _, h, wd = x.shape
    o, cg, kh, kw = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    ho = (h + 2 * pad - dilation * (kh - 1) - 1) // stride + 1
    wo = (wd + 2 * pad - dilation * (kw - 1) - 1) // stride + 1
    out = np.zeros((n, o, ho, wo))
    og = o // groups
    for b in range(n):
        for oc in range(o):
            g = oc // og
            for i in range(ho):
                for j in range(wo):
                    window = xp[b, g * cg:(g + 1) * cg,
                                i * stride:i * stride + dilation * (kh - 1) + 1:dilation,
                                j * stride:j * stride + dilation * (kw - 1) + 1:dilation]
                    out[b, oc, i, j] = np.sum(window * w[oc])
    return out


@pytest.mark.parametrize("stride, pad, dilation, groups",
                         [(1, 0, 1, 1), (2, 1, 1, 1), (1, 2, 2, 1), (2, 1, 1, 2), (1, 1, 2, 4)])
def test_conv2d_is_the_cross_correlation(stride, pad, dilation, groups) -> None:
    x = RNG.normal(size=(2, 4, 7, 6))
    w = RNG.normal(size=(4, 4 // groups, 3, 2))
    got = F.conv2d(x, w, None, stride, pad, dilation, groups)
    np.testing.assert_allclose(got, direct_conv(x, w, stride, pad, dilation, groups),
                               rtol=1e-12, atol=1e-12)


def test_conv_transpose_is_the_adjoint_of_conv() -> None:
    """<conv(x, w), y> = <x, conv_transpose(y, w)> for every geometry: the definition of the
    transposed convolution."""
    for stride, pad, dilation, groups in [(1, 0, 1, 1), (2, 1, 1, 1), (2, 0, 2, 2), (3, 1, 1, 1)]:
        x = RNG.normal(size=(2, 4, 9, 8))
        w = RNG.normal(size=(6, 4 // groups, 3, 3))
        y = RNG.normal(size=np.shape(ops.conv(x, w, stride, pad, dilation, groups)))
        extra = tuple((n + 2 * pad - dilation * 2 - 1) % stride for n in x.shape[2:])
        back = ops.conv_transpose(y, w, stride, pad, extra, groups, dilation)
        assert back.shape == x.shape
        np.testing.assert_allclose(np.vdot(ops.conv(x, w, stride, pad, dilation, groups), y),
                                   np.vdot(x, back), rtol=1e-12)


def test_im2col_and_col2im_are_transposes() -> None:
    x = RNG.normal(size=(2, 3, 6, 5))
    cols = ops.im2col(x, (3, 2), stride=(2, 1), padding=((1, 0), (0, 2)), dilation=(1, 2))
    assert cols.shape == (2, 3, 3, 2, 3, 5)
    y = RNG.normal(size=cols.shape)
    back = ops.col2im(y, (6, 5), (3, 2), stride=(2, 1), padding=((1, 0), (0, 2)), dilation=(1, 2))
    np.testing.assert_allclose(np.vdot(cols, y), np.vdot(x, back), rtol=1e-12)
    # windows that tile the input (2x3 windows, strides 2 and 3): a permutation both ways
    x = RNG.normal(size=(2, 3, 4, 6))
    cols = ops.im2col(x, (2, 3), stride=(2, 3))
    np.testing.assert_array_equal(cols[1, 2, 1, 2], x[1, 2, 1::2, 2::3])
    np.testing.assert_array_equal(ops.col2im(cols, (4, 6), (2, 3), stride=(2, 3)), x)


def test_pooling_formulas() -> None:
    x = RNG.normal(size=(2, 3, 6, 7))
    want = x[:, :, :6, :6].reshape(2, 3, 3, 2, 3, 2).max(axis=(3, 5))
    np.testing.assert_array_equal(F.max_pool2d(x, 2), want)
    np.testing.assert_allclose(F.avg_pool2d(x, 2), x[:, :, :6, :6].reshape(2, 3, 3, 2, 3, 2)
                               .mean(axis=(3, 5)), rtol=1e-14)
    # padding: max ignores it (-inf), avg counts it (count_include_pad) or not
    row = np.array([[[1.0, 2.0, 3.0, 4.0]]])
    np.testing.assert_array_equal(F.max_pool1d(row, 3, 2, 1), [[[2.0, 4.0]]])
    np.testing.assert_allclose(F.avg_pool1d(row, 3, 2, 1), [[[1.0, 3.0]]])
    np.testing.assert_allclose(F.avg_pool1d(row, 3, 2, 1, count_include_pad=False),
                               [[[1.5, 3.0]]])
    np.testing.assert_array_equal(F.max_pool1d(row, 3, 2, ceil_mode=True), [[[3.0, 4.0]]])
    # adaptive windows: floor(i n / m) to ceil((i + 1) n / m)
    np.testing.assert_allclose(F.adaptive_avg_pool1d(np.arange(5.0)[None, None], 3),
                               [[[0.5, 2.0, 3.5]]])
    np.testing.assert_allclose(F.adaptive_avg_pool2d(x, 1)[..., 0, 0], x.mean(axis=(2, 3)),
                               rtol=1e-13)


def test_max_pool_gives_ties_gradient_to_the_first_entry() -> None:
    """After a ReLU a window often holds several zeros: PyTorch sends the gradient to the first."""
    x = Tensor(np.array([[[[0.0, 0.0, 1.0, 1.0], [0.0, 0.0, 1.0, 0.5]]]]), requires_grad=True)
    F.max_pool2d(x, 2).sum().backward()
    np.testing.assert_array_equal(x.grad.data, [[[[1, 0, 1, 0], [0, 0, 0, 0]]]])
    # a NaN wins its window (the last NaN, as PyTorch's loop keeps it), overlapping windows too
    x = Tensor(np.array([[[1.0, np.nan, 3.0, np.nan, 2.0]]]), requires_grad=True)
    out = F.max_pool1d(x, 3, 1)
    assert np.isnan(out.data).all()
    out.sum().backward()
    np.testing.assert_array_equal(x.grad.data, [[[0, 1, 0, 2, 0]]])


def test_batch_norm_formula_and_running_statistics() -> None:
    x = RNG.normal(size=(5, 3, 4, 2))
    bn = nn.BatchNorm2d(3, momentum=0.25).double()
    bn.weight.data[:] = [1.0, 2.0, -1.0]
    bn.bias.data[:] = [0.0, 0.5, 1.0]
    out = bn(Tensor(x)).data
    mean, var = x.mean(axis=(0, 2, 3)), x.var(axis=(0, 2, 3))
    c = (slice(None), None, None)
    want = (x - mean[c]) / np.sqrt(var[c] + 1e-5) * bn.weight.data[c] + bn.bias.data[c]
    np.testing.assert_allclose(out, want, rtol=1e-12, atol=1e-12)
    m = x[:, 0].size
    np.testing.assert_allclose(bn.running_mean.data, 0.25 * mean, rtol=1e-13)
    np.testing.assert_allclose(bn.running_var.data, 0.75 + 0.25 * var * m / (m - 1), rtol=1e-13)
    assert int(bn.num_batches_tracked.data) == 1
    bn.eval()
    want = ((x - bn.running_mean.data[c]) / np.sqrt(bn.running_var.data[c] + 1e-5)
            * bn.weight.data[c] + bn.bias.data[c])
    np.testing.assert_allclose(bn(Tensor(x)).data, want, rtol=1e-12)
    assert int(bn.num_batches_tracked.data) == 1  # eval leaves the statistics alone
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        nn.BatchNorm1d(3).train()(Tensor(np.ones((1, 3))))


def test_group_norm_formula() -> None:
    x = RNG.normal(size=(2, 6, 3))
    out = F.group_norm(x, 3, np.arange(6.0), np.ones(6))
    g = x.reshape(2, 3, 6)
    want = ((g - g.mean(-1, keepdims=True)) / np.sqrt(g.var(-1, keepdims=True) + 1e-5))
    np.testing.assert_allclose(out, want.reshape(2, 6, 3) * np.arange(6.0)[:, None] + 1,
                               rtol=1e-12, atol=1e-12)


CASES = [
    ("conv2d", lambda x, w: F.conv2d(x, w, None, 2, 1)),
    ("conv2d groups dilation", lambda x, w: F.conv2d(x, w[:2, :1], None, 1, 1, 2, 2)),
    ("conv_transpose2d", lambda x, w: F.conv_transpose2d(x, w[:2], None, 2, 1, 1)),
    ("max_pool2d", lambda x, w: F.max_pool2d(x * w[0, 0, 0, 0], 2, 1, 1)),
    ("avg_pool2d", lambda x, w: F.avg_pool2d(x * w[0, 0, 0, 0], 3, 2, 1, True, False)),
    ("adaptive_avg_pool2d", lambda x, w: F.adaptive_avg_pool2d(x * w[0, 0, 0, 0], (2, 3))),
    ("batch_norm", lambda x, w: F.batch_norm(x, None, None, w[:2, 0, 0, 0], w[:2, 0, 0, 1],
                                             True)),
    ("group_norm", lambda x, w: F.group_norm(x, 1, w[:2, 0, 0, 0], w[:2, 0, 0, 1])),
]


@pytest.mark.parametrize("name, f", CASES, ids=[c[0] for c in CASES])
def test_derivatives_in_both_modes_and_second_order(name, f) -> None:
    x = RNG.normal(size=(2, 2, 4, 5))
    w = RNG.normal(size=(3, 2, 2, 2))
    for arg in (0, 1):
        def g(v, arg=arg):
            return f(v, w) if arg == 0 else f(x, v)
        point = (x, w)[arg]
        j = numerical_jacobian(g, point)
        np.testing.assert_allclose(jacrev(g)(point), j, rtol=1e-6, atol=1e-7)
        np.testing.assert_allclose(jacfwd(g)(point), j, rtol=1e-6, atol=1e-7)
    y = RNG.normal(size=np.shape(f(x, w)))

    def loss(v):
        return np.sum(np.tanh(f(v, w)) * y)
    h = hessian(loss)(x)
    size = x.size
    np.testing.assert_allclose(h.reshape(size, size),
                               numerical_jacobian(grad(loss), x).reshape(size, size),
                               rtol=1e-5, atol=1e-6)


def test_per_example_gradients_with_vmap() -> None:
    """vmap(grad) over examples equals a loop of single-example gradients, through conv, pooling
    and group norm."""
    xs = RNG.normal(size=(3, 2, 6, 6))
    w = RNG.normal(size=(4, 2, 3, 3))

    def loss(w, x):
        h = F.conv2d(x[None], w, None, 1, 1)
        h = F.max_pool2d(F.group_norm(h, 2), 2)
        return np.sum(F.avg_pool2d(h, 3) ** 2)
    got = vmap(grad(loss), in_axes=(None, 0))(w, xs)
    want = np.stack([grad(loss)(w, x) for x in xs])
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


def test_default_initialisation_moments() -> None:
    """Conv weights uniform in +-1/sqrt(fan_in) (kaiming_uniform with a = sqrt 5), biases
    likewise; fan_in = C_in / groups * prod(kernel)."""
    nn.manual_seed(0)
    conv = nn.Conv2d(64, 128, 3, groups=2)
    bound = 1 / math.sqrt(32 * 9)
    w = conv.weight.data
    assert w.shape == (128, 32, 3, 3) and np.abs(w).max() <= bound
    assert abs(w.var() - bound ** 2 / 3) < 0.02 * bound ** 2 / 3
    assert abs(w.mean()) < 0.01 * bound
    assert np.abs(conv.bias.data).max() <= bound < 1.2 * np.abs(conv.bias.data).max()
    up = nn.ConvTranspose2d(16, 8, 4, groups=2)
    assert up.weight.shape == (16, 4, 4, 4)
    assert np.abs(up.weight.data).max() <= 1 / math.sqrt(4 * 16)


def test_wrong_inputs_are_named() -> None:
    conv = nn.Conv2d(3, 8, 3)
    with pytest.raises(ValueError,
                       match=r"Conv2d\(3, 8.*expected 3 input channels.*\(2, 4, 8, 8\)"):
        conv(Tensor(np.zeros((2, 4, 8, 8))))
    with pytest.raises(ValueError, match=r"Conv2d.*4-d input \(N, C, H, W\).*\(8, 8\)"):
        conv(Tensor(np.zeros((8, 8))))
    assert conv(Tensor(np.zeros((3, 8, 8), np.float32))).shape == (8, 6, 6)  # unbatched
    with pytest.raises(ValueError, match="smaller than the kernel"):
        conv(Tensor(np.zeros((1, 3, 2, 2), np.float32)))
    with pytest.raises(ValueError, match=r"BatchNorm2d\(4\): expected 4 channels"):
        nn.BatchNorm2d(4)(Tensor(np.zeros((2, 3, 5, 5))))
    with pytest.raises(ValueError, match="must both divide into groups=2"):
        nn.Conv2d(3, 8, 3, groups=2)
    with pytest.raises(ValueError, match="padding='same' needs stride 1"):
        F.conv2d(np.zeros((1, 1, 5, 5)), np.zeros((1, 1, 3, 3)), stride=2, padding="same")


def _torch_cases(torch):
    tn = torch.nn
    x4 = RNG.normal(size=(3, 4, 9, 8))
    return [
        (nn.Conv2d(4, 6, 3, padding=1), tn.Conv2d(4, 6, 3, padding=1), x4),
        (nn.Conv2d(4, 6, (3, 2), 2, 1, (1, 2), 2, padding_mode="reflect"),
         tn.Conv2d(4, 6, (3, 2), 2, 1, (1, 2), 2, padding_mode="reflect"), x4),
        (nn.Conv2d(4, 6, 4, padding="same", padding_mode="circular", bias=False),
         tn.Conv2d(4, 6, 4, padding="same", padding_mode="circular", bias=False), x4),
        (nn.ConvTranspose2d(4, 6, 3, 2, 1, 1), tn.ConvTranspose2d(4, 6, 3, 2, 1, 1), x4),
        (nn.Conv1d(4, 5, 3, dilation=2), tn.Conv1d(4, 5, 3, dilation=2), x4[:, :, 0]),
        (nn.ConvTranspose1d(4, 2, 3, groups=2), tn.ConvTranspose1d(4, 2, 3, groups=2),
         x4[:, :, 0]),
        (nn.MaxPool2d(2), tn.MaxPool2d(2), np.maximum(x4, 0)),
        (nn.MaxPool2d(3, 2, 1, ceil_mode=True), tn.MaxPool2d(3, 2, 1, ceil_mode=True), x4),
        (nn.MaxPool1d(2), tn.MaxPool1d(2), x4[:, :, 0]),
        (nn.AvgPool2d(3, 2, 1, ceil_mode=True, count_include_pad=False),
         tn.AvgPool2d(3, 2, 1, ceil_mode=True, count_include_pad=False), x4),
        (nn.AvgPool1d(3, 2, 1), tn.AvgPool1d(3, 2, 1), x4[:, :, 0]),
        (nn.AdaptiveAvgPool2d((3, 5)), tn.AdaptiveAvgPool2d((3, 5)), x4),
        (nn.AdaptiveAvgPool1d(4), tn.AdaptiveAvgPool1d(4), x4[:, :, 0]),
        (nn.BatchNorm2d(4), tn.BatchNorm2d(4), x4),
        (nn.BatchNorm1d(4, momentum=None), tn.BatchNorm1d(4, momentum=None), x4[:, :, 0]),
        (nn.BatchNorm1d(4, affine=False), tn.BatchNorm1d(4, affine=False), x4[:, :, 0, 0]),
        (nn.GroupNorm(2, 4), tn.GroupNorm(2, 4), x4),
    ]


def test_layers_against_pytorch_in_float64() -> None:
    torch = pytest.importorskip("torch")
    for mine, theirs, x in _torch_cases(torch):
        for training in (True, False):
            mine.double().train(training)
            theirs.double().train(training)
            mine.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
            assert list(mine.state_dict()) == list(theirs.state_dict())
            xt = torch.tensor(x, requires_grad=True)
            xm = Tensor(x, requires_grad=True)
            y, yt = mine(xm), theirs(xt)
            weights = RNG.normal(size=tuple(yt.shape))
            (y * Tensor(weights)).sum().backward()
            (yt * torch.tensor(weights)).sum().backward()
            np.testing.assert_allclose(y.data, yt.detach().numpy(), rtol=1e-10, atol=1e-12)
            np.testing.assert_allclose(xm.grad.data, xt.grad.numpy(), rtol=1e-10, atol=1e-12)
            for (name, p), (_, q) in zip(mine.named_parameters(), theirs.named_parameters()):
                np.testing.assert_allclose(p.grad.data, q.grad.numpy(), rtol=1e-10, atol=1e-11,
                                           err_msg=f"{mine!r}: {name}")
                p.grad = None
                q.grad = None
            for (name, b), (_, c) in zip(mine.named_buffers(), theirs.named_buffers()):
                np.testing.assert_allclose(b.data, c.numpy(), rtol=1e-12, err_msg=name)
