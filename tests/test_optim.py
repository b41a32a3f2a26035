"""optim: the same initial weights and gradients give the weights of PyTorch's published update
rules, written out here in float64 numpy, after several steps."""
from __future__ import annotations

import math

import numpy as np
import pytest

import nn
from nn import Linear, Parameter
from optim import SGD, Adam, AdamW
from optim.lr_scheduler import CosineAnnealingLR, StepLR

W0 = np.array([[0.5, -1.0, 2.0], [1.5, 0.25, -0.75]])
GRADS = [np.array([[0.1, -0.2, 0.3], [0.0, 0.5, -0.4]]) * (k + 1) ** 0.5 for k in range(6)]


def run(make, steps: int = 6) -> np.ndarray:
    """Apply the optimizer ``make(params)`` to W0 with the gradients GRADS; the final weights."""
    p = Parameter(W0.copy())
    opt = make([p])
    for g in GRADS[:steps]:
        p.grad = nn.Parameter(g, requires_grad=False)
        opt.step()
    return p.data


def sgd_formula(lr, momentum=0.0, dampening=0.0, nesterov=False, weight_decay=0.0):
    p, buf = W0.copy(), None
    for g in GRADS:
        g = g + weight_decay * p
        if momentum:
            buf = g.copy() if buf is None else momentum * buf + (1 - dampening) * g
            g = g + momentum * buf if nesterov else buf
        p = p - lr * g
    return p


def adam_formula(lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, amsgrad=False,
                 decoupled=False):
    p = W0.copy()
    m, v, vmax = np.zeros_like(p), np.zeros_like(p), np.zeros_like(p)
    for t, g in enumerate(GRADS, 1):
        if decoupled:
            p = p * (1 - lr * weight_decay)
        else:
            g = g + weight_decay * p
        m = m + (1 - betas[0]) * (g - m)
        v = betas[1] * v + (1 - betas[1]) * g * g
        vmax = np.maximum(vmax, v)
        denom = np.sqrt(vmax if amsgrad else v) / math.sqrt(1 - betas[1] ** t) + eps
        p = p - lr / (1 - betas[0] ** t) * m / denom
    return p


@pytest.mark.parametrize("options", [
    {}, {"momentum": 0.9}, {"momentum": 0.9, "dampening": 0.3}, {"momentum": 0.8, "nesterov": True},
    {"weight_decay": 0.05}, {"momentum": 0.9, "nesterov": True, "weight_decay": 0.01},
])
def test_sgd_follows_pytorchs_rule(options) -> None:
    np.testing.assert_allclose(run(lambda ps: SGD(ps, lr=0.1, **options)),
                               sgd_formula(0.1, **options), rtol=1e-14, atol=1e-15)


@pytest.mark.parametrize("options", [
    {}, {"betas": (0.8, 0.99)}, {"weight_decay": 0.1}, {"amsgrad": True}, {"eps": 1e-3},
])
def test_adam_follows_pytorchs_rule(options) -> None:
    np.testing.assert_allclose(run(lambda ps: Adam(ps, lr=0.01, **options)),
                               adam_formula(0.01, **options), rtol=1e-13, atol=1e-15)


@pytest.mark.parametrize("options", [{}, {"weight_decay": 0.1, "amsgrad": True}])
def test_adamw_decouples_weight_decay(options) -> None:
    want = adam_formula(0.01, decoupled=True, **{"weight_decay": 0.01, **options})
    np.testing.assert_allclose(run(lambda ps: AdamW(ps, lr=0.01, **options)), want, rtol=1e-13,
                               atol=1e-15)


def test_against_pytorch_when_installed() -> None:
    torch = pytest.importorskip("torch")
    for ours, theirs in [(lambda ps: Adam(ps, lr=0.01, amsgrad=True),
                          lambda ps: torch.optim.Adam(ps, lr=0.01, amsgrad=True)),
                         (lambda ps: SGD(ps, lr=0.1, momentum=0.9, nesterov=True),
                          lambda ps: torch.optim.SGD(ps, lr=0.1, momentum=0.9, nesterov=True)),
                         (lambda ps: AdamW(ps, lr=0.01),
                          lambda ps: torch.optim.AdamW(ps, lr=0.01))]:
        t = torch.tensor(W0.copy(), requires_grad=True)
        opt = theirs([t])
        for g in GRADS:
            t.grad = torch.tensor(g)
            opt.step()
        np.testing.assert_allclose(run(ours), t.detach().numpy(), rtol=1e-12, atol=1e-14)


def test_updates_are_in_place_on_preallocated_buffers() -> None:
    p = Parameter(W0.copy())
    opt = Adam([p], lr=0.01)
    data = p.data
    p.grad = Parameter(GRADS[0], requires_grad=False)
    opt.step()
    buffers = {k: v for k, v in opt.state[p].items() if isinstance(v, np.ndarray)}
    version = p._version
    for g in GRADS[1:]:
        p.grad = Parameter(g, requires_grad=False)
        opt.step()
    assert p.data is data and p._version > version  # the same array, and the change was counted
    assert all(opt.state[p][k] is v for k, v in buffers.items())


def test_parameters_without_grad_are_skipped() -> None:
    a, b = Parameter(W0.copy()), Parameter(W0.copy())
    opt = SGD([a, b], lr=0.1, momentum=0.9)
    a.grad = Parameter(GRADS[0], requires_grad=False)
    opt.step()
    np.testing.assert_array_equal(b.data, W0)
    assert b not in opt.state


def test_param_groups_have_their_own_options() -> None:
    a, b = Parameter(W0.copy()), Parameter(W0.copy())
    opt = SGD([{"params": [a]}, {"params": [b], "lr": 0.5}], lr=0.1)
    a.grad = b.grad = Parameter(np.ones_like(W0), requires_grad=False)
    opt.step()
    np.testing.assert_allclose(a.data, W0 - 0.1)
    np.testing.assert_allclose(b.data, W0 - 0.5)
    assert opt.param_groups[1]["lr"] == 0.5 and opt.param_groups[0]["lr"] == 0.1


def test_state_dict_resumes_training_exactly(tmp_path) -> None:
    def fresh():
        p = Parameter(W0.copy())
        return p, Adam([p], lr=0.01, amsgrad=True)

    p, opt = fresh()
    for g in GRADS[:3]:
        p.grad = Parameter(g, requires_grad=False)
        opt.step()
    saved = nn.load(nn.save({"opt": opt.state_dict(), "p": p.data}, tmp_path / "ckpt.npz"))
    q, opt2 = fresh()
    q.data[...] = saved["p"]
    opt2.load_state_dict(saved["opt"])
    for g in GRADS[3:]:
        for param, o in ((p, opt), (q, opt2)):
            param.grad = Parameter(g, requires_grad=False)
            o.step()
    np.testing.assert_array_equal(p.data, q.data)


def test_zero_grad_to_none_or_zeros() -> None:
    layer = Linear(3, 2)
    opt = SGD(layer.parameters(), lr=0.1)
    layer.weight.grad = Parameter(np.ones((2, 3), np.float32), requires_grad=False)
    opt.zero_grad(set_to_none=False)
    assert not layer.weight.grad.data.any()
    opt.zero_grad()
    assert layer.weight.grad is None


def test_optimizer_mistakes_are_named() -> None:
    layer = Linear(3, 2)
    with pytest.raises(ValueError, match=r"invalid learning rate lr=-0.1"):
        SGD(layer.parameters(), lr=-0.1)
    params = layer.parameters()
    list(params)
    with pytest.raises(ValueError, match=r"empty parameter list.*generator can be used once"):
        Adam(params)
    with pytest.raises(TypeError, match="parameter 0 is a Linear, not a Parameter"):
        SGD([layer], lr=0.1)
    with pytest.raises(ValueError, match="the result of an op, not a leaf"):
        SGD([layer.weight * 2], lr=0.1)
    with pytest.raises(ValueError, match="appears in more than one group"):
        SGD([layer.weight, layer.weight], lr=0.1)


def test_frozen_parameters_are_accepted_and_left_alone() -> None:
    """A model with a frozen layer goes to the optimizer whole, as in PyTorch."""
    frozen, trained = Linear(3, 2), Linear(2, 1)
    frozen.weight.requires_grad_(False)
    frozen.bias.requires_grad_(False)
    before = frozen.weight.data.copy()
    opt = Adam([*frozen.parameters(), *trained.parameters()], lr=0.1)
    x = np.ones((4, 3), np.float32)
    trained(frozen(x)).sum().backward()
    w = trained.weight.data.copy()
    opt.step()
    np.testing.assert_array_equal(frozen.weight.data, before)
    assert not np.array_equal(trained.weight.data, w)


def test_step_lr_and_cosine_annealing_follow_their_formulas() -> None:
    opt = SGD([Parameter(W0.copy())], lr=0.2)
    sched = StepLR(opt, step_size=3, gamma=0.5)
    seen = []
    for _ in range(8):
        seen.append(opt.param_groups[0]["lr"])
        sched.step()
    assert seen == [0.2 * 0.5 ** (e // 3) for e in range(8)]
    opt = SGD([Parameter(W0.copy())], lr=0.2)
    sched = CosineAnnealingLR(opt, T_max=5, eta_min=0.01)
    for epoch in range(7):
        want = 0.01 + (0.2 - 0.01) * (1 + math.cos(math.pi * epoch / 5)) / 2
        assert opt.param_groups[0]["lr"] == pytest.approx(want, rel=1e-15)
        assert sched.get_last_lr() == [opt.param_groups[0]["lr"]]
        sched.step()
