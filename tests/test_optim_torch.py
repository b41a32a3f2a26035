"""optim against torch.optim: the same float64 parameters and gradients give the same parameters,
state and learning rates as PyTorch, to 1e-12, over 50 steps (the schedulers' rates to the bit).

The gradients come from a fixed quadratic loss, 0.5 * w.A.w - b.w per parameter, computed in numpy
from our parameters and fed to both libraries, so a drift in the parameters would also change the
gradients that follow.
"""
from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import optim
from nn import Parameter
from optim import lr_scheduler

torch = pytest.importorskip("torch")

STEPS = 50
RNG = np.random.default_rng(7)
SHAPES = [(3,), (2, 2)]
# A symmetric positive definite matrix per parameter, so the loss has a minimum to go to.
MATRICES = [(lambda m: m @ m.T / n + 0.5 * np.eye(n))(RNG.normal(size=(n, n)))
            for n in (int(np.prod(s)) for s in SHAPES)]
TARGETS = [RNG.normal(size=s) for s in SHAPES]
STARTS = [RNG.normal(size=s) for s in SHAPES]


def quadratic_grad(i: int, w: np.ndarray) -> np.ndarray:
    """d/dw (0.5 * w.A.w - b.w) = A w - b, for parameter i."""
    return (MATRICES[i] @ w.ravel()).reshape(w.shape) - TARGETS[i]


def two_groups(params: list, options: list[dict]) -> list[dict]:
    return [{"params": [p], **o} for p, o in zip(params, options)]


def train_both(name: str, defaults: dict, groups: list[dict], steps: int = STEPS,
               schedule: Callable[[Any, Any], Any] | None = None) -> tuple[Any, Any]:
    """Run optim.<name> and torch.optim.<name> side by side (two parameter groups with options
    ``groups``), checking the parameters after every step; return both optimizers. With
    ``maximize`` they are given the gradient of minus the loss, so that they still descend it."""
    sign = -1.0 if defaults.get("maximize") else 1.0
    ours_p = [Parameter(w.copy()) for w in STARTS]
    theirs_p = [torch.tensor(w.copy(), requires_grad=True) for w in STARTS]
    ours = getattr(optim, name)(two_groups(ours_p, groups), **defaults)
    theirs = getattr(torch.optim, name)(two_groups(theirs_p, groups), **defaults)
    scheds = None
    if schedule is not None:
        scheds = (schedule(lr_scheduler, ours), schedule(torch.optim.lr_scheduler, theirs))
    for step in range(steps):
        for i, (p, t) in enumerate(zip(ours_p, theirs_p)):
            g = sign * quadratic_grad(i, p.data)
            p.grad = Parameter(g, requires_grad=False)
            t.grad = torch.tensor(g)
        ours.step()
        theirs.step()
        if scheds is not None:
            for s in scheds:
                s.step()
        for p, t in zip(ours_p, theirs_p):
            np.testing.assert_allclose(p.data, t.detach().numpy(), rtol=0, atol=1e-12,
                                       err_msg=f"{name} after step {step + 1}")
    moved = max(np.abs(p.data - w).max() for p, w in zip(ours_p, STARTS))
    assert moved > 1e-3, f"{name}: the parameters hardly moved ({moved}); the test shows nothing"
    return ours, theirs


def assert_same_state(ours: Any, theirs: Any) -> None:
    """The same state names and values per parameter, and the same step counts."""
    mine, other = ours.state_dict()["state"], theirs.state_dict()["state"]
    assert sorted(mine) == sorted(other)
    for index, entry in other.items():
        assert sorted(mine[index]) == sorted(entry), f"parameter {index}"
        for key, value in entry.items():
            np.testing.assert_allclose(np.asarray(mine[index][key]),
                                       value.detach().numpy(), rtol=0, atol=1e-12,
                                       err_msg=f"state {key!r} of parameter {index}")


OPTIMIZER_CASES = [
    ("SGD", {"lr": 0.05}, [{}, {"lr": 0.02}]),
    ("SGD", {"lr": 0.05, "momentum": 0.9}, [{"dampening": 0.2}, {"weight_decay": 0.1}]),
    ("SGD", {"lr": 0.03, "momentum": 0.8, "nesterov": True},
     [{"weight_decay": 0.05}, {"momentum": 0.5, "lr": 0.01}]),
    ("SGD", {"lr": 0.05, "momentum": 0.7, "maximize": True}, [{}, {"weight_decay": 0.1}]),
    ("Adam", {"lr": 0.05}, [{}, {"betas": (0.5, 0.9)}]),
    ("Adam", {"lr": 0.05, "amsgrad": True}, [{"weight_decay": 0.1}, {"eps": 1e-3}]),
    ("Adam", {"lr": 0.02, "maximize": True}, [{"amsgrad": True}, {"weight_decay": 0.2}]),
    ("Adam", {"lr": 0.05, "weight_decay": 0.1, "decoupled_weight_decay": True},
     [{}, {"amsgrad": True}]),
    ("AdamW", {"lr": 0.05}, [{}, {"weight_decay": 0.3, "amsgrad": True}]),
    ("AdamW", {"lr": 0.05, "maximize": True}, [{"betas": (0.8, 0.99)}, {}]),
    ("RMSprop", {"lr": 0.01}, [{}, {"alpha": 0.9}]),
    ("RMSprop", {"lr": 0.01, "centered": True}, [{"momentum": 0.9}, {"weight_decay": 0.1}]),
    ("RMSprop", {"lr": 0.005, "momentum": 0.8}, [{"eps": 1e-4}, {"centered": True}]),
    ("RMSprop", {"lr": 0.01, "maximize": True}, [{"centered": True, "momentum": 0.5},
                                                 {"weight_decay": 0.05}]),
    ("Adagrad", {"lr": 0.1}, [{}, {"lr": 0.3}]),
    ("Adagrad", {"lr": 0.1, "lr_decay": 0.01}, [{"weight_decay": 0.1}, {"eps": 1e-3}]),
    # PyTorch fills "sum" from the constructor's initial_accumulator_value only (a group's own
    # value is ignored there), so it is given to the constructor here.
    ("Adagrad", {"lr": 0.2, "initial_accumulator_value": 0.5, "maximize": True},
     [{}, {"lr_decay": 0.05}]),
]


@pytest.mark.parametrize(("name", "defaults", "groups"), OPTIMIZER_CASES,
                         ids=[f"{c[0]}-{i}" for i, c in enumerate(OPTIMIZER_CASES)])
def test_optimizer_follows_torch(name: str, defaults: dict, groups: list[dict]) -> None:
    ours, theirs = train_both(name, defaults, groups)
    assert_same_state(ours, theirs)


def test_adagrad_fills_its_sum_from_each_groups_own_initial_value() -> None:
    """A group's own initial_accumulator_value is used here (PyTorch uses the constructor's for
    every group): the group that sets it follows torch made with that value."""
    p, q = Parameter(STARTS[0].copy()), Parameter(STARTS[1].copy())
    opt = optim.Adagrad([{"params": [p]}, {"params": [q], "initial_accumulator_value": 2.0}],
                        lr=0.1)
    t = torch.tensor(STARTS[1].copy(), requires_grad=True)
    ref = torch.optim.Adagrad([t], lr=0.1, initial_accumulator_value=2.0)
    for _ in range(5):
        g = quadratic_grad(1, q.data)
        p.grad = Parameter(quadratic_grad(0, p.data), requires_grad=False)
        q.grad, t.grad = Parameter(g, requires_grad=False), torch.tensor(g)
        opt.step()
        ref.step()
    np.testing.assert_allclose(q.data, t.detach().numpy(), rtol=0, atol=1e-12)
    np.testing.assert_array_equal(opt.state[p]["sum"] >= 0, True)
    assert opt.state[q]["sum"].min() > 2.0


# --- schedulers ---------------------------------------------------------------------------------

def sgd_pair(optimizer: str = "SGD", **options: Any) -> tuple[Any, Any]:
    """Our and torch's optimizer on two groups (lr 0.1 and 0.03), for the schedulers."""
    extra = {"momentum": 0.9} if optimizer in ("SGD", "RMSprop") else {}
    ours = getattr(optim, optimizer)(
        [{"params": [Parameter(np.ones(2))], "lr": 0.1, **extra},
         {"params": [Parameter(np.ones(2))], "lr": 0.03, **extra}], **options)
    theirs = getattr(torch.optim, optimizer)(
        [{"params": [torch.ones(2, requires_grad=True)], "lr": 0.1, **extra},
         {"params": [torch.ones(2, requires_grad=True)], "lr": 0.03, **extra}], **options)
    return ours, theirs


def momentum_of(group: dict) -> float:
    return group["betas"][0] if "betas" in group else group.get("momentum", 0.0)


# The loss ReduceLROnPlateau watches: falling, then flat with noise, then falling again.
METRIC = [1.0 / (1 + k) if k < 12 else 0.08 + 0.001 * np.sin(k) - 0.002 * (k > 35)
          for k in range(STEPS)]

SCHEDULER_CASES: dict[str, Callable[[Any, Any], Any]] = {
    "StepLR": lambda M, o: M.StepLR(o, step_size=7, gamma=0.5),
    "MultiStepLR": lambda M, o: M.MultiStepLR(o, milestones=[25, 3, 10, 10], gamma=0.3),
    "ExponentialLR": lambda M, o: M.ExponentialLR(o, gamma=0.93),
    "LambdaLR": lambda M, o: M.LambdaLR(o, [lambda e: 1 / (1 + e), lambda e: 0.9 ** e]),
    "LinearLR": lambda M, o: M.LinearLR(o, start_factor=0.2, end_factor=0.9, total_iters=10),
    "LinearLR-decay": lambda M, o: M.LinearLR(o, start_factor=1.0, end_factor=0.0,
                                              total_iters=30),
    "CosineAnnealingLR": lambda M, o: M.CosineAnnealingLR(o, T_max=12, eta_min=0.001),
    "OneCycleLR-cos": lambda M, o: M.OneCycleLR(o, max_lr=[1.0, 0.5], total_steps=STEPS),
    "OneCycleLR-linear-3": lambda M, o: M.OneCycleLR(
        o, max_lr=1.0, epochs=5, steps_per_epoch=10, pct_start=0.25, anneal_strategy="linear",
        three_phase=True, base_momentum=[0.8, 0.7], max_momentum=0.9, div_factor=10.0,
        final_div_factor=100.0),
    "OneCycleLR-3-cos": lambda M, o: M.OneCycleLR(o, max_lr=0.4, total_steps=STEPS,
                                                  three_phase=True),
    "OneCycleLR-no-momentum": lambda M, o: M.OneCycleLR(o, max_lr=0.4, total_steps=STEPS,
                                                        cycle_momentum=False, pct_start=0.5),
    "SequentialLR": lambda M, o: M.SequentialLR(
        o, [M.LinearLR(o, start_factor=0.1, total_iters=5), M.ExponentialLR(o, gamma=0.9),
            M.CosineAnnealingLR(o, T_max=8)], milestones=[5, 20]),
    "SequentialLR-step": lambda M, o: M.SequentialLR(
        o, [M.ExponentialLR(o, gamma=0.8), M.StepLR(o, step_size=4, gamma=0.5)],
        milestones=[9]),
    "ReduceLROnPlateau": lambda M, o: M.ReduceLROnPlateau(
        o, patience=2, cooldown=1, factor=0.5, min_lr=[0.01, 0.0], threshold=0.01),
    "ReduceLROnPlateau-max-abs": lambda M, o: M.ReduceLROnPlateau(
        o, mode="max", patience=1, threshold_mode="abs", threshold=0.0, eps=1e-3),
}


def run_schedule(make: Callable[[Any, Any], Any], module: Any, opt: Any,
                 steps: int = STEPS) -> np.ndarray:
    """Each step's lr, momentum (or beta1) and get_last_lr() of both groups."""
    sched = make(module, opt)
    rows = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch's "call optimizer.step() first" advice
        for k in range(steps):
            rows.append([g["lr"] for g in opt.param_groups]
                        + [momentum_of(g) for g in opt.param_groups]
                        + [float(v) for v in sched.get_last_lr()])
            opt.step()
            step(sched, k)
    return np.array(rows)


def step(sched: Any, k: int) -> None:
    """Step epoch k: with the metric for ReduceLROnPlateau."""
    if "Plateau" in type(sched).__name__:
        sched.step(METRIC[k])
    else:
        sched.step()


# Only OneCycleLR reads the optimizer's kind (momentum, or betas): it runs on three of them.
@pytest.mark.parametrize(("case", "optimizer"),
                         [(c, "SGD") for c in sorted(SCHEDULER_CASES)]
                         + [(c, o) for c in sorted(SCHEDULER_CASES) if c.startswith("OneCycleLR")
                            for o in ("Adam", "RMSprop")])
def test_scheduler_follows_torch(case: str, optimizer: str) -> None:
    ours_opt, theirs_opt = sgd_pair(optimizer)
    ours = run_schedule(SCHEDULER_CASES[case], lr_scheduler, ours_opt)
    theirs = run_schedule(SCHEDULER_CASES[case], torch.optim.lr_scheduler, theirs_opt)
    np.testing.assert_array_equal(ours, theirs)
    assert len(np.unique(ours[:, 0])) > 2, "the rate hardly changed: the test shows nothing"


@pytest.mark.parametrize("case", sorted(SCHEDULER_CASES))
def test_scheduler_state_dict_matches_torch_and_resumes(case: str) -> None:
    """The state dicts agree with torch's on their common entries; a scheduler rebuilt from
    the state dicts (of it and its optimizer) after 20 steps continues as the original."""
    make = SCHEDULER_CASES[case]
    ours_opt, theirs_opt = sgd_pair()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ours, theirs = make(lr_scheduler, ours_opt), make(torch.optim.lr_scheduler, theirs_opt)
        for k in range(20):
            for s in (ours, theirs):
                step(s, k)
    mine, other = ours.state_dict(), theirs.state_dict()
    shared = {"last_epoch", "base_lrs", "_last_lr", "_step_count", "best", "num_bad_epochs",
              "cooldown_counter", "total_steps"} & set(mine) & set(other)
    assert "last_epoch" in shared
    for key in shared:
        assert mine[key] == other[key], key
    saved_opt = ours_opt.state_dict()
    fresh_opt, _ = sgd_pair()
    fresh = make(lr_scheduler, fresh_opt)
    fresh_opt.load_state_dict(saved_opt)
    fresh.load_state_dict(mine)
    for k in range(20, STEPS):
        for s in (ours, fresh):
            step(s, k)
        assert fresh.get_last_lr() == ours.get_last_lr(), f"step {k}"
        assert [momentum_of(g) for g in fresh_opt.param_groups] == \
            [momentum_of(g) for g in ours_opt.param_groups]


@pytest.mark.parametrize("pair", [
    lambda M, o: (M.ExponentialLR(o, gamma=0.9), M.MultiStepLR(o, milestones=[3, 6], gamma=0.1)),
    # MultiStepLR with a milestone at 0 lowers lr before LinearLR starts from it.
    lambda M, o: (M.MultiStepLR(o, milestones=[0, 4], gamma=0.5),
                  M.LinearLR(o, start_factor=0.5, total_iters=6)),
    lambda M, o: (M.StepLR(o, step_size=3, gamma=0.5), M.CosineAnnealingLR(o, T_max=4)),
], ids=["exponential-multistep", "multistep-linear", "step-cosine"])
def test_two_schedulers_on_one_optimizer_compose_as_in_torch(pair: Callable) -> None:
    """The chainable forms: two schedulers stepping one optimizer each apply their change to
    the rate the other left (closed forms would let the last one win)."""
    rows = []
    for module, opt in zip((lr_scheduler, torch.optim.lr_scheduler), sgd_pair()):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            a, b = pair(module, opt)
            lrs = [opt.param_groups[0]["lr"]]
            for _ in range(12):
                opt.step()
                a.step()
                b.step()
                lrs.append(opt.param_groups[0]["lr"])
        rows.append(lrs)
    assert rows[0] == rows[1]
    assert len(set(rows[0])) > 4


def test_one_cycle_drives_training_as_in_torch() -> None:
    """OneCycleLR changing lr and momentum of SGD with Nesterov momentum every step."""
    train_both("SGD", {"lr": 0.01, "momentum": 0.9, "nesterov": True}, [{}, {}],
               schedule=lambda M, o: M.OneCycleLR(o, max_lr=[0.1, 0.05], total_steps=STEPS))
    train_both("Adam", {"lr": 0.01}, [{}, {"amsgrad": True}],
               schedule=lambda M, o: M.OneCycleLR(o, max_lr=0.1, total_steps=STEPS,
                                                  anneal_strategy="linear"))
