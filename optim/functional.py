"""The optimizers' update rules as plain functions on numpy arrays (torch.optim's functional API).

Each rule exists here once: the stateful optimizers (``SGD``, ``Adam``, ...) keep the state arrays
and call these functions, and a compiled training step can call them directly.

Every ``*_update`` has the same shape::

    name_update(param, grad, *state_arrays, *, <options as keywords>, scratch=(s0, s1))

It changes ``param`` and the state arrays in place and allocates nothing: its temporaries are
written to ``scratch``, two arrays of the parameter's shape and dtype (``scratch_like(param)``
makes them once; their content on entry does not matter). ``grad`` is only read. Every array
passed has the parameter's shape. The options are keyword-only and have no defaults here (the
optimizer classes hold PyTorch's defaults), so a call states every option it uses.

With ``g`` the gradient the rule uses, ``g = grad + weight_decay * param``, or
``g = -grad + weight_decay * param`` with ``maximize`` (the ascent direction), as PyTorch.

>>> import numpy as np
>>> p, buf = np.array([1.0, 2.0]), np.zeros(2)
>>> for first in (True, False):
...     sgd_update(p, np.array([0.5, -1.0]), buf, first_step=first, lr=0.1, momentum=0.9,
...                dampening=0.0, weight_decay=0.0, nesterov=False, maximize=False,
...                scratch=scratch_like(p))
>>> buf, p
(array([ 0.95, -1.9 ]), array([0.855, 2.29 ]))
"""
from __future__ import annotations

import numpy as np

Scratch = tuple[np.ndarray, np.ndarray]


def scratch_like(param: np.ndarray) -> Scratch:
    """The two scratch arrays an update needs: the parameter's shape and dtype, uninitialized."""
    return np.empty_like(param), np.empty_like(param)


def _grad(param: np.ndarray, grad: np.ndarray, weight_decay: float, maximize: bool,
          out: np.ndarray) -> np.ndarray:
    """g = ±grad + weight_decay * param: ``grad`` itself when that is all (nothing is copied),
    else written to ``out``."""
    if weight_decay == 0:
        if not maximize:
            return grad
        return np.negative(grad, out=out)
    np.multiply(param, weight_decay, out=out)
    if maximize:
        out -= grad
    else:
        out += grad
    return out


def _missing(rule: str, buffer: str, option: str) -> ValueError:
    return ValueError(f"{rule}: {option} needs the state array {buffer}, got None; pass an array "
                      f"of the parameter's shape (zeros before the first step)")


def sgd_update(param: np.ndarray, grad: np.ndarray, momentum_buffer: np.ndarray | None, *,
               first_step: bool, lr: float, momentum: float, dampening: float,
               weight_decay: float, nesterov: bool, maximize: bool, scratch: Scratch) -> None:
    """SGD (PyTorch's), with momentum != 0:

        buf = g on the first step, else buf = momentum * buf + (1 - dampening) * g
        g = g + momentum * buf if nesterov, else g = buf
        param = param - lr * g

    ``momentum_buffer`` may be None when momentum == 0; ``first_step`` says that its content is
    not yet a running average (it is overwritten with g).
    """
    g_out, tmp = scratch
    g = _grad(param, grad, weight_decay, maximize, g_out)
    if momentum != 0:
        if momentum_buffer is None:
            raise _missing("sgd_update", "momentum_buffer", f"momentum={momentum}")
        buf = momentum_buffer
        if first_step:
            np.copyto(buf, g)
        else:
            buf *= momentum
            if dampening != 0:
                np.multiply(g, 1.0 - dampening, out=tmp)
                buf += tmp
            else:
                buf += g
        if nesterov:
            np.multiply(buf, momentum, out=tmp)
            tmp += g
            g = tmp
        else:
            g = buf
    np.multiply(g, lr, out=tmp)
    param -= tmp


def adam_update(param: np.ndarray, grad: np.ndarray, exp_avg: np.ndarray, exp_avg_sq: np.ndarray,
                max_exp_avg_sq: np.ndarray | None, *, step: int, lr: float, beta1: float,
                beta2: float, eps: float, weight_decay: float, amsgrad: bool,
                decoupled_weight_decay: bool, maximize: bool, scratch: Scratch) -> None:
    """Adam (PyTorch's) at step t = ``step`` (1 on the first update):

        param = param * (1 - lr * weight_decay)     (decoupled_weight_decay, AdamW; g = ±grad)
        exp_avg = exp_avg + (1 - beta1) * (g - exp_avg)
        exp_avg_sq = beta2 * exp_avg_sq + (1 - beta2) * g * g
        max_exp_avg_sq = max(max_exp_avg_sq, exp_avg_sq), and used for v         (amsgrad)
        denom = sqrt(v) / sqrt(1 - beta2 ** t) + eps                     (v = exp_avg_sq)
        param = param - lr / (1 - beta1 ** t) * exp_avg / denom

    ``max_exp_avg_sq`` may be None unless amsgrad.
    """
    g_out, tmp = scratch
    if decoupled_weight_decay:
        if weight_decay != 0:
            param *= 1.0 - lr * weight_decay
        g = _grad(param, grad, 0.0, maximize, g_out)
    else:
        g = _grad(param, grad, weight_decay, maximize, g_out)
    np.subtract(g, exp_avg, out=tmp)
    tmp *= 1.0 - beta1
    exp_avg += tmp
    exp_avg_sq *= beta2
    np.multiply(g, g, out=tmp)
    tmp *= 1.0 - beta2
    exp_avg_sq += tmp
    v = exp_avg_sq
    if amsgrad:
        if max_exp_avg_sq is None:
            raise _missing("adam_update", "max_exp_avg_sq", "amsgrad=True")
        np.maximum(max_exp_avg_sq, exp_avg_sq, out=max_exp_avg_sq)
        v = max_exp_avg_sq
    np.sqrt(v, out=tmp)
    tmp /= (1.0 - beta2 ** step) ** 0.5
    tmp += eps
    np.divide(exp_avg, tmp, out=tmp)
    tmp *= lr / (1.0 - beta1 ** step)
    param -= tmp


def rmsprop_update(param: np.ndarray, grad: np.ndarray, square_avg: np.ndarray,
                   grad_avg: np.ndarray | None, momentum_buffer: np.ndarray | None, *,
                   lr: float, alpha: float, eps: float, weight_decay: float, momentum: float,
                   centered: bool, maximize: bool, scratch: Scratch) -> None:
    """RMSprop (PyTorch's):

        square_avg = alpha * square_avg + (1 - alpha) * g * g
        grad_avg = grad_avg + (1 - alpha) * (g - grad_avg)                        (centered)
        avg = sqrt(square_avg - grad_avg * grad_avg) + eps if centered, else sqrt(square_avg) + eps
        buf = momentum * buf + g / avg;  param = param - lr * buf            (momentum > 0)
        param = param - lr * g / avg                                         (momentum == 0)

    ``grad_avg`` may be None unless centered, ``momentum_buffer`` unless momentum > 0 (both start
    as zeros). PyTorch also counts a ``step``, which the rule does not read.
    """
    g_out, tmp = scratch
    g = _grad(param, grad, weight_decay, maximize, g_out)
    square_avg *= alpha
    np.multiply(g, g, out=tmp)
    tmp *= 1.0 - alpha
    square_avg += tmp
    if centered:
        if grad_avg is None:
            raise _missing("rmsprop_update", "grad_avg", "centered=True")
        np.subtract(g, grad_avg, out=tmp)
        tmp *= 1.0 - alpha
        grad_avg += tmp
        np.multiply(grad_avg, grad_avg, out=tmp)
        np.subtract(square_avg, tmp, out=tmp)
        np.sqrt(tmp, out=tmp)
    else:
        np.sqrt(square_avg, out=tmp)
    tmp += eps
    np.divide(g, tmp, out=tmp)
    if momentum > 0:
        if momentum_buffer is None:
            raise _missing("rmsprop_update", "momentum_buffer", f"momentum={momentum}")
        momentum_buffer *= momentum
        momentum_buffer += tmp
        np.multiply(momentum_buffer, lr, out=tmp)
    else:
        tmp *= lr
    param -= tmp


def adagrad_update(param: np.ndarray, grad: np.ndarray, state_sum: np.ndarray, *, step: int,
                   lr: float, lr_decay: float, weight_decay: float, eps: float, maximize: bool,
                   scratch: Scratch) -> None:
    """Adagrad (PyTorch's) at step t = ``step`` (1 on the first update); ``state_sum`` (PyTorch's
    state ``sum``) starts at initial_accumulator_value:

        sum = sum + g * g
        param = param - lr / (1 + (t - 1) * lr_decay) * g / (sqrt(sum) + eps)
    """
    g_out, tmp = scratch
    g = _grad(param, grad, weight_decay, maximize, g_out)
    np.multiply(g, g, out=tmp)
    state_sum += tmp
    np.sqrt(state_sum, out=tmp)
    tmp += eps
    np.divide(g, tmp, out=tmp)
    tmp *= lr / (1 + (step - 1) * lr_decay)
    param -= tmp
