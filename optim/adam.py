"""Adam and AdamW (decoupled weight decay), with the AMSGrad variant."""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from optim.optimizer import Optimizer
from reverse import Tensor


class Adam(Optimizer):
    """PyTorch's Adam: at step t, with g = grad (+ weight_decay * p for Adam),

        m = m + (1 - beta1) * (g - m)          v = beta2 * v + (1 - beta2) * g * g
        denom = sqrt(v) / sqrt(1 - beta2 ** t) + eps        (v = max of all v so far, amsgrad)
        p = p - lr / (1 - beta1 ** t) * m / denom
    """

    _decoupled = False

    def __init__(self, params: Any, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0.0, amsgrad: bool = False) -> None:
        name = type(self).__name__
        if not (0.0 <= betas[0] < 1.0 and 0.0 <= betas[1] < 1.0):
            raise ValueError(f"{name}: betas must be in [0, 1), got {betas}")
        if eps < 0 or weight_decay < 0:
            raise ValueError(f"{name}: eps ({eps}) and weight_decay ({weight_decay}) must be >= 0")
        super().__init__(params, {"lr": lr, "betas": tuple(betas), "eps": eps,
                                  "weight_decay": weight_decay, "amsgrad": amsgrad})

    def _update(self, p: Tensor, grad: np.ndarray, state: dict, group: dict) -> None:
        lr, (beta1, beta2) = group["lr"], group["betas"]
        eps, wd = group["eps"], group["weight_decay"]
        if not state:
            state["step"] = 0
            state["exp_avg"] = np.zeros_like(p.data)
            state["exp_avg_sq"] = np.zeros_like(p.data)
            if group["amsgrad"]:
                state["max_exp_avg_sq"] = np.zeros_like(p.data)
        state["step"] += 1
        step = state["step"]
        m, v = state["exp_avg"], state["exp_avg_sq"]
        g = grad
        if wd and self._decoupled:
            p.mul_(1.0 - lr * wd)
        elif wd:
            g = self._scratch(state, p.data, 1)
            np.multiply(p.data, wd, out=g)
            g += grad
        tmp = self._scratch(state, p.data)
        np.subtract(g, m, out=tmp)
        tmp *= 1.0 - beta1
        m += tmp
        v *= beta2
        np.multiply(g, g, out=tmp)
        tmp *= 1.0 - beta2
        v += tmp
        if group["amsgrad"]:
            np.maximum(state["max_exp_avg_sq"], v, out=state["max_exp_avg_sq"])
            v = state["max_exp_avg_sq"]
        np.sqrt(v, out=tmp)
        tmp /= math.sqrt(1.0 - beta2 ** step)
        tmp += eps
        np.divide(m, tmp, out=tmp)
        tmp *= lr / (1.0 - beta1 ** step)
        p.sub_(tmp)


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov and Hutter): p = p * (1 - lr * weight_decay)
    before the Adam step, instead of adding weight_decay * p to the gradient. Default
    weight_decay=0.01, as PyTorch."""

    _decoupled = True

    def __init__(self, params: Any, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0.01, amsgrad: bool = False) -> None:
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad)
