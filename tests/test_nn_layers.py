"""Layers past the MLP: activations, LayerNorm, Embedding, the containers and nn.utils. Each
against its formula (no torch needed), through forward mode and to second order, and against
PyTorch in float64 when it is installed (optional)."""
from __future__ import annotations

import math

import numpy as np
import pytest

import nn
from adcore import numerical_jacobian
from forward import jacfwd
from nn import functional as F
from reverse import Tensor, grad, hessian, jacrev

RNG = np.random.default_rng(5)
X = np.array([-3.0, -1.0, -0.2, 0.3, 1.0, 2.5, 30.0])
_ERF = np.vectorize(math.erf)

ACTIVATIONS = [
    ("gelu", F.gelu, lambda x: 0.5 * x * (1 + _ERF(x / math.sqrt(2)))),
    ("gelu tanh", lambda x: F.gelu(x, "tanh"),
     lambda x: 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3)))),
    ("silu", F.silu, lambda x: x / (1 + np.exp(-x))),
    ("leaky_relu", lambda x: F.leaky_relu(x, 0.2), lambda x: np.where(x > 0, x, 0.2 * x)),
    ("elu", lambda x: F.elu(x, 1.5),
     lambda x: np.where(x > 0, x, 1.5 * np.expm1(np.minimum(x, 0)))),
    ("softplus", lambda x: F.softplus(x, 2.0, 5.0),
     lambda x: np.where(2 * x > 5, x, np.log1p(np.exp(2 * np.minimum(x, 2.5))) / 2)),
    ("hardtanh", lambda x: F.hardtanh(x, -1.5, 2.0), lambda x: np.clip(x, -1.5, 2.0)),
]


@pytest.mark.parametrize("name, f, formula", ACTIVATIONS, ids=[a[0] for a in ACTIVATIONS])
def test_activation_formulas_and_derivatives(name, f, formula) -> None:
    np.testing.assert_allclose(f(X), formula(X), rtol=1e-14, atol=1e-15)
    x = X[:-1] + 0.013  # away from the kinks and thresholds, where finite differences jump
    j = numerical_jacobian(f, x)
    np.testing.assert_allclose(jacrev(f)(x), j, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(jacfwd(f)(x), j, rtol=1e-6, atol=1e-8)
    g = grad(lambda v: np.sum(f(v)))
    np.testing.assert_allclose(hessian(lambda v: np.sum(f(v)))(x), numerical_jacobian(g, x),
                               rtol=1e-5, atol=1e-6)


def test_slopes_at_the_kinks_are_pytorchs() -> None:
    zero = np.zeros(1)
    assert jacrev(lambda x: F.leaky_relu(x, 0.2))(zero)[0, 0] == 0.2
    assert jacrev(lambda x: F.elu(x, 1.5))(zero)[0, 0] == 1.5
    assert jacrev(lambda x: F.hardtanh(x))(np.array([1.0, -1.0])).tolist() == [[0, 0], [0, 0]]
    big = np.array([800.0])  # elu's branch not taken never overflows
    assert jacrev(F.elu)(big)[0, 0] == 1.0


def test_layer_norm_formula_and_derivatives() -> None:
    x = RNG.normal(size=(3, 4, 5))
    w, b = RNG.normal(size=5), RNG.normal(size=5)
    mu = x.mean(-1, keepdims=True)
    want = (x - mu) / np.sqrt(((x - mu) ** 2).mean(-1, keepdims=True) + 1e-5) * w + b
    np.testing.assert_allclose(F.layer_norm(x, 5, w, b), want, rtol=1e-12)
    f = lambda v: F.layer_norm(v, (4, 5), w[:5] * 0 + 1.5, None)
    j = numerical_jacobian(f, x[0:1])
    np.testing.assert_allclose(jacfwd(f)(x[0:1]), j, atol=1e-7)
    layer = nn.LayerNorm(5, dtype=np.float64)
    assert [n for n, _ in layer.named_parameters()] == ["weight", "bias"]
    with pytest.raises(ValueError, match=r"LayerNorm: expected an input whose last axes are "
                                         r"\(5,\), got shape \(3, 4\)"):
        layer(Tensor(np.zeros((3, 4))))


def test_embedding_rows_padding_and_errors() -> None:
    nn.manual_seed(0)
    table = nn.Embedding(6, 3, padding_idx=2, dtype=np.float64)
    assert np.all(table.weight.data[2] == 0)
    idx = np.array([[0, 2, 5], [2, 1, 1]])
    out = table(idx)
    np.testing.assert_array_equal(out.data, table.weight.data[idx])
    (out * np.arange(18.0).reshape(2, 3, 3)).sum().backward()
    g = table.weight.grad.data
    assert np.all(g[2] == 0) and np.all(g[3] == 0)  # the padding row and an unused row
    np.testing.assert_allclose(g[1], np.arange(12.0, 15.0) + np.arange(15.0, 18.0))
    with pytest.raises(IndexError, match=r"embedding: index 6 is out of range .*"
                                         r"nn.Embedding with num_embeddings=6"):
        table(np.array([6]))


def test_containers_register_and_plain_lists_are_refused() -> None:
    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.blocks = nn.ModuleList([nn.Linear(2, 2) for _ in range(2)])
            self.heads = nn.ModuleDict({"a": nn.Linear(2, 1)})
            self.scales = nn.ParameterList([np.ones(2)])

    names = [n for n, _ in Net().named_parameters()]
    assert names == ["blocks.0.weight", "blocks.0.bias", "blocks.1.weight", "blocks.1.bias",
                     "heads.a.weight", "heads.a.bias", "scales.0"]

    class Forgetful(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.layers = [nn.Linear(2, 2)]

    with pytest.raises(TypeError, match=r"Forgetful.layers: a plain list of Modules .* "
                                        r"use nn.ModuleList"):
        Forgetful()


def test_clip_grad_norm_and_value() -> None:
    ps = [nn.Parameter(np.zeros(2)), nn.Parameter(np.zeros(3))]
    ps[0].grad = Tensor(np.array([3.0, 4.0]))
    ps[1].grad = Tensor(np.array([0.0, 0.0, 12.0]))
    total = nn.utils.clip_grad_norm_(ps, 6.5)
    assert float(total) == 13.0
    np.testing.assert_allclose(ps[1].grad.data, [0, 0, 12 * 6.5 / (13 + 1e-6)])
    nn.utils.clip_grad_value_(ps, 1.0)
    assert np.abs(ps[1].grad.data).max() == 1.0
    vec = nn.utils.parameters_to_vector(ps)
    assert vec.shape == (5,)
    nn.utils.vector_to_parameters(np.arange(5.0), ps)
    np.testing.assert_array_equal(ps[1].data, [2.0, 3.0, 4.0])


def test_against_pytorch_in_float64() -> None:
    torch = pytest.importorskip("torch")
    x = RNG.normal(size=(4, 6)) * 3
    pairs = [(nn.GELU(), torch.nn.GELU()), (nn.GELU("tanh"), torch.nn.GELU("tanh")),
             (nn.SiLU(), torch.nn.SiLU()), (nn.LeakyReLU(0.1), torch.nn.LeakyReLU(0.1)),
             (nn.ELU(0.7), torch.nn.ELU(0.7)), (nn.Softplus(2, 3), torch.nn.Softplus(2, 3)),
             (nn.Hardtanh(-2, 1), torch.nn.Hardtanh(-2, 1))]
    for ours, theirs in pairs:
        t = Tensor(x, requires_grad=True)
        tt = torch.tensor(x, requires_grad=True)
        (ours(t) ** 2).sum().backward()
        (theirs(tt) ** 2).sum().backward()
        np.testing.assert_allclose(ours(t).data, theirs(tt).detach().numpy(), rtol=1e-14,
                                   atol=1e-15)
        np.testing.assert_allclose(t.grad.data, tt.grad.numpy(), rtol=1e-13, atol=1e-14)
    ln, tln = nn.LayerNorm(6, dtype=np.float64), torch.nn.LayerNorm(6, dtype=torch.float64)
    with torch.no_grad():
        tln.weight.copy_(torch.tensor(RNG.normal(size=6)))
        tln.bias.copy_(torch.tensor(RNG.normal(size=6)))
    ln.weight.data[...] = tln.weight.detach().numpy()
    ln.bias.data[...] = tln.bias.detach().numpy()
    t, tt = Tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    (ln(t) ** 3).sum().backward()
    (tln(tt) ** 3).sum().backward()
    np.testing.assert_allclose(ln(t).data, tln(tt).detach().numpy(), rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(t.grad.data, tt.grad.numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(ln.weight.grad.data, tln.weight.grad.numpy(), rtol=1e-10)
    ps = [torch.nn.Parameter(torch.zeros(3, dtype=torch.float64))]
    ps[0].grad = torch.tensor([3.0, 4.0, 12.0], dtype=torch.float64)
    ours_p = [nn.Parameter(np.zeros(3))]
    ours_p[0].grad = Tensor(np.array([3.0, 4.0, 12.0]))
    assert float(nn.utils.clip_grad_norm_(ours_p, 2.0)) == float(
        torch.nn.utils.clip_grad_norm_(ps, 2.0))
    np.testing.assert_allclose(ours_p[0].grad.data, ps[0].grad.numpy(), rtol=1e-15)


LOSSES = [
    ("l1", lambda x, y: F.l1_loss(x, y), lambda x, y: np.mean(np.abs(x - y))),
    ("smooth_l1", lambda x, y: F.smooth_l1_loss(x, y, beta=0.5),
     lambda x, y: np.mean(np.where(np.abs(x - y) < 0.5, (x - y) ** 2, np.abs(x - y) - 0.25))),
    ("huber", lambda x, y: F.huber_loss(x, y, "sum", 0.5),
     lambda x, y: np.sum(np.where(np.abs(x - y) < 0.5, 0.5 * (x - y) ** 2,
                                  0.5 * (np.abs(x - y) - 0.25)))),
    ("bce", lambda p, y: F.binary_cross_entropy(p, y),
     lambda p, y: -np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))),
    ("kl_div", lambda x, y: F.kl_div(x, y, "batchmean"),
     lambda x, y: np.sum(np.where(y > 0, y * (np.log(np.where(y > 0, y, 1)) - x), 0)) / 3),
]


@pytest.mark.parametrize("name, f, formula", LOSSES, ids=[c[0] for c in LOSSES])
def test_loss_formulas_and_gradients(name, f, formula) -> None:
    x = RNG.uniform(0.05, 0.95, (3, 4))
    y = RNG.uniform(0.0, 1.0, (3, 4))
    if name == "kl_div":
        x, y[0, 0] = np.log(x), 0.0
    np.testing.assert_allclose(f(x, y), formula(x, y), rtol=1e-13)
    np.testing.assert_allclose(grad(lambda v: f(v, y))(x),
                               numerical_jacobian(lambda v: f(v, y), x), rtol=1e-6, atol=1e-9)


def test_bce_floors_its_logs_and_one_hot() -> None:
    p = np.array([0.0, 1.0, 0.5])
    y = np.array([1.0, 1.0, 0.0])
    assert float(F.binary_cross_entropy(p, y, reduction="sum")) == 100.0 + np.log(2)
    np.testing.assert_array_equal(F.one_hot(np.array([2, 0]), 3).data, [[0, 0, 1], [1, 0, 0]])
    with pytest.raises(ValueError, match="class index 3 is out of range for num_classes=3"):
        F.one_hot(np.array([3]), 3)


def test_losses_against_pytorch_in_float64() -> None:
    torch = pytest.importorskip("torch")
    x = RNG.uniform(0.05, 0.95, (3, 4))
    y = RNG.uniform(0.0, 1.0, (3, 4))
    pairs = [(nn.L1Loss(), torch.nn.L1Loss()), (nn.SmoothL1Loss(beta=0.3),
                                                torch.nn.SmoothL1Loss(beta=0.3)),
             (nn.HuberLoss(delta=0.2), torch.nn.HuberLoss(delta=0.2)),
             (nn.BCELoss(), torch.nn.BCELoss()),
             (nn.KLDivLoss("batchmean"), torch.nn.KLDivLoss(reduction="batchmean"))]
    for ours, theirs in pairs:
        a = np.log(x) if isinstance(ours, nn.KLDivLoss) else x
        t, tt = Tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)
        ours(t, Tensor(y)).backward()
        theirs(tt, torch.tensor(y)).backward()
        want = float(theirs(tt, torch.tensor(y)).detach())
        np.testing.assert_allclose(float(ours(t, Tensor(y))), want, rtol=1e-14)
        np.testing.assert_allclose(t.grad.data, tt.grad.numpy(), rtol=1e-12, atol=1e-15)


def test_to_double_float_and_the_one_device() -> None:
    model = nn.Sequential(nn.Linear(2, 3), nn.LayerNorm(3))
    model(Tensor(np.ones((1, 2), np.float32))).sum().backward()
    assert model.double() is model
    assert {p.dtype for p in model.parameters()} == {np.dtype(np.float64)}
    assert {p.grad.dtype for p in model.parameters()} == {np.dtype(np.float64)}
    assert model.to("cpu").float() is model and model[0].weight.dtype == np.float32
    t = Tensor([1.0, 2.0], requires_grad=True)
    assert t.to("cpu") is t and t.cpu() is t and t.to("cpu", np.float64).dtype == np.float64
    for call in (lambda: t.to("cuda"), lambda: model.to("cuda:0"), lambda: model.cuda()):
        with pytest.raises(ValueError, match=r"only device; use 'cpu'"):
            call()
    with pytest.raises(TypeError, match=r"parameters must stay floating-point"):
        model.to(np.int64)


def test_unflatten_inverts_flatten() -> None:
    x = Tensor(RNG.normal(size=(2, 12)), requires_grad=True)
    y = nn.Unflatten(1, (3, -1))(x)
    assert y.shape == (2, 3, 4)
    np.testing.assert_array_equal(nn.Flatten()(y).data, x.data)
    (y * 2).sum().backward()
    np.testing.assert_array_equal(x.grad.data, np.full((2, 12), 2.0))
    with pytest.raises(ValueError, match=r"Unflatten: axis 1 of the input \(shape \(2, 12\)\) "
                                         r"has 12 entries, which do not split into \(5, 2\)"):
        nn.Unflatten(1, (5, 2))(x)


def test_sequential_items_are_set_deleted_and_inserted_as_pytorchs() -> None:
    s = nn.Sequential(nn.Linear(2, 2), nn.ReLU(), nn.Linear(2, 1))
    gelu = nn.GELU()
    s[1] = gelu
    assert s[1] is gelu and [n for n, _ in s.named_children()] == ["0", "1", "2"]
    first = s[0]
    del s[0]
    assert [n for n, _ in s.named_children()] == ["0", "1"] and s[0] is gelu
    s.insert(0, first)
    assert s[0] is first and len(s) == 3
    s.extend([nn.Tanh()])
    assert isinstance(s[-1], nn.Tanh)
    del s[1:3]
    assert [type(m).__name__ for m in s] == ["Linear", "Tanh"]
    x = Tensor(np.ones((1, 2), np.float32))
    np.testing.assert_allclose(s(x).data, np.tanh(first(x).data))
    with pytest.raises(TypeError, match="expected a Module"):
        s[0] = "relu"
    with pytest.raises(IndexError, match="out of range for 2 modules"):
        s[5] = nn.ReLU()
