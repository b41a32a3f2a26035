"""Adagrad: steps scaled by the root of the sum of all squared gradients so far (Duchi et al.)."""
from __future__ import annotations

from typing import Any

import numpy as np

from optim.functional import adagrad_update
from optim.optimizer import Optimizer


class Adagrad(Optimizer):
    """PyTorch's Adagrad (the rule is ``optim.functional.adagrad_update``): at step t, with
    g = grad + weight_decay * p (-grad with maximize),

        sum = sum + g * g                          (sum starts at initial_accumulator_value)
        p = p - lr / (1 + (t - 1) * lr_decay) * g / (sqrt(sum) + eps)

    State per parameter: ``step``, ``sum``. PyTorch creates the state of every parameter in the
    constructor; here it is created at a parameter's first update (the same values), so a frozen
    parameter has none.

    >>> from nn import Parameter
    >>> w = Parameter(np.array([1.0, -2.0]))
    >>> opt = Adagrad([w], lr=0.1)
    >>> w.grad = Parameter(np.array([0.2, -0.4]), requires_grad=False)
    >>> opt.step()  # sum = g * g, so each coordinate moves by lr
    >>> w.data.round(9)
    array([ 0.9, -1.9])
    """

    def __init__(self, params: Any, lr: float = 1e-2, lr_decay: float = 0.0,
                 weight_decay: float = 0.0, initial_accumulator_value: float = 0.0,
                 eps: float = 1e-10, *, maximize: bool = False) -> None:
        super().__init__(params, {"lr": lr, "lr_decay": lr_decay, "weight_decay": weight_decay,
                                  "initial_accumulator_value": initial_accumulator_value,
                                  "eps": eps, "maximize": maximize})

    def _check_group(self, group: dict) -> None:
        super()._check_group(group)
        self._check_option(group, "lr_decay", lambda v: v >= 0, "a number >= 0")
        self._check_option(group, "weight_decay", lambda v: v >= 0, "a number >= 0")
        self._check_option(group, "initial_accumulator_value", lambda v: v >= 0,
                           "a number >= 0")
        self._check_option(group, "eps", lambda v: v >= 0, "a number >= 0")

    def _update(self, param: np.ndarray, grad: np.ndarray, state: dict, group: dict) -> None:
        if "sum" not in state:
            state["step"] = 0
            state["sum"] = np.full_like(param, group["initial_accumulator_value"])
        state["step"] += 1
        adagrad_update(param, grad, state["sum"], step=state["step"], lr=group["lr"],
                       lr_decay=group["lr_decay"], weight_decay=group["weight_decay"],
                       eps=group["eps"], maximize=group["maximize"],
                       scratch=self._scratch(state, param))
