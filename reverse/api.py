"""Reverse mode, functional: grad, value_and_grad, vjp, jacrev, hessian.

Each call opens a fresh tape level, wraps the arguments it differentiates as leaf tensors of that
level, runs ``f`` and pulls cotangents back. They take and return plain ndarrays and floats (inside,
``f`` sees tensors), and they nest with each other and with forward mode.
"""
from __future__ import annotations

import functools
import math
from typing import Any, Callable, Sequence

import numpy as np

from adcore import ops
from adcore.arguments import as_input, normalize_argnums, plain, select_inputs
from adcore.levels import new_level, raw, register_transform
from adcore.shapes import shape_of
from forward.api import jacfwd
from reverse import graph
from reverse.tensor import Tensor, TapeLevel, leaf, like_leaf


def _record(f: Callable[..., Any], args: Sequence[Any], nums: Sequence[int], fn: str
            ) -> tuple[list[Tensor], list[tuple], bool]:
    """Run f at a new level with args[nums] as leaves; returns the leaves, one (key, primal) per
    output (key: where its cotangent enters the graph, None if it does not depend on the leaves)
    and whether f returned a tuple."""
    args = select_inputs(args, nums, fn)
    with new_level(TapeLevel) as level:
        leaves = [leaf(args[i], level) for i in nums]
        full = list(args)
        for i, t in zip(nums, leaves):
            full[i] = t
        result = f(*full)
    is_tuple = isinstance(result, (tuple, list))
    outs = []
    for o in (result if is_tuple else (result,)):
        if isinstance(o, Tensor) and o._level is level:
            outs.append((o._node if o._node is not None else o if o._requires_grad else None,
                         o.data))
        else:
            outs.append((None, o))
    return leaves, outs, is_tuple


def _pull(leaves: list[Tensor], outs: list[tuple], cts: Sequence[Any], batch: tuple,
          retain: bool) -> list:
    roots = [(key, ct) for (key, _), ct in zip(outs, cts) if key is not None]
    got = graph.backward(roots, retain_graph=retain) if roots else {}
    return [like_leaf(got[t], t.data) if t in got else
            np.zeros(batch + shape_of(t.data), dtype=np.result_type(raw(t.data), np.float32))
            for t in leaves]


def vjp(f: Callable[..., Any], *primals: Any) -> tuple[Any, Callable[..., tuple]]:
    """(f(*primals), vjp_fn) where vjp_fn(y_bar) = y_bar^T J: one cotangent per primal, as a tuple.

    ``y_bar`` has the output's shape (a tuple of them when f returns a tuple), or extra leading axes
    for a batch of cotangents pulled back at once. vjp_fn may be called many times.

    >>> out, vjp_fn = vjp(lambda x: x * x, np.array([1.0, 2.0]))
    >>> vjp_fn(np.array([1.0, 1.0]))
    (array([2., 4.]),)
    """
    leaves, outs, is_tuple = _record(f, primals, range(len(primals)), "vjp")
    out_values = tuple(plain(v) for _, v in outs)

    def vjp_fn(y_bar: Any) -> tuple:
        cts = tuple(y_bar) if is_tuple else (y_bar,)
        if len(cts) != len(outs):
            raise ValueError(f"vjp_fn: f returned {len(outs)} outputs but got {len(cts)} "
                             f"cotangents; pass one per output")
        batch = None
        checked = []
        for (_, o), ct in zip(outs, cts):
            ct = as_input(ct, "vjp_fn")
            os, cs = shape_of(o), shape_of(ct)
            if cs[len(cs) - len(os):] != os or len(cs) < len(os):
                raise ValueError(f"vjp_fn: cotangent of shape {cs} does not fit the output of shape "
                                 f"{os}; it must have the output's shape, or extra leading batch axes")
            b = cs[:len(cs) - len(os)]
            if batch is not None and b != batch:
                raise ValueError(f"vjp_fn: cotangents carry different batch shapes {batch} and {b}")
            batch = b
            checked.append(ct)
        return tuple(plain(g) for g in _pull(leaves, outs, checked, batch or (), retain=True))

    return (out_values if is_tuple else out_values[0]), vjp_fn


def value_and_grad(f: Callable[..., Any], argnums: int | Sequence[int] = 0
                   ) -> Callable[..., tuple[Any, Any]]:
    """A function returning (f(*args), gradient of f at args); f must return a scalar.

    >>> value_and_grad(lambda x: (x ** 2).sum())(np.array([1.0, 2.0]))
    (np.float64(5.0), array([2., 4.]))
    """
    @functools.wraps(f)
    def wrapped(*args: Any) -> tuple[Any, Any]:
        nums = normalize_argnums(argnums, len(args), "grad")
        leaves, outs, is_tuple = _record(f, args, nums, "grad")
        value = outs[0][1]
        if is_tuple or math.prod(shape_of(value)) != 1:
            shape = "a tuple" if is_tuple else f"shape {shape_of(value)}"
            raise ValueError(f"grad: f must return a scalar (one element), got {shape}; reduce it "
                             f"(for example with .sum()) or use jacrev for non-scalar outputs")
        seed = np.ones(shape_of(value), dtype=np.result_type(raw(value), np.float32))
        grads = [plain(g) for g in _pull(leaves, outs, [seed], (), retain=False)]
        return plain(value), (grads[0] if isinstance(argnums, int) else tuple(grads))
    return wrapped


def grad(f: Callable[..., Any], argnums: int | Sequence[int] = 0) -> Callable[..., Any]:
    """The gradient of a scalar function, as a function: grad(f)(x) = df/dx (reverse mode).

    ``argnums`` picks the argument(s) to differentiate; a tuple gives a tuple of gradients.
    grad composes: grad(grad(f)) is the second derivative.

    >>> grad(lambda x: x.sin())(0.0)
    np.float64(1.0)
    """
    value_and_grad_f = value_and_grad(f, argnums)

    @functools.wraps(f)
    def wrapped(*args: Any) -> Any:
        return value_and_grad_f(*args)[1]
    return wrapped


def jacrev(f: Callable[..., Any], argnums: int | Sequence[int] = 0,
           chunk_size: int | None = None) -> Callable[..., Any]:
    """The Jacobian of f by reverse mode: one forward pass and ONE backward pass of a batch of
    cotangents (the identity), shape out.shape + in.shape. ``chunk_size`` bounds the batch (and so
    the memory) by pulling the identity back in chunks of that many rows.

    >>> jacrev(lambda x: x ** 2)(np.array([1.0, 2.0]))
    array([[2., 0.],
           [0., 4.]])
    """
    @functools.wraps(f)
    def jac(*args: Any) -> Any:
        nums = normalize_argnums(argnums, len(args), "jacrev")
        leaves, outs, is_tuple = _record(f, args, nums, "jacrev")
        per_out = []
        for j, (_, o) in enumerate(outs):
            out_shape = shape_of(o)
            m = int(np.prod(out_shape))
            dtype = np.result_type(raw(o), np.float32)
            step = m if not chunk_size else chunk_size
            blocks = []
            for start in range(0, m, max(step, 1)) if m else [0]:
                rows = min(step, m - start)
                seed = np.zeros((rows, m), dtype=dtype)
                seed[:, start:start + rows] = np.eye(rows, dtype=dtype)
                cts = [np.zeros((rows,) + shape_of(q), dtype=dtype) for _, q in outs]
                cts[j] = seed.reshape((rows,) + out_shape)
                blocks.append(_pull(leaves, outs, cts, (rows,), retain=True))
            per_arg = []
            for k, t in enumerate(leaves):
                rows = [b[k] for b in blocks]
                whole = rows[0] if len(rows) == 1 else ops.concatenate(rows, axis=0)
                per_arg.append(plain(ops.reshape(whole, out_shape + shape_of(t.data))))
            per_out.append(per_arg[0] if isinstance(argnums, int) else tuple(per_arg))
        return tuple(per_out) if is_tuple else per_out[0]
    return jac


def hessian(f: Callable[..., Any], argnums: int = 0) -> Callable[..., Any]:
    """The Hessian of a scalar function: jacfwd(jacrev(f)) (forward-over-reverse).

    >>> hessian(lambda x: (x ** 3).sum())(np.array([1.0, 2.0]))
    array([[ 6.,  0.],
           [ 0., 12.]])
    """
    return jacfwd(jacrev(f, argnums), argnums)


register_transform("vjp", vjp)
