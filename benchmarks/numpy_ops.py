"""Value and gradient of einsum, tensordot and numpy.linalg's ops: the library and numpy by hand.

Each case is a scalar function f(x) written with plain numpy calls (np.einsum, np.tensordot,
np.linalg.solve, inv, det, slogdet, cholesky, eigh, eigvalsh, svd, qr, pinv, norm) that reach this
library's ops through ``__array_function__``, on float64 inputs drawn once per case (seeded), at
n = 8, 128 and 256. Timed, one call at a time:

- the numpy floor: the value AND its gradient by hand, with the best numpy calls (BLAS products
  through ``@``, ``np.vdot``, solves with the transposed matrix, one decomposition reused for the
  gradient);
- this library: ``reverse.value_and_grad(f)(x)``;
- f alone: the forward pass as written, plain numpy, no gradient: how much of the library's time
  numpy's own calls take as the user wrote them. The library computes exactly what numpy computes,
  so ``np.einsum`` without ``optimize`` (numpy's default, which does not reach BLAS) costs what it
  costs in numpy; the einsum rows pass ``optimize=True``, as the floor uses BLAS, and one row shows
  numpy's default;
- jax, when installed: ``jax.jit(jax.value_and_grad(f_jax))`` with jnp's equivalents, float64,
  XLA on one thread, timed after a warm-up call that compiles, with block_until_ready; jaxlib's
  LAPACK kernels run on scipy's OpenBLAS, which is set to --blas-threads threads too (left at
  its default, its threads spin for about 100 ms after each call and slow whatever runs next);
- PyTorch, when installed: eager float64 tensors on one thread, the forward then ``backward()``.

Two passes per case and size, each taking turns within every repeat, the order rotating from
one repeat to the next: the floor, the library and f alone; then the floor again with the peers,
whose ratios are paired with that pass's floor (so their caches and threads stay out of the
library's figures). The number of repeats follows a time budget (--budget seconds per pass, at
least 5 repeats). The first row, ``(reference) sum(x * c)``, is no op under test: the cost of
value_and_grad around one elementwise product and a sum, for scale.

Before timing, each implementation's value and gradient are compared with the floor's
(``np.allclose``, rtol 1e-6, atol 1e-6 times the floor's largest entry; the column shows the
largest difference relative to that entry); a library mismatch fails the run. For the ops of
symmetric matrices (cholesky, eigh, eigvalsh) numpy reads one triangle of its input and the
libraries differ in which gradient they report (the symmetric one, or the one of the triangle
read); all give the same derivative along symmetric directions, so the gradients are compared
through their symmetric parts, (g + g^T) / 2.

Printed per size: median times (us at n = 8, ms above), the ratio to the floor (the median over
repeats of each repeat's ratio, the steadiest figure on a shared machine), at n = 8 the overhead
in microseconds (median minus the floor's median), from n = 128 whether the ratio meets the goal
(the issue's: at most 1.5 from (128, 128) up), the peers' times and ratios ('-' when not
installed, '!' after a peer whose result differs from the floor's). The whole run takes about
two to three minutes here with both peers installed.

    python benchmarks/numpy_ops.py                    # n = 8, 128, 256
    python benchmarks/numpy_ops.py --quick            # n = 8 and 128, a smaller budget
    python benchmarks/numpy_ops.py --cases svd --cases qr     # the cases whose names contain these
    python benchmarks/numpy_ops.py --profile pinv --sizes 128  # cProfile of the library's call
    python benchmarks/numpy_ops.py --no-peers         # without jax and PyTorch
    python benchmarks/numpy_ops.py --blas-threads 0   # OpenBLAS as it comes (default 1)
    python benchmarks/numpy_ops.py --tune-malloc      # glibc keeps freed memory (see common.py)
"""
from __future__ import annotations

import argparse
import cProfile
import functools
import math
import os
import platform
import pstats
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
from common import (
    add_blas_option,
    add_malloc_option,
    blas_threads,
    header,
    import_torch,
    paired_ratio,
    timed,
    tune_malloc,
)

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from reverse import value_and_grad

GOAL = 1.5  # library / floor, from (128, 128) up
GOAL_FROM = 128
RTOL = 1e-6
BATCH = 8  # the stack of 'bij,bjk->bik'
DEPTH = 8  # the third axis of tensordot's operands
XLA_ONE_THREAD = "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"

Consts = tuple[np.ndarray, ...]


class Case(NamedTuple):
    name: str
    setup: Callable[[int, np.random.Generator], tuple[np.ndarray, Consts]]  # (x, constants)
    f: Callable[..., Any]  # f(x, *consts) with plain numpy calls: what the library differentiates
    floor: Callable[..., tuple[Any, np.ndarray]]  # (value, gradient) by hand
    jax_f: Callable[..., Any] | None = None  # jax_f(jnp, x, *consts)
    torch_f: Callable[..., Any] | None = None  # torch_f(torch, x, *consts)
    symmetric: bool = False  # gradients compared through their symmetric parts
    max_n: int = 1 << 30  # larger sizes are skipped (numpy's own f is too slow there)


# --- inputs -------------------------------------------------------------------------------------
def _gauss(rng: np.random.Generator, *shape: int) -> np.ndarray:
    return rng.standard_normal(shape)


def _well_conditioned(n: int, rng: np.random.Generator) -> np.ndarray:
    """I + 0.5 G / sqrt(n): eigenvalues within 0.5 of 1, so det stays within 0.5^n and 1.5^n."""
    return np.eye(n) + 0.5 * _gauss(rng, n, n) / math.sqrt(n)


def _orthogonal(n: int, rng: np.random.Generator) -> np.ndarray:
    return np.linalg.qr(_gauss(rng, n, n))[0]


def _spread(n: int, rng: np.random.Generator) -> np.ndarray:
    """Q1 diag(s) Q2^T with singular values spread evenly over [1, 3] (distinct, well apart)."""
    return (_orthogonal(n, rng) * np.linspace(3.0, 1.0, n)) @ _orthogonal(n, rng).T


def _symmetric(n: int, rng: np.random.Generator) -> np.ndarray:
    """Q diag(w) Q^T with eigenvalues spread evenly over [-2, 2], exactly symmetric."""
    q = _orthogonal(n, rng)
    a = (q * np.linspace(-2.0, 2.0, n)) @ q.T
    return (a + a.T) / 2


def _spd(n: int, rng: np.random.Generator) -> np.ndarray:
    """G G^T / n + I, exactly symmetric."""
    g = _gauss(rng, n, n)
    a = g @ g.T / n + np.eye(n)
    return (a + a.T) / 2


def _mats(k: int) -> Callable[[int, np.random.Generator], tuple[np.ndarray, Consts]]:
    """x and k constants, all (n, n) normal."""
    return lambda n, rng: (_gauss(rng, n, n), tuple(_gauss(rng, n, n) for _ in range(k)))


def _setup_batched(n: int, rng: np.random.Generator) -> tuple[np.ndarray, Consts]:
    return _gauss(rng, BATCH, n, n), (_gauss(rng, BATCH, n, n), _gauss(rng, BATCH, n, n))


def _setup_attention(n: int, rng: np.random.Generator) -> tuple[np.ndarray, Consts]:
    """Queries x (n, d) and keys (n, d), d = n / 2 (at least 8); weights (n, n)."""
    d = max(8, n // 2)
    return _gauss(rng, n, d), (_gauss(rng, n, d), _gauss(rng, n, n))


def _setup_tensordot(n: int, rng: np.random.Generator) -> tuple[np.ndarray, Consts]:
    return _gauss(rng, n, n, DEPTH), (_gauss(rng, n, DEPTH, n), _gauss(rng, n, n))


def _setup_solve_vector(n: int, rng: np.random.Generator) -> tuple[np.ndarray, Consts]:
    return _well_conditioned(n, rng), (_gauss(rng, n), _gauss(rng, n))


def _setup_solve_matrix(n: int, rng: np.random.Generator) -> tuple[np.ndarray, Consts]:
    return _well_conditioned(n, rng), (_gauss(rng, n, n), _gauss(rng, n, n))


def _setup_square(n: int, rng: np.random.Generator) -> tuple[np.ndarray, Consts]:
    return _well_conditioned(n, rng), (_gauss(rng, n, n),)


def _setup_alone(n: int, rng: np.random.Generator) -> tuple[np.ndarray, Consts]:
    return _well_conditioned(n, rng), ()


def _setup_cholesky(n: int, rng: np.random.Generator) -> tuple[np.ndarray, Consts]:
    """An SPD input; the weights lower triangular (L's upper triangle is structurally zero)."""
    return _spd(n, rng), (np.tril(_gauss(rng, n, n)),)


def _setup_eigh_values(n: int, rng: np.random.Generator) -> tuple[np.ndarray, Consts]:
    return _symmetric(n, rng), (_gauss(rng, n),)


def _setup_eigh_vectors(n: int, rng: np.random.Generator) -> tuple[np.ndarray, Consts]:
    return _symmetric(n, rng), (_gauss(rng, n), _gauss(rng, n, n))


def _setup_svd_values(n: int, rng: np.random.Generator) -> tuple[np.ndarray, Consts]:
    return _spread(n, rng), (_gauss(rng, n),)


def _setup_svd_full(n: int, rng: np.random.Generator) -> tuple[np.ndarray, Consts]:
    return _spread(n, rng), (_gauss(rng, n), _gauss(rng, n, n), _gauss(rng, n, n))


def _setup_qr(n: int, rng: np.random.Generator) -> tuple[np.ndarray, Consts]:
    """A well-conditioned square input; R's weights upper triangular (its lower part is zero)."""
    return _well_conditioned(n, rng), (_gauss(rng, n, n), np.triu(_gauss(rng, n, n)))


def _setup_pinv(n: int, rng: np.random.Generator) -> tuple[np.ndarray, Consts]:
    """A tall (n, n/2) input of full column rank; weights of pinv's shape (n/2, n)."""
    k = max(2, n // 2)
    return _gauss(rng, n, k) / math.sqrt(n) + np.eye(n, k), (_gauss(rng, k, n),)


def _setup_norm(n: int, rng: np.random.Generator) -> tuple[np.ndarray, Consts]:
    return _spread(n, rng), ()


# --- the floors: value and gradient by hand -----------------------------------------------------
def _floor_matmul(x, b, c):
    y = x @ b
    return np.vdot(y, c), c @ b.T


def _floor_batched(x, b, c):
    y = x @ b
    return np.vdot(y, c), c @ np.swapaxes(b, -1, -2)


def _floor_attention(x, k, c):
    s = x @ k.T
    return np.vdot(s, c), c @ k


def _floor_chain3(x, b, d, c):
    m = b @ d
    y = x @ m
    return np.vdot(y, c), c @ m.T


def _floor_tensordot(x, t, c):
    t2 = t.reshape(-1, t.shape[-1])
    y = x.reshape(x.shape[0], -1) @ t2
    return np.vdot(y, c), (c @ t2.T).reshape(x.shape)


def _floor_solve_vector(a, b, c):
    sol = np.linalg.solve(a, b)
    lam = np.linalg.solve(a.T, c)
    return c @ sol, -np.outer(lam, sol)


def _floor_solve_matrix(a, b, c):
    sol = np.linalg.solve(a, b)
    lam = np.linalg.solve(a.T, c)
    return np.vdot(sol, c), -(lam @ sol.T)


def _floor_inv(a, c):
    ai = np.linalg.inv(a)
    ait = ai.T
    return np.vdot(ai, c), -((ait @ c) @ ait)


def _floor_det(a):
    d = np.linalg.det(a)
    return d, d * np.linalg.inv(a).T


def _floor_slogdet(a):
    _, logdet = np.linalg.slogdet(a)
    return logdet, np.linalg.inv(a).T


def _floor_cholesky(a, c):
    """a_bar = L^-T phi(L^T L_bar) L^-1, symmetrised; phi: the lower triangle, diagonal halved."""
    low = np.linalg.cholesky(a)
    p = np.tril(low.T @ c)
    p.flat[::len(a) + 1] *= 0.5
    li = np.linalg.inv(low)
    s = li.T @ p @ li
    return np.vdot(low, c), (s + s.T) * 0.5


def _floor_eigh_values(a, c):
    w, v = np.linalg.eigh(a)
    return w @ c, (v * c) @ v.T


def _gaps(values):
    """F[i, j] = 1 / (values[j] - values[i]) off the diagonal, 0 on it."""
    diff = values[None, :] - values[:, None]
    np.fill_diagonal(diff, 1.0)
    f = 1.0 / diff
    np.fill_diagonal(f, 0.0)
    return f


def _floor_eigh_vectors(a, c, d):
    """f = w . c + sum(V^2 * D): a_bar = V (diag(c) + F * (V^T V_bar)) V^T, V_bar = 2 V * D."""
    w, v = np.linalg.eigh(a)
    inner = _gaps(w) * (v.T @ (2.0 * v * d))
    inner.flat[::len(a) + 1] += c
    g = v @ inner @ v.T
    return w @ c + np.vdot(v * v, d), (g + g.T) * 0.5


def _floor_svd_values(a, c):
    u, s, vh = np.linalg.svd(a, full_matrices=False)
    return s @ c, (u * c) @ vh


def _floor_svd_full(a, c, c1, c2):
    """f = s . c + sum(U^2 * C1) + sum(Vh^2 * C2) (each term unchanged by the vectors' signs):
    a_bar = U ((J + J^T) S + S (K + K^T) + diag(c)) Vh, J = F * (U^T U_bar), K = F * (Vh V_bar),
    F[i, j] = 1 / (s[j]^2 - s[i]^2)."""
    u, s, vh = np.linalg.svd(a, full_matrices=False)
    f = _gaps(s * s)
    j = f * (u.T @ (2.0 * u * c1))
    k = f * (vh @ (2.0 * vh * c2).T)
    core = (j + j.T) * s + s[:, None] * (k + k.T)
    core.flat[::len(s) + 1] += c
    value = s @ c + np.vdot(u * u, c1) + np.vdot(vh * vh, c2)
    return value, u @ core @ vh


def _floor_qr(a, c1, c2):
    """f = sum(Q * C1) + sum(R * C2): with M = R R_bar^T - Q_bar^T Q,
    a_bar = (Q_bar + Q copyltu(M)) R^-T, copyltu(M) = tril(M) + tril(M, -1)^T."""
    q, r = np.linalg.qr(a)
    m = r @ c2.T - c1.T @ q
    low = np.tril(m, -1)
    b = c1 + q @ (low + low.T + np.diag(np.diag(m)))
    return np.vdot(q, c1) + np.vdot(r, c2), np.linalg.solve(r, b.T).T


def _floor_pinv(a, c):
    """f = sum(pinv(a) * C), the three terms of pinv's derivative, products ordered to stay thin:
    -P^T C P^T + (C^T - a P C^T) P P^T + P^T P (C^T - C^T P a)."""
    p = np.linalg.pinv(a)
    ct = c.T
    first = -(p.T @ (c @ p.T))
    second = (ct - a @ (p @ ct)) @ (p @ p.T)
    third = p.T @ (p @ (ct - ct @ (p @ a)))
    return np.vdot(p, c), first + second + third


def _floor_fro(a):
    v = math.sqrt(np.vdot(a, a))
    return v, a / v


def _floor_nuc(a):
    u, s, vh = np.linalg.svd(a, full_matrices=False)
    return s.sum(), u @ vh


# --- the cases ----------------------------------------------------------------------------------
CASES: list[Case] = [
    Case("(reference) sum(x * c), elementwise", _mats(1),
         lambda x, c: np.sum(x * c), lambda x, c: (np.vdot(x, c), c),
         lambda m, x, c: m.sum(x * c), lambda t, x, c: (x * c).sum()),
    Case("einsum ij,jk->ik optimize=True", _mats(2),
         lambda x, b, c: np.sum(np.einsum("ij,jk->ik", x, b, optimize=True) * c), _floor_matmul,
         lambda m, x, b, c: m.sum(m.einsum("ij,jk->ik", x, b) * c),
         lambda t, x, b, c: (t.einsum("ij,jk->ik", x, b) * c).sum()),
    Case("einsum ij,jk->ik (as numpy: no BLAS)", _mats(2),
         lambda x, b, c: np.sum(np.einsum("ij,jk->ik", x, b) * c), _floor_matmul,
         lambda m, x, b, c: m.sum(m.einsum("ij,jk->ik", x, b) * c),
         lambda t, x, b, c: (t.einsum("ij,jk->ik", x, b) * c).sum()),
    Case("einsum bij,bjk->bik (b=8) optimize=True", _setup_batched,
         lambda x, b, c: np.sum(np.einsum("bij,bjk->bik", x, b, optimize=True) * c),
         _floor_batched,
         lambda m, x, b, c: m.sum(m.einsum("bij,bjk->bik", x, b) * c),
         lambda t, x, b, c: (t.einsum("bij,bjk->bik", x, b) * c).sum()),
    Case("einsum qd,kd->qk (d=n/2) optimize=True", _setup_attention,
         lambda x, k, c: np.sum(np.einsum("qd,kd->qk", x, k, optimize=True) * c),
         _floor_attention,
         lambda m, x, k, c: m.sum(m.einsum("qd,kd->qk", x, k) * c),
         lambda t, x, k, c: (t.einsum("qd,kd->qk", x, k) * c).sum()),
    Case("einsum ij,jk,kl->il optimize=True", _mats(3),
         lambda x, b, d, c: np.sum(np.einsum("ij,jk,kl->il", x, b, d, optimize=True) * c),
         _floor_chain3,
         lambda m, x, b, d, c: m.sum(m.einsum("ij,jk,kl->il", x, b, d, optimize=True) * c),
         lambda t, x, b, d, c: (t.einsum("ij,jk,kl->il", x, b, d) * c).sum()),
    Case("einsum ij,jk,kl->il (as numpy: n^4)", _mats(3),
         lambda x, b, d, c: np.sum(np.einsum("ij,jk,kl->il", x, b, d) * c), _floor_chain3,
         lambda m, x, b, d, c: m.sum(m.einsum("ij,jk,kl->il", x, b, d) * c),
         lambda t, x, b, d, c: (t.einsum("ij,jk,kl->il", x, b, d) * c).sum(), max_n=128),
    Case("tensordot axes=2 (n,n,8)x(n,8,n)", _setup_tensordot,
         lambda x, t, c: np.sum(np.tensordot(x, t, axes=2) * c), _floor_tensordot,
         lambda m, x, t, c: m.sum(m.tensordot(x, t, axes=2) * c),
         lambda tc, x, t, c: (tc.tensordot(x, t, dims=2) * c).sum()),
    Case("solve, b (n,)", _setup_solve_vector,
         lambda a, b, c: np.sum(np.linalg.solve(a, b) * c), _floor_solve_vector,
         lambda m, a, b, c: m.sum(m.linalg.solve(a, b) * c),
         lambda t, a, b, c: (t.linalg.solve(a, b) * c).sum()),
    Case("solve, b (n,n)", _setup_solve_matrix,
         lambda a, b, c: np.sum(np.linalg.solve(a, b) * c), _floor_solve_matrix,
         lambda m, a, b, c: m.sum(m.linalg.solve(a, b) * c),
         lambda t, a, b, c: (t.linalg.solve(a, b) * c).sum()),
    Case("inv", _setup_square,
         lambda a, c: np.sum(np.linalg.inv(a) * c), _floor_inv,
         lambda m, a, c: m.sum(m.linalg.inv(a) * c),
         lambda t, a, c: (t.linalg.inv(a) * c).sum()),
    Case("det", _setup_alone, lambda a: np.linalg.det(a), _floor_det,
         lambda m, a: m.linalg.det(a), lambda t, a: t.linalg.det(a)),
    Case("slogdet", _setup_alone, lambda a: np.linalg.slogdet(a)[1], _floor_slogdet,
         lambda m, a: m.linalg.slogdet(a)[1], lambda t, a: t.linalg.slogdet(a)[1]),
    Case("cholesky", _setup_cholesky,
         lambda a, c: np.sum(np.linalg.cholesky(a) * c), _floor_cholesky,
         lambda m, a, c: m.sum(m.linalg.cholesky(a) * c),
         lambda t, a, c: (t.linalg.cholesky(a) * c).sum(), symmetric=True),
    Case("eigh, values: w . c", _setup_eigh_values,
         lambda a, c: np.sum(np.linalg.eigh(a)[0] * c), _floor_eigh_values,
         lambda m, a, c: m.sum(m.linalg.eigh(a)[0] * c),
         lambda t, a, c: (t.linalg.eigh(a)[0] * c).sum(), symmetric=True),
    Case("eigvalsh: w . c", _setup_eigh_values,
         lambda a, c: np.sum(np.linalg.eigvalsh(a) * c), _floor_eigh_values,
         lambda m, a, c: m.sum(m.linalg.eigvalsh(a) * c),
         lambda t, a, c: (t.linalg.eigvalsh(a) * c).sum(), symmetric=True),
    Case("eigh, vectors: w.c + sum(V^2 D)", _setup_eigh_vectors,
         lambda a, c, d: _eigh_loss(np, np.linalg.eigh(a), c, d), _floor_eigh_vectors,
         lambda m, a, c, d: _eigh_loss(m, m.linalg.eigh(a), c, d),
         lambda t, a, c, d: _eigh_loss(t, t.linalg.eigh(a), c, d), symmetric=True),
    Case("svd compute_uv=False: s . c", _setup_svd_values,
         lambda a, c: np.sum(np.linalg.svd(a, compute_uv=False) * c), _floor_svd_values,
         lambda m, a, c: m.sum(m.linalg.svd(a, compute_uv=False) * c),
         lambda t, a, c: (t.linalg.svdvals(a) * c).sum()),
    Case("svd reduced: s.c+sum(U^2 C1)+..", _setup_svd_full,
         lambda a, c, c1, c2: _svd_loss(np, np.linalg.svd(a, full_matrices=False), c, c1, c2),
         _floor_svd_full,
         lambda m, a, c, c1, c2: _svd_loss(m, m.linalg.svd(a, full_matrices=False), c, c1, c2),
         lambda t, a, c, c1, c2: _svd_loss(t, t.linalg.svd(a, full_matrices=False), c, c1, c2)),
    Case("qr: sum(Q C1) + sum(R C2)", _setup_qr,
         lambda a, c1, c2: _qr_loss(np, np.linalg.qr(a), c1, c2), _floor_qr,
         lambda m, a, c1, c2: _qr_loss(m, m.linalg.qr(a), c1, c2),
         lambda t, a, c1, c2: _qr_loss(t, t.linalg.qr(a), c1, c2)),
    Case("pinv (n, n/2)", _setup_pinv,
         lambda a, c: np.sum(np.linalg.pinv(a) * c), _floor_pinv,
         lambda m, a, c: m.sum(m.linalg.pinv(a) * c),
         lambda t, a, c: (t.linalg.pinv(a) * c).sum()),
    Case("norm 'fro'", _setup_norm, lambda a: np.linalg.norm(a, "fro"), _floor_fro,
         lambda m, a: m.linalg.norm(a, "fro"), lambda t, a: t.linalg.matrix_norm(a, "fro")),
    Case("norm 'nuc'", _setup_norm, lambda a: np.linalg.norm(a, "nuc"), _floor_nuc,
         lambda m, a: m.linalg.norm(a, "nuc"), lambda t, a: t.linalg.matrix_norm(a, "nuc")),
]


def _eigh_loss(m: Any, wv: Any, c: Any, d: Any) -> Any:
    w, v = wv
    return (w * c).sum() + (v * v * d).sum() if m is not np else np.sum(w * c) + np.sum(v * v * d)


def _svd_loss(m: Any, usv: Any, c: Any, c1: Any, c2: Any) -> Any:
    u, s, vh = usv
    if m is np:
        return np.sum(s * c) + np.sum(u * u * c1) + np.sum(vh * vh * c2)
    return (s * c).sum() + (u * u * c1).sum() + (vh * vh * c2).sum()


def _qr_loss(m: Any, qr: Any, c1: Any, c2: Any) -> Any:
    q, r = qr
    return np.sum(q * c1) + np.sum(r * c2) if m is np else (q * c1).sum() + (r * c2).sum()


# --- the peers ----------------------------------------------------------------------------------
def import_jax(threads: int) -> tuple[Any, str]:
    """jax with float64 enabled, XLA's CPU backend on one thread unless XLA_FLAGS is set, and
    the OpenBLAS that its LAPACK kernels call (scipy's copy) on ``threads`` threads; with a
    description of that BLAS for the header."""
    os.environ.setdefault("XLA_FLAGS", XLA_ONE_THREAD)
    try:
        import jax
    except ImportError:
        return None, ""
    jax.config.update("jax_enable_x64", True)  # before any array is created
    return jax, scipy_blas_threads(threads)


def scipy_blas_threads(threads: int) -> str:
    """Set the thread count of scipy's own OpenBLAS, whose LAPACK jaxlib calls for jnp.linalg on
    the CPU (unless ``threads`` is 0). Left at its default (every core), its worker threads keep
    spinning for about 100 ms after each call, and on a small machine that takes the processor
    from whatever is timed next."""
    try:
        import scipy
    except ImportError:
        return "scipy not installed"
    folder = os.path.join(os.path.dirname(os.path.dirname(scipy.__file__)), "scipy.libs")
    return blas_threads(threads, folder, "scipy's ")


def jax_run(jax: Any, case: Case, x: np.ndarray, consts: Consts) -> Callable[[], Any] | None:
    if jax is None or case.jax_f is None:
        return None
    jnp = jax.numpy
    vg = jax.jit(jax.value_and_grad(functools.partial(case.jax_f, jnp)))
    jx, jc = jnp.asarray(x), tuple(jnp.asarray(c) for c in consts)  # arguments, not constants
    return lambda: jax.block_until_ready(vg(jx, *jc))


def torch_run(torch: Any, case: Case, x: np.ndarray, consts: Consts) -> Callable[[], Any] | None:
    if torch is None or case.torch_f is None:
        return None
    xt = torch.tensor(x, requires_grad=True)
    ct = tuple(torch.from_numpy(c) for c in consts)
    fn = case.torch_f

    def run() -> tuple[Any, Any]:
        xt.grad = None
        y = fn(torch, xt, *ct)
        y.backward()
        return y.detach(), xt.grad
    return run


# --- the run ------------------------------------------------------------------------------------
def as_pair(result: Any) -> tuple[float, np.ndarray]:
    value, grad = result
    return float(np.asarray(value)), np.asarray(grad, dtype=np.float64)


def difference(got: tuple[float, np.ndarray], want: tuple[float, np.ndarray],
               symmetric: bool) -> tuple[bool, float]:
    """(whether value and gradient match the floor's, the largest gradient difference relative
    to the floor's largest entry)."""
    g, w = got[1], want[1]
    if g.shape != w.shape:
        return False, math.inf
    if symmetric:
        g, w = (g + g.T) * 0.5, (w + w.T) * 0.5
    scale = float(np.max(np.abs(w))) or 1.0
    rel = float(np.max(np.abs(g - w))) / scale
    ok = (bool(np.isclose(got[0], want[0], rtol=RTOL, atol=0.0))
          and bool(np.allclose(g, w, rtol=RTOL, atol=RTOL * scale)))
    return ok, rel


def rotating_turns(runs: list[Callable[[], Any]], repeats: int,
                   warmup: int) -> list[list[float]]:
    """common.turns, with the order rotated from one repeat to the next: each run follows each
    other equally often, so none always finds the caches warmed by the floor's pass over the same
    inputs, or cooled by a peer's."""
    for _ in range(warmup):
        for run in runs:
            run()
    times: list[list[float]] = [[] for _ in runs]
    k = len(runs)
    for r in range(repeats):
        for i in range(k):
            j = (i + r) % k
            times[j].append(timed(runs[j]))
    return times


class Measured(NamedTuple):
    case: Case
    n: int
    ok: bool  # the library's value and gradient match the floor's
    rel: float  # the library's largest relative gradient difference
    peers_ok: dict[str, bool]
    ms: dict[str, float]  # median ms per implementation: floor, library, alone, jax, torch
    ratio: dict[str, float]  # paired median ratio to the floor
    repeats: int


def _timed_turns(runs: dict[str, Callable[[], Any]], budget: float,
                 max_repeats: int) -> tuple[dict[str, list[float]], int]:
    """Seconds per call of each run, taking turns (rotating), as many repeats as fit in
    ``budget`` seconds (at least 5, at most ``max_repeats``), after one warm-up round."""
    names = list(runs)
    one_round = sum(t[0] for t in rotating_turns([runs[k] for k in names], 1, warmup=1))
    repeats = int(min(max_repeats, max(5, budget / max(one_round, 1e-9))))
    return dict(zip(names, rotating_turns([runs[k] for k in names], repeats, warmup=0))), repeats


def measure(case: Case, n: int, seed: int, budget: float, jax: Any, torch: Any,
            max_repeats: int) -> Measured:
    """Two passes of turns: the floor, the library and f alone; then, when a peer is installed,
    the floor again with the peers (their ratios are paired with this pass's floor). Keeping the
    peers out of the first pass keeps their caches and threads out of the library's figures."""
    x, consts = case.setup(n, np.random.default_rng(seed))
    lib = value_and_grad(lambda v: case.f(v, *consts))
    floor = lambda: case.floor(x, *consts)
    ours = {"floor": floor, "library": lambda: lib(x), "alone": lambda: case.f(x, *consts)}
    want = as_pair(floor())
    ok, rel = difference(as_pair(ours["library"]()), want, case.symmetric)
    peers: dict[str, Callable[[], Any]] = {}
    peers_ok = {}
    for name, run in (("jax", jax_run(jax, case, x, consts)),
                      ("torch", torch_run(torch, case, x, consts))):
        if run is None:
            continue
        try:
            peers_ok[name] = difference(as_pair(run()), want, case.symmetric)[0]
        except Exception as exc:  # a peer without the function: leave it out
            print(f"  ({name} fails on {case.name}: {type(exc).__name__}: {exc})")
            continue
        peers[name] = run
    times, repeats = _timed_turns(ours, budget, max_repeats)
    ratio = {k: paired_ratio(t, times["floor"]) for k, t in times.items()}
    if peers:
        peer_times, _ = _timed_turns({"peer floor": floor, **peers}, budget, max_repeats)
        for k in peers:
            times[k] = peer_times[k]
            ratio[k] = paired_ratio(peer_times[k], peer_times["peer floor"])
    return Measured(case, n, ok, rel, peers_ok,
                    {k: statistics.median(t) * 1e3 for k, t in times.items()}, ratio, repeats)


def fmt_time(ms: float | None, small: bool) -> str:
    if ms is None:
        return "-"
    return f"{ms * 1e3:.1f}" if small else f"{ms:.3f}"


def print_table(n: int, rows: list[Measured]) -> None:
    small = n < GOAL_FROM
    unit = "us" if small else "ms"
    print(f"\nn = {n}: median {unit} per call (value and gradient; 'f alone': the forward as "
          f"written, numpy, no gradient); x / floor: median of paired ratios")
    head = (f"  {'case':36s} {'check':>12s} {'f alone':>9s} {'floor':>9s} {'library':>9s} "
            f"{'x floor':>7s} ")
    head += f"{'+us':>7s} " if small else f"{'goal':>5s} "
    head += f"{'jax.jit':>9s} {'x floor':>7s} {'torch':>9s} {'x floor':>7s} {'reps':>5s}"
    print(head)
    for r in rows:
        check = f"{'ok' if r.ok else 'FAIL'} {r.rel:7.1e}"
        line = (f"  {r.case.name:36s} {check:>12s} {fmt_time(r.ms['alone'], small):>9s} "
                f"{fmt_time(r.ms['floor'], small):>9s} {fmt_time(r.ms['library'], small):>9s} "
                f"{r.ratio['library']:7.2f} ")
        if small:
            line += f"{(r.ms['library'] - r.ms['floor']) * 1e3:7.1f} "
        else:
            line += f"{'ok' if r.ratio['library'] <= GOAL else 'OVER':>5s} "
        for peer in ("jax", "torch"):
            if peer in r.ms:
                mark = "" if r.peers_ok.get(peer, False) else "!"
                line += (f"{fmt_time(r.ms[peer], small):>9s} "
                         f"{f'{r.ratio[peer]:.2f}{mark}':>7s} ")
            else:
                line += f"{'-':>9s} {'-':>7s} "
        print(line + f"{r.repeats:5d}")


def print_summary(results: list[Measured]) -> None:
    print("\nsummary")
    results = [r for r in results if not r.case.name.startswith("(reference)")]
    small = [r for r in results if r.n < GOAL_FROM]
    for n in sorted({r.n for r in small}):
        over = [(r.ms["library"] - r.ms["floor"]) * 1e3 for r in small if r.n == n]
        print(f"  n = {n}: library overhead over the floor, median of the cases "
              f"{statistics.median(over):.1f} us (from {min(over):.1f} to {max(over):.1f})")
    for n in sorted({r.n for r in results if r.n >= GOAL_FROM}):
        rows = [r for r in results if r.n == n]
        over = [r for r in rows if r.ratio["library"] > GOAL]
        print(f"  n = {n}: library / floor at most {GOAL}: {len(rows) - len(over)} of "
              f"{len(rows)} cases; over: "
              + (", ".join(f"{r.case.name} ({r.ratio['library']:.2f})" for r in over) or "none"))
    failed = [f"{r.case.name} n={r.n}" for r in results if not r.ok]
    print(f"  gradient checks: {'all passed' if not failed else 'FAILED: ' + ', '.join(failed)}")
    for peer in ("jax", "torch"):
        bad = [f"{r.case.name} n={r.n}" for r in results if r.peers_ok.get(peer) is False]
        if bad:
            print(f"  {peer} differs from the floor ('!'): {', '.join(bad)}")


def profile(cases: list[Case], sizes: list[int], seed: int, calls: int) -> None:
    """cProfile of ``calls`` calls of the library's value_and_grad, per case and size."""
    for case in cases:
        for n in sizes:
            if n > case.max_n:
                continue
            x, consts = case.setup(n, np.random.default_rng(seed))
            lib = value_and_grad(lambda v, c=consts, f=case.f: f(v, *c))
            lib(x)
            prof = cProfile.Profile()
            prof.enable()
            for _ in range(calls):
                lib(x)
            prof.disable()
            print(f"\ncProfile: {case.name}, n = {n}, {calls} calls of the library's "
                  f"value_and_grad")
            stats = pstats.Stats(prof)
            stats.strip_dirs().sort_stats("tottime").print_stats(25)


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as info:
            for line in info:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return f"machine: {os.cpu_count()} CPUs, {cpu}"


def revision() -> str:
    """The checkout measured: its commit, and whether files differ from it."""
    root = Path(__file__).resolve().parents[1]
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=root, text=True,
                                capture_output=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                               cwd=root, text=True, capture_output=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return "tree: not a git checkout"
    return f"tree: {commit}{' with uncommitted changes' if dirty.strip() else ''}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="n = 8 and 128, budget 0.3 s per case, size and pass")
    parser.add_argument("--sizes", type=str, default=None,
                        help="comma-separated sizes n (default 8,128,256)")
    parser.add_argument("--cases", action="append", default=None, metavar="PART",
                        help="run the cases whose names contain PART (repeatable; default all)")
    parser.add_argument("--budget", type=float, default=None,
                        help="seconds of timed calls per case, size and pass (default 0.8)")
    parser.add_argument("--seed", type=int, default=0, help="seeds the inputs")
    parser.add_argument("--no-peers", action="store_true", help="leave jax and PyTorch out")
    parser.add_argument("--profile", action="append", default=None, metavar="PART",
                        help="instead of timing, cProfile 40 calls of the library's value_and_grad "
                        "on the cases whose names contain PART (repeatable)")
    add_blas_option(parser)
    add_malloc_option(parser)
    args = parser.parse_args()
    sizes = ([int(s) for s in args.sizes.split(",")] if args.sizes else
             [8, 128] if args.quick else [8, 128, 256])
    budget = args.budget if args.budget is not None else 0.3 if args.quick else 0.8
    wanted = args.profile or args.cases
    cases = [c for c in CASES if any(w in c.name for w in wanted)] if wanted else CASES
    if not cases:
        raise SystemExit(f"no case name contains any of {wanted}; the cases: "
                         + "; ".join(c.name for c in CASES))

    peers = not (args.no_peers or args.profile)
    torch = import_torch() if peers else None
    jax, jax_blas = import_jax(args.blas_threads) if peers else (None, "")
    print(header(blas_threads(args.blas_threads), malloc=tune_malloc(args.tune_malloc)))
    print(f"{machine()}; {revision()}")
    if args.profile:
        profile(cases, sizes, args.seed, calls=40)
        return
    missing = "not installed" if peers else "left out (--no-peers)"
    print(f"jax: {'float64, XLA_FLAGS=' + os.environ['XLA_FLAGS'] if jax else missing}"
          + (f", LAPACK from {jax_blas}" if jax else "")
          + f"; torch: {'eager, float64, value then backward()' if torch else missing}")
    print(f"budget {budget} s of timed calls per case, size and pass (at least 5 repeats); goal: "
          f"library / floor <= {GOAL} from n = {GOAL_FROM}; check: library value and gradient "
          f"against the floor's (rtol {RTOL:g}; largest difference / largest entry shown)")
    start = time.perf_counter()
    results = []
    for n in sizes:
        rows = []
        for case in cases:
            if n > case.max_n:
                continue
            rows.append(measure(case, n, args.seed, budget, jax, torch,
                                max_repeats=400 if n < GOAL_FROM else 200))
        print_table(n, rows)
        results += rows
    print_summary(results)
    print(f"\n{time.perf_counter() - start:.0f} s")
    if not all(r.ok for r in results):
        raise SystemExit(1)


if __name__ == "__main__":
    main()
