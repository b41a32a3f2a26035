"""Matrix multiplication: a bilinear op declared with one transpose per argument."""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from adcore import domains as D
from adcore.levels import bind
from adcore.ops.shape import reshape, swapaxes
from adcore.registry import Op, defop, public
from adcore.shapes import shape_of

__all__ = [  # its public functions, re-exported by adcore.ops
    "matmul",
]


def _matmul_domain(draw: D.Draw) -> tuple[tuple, dict]:
    n, k, m = draw.integers(1, 3), draw.integers(0, 3), draw.integers(1, 3)
    kind = draw.choice(["2d", "batched", "vec-mat", "mat-vec", "vec-vec"])
    xs: tuple[int, ...]
    ys: tuple[int, ...]
    if kind == "vec-mat":
        xs, ys = (k,), draw.shape(max_dims=1, min_side=1) + (k, m)
    elif kind == "mat-vec":
        xs, ys = draw.shape(max_dims=1, min_side=1) + (n, k), (k,)
    elif kind == "vec-vec":
        xs, ys = (k,), (k,)
    elif kind == "batched":
        bx, by = draw.broadcast_shapes(2, max_dims=2)
        xs, ys = bx + (n, k), by + (k, m)
    else:
        xs, ys = (n, k), (k, m)
    return (draw.array(xs, -2.0, 2.0), draw.array(ys, -2.0, 2.0)), {}


def _matmul_impl(x: Any, y: Any) -> Any:
    """x @ y; a stack of matrices times one matrix (a batch of tangents through a layer, say) is
    one matrix product of the stacked rows, not a loop of small ones, and comes out C-contiguous
    (the elementwise ops that follow run several times slower on a transposed layout)."""
    if type(x) is np.ndarray and type(y) is np.ndarray:
        if y.ndim == 2 and x.ndim > 2:
            rows = np.matmul(x.reshape(math.prod(x.shape[:-1]), x.shape[-1]), y)
            return rows.reshape(x.shape[:-1] + (y.shape[-1],))
        if x.ndim == 2 and y.ndim > 2:
            if y.shape[-1] == 1:  # a stack of vectors: (batch, k) @ x^T, then (batch, n, 1)
                cols = np.matmul(y.reshape(math.prod(y.shape[:-2]), y.shape[-2]), x.T)
                return cols.reshape(y.shape[:-2] + (x.shape[0], 1))
            return np.ascontiguousarray(np.moveaxis(np.tensordot(x, y, axes=([1], [-2])), 0, -2))
    return np.matmul(x, y)


# The op itself takes arguments with at least two axes (stacks of matrices that broadcast);
# ``matmul`` below reshapes vectors into matrices and back, as numpy's matmul defines them.
matmul_op: Op = defop(
    "matmul", _matmul_impl,
    bilinear=(lambda y_bar, x, y: bind(matmul_op, y_bar, swapaxes(y, -1, -2)),
              lambda y_bar, x, y: bind(matmul_op, swapaxes(x, -1, -2), y_bar)),
    domain=_matmul_domain, method="matmul", operator="matmul", numpy=np.matmul,
    doc="matmul(x, y) = x @ y.  x_bar = y_bar @ y^T, y_bar' = x^T @ y_bar (summed over broadcast "
        "batch axes).", saves=("y", "x"))


@public(matmul_op)
def matmul(x: Any, y: Any) -> Any:
    """matmul(x, y) = x @ y with numpy's rules: vectors, matrices and broadcast stacks of matrices.

    >>> matmul(np.ones((2, 3)), np.ones(3))
    array([3., 3.])
    """
    if type(x) in (list, tuple):
        x = np.asarray(x)
    if type(y) in (list, tuple):
        y = np.asarray(y)
    xs, ys = shape_of(x), shape_of(y)
    if not xs or not ys:
        raise ValueError(f"matmul: {xs} @ {ys}: both arguments need at least one axis; "
                         f"use mul for scalars")
    kx, ky = xs[-1], ys[-2] if len(ys) > 1 else ys[0]
    if kx != ky:
        raise ValueError(f"matmul: {xs} @ {ys}: {kx} != {ky} (the last axis of x must match "
                         f"the {'second-to-last' if len(ys) > 1 else 'only'} axis of y)")
    if len(xs) > 1 and len(ys) > 1:
        return bind(matmul_op, x, y)
    out = bind(matmul_op, reshape(x, (1,) + xs) if len(xs) == 1 else x,
               reshape(y, ys + (1,)) if len(ys) == 1 else y)
    out_shape = shape_of(out)
    if len(xs) == 1:
        out_shape = out_shape[:-2] + out_shape[-1:]
    if len(ys) == 1:
        out_shape = out_shape[:-1]
    return reshape(out, out_shape)
