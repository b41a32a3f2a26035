"""Stochastic gradient descent with momentum, dampening, Nesterov momentum and weight decay."""
from __future__ import annotations

from typing import Any

import numpy as np

from optim.optimizer import Optimizer
from reverse import Tensor


class SGD(Optimizer):
    """PyTorch's SGD: with g = grad + weight_decay * p,

        buf = g (first step), else buf = momentum * buf + (1 - dampening) * g
        g = g + momentum * buf if nesterov, else buf   (when momentum != 0)
        p = p - lr * g
    """

    def __init__(self, params: Any, lr: float = 1e-3, momentum: float = 0.0,
                 dampening: float = 0.0, nesterov: bool = False, weight_decay: float = 0.0) -> None:
        if momentum < 0 or weight_decay < 0:
            raise ValueError(f"SGD: momentum ({momentum}) and weight_decay ({weight_decay}) must "
                             f"be >= 0")
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("SGD: Nesterov momentum needs momentum > 0 and dampening = 0")
        super().__init__(params, {"lr": lr, "momentum": momentum, "dampening": dampening,
                                  "nesterov": nesterov, "weight_decay": weight_decay})

    def _update(self, p: Tensor, grad: np.ndarray, state: dict, group: dict) -> None:
        momentum, wd = group["momentum"], group["weight_decay"]
        scratch = self._scratch(state, p.data)
        g = grad
        if wd:
            np.multiply(p.data, wd, out=scratch)
            scratch += grad
            g = scratch
        if momentum:
            buf = state.get("momentum_buffer")
            if buf is None:
                buf = state["momentum_buffer"] = np.array(g, copy=True)
            else:
                buf *= momentum
                if group["dampening"]:
                    buf += (1.0 - group["dampening"]) * g
                else:
                    buf += g
            if group["nesterov"]:
                extra = self._scratch(state, p.data, 1)
                np.multiply(buf, momentum, out=extra)
                if g is not scratch:
                    np.copyto(scratch, g)
                    g = scratch
                g += extra
            else:
                g = buf
        np.multiply(g, group["lr"], out=scratch)
        p.sub_(scratch)
