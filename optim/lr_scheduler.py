"""Learning-rate schedules, as PyTorch's: call ``scheduler.step()`` once per epoch (or per batch
for OneCycleLR), after ``optimizer.step()``.

Each scheduler computes the new rates as PyTorch does, so that the floats agree: most in the
*chainable* form, from the rates the groups hold now (``get_lr``: StepLR multiplies the current
``lr`` by gamma at each step_size-th epoch), so that two schedulers stepping one optimizer compose;
a few from the epoch alone (LambdaLR, OneCycleLR). The chainable ones also have the closed form
(``_get_closed_form_lr``), which SequentialLR uses when it hands over at a milestone.
ReduceLROnPlateau follows a metric instead of the epoch: ``scheduler.step(val_loss)``.

Every scheduler has ``get_last_lr()`` and ``state_dict()`` / ``load_state_dict()``. When resuming,
load the optimizer's state dict too: the chainable forms start from the groups' ``lr``.

>>> from nn import Parameter
>>> from optim import SGD
>>> opt = SGD([Parameter([1.0])], lr=1.0)
>>> sched = MultiStepLR(opt, milestones=[2, 4], gamma=0.5)
>>> lrs = []
>>> for epoch in range(6):
...     lrs.append(sched.get_last_lr()[0])  # optimizer.step() for the epoch goes here
...     sched.step()
>>> lrs
[1.0, 1.0, 0.5, 0.5, 0.25, 0.25]
"""
from __future__ import annotations

import copy
import math
import numbers
import types
from bisect import bisect_right
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Literal, SupportsFloat

from optim.optimizer import Optimizer, _is_number


def _check_optimizer(name: str, optimizer: Any) -> None:
    if not isinstance(optimizer, Optimizer):
        raise TypeError(f"{name}: expected an Optimizer, got {type(optimizer).__name__}; pass the "
                        f"optimizer whose learning rate it schedules, such as "
                        f"{name}(optim.SGD(model.parameters(), lr=0.1), ...)")


def _is_int(value: Any) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _check(name: str, key: str, value: Any, ok: bool, want: str) -> None:
    """Refuse ``key=value`` of scheduler ``name`` unless ``ok``; ``want`` says what it must be."""
    if not ok:
        raise ValueError(f"{name}: invalid {key}={value!r}; it must be {want}")


def _per_group(name: str, key: str, value: Any, optimizer: Optimizer) -> list:
    """One value per parameter group: ``value`` itself if it is a list or tuple of the right
    length, else ``value`` repeated."""
    n = len(optimizer.param_groups)
    if isinstance(value, (list, tuple)):
        if len(value) != n:
            raise ValueError(f"{name}: {key} has {len(value)} values and the optimizer {n} "
                             f"parameter group(s); give one value per group, or one for all")
        return list(value)
    return [value] * n


class _Scheduled:
    """What every scheduler (ReduceLROnPlateau included) answers: the last rates, and its state
    (everything but the optimizer: the step count or the counters, the base rates, the options)."""

    _last_lr: list[float]

    def get_last_lr(self) -> list[float]:
        """The learning rates set by the last ``step()``, one per parameter group."""
        return list(self._last_lr)

    def state_dict(self) -> dict:
        """Everything but the optimizer."""
        return copy.deepcopy({k: v for k, v in self.__dict__.items() if k != "optimizer"})

    def load_state_dict(self, state_dict: dict) -> None:
        """Restore what ``state_dict`` returned."""
        self.__dict__.update(copy.deepcopy(state_dict))


class LRScheduler(_Scheduled):
    """Sets each group's ``lr`` at every ``step()``, from ``last_epoch`` (the number of ``step()``
    calls, 0 after construction) and ``base_lrs`` (each group's ``initial_lr``, its ``lr`` when
    the first scheduler was made). Construction performs the first step (epoch 0).

    ``last_epoch`` other than -1 resumes a schedule: the groups must then hold ``initial_lr``.
    """

    _is_initial: bool = False

    def __init__(self, optimizer: Optimizer, last_epoch: int = -1) -> None:
        name = type(self).__name__
        _check_optimizer(name, optimizer)
        _check(name, "last_epoch", last_epoch, _is_int(last_epoch) and last_epoch >= -1,
               "an integer >= -1 (-1 starts the schedule)")
        self.optimizer = optimizer
        for i, group in enumerate(optimizer.param_groups):
            if last_epoch == -1:
                group.setdefault("initial_lr", group["lr"])
            elif "initial_lr" not in group:
                raise KeyError(f"{name}: resuming at last_epoch={last_epoch} needs "
                               f"'initial_lr' in every parameter group, and group {i} has none; "
                               f"load the optimizer's state dict first, or pass last_epoch=-1")
        self.base_lrs: list[float] = [group["initial_lr"] for group in optimizer.param_groups]
        self.last_epoch = last_epoch
        self._initial_step()

    def _initial_step(self) -> None:
        """The step made by the constructor (and by SequentialLR for its first scheduler)."""
        self._step_count = 0
        self._is_initial = True
        try:
            self.step()
        finally:
            self._is_initial = False

    def get_lr(self) -> list[float]:
        """The rates for epoch ``last_epoch`` (already advanced), computed as PyTorch does; read
        by ``step()``. The rates set last are ``get_last_lr()``."""
        raise NotImplementedError(f"{type(self).__name__} does not define get_lr")

    def _get_closed_form_lr(self) -> list[float]:
        """The rates of epoch ``last_epoch`` from the base rates alone (``get_lr`` unless the
        schedule has a separate closed form)."""
        return self.get_lr()

    def _current_lrs(self) -> list[float]:
        return [group["lr"] for group in self.optimizer.param_groups]

    def step(self) -> None:
        """Advance one epoch and set the new learning rates."""
        self._step_count += 1
        self._update_lr(None)

    def _update_lr(self, epoch: int | None) -> None:
        """Set the rates of the next epoch (chainable form), or of ``epoch`` (closed form)."""
        if epoch is None:
            self.last_epoch += 1
            values = self.get_lr()
        else:
            self.last_epoch = epoch
            values = self._get_closed_form_lr()
        for group, lr in zip(self.optimizer.param_groups, values):
            group["lr"] = lr
        self._last_lr = self._current_lrs()



class LambdaLR(LRScheduler):
    """lr = initial_lr * lr_lambda(epoch), with one function for all groups or one per group.

    ``state_dict`` saves the attributes of callable objects, not plain functions or lambdas (as
    PyTorch): pass the same functions when recreating the scheduler.
    """

    def __init__(self, optimizer: Optimizer,
                 lr_lambda: Callable[[int], float] | Sequence[Callable[[int], float]],
                 last_epoch: int = -1) -> None:
        _check_optimizer("LambdaLR", optimizer)
        fns = _per_group("LambdaLR", "lr_lambda", lr_lambda, optimizer)
        for i, fn in enumerate(fns):
            if not callable(fn):
                raise TypeError(f"LambdaLR: lr_lambda {i} is a {type(fn).__name__}, not a "
                                f"function; pass a function of the epoch giving the factor, such "
                                f"as lambda epoch: 0.95 ** epoch")
        self.lr_lambdas: list[Callable[[int], float]] = fns
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        return [base * fn(self.last_epoch) for fn, base in zip(self.lr_lambdas, self.base_lrs)]

    def state_dict(self) -> dict:
        state = copy.deepcopy({k: v for k, v in self.__dict__.items()
                               if k not in ("optimizer", "lr_lambdas")})
        state["lr_lambdas"] = [None if isinstance(fn, types.FunctionType) else
                               copy.deepcopy(fn.__dict__) for fn in self.lr_lambdas]
        return state

    def load_state_dict(self, state_dict: dict) -> None:
        state = copy.deepcopy(state_dict)
        saved = state.pop("lr_lambdas", [None] * len(self.lr_lambdas))
        self.__dict__.update(state)
        for fn, attributes in zip(self.lr_lambdas, saved):
            if attributes is not None:
                fn.__dict__.update(attributes)


class StepLR(LRScheduler):
    """lr = lr * gamma at every step_size-th epoch: lr = initial_lr * gamma ** (epoch // step_size)
    when nothing else changes it."""

    def __init__(self, optimizer: Optimizer, step_size: int, gamma: float = 0.1,
                 last_epoch: int = -1) -> None:
        _check("StepLR", "step_size", step_size, _is_int(step_size) and step_size >= 1,
               "an integer >= 1 (epochs between decays)")
        _check("StepLR", "gamma", gamma, _is_number(gamma) and gamma > 0, "a number > 0")
        self.step_size, self.gamma = step_size, gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        if self.last_epoch == 0 or self.last_epoch % self.step_size != 0:
            return self._current_lrs()
        return [lr * self.gamma for lr in self._current_lrs()]

    def _get_closed_form_lr(self) -> list[float]:
        return [base * self.gamma ** (self.last_epoch // self.step_size) for base in self.base_lrs]


class MultiStepLR(LRScheduler):
    """lr = lr * gamma at each milestone epoch (gamma ** k at a milestone listed k times):
    lr = initial_lr * gamma ** (number of milestones <= epoch) when nothing else changes it."""

    def __init__(self, optimizer: Optimizer, milestones: Iterable[int], gamma: float = 0.1,
                 last_epoch: int = -1) -> None:
        milestones = list(milestones)
        _check("MultiStepLR", "milestones", milestones,
               all(_is_int(m) and m >= 0 for m in milestones),
               "a list of epochs (integers >= 0) at which the rate is multiplied by gamma")
        _check("MultiStepLR", "gamma", gamma, _is_number(gamma) and gamma > 0, "a number > 0")
        self.milestones = Counter(milestones)
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        if self.last_epoch not in self.milestones:
            return self._current_lrs()
        factor = self.gamma ** self.milestones[self.last_epoch]
        return [lr * factor for lr in self._current_lrs()]

    def _get_closed_form_lr(self) -> list[float]:
        milestones = sorted(self.milestones.elements())
        return [base * self.gamma ** bisect_right(milestones, self.last_epoch)
                for base in self.base_lrs]


class LinearLR(LRScheduler):
    """The factor of initial_lr goes linearly from start_factor (epoch 0) to end_factor (epoch
    total_iters), then stays: closed form

        lr = initial_lr * (start + (end - start) * min(epoch, total_iters) / total_iters)

    computed in the chainable form, each step multiplying lr by the ratio of successive factors.
    """

    def __init__(self, optimizer: Optimizer, start_factor: float = 1.0 / 3,
                 end_factor: float = 1.0, total_iters: int = 5, last_epoch: int = -1) -> None:
        _check("LinearLR", "start_factor", start_factor,
               _is_number(start_factor) and 0 < start_factor <= 1, "a number in (0, 1]")
        _check("LinearLR", "end_factor", end_factor,
               _is_number(end_factor) and 0 <= end_factor <= 1, "a number in [0, 1]")
        _check("LinearLR", "total_iters", total_iters, _is_int(total_iters) and total_iters >= 1,
               "an integer >= 1 (the epochs the change takes)")
        self.start_factor, self.end_factor = start_factor, end_factor
        self.total_iters = total_iters
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        start, end = self.start_factor, self.end_factor
        if self.last_epoch == 0:
            return [lr * start for lr in self._current_lrs()]
        if self._is_initial or self.last_epoch > self.total_iters:
            return self._current_lrs()
        ratio = 1.0 + (end - start) / (self.total_iters * start
                                       + (self.last_epoch - 1) * (end - start))
        return [lr * ratio for lr in self._current_lrs()]

    def _get_closed_form_lr(self) -> list[float]:
        start, end = self.start_factor, self.end_factor
        return [base * (start + (end - start) * min(self.total_iters, self.last_epoch)
                        / self.total_iters) for base in self.base_lrs]


class ExponentialLR(LRScheduler):
    """lr = lr * gamma every epoch: lr = initial_lr * gamma ** epoch when nothing else changes
    it."""

    def __init__(self, optimizer: Optimizer, gamma: float, last_epoch: int = -1) -> None:
        _check("ExponentialLR", "gamma", gamma, _is_number(gamma) and gamma > 0,
               "a number > 0 (the factor per epoch, such as 0.95)")
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        if self._is_initial:
            return self._current_lrs()
        return [lr * self.gamma for lr in self._current_lrs()]

    def _get_closed_form_lr(self) -> list[float]:
        return [base * self.gamma ** self.last_epoch for base in self.base_lrs]


class CosineAnnealingLR(LRScheduler):
    """lr = eta_min + (initial_lr - eta_min) * (1 + cos(pi * epoch / T_max)) / 2 (closed form),
    computed in PyTorch's chainable form: each step scales lr - eta_min by the ratio of successive
    cosine factors, and past T_max the rate rises again along the same cosine."""

    def __init__(self, optimizer: Optimizer, T_max: int, eta_min: float = 0.0,
                 last_epoch: int = -1) -> None:
        _check("CosineAnnealingLR", "T_max", T_max, _is_int(T_max) and T_max >= 1,
               "an integer >= 1 (the epochs from initial_lr down to eta_min)")
        _check("CosineAnnealingLR", "eta_min", eta_min, _is_number(eta_min) and eta_min >= 0,
               "a number >= 0")
        self.T_max, self.eta_min = T_max, eta_min
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        if self._is_initial:
            return self._current_lrs()
        epoch, T, eta_min = self.last_epoch, self.T_max, self.eta_min
        if (epoch - 1 - T) % (2 * T) == 0:
            return [lr + (base - eta_min) * (1 - math.cos(math.pi / T)) / 2
                    for lr, base in zip(self._current_lrs(), self.base_lrs)]
        ratio = (1 + math.cos(math.pi * epoch / T)) / (1 + math.cos(math.pi * (epoch - 1) / T))
        return [ratio * (lr - eta_min) + eta_min for lr in self._current_lrs()]

    def _get_closed_form_lr(self) -> list[float]:
        return [self.eta_min + (base - self.eta_min)
                * (1 + math.cos(math.pi * self.last_epoch / self.T_max)) / 2
                for base in self.base_lrs]


class OneCycleLR(LRScheduler):
    """The one-cycle policy (Smith and Topin), stepped once per batch for ``total_steps`` (or
    ``epochs * steps_per_epoch``) batches: the rate rises from initial_lr = max_lr / div_factor
    to max_lr over the first pct_start of the steps, then falls to
    min_lr = initial_lr / final_div_factor. With ``three_phase`` it falls back to initial_lr over
    as many steps as it rose, then to min_lr. Each phase anneals from its start value to its end
    value with

        cos:    end + (start - end) / 2 * (1 + cos(pi * pct))
        linear: start + (end - start) * pct

    pct being the fraction of the phase done. With ``cycle_momentum`` the momentum (SGD,
    RMSprop) or beta1 (Adam, AdamW) goes the opposite way, between max_momentum and
    base_momentum. The groups keep ``initial_lr``, ``max_lr``, ``min_lr`` (and ``max_momentum``,
    ``base_momentum``), as in PyTorch.
    """

    def __init__(self, optimizer: Optimizer, max_lr: float | Sequence[float],
                 total_steps: int | None = None, epochs: int | None = None,
                 steps_per_epoch: int | None = None, pct_start: float = 0.3,
                 anneal_strategy: Literal["cos", "linear"] = "cos", cycle_momentum: bool = True,
                 base_momentum: float | Sequence[float] = 0.85,
                 max_momentum: float | Sequence[float] = 0.95, div_factor: float = 25.0,
                 final_div_factor: float = 1e4, three_phase: bool = False,
                 last_epoch: int = -1) -> None:
        name = "OneCycleLR"
        _check_optimizer(name, optimizer)
        if total_steps is not None:
            _check(name, "total_steps", total_steps, _is_int(total_steps) and total_steps > 0,
                   "an integer > 0 (the number of scheduler.step() calls, one per batch)")
            self.total_steps = total_steps
        elif epochs is not None and steps_per_epoch is not None:
            _check(name, "epochs", epochs, _is_int(epochs) and epochs > 0, "an integer > 0")
            _check(name, "steps_per_epoch", steps_per_epoch,
                   _is_int(steps_per_epoch) and steps_per_epoch > 0,
                   "an integer > 0 (batches per epoch, len(dataloader))")
            self.total_steps = epochs * steps_per_epoch
        else:
            raise ValueError(f"{name}: the length of the cycle is unknown (total_steps="
                             f"{total_steps}, epochs={epochs}, steps_per_epoch={steps_per_epoch}); "
                             f"pass total_steps, or epochs and steps_per_epoch")
        _check(name, "pct_start", pct_start, _is_number(pct_start) and 0 <= pct_start <= 1,
               "a number in [0, 1] (the fraction of the steps spent raising the rate)")
        _check(name, "anneal_strategy", anneal_strategy, anneal_strategy in ("cos", "linear"),
               "'cos' or 'linear'")
        _check(name, "div_factor", div_factor, _is_number(div_factor) and div_factor > 0,
               "a number > 0 (initial_lr = max_lr / div_factor)")
        _check(name, "final_div_factor", final_div_factor,
               _is_number(final_div_factor) and final_div_factor > 0,
               "a number > 0 (min_lr = initial_lr / final_div_factor)")
        rise = float(pct_start * self.total_steps) - 1
        last = self.total_steps - 1
        # (end step, start value, end value, start momentum, end momentum) of each phase.
        self._phases: list[tuple[float, str, str, str, str]]
        if three_phase:
            self._phases = [
                (rise, "initial_lr", "max_lr", "max_momentum", "base_momentum"),
                (float(2 * pct_start * self.total_steps) - 2, "max_lr", "initial_lr",
                 "base_momentum", "max_momentum"),
                (last, "initial_lr", "min_lr", "max_momentum", "max_momentum")]
        else:
            self._phases = [
                (rise, "initial_lr", "max_lr", "max_momentum", "base_momentum"),
                (last, "max_lr", "min_lr", "base_momentum", "max_momentum")]
        self.anneal_strategy = anneal_strategy
        max_lrs = _per_group(name, "max_lr", max_lr, optimizer)
        for lr in max_lrs:
            _check(name, "max_lr", lr, _is_number(lr) and lr >= 0, "a number >= 0")
        if last_epoch == -1:
            for lr, group in zip(max_lrs, optimizer.param_groups):
                group["initial_lr"] = lr / div_factor
                group["max_lr"] = lr
                group["min_lr"] = group["initial_lr"] / final_div_factor
        self.cycle_momentum = cycle_momentum
        if cycle_momentum:
            if "momentum" not in optimizer.defaults and "betas" not in optimizer.defaults:
                raise ValueError(f"{name}: cycle_momentum=True needs an optimizer with momentum "
                                 f"(SGD, RMSprop) or betas (Adam, AdamW), and "
                                 f"{type(optimizer).__name__} has neither; pass "
                                 f"cycle_momentum=False")
            self.use_beta1 = "betas" in optimizer.defaults
            maxes = _per_group(name, "max_momentum", max_momentum, optimizer)
            bases = _per_group(name, "base_momentum", base_momentum, optimizer)
            if last_epoch == -1:
                for high, low, group in zip(maxes, bases, optimizer.param_groups):
                    if self.use_beta1:
                        group["betas"] = (high, *group["betas"][1:])
                    else:
                        group["momentum"] = high
                    group["max_momentum"] = high
                    group["base_momentum"] = low
        super().__init__(optimizer, last_epoch)

    def _anneal(self, start: float, end: float, pct: float) -> float:
        if self.anneal_strategy == "cos":
            return end + (start - end) / 2.0 * (math.cos(math.pi * pct) + 1)
        return (end - start) * pct + start

    def get_lr(self) -> list[float]:
        step = self.last_epoch
        if step > self.total_steps:
            raise ValueError(f"OneCycleLR: step() called {step} times, past total_steps="
                             f"{self.total_steps}; make the cycle as long as the training "
                             f"(total_steps, or epochs and steps_per_epoch = len(dataloader)) and "
                             f"call step() once per batch")
        # The phase the step is in (the last one past its end), and the step it started at.
        start_step = 0.0
        for i, phase in enumerate(self._phases):
            if step <= phase[0] or i == len(self._phases) - 1:
                break
            start_step = phase[0]
        end_step, lr0, lr1, m0, m1 = phase
        pct = (step - start_step) / (end_step - start_step)
        lrs = []
        for group in self.optimizer.param_groups:
            lrs.append(self._anneal(group[lr0], group[lr1], pct))
            if self.cycle_momentum:
                momentum = self._anneal(group[m0], group[m1], pct)
                if self.use_beta1:
                    group["betas"] = (momentum, *group["betas"][1:])
                else:
                    group["momentum"] = momentum
        return lrs


class SequentialLR(LRScheduler):
    """Runs ``schedulers[0]`` until epoch ``milestones[0]``, then ``schedulers[1]`` (starting
    from its epoch 0, in its closed form) until ``milestones[1]``, and so on: a warm-up followed
    by a decay, for example. All schedulers must step the same optimizer.
    """

    def __init__(self, optimizer: Optimizer, schedulers: Sequence[LRScheduler],
                 milestones: Sequence[int], last_epoch: int = -1) -> None:
        name = "SequentialLR"
        _check_optimizer(name, optimizer)
        schedulers = list(schedulers)
        if not schedulers:
            raise ValueError(f"{name}: got no schedulers; pass a list such as "
                             f"[LinearLR(opt, ...), CosineAnnealingLR(opt, ...)]")
        for i, s in enumerate(schedulers):
            if isinstance(s, ReduceLROnPlateau):
                raise TypeError(f"{name}: scheduler {i} is a ReduceLROnPlateau, whose step() "
                                f"needs the metric; step it yourself after the sequence ends")
            if not isinstance(s, LRScheduler):
                raise TypeError(f"{name}: scheduler {i} is a {type(s).__name__}, not a "
                                f"scheduler; pass schedulers of optim.lr_scheduler made on the "
                                f"same optimizer")
            if s.optimizer is not optimizer:
                raise ValueError(f"{name}: scheduler {i} ({type(s).__name__}) steps another "
                                 f"optimizer; make every scheduler on the one given to "
                                 f"SequentialLR")
        milestones = list(milestones)
        if len(milestones) != len(schedulers) - 1:
            raise ValueError(f"{name}: {len(schedulers)} schedulers need "
                             f"{len(schedulers) - 1} milestones (the epochs where the next "
                             f"begins), got {len(milestones)}: {milestones}")
        _check(name, "milestones", milestones,
               all(_is_int(m) for m in milestones)
               and all(a < b for a, b in zip([0, *milestones], milestones)),
               "increasing integers > 0")
        self._schedulers = schedulers
        self._milestones = milestones
        self.last_epoch = last_epoch + 1
        self.optimizer = optimizer
        # Each scheduler took its first step when it was made; start over from the base rates.
        for group in optimizer.param_groups:
            group["lr"] = group["initial_lr"]
        self._undo_step(self)
        self._schedulers[bisect_right(milestones, 0)]._initial_step()
        self._last_lr = schedulers[bisect_right(milestones, 0)].get_last_lr()

    @classmethod
    def _undo_step(cls, scheduler: LRScheduler) -> None:
        """Take back the first step of the schedulers (of nested SequentialLRs too)."""
        if isinstance(scheduler, SequentialLR):
            for s in scheduler._schedulers:
                cls._undo_step(s)
        else:
            scheduler.last_epoch -= 1

    def step(self) -> None:
        """Advance one epoch: step the scheduler of this epoch (or start the next one)."""
        self.last_epoch += 1
        i = bisect_right(self._milestones, self.last_epoch)
        scheduler = self._schedulers[i]
        if i > 0 and self._milestones[i - 1] == self.last_epoch:
            scheduler._update_lr(0)
        else:
            scheduler.step()
        self._last_lr = scheduler.get_last_lr()

    def state_dict(self) -> dict:
        state = copy.deepcopy({k: v for k, v in self.__dict__.items()
                               if k not in ("optimizer", "_schedulers")})
        state["_schedulers"] = [s.state_dict() for s in self._schedulers]
        return state

    def load_state_dict(self, state_dict: dict) -> None:
        state = copy.deepcopy(state_dict)
        saved = state.pop("_schedulers")
        self.__dict__.update(state)
        for s, entry in zip(self._schedulers, saved):
            s.load_state_dict(entry)


class ReduceLROnPlateau(_Scheduled):
    """Multiplies the rates by ``factor`` when a metric has not improved for ``patience`` epochs
    (``scheduler.step(val_loss)`` once per epoch). Improving means, with best the best value so
    far,

        mode "min": metric < best * (1 - threshold) (threshold_mode "rel"), < best - threshold
        mode "max": metric > best * (1 + threshold) (threshold_mode "rel"), > best + threshold

    After a reduction, ``cooldown`` epochs pass before bad epochs count again. A rate never goes
    below ``min_lr`` (one for all groups, or one per group), and a change smaller than ``eps`` is
    not made.
    """

    def __init__(self, optimizer: Optimizer, mode: Literal["min", "max"] = "min",
                 factor: float = 0.1, patience: int = 10, threshold: float = 1e-4,
                 threshold_mode: Literal["rel", "abs"] = "rel", cooldown: int = 0,
                 min_lr: float | Sequence[float] = 0.0, eps: float = 1e-8) -> None:
        name = "ReduceLROnPlateau"
        _check_optimizer(name, optimizer)
        _check(name, "mode", mode, mode in ("min", "max"),
               "'min' (a loss) or 'max' (an accuracy)")
        _check(name, "factor", factor, _is_number(factor) and 0 <= factor < 1,
               "a number in [0, 1), the factor applied to the rate")
        _check(name, "patience", patience, _is_int(patience) and patience >= 0,
               "an integer >= 0 (epochs without improvement before reducing)")
        _check(name, "threshold", threshold, _is_number(threshold) and threshold >= 0,
               "a number >= 0")
        _check(name, "threshold_mode", threshold_mode, threshold_mode in ("rel", "abs"),
               "'rel' or 'abs'")
        _check(name, "cooldown", cooldown, _is_int(cooldown) and cooldown >= 0,
               "an integer >= 0")
        _check(name, "eps", eps, _is_number(eps) and eps >= 0, "a number >= 0")
        self.optimizer = optimizer
        self.min_lrs = _per_group(name, "min_lr", min_lr, optimizer)
        for value in self.min_lrs:
            _check(name, "min_lr", value, _is_number(value) and value >= 0, "a number >= 0")
        self.default_min_lr = None if isinstance(min_lr, (list, tuple)) else min_lr
        self.mode, self.factor, self.patience = mode, factor, patience
        self.threshold, self.threshold_mode = threshold, threshold_mode
        self.cooldown, self.eps = cooldown, eps
        self.last_epoch = 0
        self._last_lr = [group["lr"] for group in optimizer.param_groups]
        self.best = math.inf if mode == "min" else -math.inf
        self.cooldown_counter = 0
        self.num_bad_epochs = 0

    def _is_better(self, value: float) -> bool:
        best, threshold = self.best, self.threshold
        if self.mode == "min":
            return value < (best * (1.0 - threshold) if self.threshold_mode == "rel"
                            else best - threshold)
        return value > (best * (threshold + 1.0) if self.threshold_mode == "rel"
                        else best + threshold)

    def step(self, metrics: SupportsFloat | None = None) -> None:
        """Record this epoch's metric; reduce the rates after ``patience`` bad epochs."""
        if metrics is None:
            raise TypeError("ReduceLROnPlateau.step: needs the metric it watches, such as "
                            "scheduler.step(val_loss)")
        try:
            current = float(metrics)
        except (TypeError, ValueError) as exc:
            raise TypeError(f"ReduceLROnPlateau.step: the metric must be a number (such as the "
                            f"validation loss), got {type(metrics).__name__}") from exc
        self.last_epoch += 1
        if self._is_better(current):
            self.best = current
            self.num_bad_epochs = 0
        else:
            self.num_bad_epochs += 1
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.num_bad_epochs = 0
        if self.num_bad_epochs > self.patience:
            self._reduce_lr()
            self.cooldown_counter = self.cooldown
            self.num_bad_epochs = 0
        self._last_lr = [group["lr"] for group in self.optimizer.param_groups]

    def _reduce_lr(self) -> None:
        groups = self.optimizer.param_groups
        if len(groups) != len(self.min_lrs):
            if self.default_min_lr is None:
                raise ValueError(f"ReduceLROnPlateau: the optimizer has {len(groups)} parameter "
                                 f"groups and min_lr {len(self.min_lrs)} values (a group was "
                                 f"added since); set scheduler.min_lrs to one value per group")
            self.min_lrs = [self.default_min_lr] * len(groups)
        for group, min_lr in zip(groups, self.min_lrs):
            old = float(group["lr"])
            new = max(old * self.factor, min_lr)
            if old - new > self.eps:
                group["lr"] = new

    @property
    def in_cooldown(self) -> bool:
        return self.cooldown_counter > 0

