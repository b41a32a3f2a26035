"""RMSprop: steps scaled by a running root mean square of the gradient (Hinton's lecture 6e)."""
from __future__ import annotations

from typing import Any

import numpy as np

from optim.functional import rmsprop_update
from optim.optimizer import Optimizer


class RMSprop(Optimizer):
    """PyTorch's RMSprop (the rule is ``optim.functional.rmsprop_update``): with
    g = grad + weight_decay * p (-grad with maximize),

        square_avg = alpha * square_avg + (1 - alpha) * g * g
        grad_avg = grad_avg + (1 - alpha) * (g - grad_avg)                        (centered)
        avg = sqrt(square_avg - grad_avg ** 2) + eps if centered, else sqrt(square_avg) + eps
        buf = momentum * buf + g / avg;  p = p - lr * buf                    (momentum > 0)
        p = p - lr * g / avg                                                 (momentum == 0)

    State per parameter: ``step``, ``square_avg``, ``momentum_buffer`` (momentum > 0),
    ``grad_avg`` (centered), all arrays starting at zero.

    >>> from nn import Parameter
    >>> w = Parameter(np.array([1.0, -2.0]))
    >>> opt = RMSprop([w], lr=0.01, alpha=0.75)
    >>> w.grad = Parameter(np.array([0.2, -0.4]), requires_grad=False)
    >>> opt.step()  # square_avg = 0.25 * g * g, so each coordinate moves by lr / 0.5
    >>> w.data.round(9)
    array([ 0.98, -1.98])
    """

    def __init__(self, params: Any, lr: float = 1e-2, alpha: float = 0.99, eps: float = 1e-8,
                 weight_decay: float = 0.0, momentum: float = 0.0, centered: bool = False, *,
                 maximize: bool = False) -> None:
        super().__init__(params, {"lr": lr, "alpha": alpha, "eps": eps,
                                  "weight_decay": weight_decay, "momentum": momentum,
                                  "centered": centered, "maximize": maximize})

    def _check_group(self, group: dict) -> None:
        super()._check_group(group)
        self._check_option(group, "alpha", lambda v: 0 <= v <= 1,
                           "a number in [0, 1], the decay of the running average (0.99 is usual)")
        self._check_option(group, "eps", lambda v: v >= 0, "a number >= 0")
        self._check_option(group, "weight_decay", lambda v: v >= 0, "a number >= 0")
        self._check_option(group, "momentum", lambda v: v >= 0, "a number >= 0")

    def _update(self, param: np.ndarray, grad: np.ndarray, state: dict, group: dict) -> None:
        if "square_avg" not in state:
            state["step"] = 0
            state["square_avg"] = np.zeros_like(param)
        if group["momentum"] > 0 and "momentum_buffer" not in state:
            state["momentum_buffer"] = np.zeros_like(param)
        if group["centered"] and "grad_avg" not in state:
            state["grad_avg"] = np.zeros_like(param)
        state["step"] += 1
        rmsprop_update(param, grad, state["square_avg"], state.get("grad_avg"),
                       state.get("momentum_buffer"), lr=group["lr"], alpha=group["alpha"],
                       eps=group["eps"], weight_decay=group["weight_decay"],
                       momentum=group["momentum"], centered=group["centered"],
                       maximize=group["maximize"], scratch=self._scratch(state, param))
