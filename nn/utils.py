"""torch.nn.utils: clipping gradients and flattening parameters into one vector.

>>> import numpy as np
>>> from nn.module import Parameter
>>> p = Parameter(np.array([3.0, 4.0]))
>>> p.grad = Parameter(np.array([3.0, 4.0])).detach()
>>> float(clip_grad_norm_([p], 1.0))
5.0
>>> np.round(p.grad.data, 4)
array([0.6, 0.8])
"""
from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import numpy as np

from reverse import Tensor


def _with_grads(parameters: Any) -> list:
    if isinstance(parameters, Tensor):
        parameters = [parameters]
    return [p for p in parameters if p.grad is not None]


def clip_grad_norm_(parameters: Iterable[Any] | Tensor, max_norm: float,
                    norm_type: float = 2.0, error_if_nonfinite: bool = False) -> Tensor:
    """Scale the gradients in place so that their total norm (the norm of the vector of every
    gradient entry) is at most ``max_norm``; returns the total norm before clipping (PyTorch's
    formula: each gradient times min(1, max_norm / (total + 1e-6)))."""
    grads = [p.grad for p in _with_grads(parameters)]
    if not grads:
        return Tensor(0.0)
    norm_type = float(norm_type)
    if norm_type == math.inf:
        total = max(float(np.max(np.abs(g.data))) if g.data.size else 0.0 for g in grads)
    else:
        norms = np.array([np.linalg.norm(g.data.ravel(), norm_type) for g in grads])
        total = float(np.linalg.norm(norms, norm_type))
    if error_if_nonfinite and not math.isfinite(total):
        raise RuntimeError(f"clip_grad_norm_: the total norm of order {norm_type} of the "
                           f"gradients is {total}; pass error_if_nonfinite=False to clip anyway")
    coef = min(1.0, max_norm / (total + 1e-6))
    for g in grads:
        g.data *= np.asarray(coef, g.data.dtype)
    return Tensor(np.asarray(total, grads[0].data.dtype))


def clip_grad_value_(parameters: Iterable[Any] | Tensor, clip_value: float) -> None:
    """Clip every gradient entry to [-clip_value, clip_value], in place."""
    for p in _with_grads(parameters):
        np.clip(p.grad.data, -clip_value, clip_value, out=p.grad.data)


def parameters_to_vector(parameters: Iterable[Any]) -> Tensor:
    """The parameters' values, flattened and joined into one vector (a Tensor that records)."""
    from adcore import ops
    return ops.concatenate([ops.reshape(p, (-1,)) for p in parameters])


def vector_to_parameters(vec: Any, parameters: Iterable[Any]) -> None:
    """Copy consecutive pieces of ``vec`` into the parameters' values, in place."""
    data = np.asarray(getattr(vec, "data", vec))
    start = 0
    for p in parameters:
        n = p.data.size
        if start + n > data.size:
            raise ValueError(f"vector_to_parameters: the vector has {data.size} entries, fewer "
                             f"than the parameters' total")
        p.data[...] = data[start:start + n].reshape(p.data.shape)
        start += n
    if start != data.size:
        raise ValueError(f"vector_to_parameters: the vector has {data.size} entries but the "
                         f"parameters take {start}")


__all__ = ["clip_grad_norm_", "clip_grad_value_", "parameters_to_vector",
           "vector_to_parameters"]
