"""Reverse-mode automatic differentiation: the Tensor tape and the functional API.

- ``Tensor(data, requires_grad=False, dtype=None)``: numpy data that records the ops applied to it;
  ``loss.backward()`` fills ``.grad`` of every leaf that requires grad; ``t.register_hook(fn)``
  sees (and may replace) a tensor's gradient during backward.
- PyTorch's factories: ``tensor``, ``zeros``, ``ones``, ``full``, ``empty``, ``eye``, ``arange``,
  ``linspace``, ``rand``, ``randn``, ``randint``, the ``*_like`` ones, ``cat``, ``stack``,
  ``split``, ``chunk``; ``manual_seed`` reseeds the default generator that the random ones (and
  ``nn``) draw from.
- ``no_grad()`` / ``enable_grad()``: stop or resume recording; ``detect_anomaly()``: raise at the
  first op whose forward or backward produces NaN or inf, naming the line that recorded it.
- ``Function``: custom ops with ``forward(ctx, ...)`` and ``backward(ctx, y_bar)``.
- ``grad``, ``value_and_grad``, ``vjp``, ``jacrev``, ``jacobian`` (auto mode), ``hessian``, ``hvp``,
  ``vhp``: functional transformations on arrays (or tuples, lists and dicts of them) that nest with
  each other, with forward mode and with ``vmap``.
- ``Value``: micrograd's scalar engine, on the same registry rules.
- ``to_dot`` / ``draw``: pictures of Value and Tensor graphs (Graphviz), with ``grads=True`` each
  edge labelled with the cotangent it carries; ``explain``: the backward pass printed node by node.

Every derivative comes from adcore's registry; nothing here knows the rule of any op.
"""
from adcore.batching import vmap
from adcore.jit import jit, make_program
from reverse.api import grad, hessian, hvp, jacobian, jacrev, value_and_grad, vhp, vjp
from reverse.draw import draw, to_dot
from reverse.explain import explain
from reverse.factories import (
    arange,
    cat,
    chunk,
    empty,
    empty_like,
    eye,
    full,
    full_like,
    linspace,
    ones,
    ones_like,
    rand,
    rand_like,
    randint,
    randn,
    randn_like,
    split,
    stack,
    tensor,
    zeros,
    zeros_like,
)
from reverse.function import Function, FunctionCtx
from reverse.modes import detect_anomaly, enable_grad, is_anomaly_enabled, is_grad_enabled, no_grad
from reverse.random import manual_seed
from reverse.tensor import Tensor, use_explainer
from reverse.value import Value

use_explainer(explain)  # backward(explain=True) prints with it (explain imports tensor, not back)

__all__ = [
    "Function",
    "FunctionCtx",
    "Tensor",
    "Value",
    "arange",
    "cat",
    "chunk",
    "detect_anomaly",
    "draw",
    "empty",
    "empty_like",
    "enable_grad",
    "explain",
    "eye",
    "full",
    "full_like",
    "grad",
    "hessian",
    "hvp",
    "is_anomaly_enabled",
    "is_grad_enabled",
    "jacobian",
    "jacrev",
    "jit",
    "linspace",
    "make_program",
    "manual_seed",
    "no_grad",
    "ones",
    "ones_like",
    "rand",
    "rand_like",
    "randint",
    "randn",
    "randn_like",
    "split",
    "stack",
    "tensor",
    "to_dot",
    "value_and_grad",
    "vhp",
    "vjp",
    "vmap",
    "zeros",
    "zeros_like",
]
