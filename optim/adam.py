"""Adam and AdamW (decoupled weight decay), with the AMSGrad variant."""
from __future__ import annotations

from typing import Any

import numpy as np

from optim.functional import adam_update
from optim.optimizer import Optimizer, _is_number


class Adam(Optimizer):
    """PyTorch's Adam (the rule is ``optim.functional.adam_update``): at step t, with
    g = grad (+ weight_decay * p unless decoupled_weight_decay; -grad with maximize),

        m = m + (1 - beta1) * (g - m)          v = beta2 * v + (1 - beta2) * g * g
        denom = sqrt(v) / sqrt(1 - beta2 ** t) + eps        (v = max of all v so far, amsgrad)
        p = p - lr / (1 - beta1 ** t) * m / denom

    With ``decoupled_weight_decay`` (AdamW), p = p * (1 - lr * weight_decay) first instead.
    State per parameter: ``step``, ``exp_avg`` (m), ``exp_avg_sq`` (v), ``max_exp_avg_sq``
    (amsgrad).

    >>> from nn import Parameter
    >>> w = Parameter(np.array([1.0, -2.0]))
    >>> opt = Adam([w], lr=0.1)
    >>> w.grad = Parameter(np.array([0.2, -0.4]), requires_grad=False)
    >>> opt.step()  # the first step moves each coordinate by about lr, against its gradient
    >>> w.data.round(6)
    array([ 0.9, -1.9])
    """

    def __init__(self, params: Any, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0.0, amsgrad: bool = False, *,
                 maximize: bool = False, decoupled_weight_decay: bool = False) -> None:
        super().__init__(params, {"lr": lr, "betas": betas, "eps": eps,
                                  "weight_decay": weight_decay, "amsgrad": amsgrad,
                                  "maximize": maximize,
                                  "decoupled_weight_decay": decoupled_weight_decay})

    def _check_group(self, group: dict) -> None:
        super()._check_group(group)
        name, betas = type(self).__name__, group["betas"]
        if (not isinstance(betas, (tuple, list)) or len(betas) != 2
                or not all(_is_number(b) and 0.0 <= b < 1.0 for b in betas)):
            raise ValueError(f"{name}: invalid betas={betas!r}; it must be a pair (beta1, beta2) "
                             f"of numbers in [0, 1), such as (0.9, 0.999)")
        group["betas"] = tuple(betas)
        self._check_option(group, "eps", lambda v: v >= 0, "a number >= 0")
        self._check_option(group, "weight_decay", lambda v: v >= 0, "a number >= 0")

    def _update(self, param: np.ndarray, grad: np.ndarray, state: dict, group: dict) -> None:
        if "exp_avg" not in state:
            state["step"] = 0
            state["exp_avg"] = np.zeros_like(param)
            state["exp_avg_sq"] = np.zeros_like(param)
        if group["amsgrad"] and "max_exp_avg_sq" not in state:
            state["max_exp_avg_sq"] = np.zeros_like(param)
        state["step"] += 1
        beta1, beta2 = group["betas"]
        adam_update(param, grad, state["exp_avg"], state["exp_avg_sq"],
                    state.get("max_exp_avg_sq"), step=state["step"], lr=group["lr"], beta1=beta1,
                    beta2=beta2, eps=group["eps"], weight_decay=group["weight_decay"],
                    amsgrad=group["amsgrad"],
                    decoupled_weight_decay=group["decoupled_weight_decay"],
                    maximize=group["maximize"], scratch=self._scratch(state, param))


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov and Hutter): p = p * (1 - lr * weight_decay)
    before the Adam step, instead of adding weight_decay * p to the gradient. Default
    weight_decay=0.01, as PyTorch."""

    def __init__(self, params: Any, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0.01, amsgrad: bool = False, *,
                 maximize: bool = False) -> None:
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, maximize=maximize,
                         decoupled_weight_decay=True)
