"""Stochastic gradient descent with momentum, dampening, Nesterov momentum and weight decay."""
from __future__ import annotations

from typing import Any

import numpy as np

from optim.functional import sgd_update
from optim.optimizer import Optimizer


class SGD(Optimizer):
    """PyTorch's SGD (the rule is ``optim.functional.sgd_update``): with
    g = grad + weight_decay * p (-grad with maximize),

        buf = g (first step), else buf = momentum * buf + (1 - dampening) * g
        g = g + momentum * buf if nesterov, else buf   (when momentum != 0)
        p = p - lr * g

    State per parameter: ``momentum_buffer`` (when momentum != 0).

    >>> from nn import Parameter
    >>> w = Parameter(np.array([1.0, -2.0]))
    >>> opt = SGD([w], lr=0.5)
    >>> w.grad = Parameter(np.array([0.2, 0.4]), requires_grad=False)
    >>> opt.step()
    >>> w.data
    array([ 0.9, -2.2])
    """

    def __init__(self, params: Any, lr: float = 1e-3, momentum: float = 0.0,
                 dampening: float = 0.0, weight_decay: float = 0.0, nesterov: bool = False, *,
                 maximize: bool = False) -> None:
        super().__init__(params, {"lr": lr, "momentum": momentum, "dampening": dampening,
                                  "weight_decay": weight_decay, "nesterov": nesterov,
                                  "maximize": maximize})

    def _check_group(self, group: dict) -> None:
        super()._check_group(group)
        self._check_option(group, "momentum", lambda v: v >= 0, "a number >= 0")
        self._check_option(group, "dampening", lambda v: True, "a number")
        self._check_option(group, "weight_decay", lambda v: v >= 0, "a number >= 0")
        if group["nesterov"] and (group["momentum"] <= 0 or group["dampening"] != 0):
            raise ValueError(f"SGD: Nesterov momentum needs momentum > 0 and dampening = 0, got "
                             f"momentum={group['momentum']!r}, dampening={group['dampening']!r}; "
                             f"set them so, or nesterov=False")

    def _update(self, param: np.ndarray, grad: np.ndarray, state: dict, group: dict) -> None:
        momentum = group["momentum"]
        buf, first = None, False
        if momentum != 0:
            buf = state.get("momentum_buffer")
            if buf is None:
                buf = state["momentum_buffer"] = np.empty_like(param)
                first = True
        sgd_update(param, grad, buf, first_step=first, lr=group["lr"], momentum=momentum,
                   dampening=group["dampening"], weight_decay=group["weight_decay"],
                   nesterov=group["nesterov"], maximize=group["maximize"],
                   scratch=self._scratch(state, param))
