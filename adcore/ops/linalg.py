"""Matrix multiplication (a bilinear op declared with one transpose per argument) and numpy.linalg's
solves, inverses and determinants."""
from __future__ import annotations

import math
from typing import Any, NamedTuple

import numpy as np

from adcore import domains as D
from adcore.derive import align, unbroadcast
from adcore.levels import bind, raw
from adcore.ops.elementwise import add, mul, neg, sub
from adcore.ops.reduce import sum_op
from adcore.ops.shape import reshape, reshape_op, swapaxes
from adcore.registry import Op, declare, defop, public
from adcore.shapes import shape_of

__all__ = [  # its public functions, re-exported by adcore.ops
    "det",
    "inv",
    "matmul",
    "matrix_power",
    "pinv",
    "slogdet",
    "solve",
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
        if x.shape[-2:-1] == (1,) and y.shape[-1:] == (1,) and x.ndim == y.ndim == 2:
            # a row times a column: numpy's dot of two vectors (BLAS dot), as np.dot, np.vdot
            # and np.inner compute it, rather than a matrix product that adds in another order
            return np.dot(x[0], y[:, 0]).reshape(1, 1)
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


# --- np.linalg: solves, inverses and determinants --------------------------------------------
#
# Each op works on stacks of matrices (leading axes), as numpy's linalg does, and its rules use
# matmul on stacks and solve, so they keep working on tangents and cotangents with batch axes in
# front. Derivatives solve linear systems rather than form inverses, except where the inverse is
# the op's own output.

def _mT(x: Any) -> Any:
    """The matrices of a stack transposed (numpy's ``.mT``)."""
    return swapaxes(x, -1, -2)


def _sum_back(ct: Any, x: Any, out: Any) -> Any:
    """A cotangent with the output's stack axes, summed over the stack axes that input ``x``
    was broadcast along."""
    return unbroadcast(ct, shape_of(x), len(shape_of(out)))


def _lined_up(x_dot: Any, x: Any, out: Any) -> Any:
    """A tangent of input ``x`` with its batch in front of the stack axes ``x`` broadcasts to."""
    return align(x_dot, shape_of(x), len(shape_of(out)))


def _as_matrices(v: Any, like: Any) -> Any:
    """One number per matrix of a stack, (..., 1, 1), to scale the matrices of ``like``."""
    s = shape_of(like)[:-2]
    return bind(reshape_op, v, shape=s + (1, 1), in_shape=s)


def _mtrace(m: Any) -> Any:
    """The trace of each matrix of a stack."""
    n = shape_of(m)[-1]
    return bind(sum_op, mul(m, np.eye(n, dtype=bool)), axes=(-2, -1), keepdims=False)


def _square(fn: str, a: Any) -> tuple:
    s = shape_of(a)
    if len(s) < 2 or s[-1] != s[-2]:
        raise ValueError(f"{fn}: needs square matrices (..., n, n), got shape {s}")
    return s


def _invertible_domain(draw: D.Draw) -> Any:
    """A stack of well-conditioned square matrices: the identity plus a small perturbation."""
    n = draw.integers(1, 3)
    stack = draw.shape(max_dims=1, min_side=1)
    return np.eye(n) * draw.choice([1.0, -1.0]) + draw.array(stack + (n, n), -0.3, 0.3)


inv_op: Op = defop(
    "inv", np.linalg.inv,
    jvp=(lambda x_dot, a, out: neg(matmul(out, matmul(x_dot, out))),),
    vjp=(lambda y_bar, a, out: neg(matmul(_mT(out), matmul(y_bar, _mT(out)))),),
    domain=lambda draw: ((_invertible_domain(draw),), {}), numpy=np.linalg.inv,
    torch_method="inverse",
    doc="inv(a): the inverse of each matrix.  d inv = -inv da inv; a_bar = -inv^T y_bar inv^T.",
    saves="out")


@public(inv_op)
def inv(a: Any) -> Any:
    """inv(a): the inverse of each square matrix of a stack (numpy.linalg.inv)."""
    _square("inv", a)
    return bind(inv_op, a)


def _solve_domain(draw: D.Draw) -> tuple[tuple, dict]:
    a = _invertible_domain(draw)
    stack = shape_of(a)[:-2][draw.integers(0, len(shape_of(a)) - 2):]  # b may broadcast
    return (a, draw.array(stack + shape_of(a)[-1:] + (draw.integers(1, 2),))), {}


solve_op: Op = defop(
    "solve", np.linalg.solve,
    jvp=(lambda a_dot, a, b, out: neg(bind(solve_op, a, matmul(_lined_up(a_dot, a, out), out))),
         lambda b_dot, a, b, out: bind(solve_op, a, _lined_up(b_dot, b, out))),
    vjp=(lambda y_bar, a, b, out:
         _sum_back(neg(matmul(bind(solve_op, _mT(a), y_bar), _mT(out))), a, out),
         lambda y_bar, a, b, out: _sum_back(bind(solve_op, _mT(a), y_bar), b, out)),
    domain=lambda draw: _solve_domain(draw), numpy=np.linalg.solve, broadcasts=True,
    doc="solve(a, b) = inv(a) @ b, for b a stack of matrices.  d x = solve(a, db - da x); "
        "b_bar = solve(a^T, y_bar), a_bar = -b_bar x^T.", saves=("a out", "a b out"))


@public(solve_op)
def solve(a: Any, b: Any) -> Any:
    """solve(a, b): x with a @ x = b, for square a (numpy.linalg.solve: b is a vector when it
    has one axis, else a stack of matrices; stacks broadcast)."""
    sa, sb = _square("solve", a), shape_of(b)
    if len(sb) == 1:
        if sb[0] != sa[-1]:
            raise ValueError(f"solve: a of shape {sa} and b of shape {sb}: b needs {sa[-1]} rows")
        return reshape(bind(solve_op, a, reshape(b, (sb[0], 1))), shape_of(a)[:-2] + sb)
    if len(sb) < 2 or sb[-2] != sa[-1]:
        raise ValueError(f"solve: a of shape {sa} and b of shape {sb}: b needs {sa[-1]} rows "
                         f"(..., {sa[-1]}, k)")
    return bind(solve_op, a, b)


det_op: Op = defop(
    "det", np.linalg.det,
    jvp=(lambda x_dot, a, out: mul(out, _mtrace(bind(solve_op, a, x_dot))),),
    vjp=(lambda y_bar, a, out: mul(_as_matrices(mul(y_bar, out), a), _mT(bind(inv_op, a))),),
    domain=lambda draw: ((_invertible_domain(draw),), {}), numpy=np.linalg.det,
    torch_method="det",
    doc="det(a): the determinant of each matrix.  d det = det tr(solve(a, da)); "
        "a_bar = y_bar det inv(a)^T (a must be invertible).", saves="a out")


@public(det_op)
def det(a: Any) -> Any:
    """det(a): the determinant of each square matrix of a stack (numpy.linalg.det); its
    derivative needs invertible matrices."""
    _square("det", a)
    return bind(det_op, a)


class SlogdetResult(NamedTuple):
    sign: Any
    logabsdet: Any


slogdet_op: Op = defop(
    "slogdet", lambda a: tuple(np.linalg.slogdet(a)), outputs=2,
    jvp=(lambda x_dot, a, out: (None, _mtrace(bind(solve_op, a, x_dot))),),
    vjp=(lambda y_bar, a, out: mul(_as_matrices(y_bar[1], a), _mT(bind(inv_op, a))),),
    domain=lambda draw: ((_invertible_domain(draw),), {}), numpy=np.linalg.slogdet,
    torch_method="slogdet",
    doc="slogdet(a) = (sign, log|det a|).  The sign has derivative 0; d log|det| = "
        "tr(solve(a, da)), a_bar = y_bar inv(a)^T.", saves="a")


@public(slogdet_op)
def slogdet(a: Any) -> SlogdetResult:
    """slogdet(a): (sign, logabsdet) of each square matrix (numpy.linalg.slogdet)."""
    _square("slogdet", a)
    return SlogdetResult(*bind(slogdet_op, a))


def _pinv_jvp(x_dot: Any, a: Any, out: Any, *, rcond: Any) -> Any:
    """d pinv = -P da P + P P^T da^T (I - a P) + (I - P a) da^T P^T P, at constant rank."""
    p, dt = out, _mT(x_dot)
    first = neg(matmul(p, matmul(x_dot, p)))
    second = matmul(matmul(p, _mT(p)), sub(dt, matmul(matmul(dt, a), p)))
    third = matmul(sub(dt, matmul(matmul(p, a), dt)), matmul(_mT(p), p))
    return add(add(first, second), third)


def _pinv_vjp(y_bar: Any, a: Any, out: Any, *, rcond: Any) -> Any:
    p, yt = out, _mT(y_bar)
    first = neg(matmul(_mT(p), matmul(y_bar, _mT(p))))
    second = matmul(sub(yt, matmul(a, matmul(p, yt))), matmul(p, _mT(p)))
    third = matmul(matmul(_mT(p), p), sub(yt, matmul(matmul(yt, p), a)))
    return add(add(first, second), third)


def _pinv_domain(draw: D.Draw) -> tuple[tuple, dict]:
    m, n = draw.integers(1, 3), draw.integers(1, 3)
    k = min(m, n)
    a = np.zeros((m, n))
    a[:k, :k] = np.eye(k)
    return (a + draw.array((m, n), -0.3, 0.3),), {"rcond": None}


pinv_op: Op = defop(
    "pinv", lambda a, *, rcond: np.linalg.pinv(a) if rcond is None else np.linalg.pinv(a, rcond),
    jvp=(_pinv_jvp,), vjp=(_pinv_vjp,), domain=_pinv_domain, numpy=np.linalg.pinv,
    torch_method="pinverse",
    doc="pinv(a): the Moore-Penrose pseudo-inverse.  Its derivative holds where the rank is "
        "constant (a full-rank a): d P = -P da P + P P^T da^T (I - a P) + (I - P a) da^T P^T P.",
    saves="a out")


@public(pinv_op)
def pinv(a: Any, rcond: Any = None, hermitian: bool = False) -> Any:
    """pinv(a, rcond=None): the pseudo-inverse of each matrix (numpy.linalg.pinv); differentiable
    where the rank does not change (full-rank matrices)."""
    if len(shape_of(a)) < 2:
        raise ValueError(f"pinv: needs matrices (..., m, n), got shape {shape_of(a)}")
    return bind(pinv_op, a, rcond=rcond)


@declare(numpy=np.linalg.matrix_power, torch_method="matrix_power")
def matrix_power(a: Any, n: int) -> Any:
    """matrix_power(a, n): a @ a @ ... (n times) for square a, inv(a) ** -n for n < 0, the
    identity for 0, by numpy's own sequence of squarings (so the values are numpy's)."""
    s = _square("matrix_power", a)
    if not isinstance(n, (int, np.integer)):
        raise TypeError(f"matrix_power: the exponent must be an integer, got {n!r}")
    n = int(n)
    if n == 0:
        return np.broadcast_to(np.eye(s[-1], dtype=np.result_type(raw(a))), s).copy()
    if n < 0:
        a, n = inv(a), -n
    if n == 1:
        return mul(a, 1)
    if n == 2:
        return matmul(a, a)
    if n == 3:
        return matmul(matmul(a, a), a)
    z = result = None
    while n > 0:
        z = a if z is None else matmul(z, z)
        n, bit = divmod(n, 2)
        if bit:
            result = z if result is None else matmul(result, z)
    return result
