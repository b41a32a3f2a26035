"""optim without torch: the same initial weights and gradients give the weights of PyTorch's
published update rules, written out here in float64 numpy (out of place, step by step), and a few
steps worked out by hand; the rules as functions on arrays; the schedulers' formulas; the errors.
(tests/test_optim_torch.py runs the same against torch.optim when it is installed.)"""
from __future__ import annotations

import itertools
import math
import tracemalloc
from typing import Any

import numpy as np
import pytest

import nn
from nn import Linear, Parameter
from optim import SGD, Adagrad, Adam, AdamW, Optimizer, RMSprop, functional
from optim.lr_scheduler import (
    CosineAnnealingLR,
    ExponentialLR,
    LambdaLR,
    LinearLR,
    MultiStepLR,
    OneCycleLR,
    ReduceLROnPlateau,
    SequentialLR,
    StepLR,
)

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


def effective(g, p, weight_decay, maximize):
    return (-g if maximize else g) + weight_decay * p


def sgd_formula(lr, momentum=0.0, dampening=0.0, nesterov=False, weight_decay=0.0,
                maximize=False):
    p, buf = W0.copy(), None
    for g in GRADS:
        g = effective(g, p, weight_decay, maximize)
        if momentum:
            buf = g.copy() if buf is None else momentum * buf + (1 - dampening) * g
            g = g + momentum * buf if nesterov else buf
        p = p - lr * g
    return p


def adam_formula(lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, amsgrad=False,
                 decoupled_weight_decay=False, maximize=False):
    p = W0.copy()
    m, v, vmax = np.zeros_like(p), np.zeros_like(p), np.zeros_like(p)
    for t, g in enumerate(GRADS, 1):
        if decoupled_weight_decay:
            p = p * (1 - lr * weight_decay)
            g = effective(g, p, 0.0, maximize)
        else:
            g = effective(g, p, weight_decay, maximize)
        m = m + (1 - betas[0]) * (g - m)
        v = betas[1] * v + (1 - betas[1]) * g * g
        vmax = np.maximum(vmax, v)
        denom = np.sqrt(vmax if amsgrad else v) / math.sqrt(1 - betas[1] ** t) + eps
        p = p - lr / (1 - betas[0] ** t) * m / denom
    return p


def rmsprop_formula(lr, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0, centered=False,
                    maximize=False):
    p = W0.copy()
    square_avg, grad_avg, buf = np.zeros_like(p), np.zeros_like(p), np.zeros_like(p)
    for g in GRADS:
        g = effective(g, p, weight_decay, maximize)
        square_avg = alpha * square_avg + (1 - alpha) * g * g
        if centered:
            grad_avg = grad_avg + (1 - alpha) * (g - grad_avg)
            avg = np.sqrt(square_avg - grad_avg * grad_avg) + eps
        else:
            avg = np.sqrt(square_avg) + eps
        if momentum > 0:
            buf = momentum * buf + g / avg
            p = p - lr * buf
        else:
            p = p - lr * g / avg
    return p


def adagrad_formula(lr, lr_decay=0.0, weight_decay=0.0, initial_accumulator_value=0.0,
                    eps=1e-10, maximize=False):
    p = W0.copy()
    total = np.full_like(p, initial_accumulator_value)
    for t, g in enumerate(GRADS, 1):
        g = effective(g, p, weight_decay, maximize)
        total = total + g * g
        p = p - lr / (1 + (t - 1) * lr_decay) * g / (np.sqrt(total) + eps)
    return p


@pytest.mark.parametrize("options", [
    {}, {"momentum": 0.9}, {"momentum": 0.9, "dampening": 0.3}, {"momentum": 0.8, "nesterov": True},
    {"weight_decay": 0.05}, {"momentum": 0.9, "nesterov": True, "weight_decay": 0.01},
    {"maximize": True}, {"momentum": 0.9, "weight_decay": 0.1, "maximize": True},
])
def test_sgd_follows_pytorchs_rule(options) -> None:
    np.testing.assert_allclose(run(lambda ps: SGD(ps, lr=0.1, **options)),
                               sgd_formula(0.1, **options), rtol=1e-14, atol=1e-15)


@pytest.mark.parametrize("options", [
    {}, {"betas": (0.8, 0.99)}, {"weight_decay": 0.1}, {"amsgrad": True}, {"eps": 1e-3},
    {"maximize": True, "weight_decay": 0.1}, {"decoupled_weight_decay": True, "weight_decay": 0.2},
])
def test_adam_follows_pytorchs_rule(options) -> None:
    np.testing.assert_allclose(run(lambda ps: Adam(ps, lr=0.01, **options)),
                               adam_formula(0.01, **options), rtol=1e-13, atol=1e-15)


@pytest.mark.parametrize("options", [{}, {"weight_decay": 0.1, "amsgrad": True},
                                     {"maximize": True}])
def test_adamw_decouples_weight_decay(options) -> None:
    want = adam_formula(0.01, decoupled_weight_decay=True, **{"weight_decay": 0.01, **options})
    np.testing.assert_allclose(run(lambda ps: AdamW(ps, lr=0.01, **options)), want, rtol=1e-13,
                               atol=1e-15)


@pytest.mark.parametrize("options", [
    {}, {"alpha": 0.9}, {"centered": True}, {"momentum": 0.9}, {"weight_decay": 0.1},
    {"centered": True, "momentum": 0.5, "weight_decay": 0.05, "eps": 1e-3},
    {"maximize": True, "momentum": 0.3},
])
def test_rmsprop_follows_pytorchs_rule(options) -> None:
    np.testing.assert_allclose(run(lambda ps: RMSprop(ps, lr=0.01, **options)),
                               rmsprop_formula(0.01, **options), rtol=1e-13, atol=1e-15)


@pytest.mark.parametrize("options", [
    {}, {"lr_decay": 0.1}, {"weight_decay": 0.1}, {"initial_accumulator_value": 0.5},
    {"eps": 1e-3, "lr_decay": 0.01, "maximize": True},
])
def test_adagrad_follows_pytorchs_rule(options) -> None:
    np.testing.assert_allclose(run(lambda ps: Adagrad(ps, lr=0.1, **options)),
                               adagrad_formula(0.1, **options), rtol=1e-13, atol=1e-15)


def steps_of(opt: Optimizer, p: Parameter, grads: list[float]) -> list[float]:
    """The value of the one-element parameter p after each step with these gradients."""
    seen = []
    for g in grads:
        p.grad = Parameter(np.array([float(g)]), requires_grad=False)
        opt.step()
        seen.append(float(p.data[0]))
    return seen


def test_rules_by_hand() -> None:
    """Two steps of each rule worked out on paper (gradients 3 then 4, or 2 then 2)."""
    p = Parameter(np.array([1.0]))
    # Adagrad: sum = 9, p -= 0.5 * 3 / 3; then sum = 25, lr 0.5 / (1 + 0.25), p -= 0.4 * 4 / 5.
    assert steps_of(Adagrad([p], lr=0.5, lr_decay=0.25, eps=0.0), p, [3, 4]) == \
        pytest.approx([0.5, 0.18], abs=1e-15)
    p = Parameter(np.array([1.0]))
    # Centered RMSprop, alpha 0.5, momentum 0.5: square_avg 2, grad_avg 1, avg 1, buf 2, p -= 0.2;
    # then square_avg 3, grad_avg 1.5, avg sqrt(0.75), buf 0.5 * 2 + 2 / sqrt(0.75).
    got = steps_of(RMSprop([p], lr=0.1, alpha=0.5, eps=0.0, momentum=0.5, centered=True), p,
                   [2, 2])
    assert got == pytest.approx([0.8, 0.8 - 0.1 * (1 + 2 / math.sqrt(0.75))], abs=1e-15)
    p = Parameter(np.array([1.0]))
    # SGD, momentum 0.5, dampening 0.5: buf 3 (the first gradient itself), p -= 0.3; then
    # buf = 1.5 + 0.5 * 4 = 3.5, p -= 0.35.
    assert steps_of(SGD([p], lr=0.1, momentum=0.5, dampening=0.5), p, [3, 4]) == \
        pytest.approx([0.7, 0.35], abs=1e-15)
    p = Parameter(np.array([1.0]))
    # Adam, betas (0.5, 0.5), eps 0: m 1.5, v 4.5; corrected m 3, v 9: p -= 0.1 * 3 / 3.
    # Then m 2.75, v 10.25; corrected by 0.75: 11/3 and 41/3: p -= 0.1 * (11/3) / sqrt(41/3).
    got = steps_of(Adam([p], lr=0.1, betas=(0.5, 0.5), eps=0.0), p, [3, 4])
    assert got == pytest.approx([0.9, 0.9 - 0.1 * (11 / 3) / math.sqrt(41 / 3)], abs=1e-15)


# --- the rules as functions on arrays ---------------------------------------------------------

N = 50_000


def call_each_rule(param: np.ndarray, grad: np.ndarray, state: dict, scratch: Any,
                   first: bool) -> None:
    """Every rule with its heaviest options, on arrays made by the caller."""
    functional.sgd_update(param, grad, state["buf"], first_step=first, lr=0.1, momentum=0.9,
                          dampening=0.0, weight_decay=0.1, nesterov=True, maximize=True,
                          scratch=scratch)
    functional.sgd_update(param, grad, state["buf"], first_step=False, lr=0.1, momentum=0.9,
                          dampening=0.2, weight_decay=0.0, nesterov=False, maximize=False,
                          scratch=scratch)
    functional.adam_update(param, grad, state["m"], state["v"], state["vmax"], step=3, lr=0.1,
                           beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.1, amsgrad=True,
                           decoupled_weight_decay=False, maximize=True, scratch=scratch)
    functional.adam_update(param, grad, state["m"], state["v"], None, step=4, lr=0.1,
                           beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.1, amsgrad=False,
                           decoupled_weight_decay=True, maximize=False, scratch=scratch)
    functional.rmsprop_update(param, grad, state["sq"], state["ga"], state["buf"], lr=0.01,
                              alpha=0.99, eps=1e-8, weight_decay=0.1, momentum=0.9,
                              centered=True, maximize=True, scratch=scratch)
    functional.adagrad_update(param, grad, state["sum"], step=2, lr=0.1, lr_decay=0.1,
                              weight_decay=0.1, eps=1e-10, maximize=True, scratch=scratch)


def test_rules_change_their_arrays_in_place_and_allocate_nothing() -> None:
    rng = np.random.default_rng(0)
    param, grad = rng.normal(size=N), rng.normal(size=N)
    state = {k: np.zeros(N) for k in ("buf", "m", "v", "vmax", "sq", "ga")}
    state["sum"] = np.full(N, 0.1)
    scratch = functional.scratch_like(param)
    before = {k: v.copy() for k, v in state.items()}
    call_each_rule(param, grad, state, scratch, first=True)  # warm up numpy's own caches
    tracemalloc.start()
    try:
        call_each_rule(param, grad, state, scratch, first=False)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < N * 8 // 10, f"the rules allocated {peak} bytes; an array is {N * 8}"
    assert all(not np.array_equal(state[k], before[k]) for k in state), "a state did not change"
    assert np.isfinite(param).all()


def test_a_rule_called_directly_equals_the_optimizer() -> None:
    """What a compiled step does: the state arrays kept by hand, the rule called per step."""
    p32 = W0.astype(np.float32)
    exp_avg, exp_avg_sq = np.zeros_like(p32), np.zeros_like(p32)
    scratch = functional.scratch_like(p32)
    for t, g in enumerate(GRADS, 1):
        functional.adam_update(p32, g.astype(np.float32), exp_avg, exp_avg_sq, None, step=t,
                               lr=0.01, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0,
                               amsgrad=False, decoupled_weight_decay=False, maximize=False,
                               scratch=scratch)
    assert p32.dtype == np.float32 and exp_avg.dtype == np.float32
    np.testing.assert_allclose(p32, adam_formula(0.01), rtol=1e-6)


def test_a_rule_without_the_state_array_its_option_needs_says_so() -> None:
    p, g = np.ones(3), np.ones(3)
    s = functional.scratch_like(p)
    with pytest.raises(ValueError, match=r"sgd_update: momentum=0.9 needs the state array "
                                         r"momentum_buffer, got None"):
        functional.sgd_update(p, g, None, first_step=True, lr=0.1, momentum=0.9, dampening=0.0,
                              weight_decay=0.0, nesterov=False, maximize=False, scratch=s)
    with pytest.raises(ValueError, match=r"adam_update: amsgrad=True needs .* max_exp_avg_sq"):
        functional.adam_update(p, g, np.zeros(3), np.zeros(3), None, step=1, lr=0.1, beta1=0.9,
                               beta2=0.999, eps=1e-8, weight_decay=0.0, amsgrad=True,
                               decoupled_weight_decay=False, maximize=False, scratch=s)
    with pytest.raises(ValueError, match=r"rmsprop_update: centered=True needs .* grad_avg"):
        functional.rmsprop_update(p, g, np.zeros(3), None, None, lr=0.1, alpha=0.9, eps=1e-8,
                                  weight_decay=0.0, momentum=0.0, centered=True, maximize=False,
                                  scratch=s)
    np.testing.assert_array_equal(p, 1.0)  # SGD checked before changing anything


# --- the stateful optimizers --------------------------------------------------------------------

ALL = [lambda ps: SGD(ps, lr=0.1, momentum=0.9), lambda ps: Adam(ps, lr=0.01, amsgrad=True),
       lambda ps: AdamW(ps, lr=0.01), lambda ps: RMSprop(ps, lr=0.01, momentum=0.9,
                                                         centered=True),
       lambda ps: Adagrad(ps, lr=0.1)]
ALL_IDS = ["SGD", "Adam", "AdamW", "RMSprop", "Adagrad"]


@pytest.mark.parametrize("make", ALL, ids=ALL_IDS)
def test_updates_are_in_place_on_preallocated_buffers(make) -> None:
    p = Parameter(W0.copy())
    opt = make([p])
    data = p.data
    p.grad = Parameter(GRADS[0], requires_grad=False)
    opt.step()
    buffers = {k: v for k, v in opt.state[p].items() if isinstance(v, np.ndarray)}
    version = p._version
    for g in GRADS[1:]:
        p.grad = Parameter(g, requires_grad=False)
        opt.step()
    assert p.data is data and p._version == version + len(GRADS) - 1  # each change counted
    assert all(opt.state[p][k] is v for k, v in buffers.items())
    assert not np.array_equal(p.data, W0)


def test_a_step_after_the_loss_was_computed_is_caught_by_backward() -> None:
    """The version counter sees the optimizer's change, as for any in-place change."""
    w = Parameter(np.array([1.0, 2.0]))
    loss = (w * w).sum()
    w.grad = Parameter(np.ones(2), requires_grad=False)
    SGD([w], lr=0.1).step()
    with pytest.raises(RuntimeError, match="modified by an in-place operation after mul was "
                                           "recorded"):
        loss.backward()


@pytest.mark.parametrize("make", ALL, ids=ALL_IDS)
def test_parameters_without_grad_are_skipped(make) -> None:
    a, b = Parameter(W0.copy()), Parameter(W0.copy())
    opt = make([a, b])
    a.grad = Parameter(GRADS[0], requires_grad=False)
    opt.step()
    np.testing.assert_array_equal(b.data, W0)
    assert b not in opt.state and not np.array_equal(a.data, W0)


def test_state_names_are_pytorchs() -> None:
    def names(opt: Optimizer) -> list[set]:
        for p in (q for g in opt.param_groups for q in g["params"]):
            p.grad = Parameter(np.ones_like(W0), requires_grad=False)
        opt.step()
        return [set(s) for s in opt.state_dict()["state"].values()]

    def two() -> list[Parameter]:
        return [Parameter(W0.copy()), Parameter(W0.copy())]

    a, b = two()
    assert names(SGD([{"params": [a]}, {"params": [b], "momentum": 0.9}], lr=0.1)) == \
        [{"momentum_buffer"}]  # plain SGD keeps no state
    a, b = two()
    assert names(Adam([{"params": [a]}, {"params": [b], "amsgrad": True}])) == \
        [{"step", "exp_avg", "exp_avg_sq"}, {"step", "exp_avg", "exp_avg_sq", "max_exp_avg_sq"}]
    a, b = two()
    assert names(RMSprop([{"params": [a], "centered": True}, {"params": [b], "momentum": 0.5}])) \
        == [{"step", "square_avg", "grad_avg"}, {"step", "square_avg", "momentum_buffer"}]
    a, b = two()
    assert names(Adagrad([a, b])) == [{"step", "sum"}, {"step", "sum"}]


@pytest.mark.parametrize("make", ALL, ids=ALL_IDS)
def test_param_groups_have_their_own_options(make) -> None:
    """Each group stepped with its own lr gives what the optimizer gives it alone."""
    a, b = Parameter(W0.copy()), Parameter(W0.copy())
    opt = make([{"params": [a]}, {"params": [b], "lr": 0.05}])
    assert opt.param_groups[1]["lr"] == 0.05 and opt.param_groups[0]["lr"] != 0.05
    for g in GRADS:
        a.grad = b.grad = Parameter(g, requires_grad=False)
        opt.step()
    alone = run(lambda ps: make([{"params": ps, "lr": 0.05}]))
    np.testing.assert_array_equal(b.data, alone)
    assert not np.array_equal(a.data, b.data)


@pytest.mark.parametrize("make", ALL, ids=ALL_IDS)
def test_state_dict_resumes_training_exactly(make, tmp_path) -> None:
    def fresh():
        p = Parameter(W0.copy())
        return p, make([p])

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
    assert not np.array_equal(p.data, run(make, steps=3))


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


@pytest.mark.parametrize(("make", "message"), [
    (lambda ps: SGD(ps, lr=0.1, momentum=-0.5), r"SGD: invalid momentum=-0.5; it must be a "
                                                r"number >= 0"),
    (lambda ps: SGD(ps, lr=0.1, weight_decay="0.1"), r"SGD: invalid weight_decay='0.1'"),
    (lambda ps: SGD(ps, lr=0.1, nesterov=True), r"SGD: Nesterov momentum needs momentum > 0 "
                                                r"and dampening = 0, got momentum=0.0.*"
                                                r"nesterov=False"),
    (lambda ps: Adam(ps, betas=(0.9, 1.0)), r"Adam: invalid betas=\(0.9, 1.0\); it must be a "
                                            r"pair \(beta1, beta2\) of numbers in \[0, 1\)"),
    (lambda ps: AdamW(ps, eps=-1e-8), r"AdamW: invalid eps=-1e-08; it must be a number >= 0"),
    (lambda ps: RMSprop(ps, alpha=1.5), r"RMSprop: invalid alpha=1.5; it must be a number in "
                                        r"\[0, 1\], the decay"),
    (lambda ps: RMSprop(ps, momentum=float("nan")), r"RMSprop: invalid momentum=nan"),
    (lambda ps: Adagrad(ps, lr_decay=-0.1), r"Adagrad: invalid lr_decay=-0.1; it must be a "
                                            r"number >= 0"),
    (lambda ps: Adagrad(ps, initial_accumulator_value=-1),
     r"Adagrad: invalid initial_accumulator_value=-1"),
    # A group's own options are checked as the defaults are.
    (lambda ps: SGD([{"params": ps, "momentum": -1}], lr=0.1), r"SGD: invalid momentum=-1"),
    (lambda ps: RMSprop([{"params": ps, "alpha": -0.1}]), r"RMSprop: invalid alpha=-0.1"),
])
def test_invalid_options_name_the_optimizer_the_value_and_the_fix(make, message) -> None:
    with pytest.raises(ValueError, match=message):
        make([Parameter(W0.copy())])


def test_frozen_parameters_are_accepted_and_left_alone() -> None:
    """A model with a frozen layer goes to the optimizer whole, as in PyTorch."""
    for make in (lambda ps: Adam(ps, lr=0.1), lambda ps: RMSprop(ps, lr=0.1),
                 lambda ps: Adagrad(ps, lr=0.1)):
        frozen, trained = Linear(3, 2), Linear(2, 1)
        frozen.weight.requires_grad_(False)
        frozen.bias.requires_grad_(False)
        before = frozen.weight.data.copy()
        opt = make([*frozen.parameters(), *trained.parameters()])
        x = np.ones((4, 3), np.float32)
        trained(frozen(x)).sum().backward()
        w = trained.weight.data.copy()
        opt.step()
        np.testing.assert_array_equal(frozen.weight.data, before)
        assert not np.array_equal(trained.weight.data, w)
        assert frozen.weight not in opt.state


# --- schedulers ---------------------------------------------------------------------------------

def sgd(lr: float = 0.2, **options: Any) -> SGD:
    return SGD([Parameter(W0.copy())], lr=lr, **options)


def rates(sched: Any, epochs: int, key: str = "lr") -> list[float]:
    """The rate (or another option) of group 0 at epochs 0 .. epochs - 1."""
    seen = []
    for _ in range(epochs):
        group = sched.optimizer.param_groups[0]
        seen.append(group[key] if key != "beta1" else group["betas"][0])
        assert sched.get_last_lr()[0] == group["lr"]
        sched.step()
    return seen


def test_step_lr_and_cosine_annealing_follow_their_formulas() -> None:
    assert rates(StepLR(sgd(), step_size=3, gamma=0.5), 8) == [0.2 * 0.5 ** (e // 3)
                                                               for e in range(8)]
    got = rates(CosineAnnealingLR(sgd(), T_max=5, eta_min=0.01), 13)
    want = [0.01 + (0.2 - 0.01) * (1 + math.cos(math.pi * e / 5)) / 2 for e in range(13)]
    assert got == pytest.approx(want, rel=1e-14, abs=1e-16)  # past T_max it rises again


def test_multistep_exponential_lambda_and_linear_follow_their_formulas() -> None:
    got = rates(MultiStepLR(sgd(), milestones=[5, 2, 5], gamma=0.1), 7)
    assert got == pytest.approx([0.2, 0.2, 0.02, 0.02, 0.02, 0.0002, 0.0002], rel=1e-14)
    assert rates(ExponentialLR(sgd(), gamma=0.9), 6) == \
        pytest.approx([0.2 * 0.9 ** e for e in range(6)], rel=1e-14)
    assert rates(LambdaLR(sgd(), lambda e: 1 / (e + 1)), 4) == \
        pytest.approx([0.2, 0.1, 0.2 / 3, 0.05], rel=1e-14)
    got = rates(LinearLR(sgd(), start_factor=0.25, end_factor=1.0, total_iters=3), 6)
    assert got == pytest.approx([0.05, 0.1, 0.15, 0.2, 0.2, 0.2], rel=1e-14)


def test_one_cycle_rises_then_falls_and_moves_momentum_the_other_way() -> None:
    opt = sgd(momentum=0.9)
    sched = OneCycleLR(opt, max_lr=1.0, total_steps=11, pct_start=0.2, div_factor=10.0,
                       final_div_factor=100.0)
    lrs = rates(sched, 11)
    # Up over steps 0 .. 1.2 (pct_start * 11 - 1), down from there to 10.
    assert lrs[0] == pytest.approx(0.1, rel=1e-14) and lrs[-1] == pytest.approx(1e-3, rel=1e-12)
    assert lrs[1] == pytest.approx(1.0 + (0.1 - 1.0) / 2 * (1 + math.cos(math.pi / 1.2)),
                                   rel=1e-14)
    assert lrs[2] == pytest.approx(1e-3 + (1.0 - 1e-3) / 2 * (1 + math.cos(math.pi * 0.8 / 8.8)),
                                   rel=1e-14)
    assert lrs[0] < lrs[1] < lrs[2] and all(a > b for a, b in itertools.pairwise(lrs[2:]))
    opt = Adam([Parameter(W0.copy())])
    sched = OneCycleLR(opt, max_lr=0.5, total_steps=9, pct_start=0.5, anneal_strategy="linear",
                       three_phase=True)
    # Phases end at steps 3.5, 7 and 8: up to max_lr, back to initial_lr, down to min_lr.
    lrs, beta1 = [], []
    for step in range(9):
        if step:
            sched.step()
        lrs.append(opt.param_groups[0]["lr"])
        beta1.append(opt.param_groups[0]["betas"][0])
    assert lrs[0] == pytest.approx(0.02) and lrs[7] == pytest.approx(0.02)
    assert lrs[3] == pytest.approx(0.02 + (0.5 - 0.02) * 3 / 3.5, rel=1e-14)
    assert lrs[8] == pytest.approx(0.02 / 1e4, rel=1e-12)
    assert beta1[0] == 0.95 and beta1[3] == pytest.approx(0.95 - 0.1 * 3 / 3.5, rel=1e-14)
    assert beta1[8] == pytest.approx(0.95) and opt.param_groups[0]["betas"][1] == 0.999
    with pytest.raises(ValueError, match=r"OneCycleLR: step\(\) called 10 times, past "
                                         r"total_steps=9; .*call step\(\) once per batch"):
        sched.step()
        sched.step()


def test_sequential_lr_hands_over_at_the_milestones() -> None:
    opt = sgd(lr=1.0)
    sched = SequentialLR(opt, [LinearLR(opt, start_factor=0.5, total_iters=2),
                               ExponentialLR(opt, gamma=0.5)], milestones=[3])
    assert rates(sched, 7) == [0.5, 0.75, 1.0, 1.0, 0.5, 0.25, 0.125]


def test_reduce_on_plateau_waits_patience_epochs_then_cools_down() -> None:
    opt = SGD([{"params": [Parameter(W0.copy())]},
               {"params": [Parameter(W0.copy())], "lr": 0.02}], lr=1.0)
    sched = ReduceLROnPlateau(opt, factor=0.5, patience=1, cooldown=1, min_lr=[0.0, 0.015],
                              threshold=0.1)
    losses = [10, 9.5, 9.2, 9, 8.95, 8.9, 8.85, 1.0, 1.0, 1.0]
    seen = []
    for loss in losses:
        sched.step(loss)
        seen.append(sched.get_last_lr())
    # 9.5 is not 10% better than 10: bad epoch 1; 9.2 bad epoch 2 > patience: halve. Epoch 4
    # cools down (its bad epoch is not counted); 8.95 is better than 10 * 0.9, the new best;
    # 8.9 and 8.85 are bad: halve again. The second group stops at its min_lr. 1.0 is better;
    # then two bad epochs halve once more.
    assert [lr for lr, _ in seen] == [1.0, 1.0, 0.5, 0.5, 0.5, 0.5, 0.25, 0.25, 0.25, 0.125]
    assert [lr for _, lr in seen] == [0.02, 0.02, 0.015, 0.015, 0.015, 0.015, 0.015, 0.015,
                                      0.015, 0.015]
    assert sched.best == 1.0
    restored = ReduceLROnPlateau(opt)
    restored.load_state_dict(sched.state_dict())
    assert (restored.best, restored.patience, restored.num_bad_epochs) == (1.0, 1, 0)


def test_lambda_lr_saves_the_attributes_of_callable_objects() -> None:
    class Warmup:
        def __init__(self, epochs: int) -> None:
            self.epochs = epochs

        def __call__(self, epoch: int) -> float:
            return min(1.0, (epoch + 1) / self.epochs)

    sched = LambdaLR(sgd(), [Warmup(4)])
    state = sched.state_dict()
    assert state["lr_lambdas"] == [{"epochs": 4}]
    other = LambdaLR(sgd(), [Warmup(10)])
    other.load_state_dict(state)
    assert other.lr_lambdas[0].epochs == 4


@pytest.mark.parametrize(("make", "error", "message"), [
    (lambda o: StepLR(Linear(2, 2), step_size=2), TypeError,
     r"StepLR: expected an Optimizer, got Linear; pass the optimizer whose learning rate it "
     r"schedules"),
    (lambda o: ReduceLROnPlateau([o]), TypeError, r"ReduceLROnPlateau: expected an Optimizer, "
                                                  r"got list"),
    (lambda o: StepLR(o, step_size=0), ValueError, r"StepLR: invalid step_size=0; it must be an "
                                                   r"integer >= 1"),
    (lambda o: ExponentialLR(o, gamma=-0.5), ValueError, r"ExponentialLR: invalid gamma=-0.5"),
    (lambda o: MultiStepLR(o, milestones=[2, 1.5]), ValueError,
     r"MultiStepLR: invalid milestones=\[2, 1.5\]"),
    (lambda o: LinearLR(o, start_factor=0), ValueError, r"LinearLR: invalid start_factor=0; it "
                                                        r"must be a number in \(0, 1\]"),
    (lambda o: CosineAnnealingLR(o, T_max=0), ValueError, r"CosineAnnealingLR: invalid T_max=0"),
    (lambda o: LambdaLR(o, 0.95), TypeError, r"LambdaLR: lr_lambda 0 is a float, not a "
                                             r"function; .*lambda epoch: 0.95 \*\* epoch"),
    (lambda o: LambdaLR(o, [abs, abs]), ValueError, r"LambdaLR: lr_lambda has 2 values and the "
                                                    r"optimizer 1 parameter group"),
    (lambda o: OneCycleLR(o, max_lr=1.0), ValueError, r"OneCycleLR: the length of the cycle is "
                                                      r"unknown .* pass total_steps"),
    (lambda o: OneCycleLR(o, max_lr=1.0, total_steps=10, pct_start=1.5), ValueError,
     r"OneCycleLR: invalid pct_start=1.5"),
    (lambda o: OneCycleLR(o, max_lr=1.0, total_steps=10, anneal_strategy="cosine"), ValueError,
     r"OneCycleLR: invalid anneal_strategy='cosine'; it must be 'cos' or 'linear'"),
    (lambda o: OneCycleLR(Adagrad([Parameter(W0.copy())]), max_lr=1.0, total_steps=10),
     ValueError, r"OneCycleLR: cycle_momentum=True needs .* Adagrad has neither; pass "
                 r"cycle_momentum=False"),
    (lambda o: SequentialLR(o, [StepLR(o, 2), StepLR(o, 3)], milestones=[]), ValueError,
     r"SequentialLR: 2 schedulers need 1 milestones"),
    (lambda o: SequentialLR(o, [StepLR(o, 2), StepLR(o, 3)], milestones=[0]), ValueError,
     r"SequentialLR: invalid milestones=\[0\]; it must be increasing integers > 0"),
    (lambda o: SequentialLR(o, [StepLR(o, 2), StepLR(sgd(), 3)], milestones=[4]), ValueError,
     r"SequentialLR: scheduler 1 \(StepLR\) steps another optimizer"),
    (lambda o: SequentialLR(o, [StepLR(o, 2), ReduceLROnPlateau(o)], milestones=[4]), TypeError,
     r"SequentialLR: scheduler 1 is a ReduceLROnPlateau, whose step\(\) needs the metric"),
    (lambda o: ReduceLROnPlateau(o, mode="minimum"), ValueError,
     r"ReduceLROnPlateau: invalid mode='minimum'; it must be 'min' \(a loss\) or 'max'"),
    (lambda o: ReduceLROnPlateau(o, factor=1.0), ValueError,
     r"ReduceLROnPlateau: invalid factor=1.0; it must be a number in \[0, 1\)"),
    (lambda o: ReduceLROnPlateau(o).step(), TypeError,
     r"ReduceLROnPlateau.step: needs the metric it watches, such as scheduler.step\(val_loss\)"),
    (lambda o: ReduceLROnPlateau(o).step("low"), TypeError,
     r"ReduceLROnPlateau.step: the metric must be a number"),
    (lambda o: StepLR(o, step_size=2, last_epoch=3), KeyError,
     r"StepLR: resuming at last_epoch=3 needs 'initial_lr' in every parameter group"),
])
def test_scheduler_mistakes_are_named(make, error, message) -> None:
    with pytest.raises(error, match=message):
        make(sgd())
