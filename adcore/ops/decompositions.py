"""numpy.linalg's decompositions (cholesky, eigh, eigvalsh, svd, qr) and its matrix norms.

Each works on stacks of matrices, as numpy's does; the rules are written with matmul, solve and
elementwise ops on stacks, so they hold for batches of tangents and cotangents and differentiate
again. Where a derivative exists only under a condition, the condition is stated on the op:

- eigh and svd: the vectors' derivatives divide by differences of eigenvalues (singular values),
  so they need distinct ones; the values alone (eigvalsh, svdvals) do not.
- cholesky, eigh and eigvalsh read one triangle of their input, as numpy's do (the lower one
  unless told otherwise): their values are numpy's for any input, and their gradients are the
  derivatives of exactly that, so they lie in the triangle read (an off-diagonal entry counts
  for itself and its mirror image). For a symmetric ``a = s(x)`` built from free parameters x,
  the gradient with respect to x is the same as with a symmetrised rule.
- svd with ``full_matrices=True`` on a non-square matrix has no unique derivative of its extra
  columns: its rules refuse it, naming ``full_matrices=False``. qr's derivative needs at least as
  many rows as columns (``mode="reduced"``), as JAX's and PyTorch's.
"""
from __future__ import annotations

import math
from typing import Any, NamedTuple

import numpy as np

from adcore import domains as D
from adcore.derive import received
from adcore.levels import bind, raw
from adcore.ops.compare import equal
from adcore.ops.elementwise import abs, add, div, mul, pow, sub, where
from adcore.ops.linalg import (
    _mT,
    _pinv_domain,
    _pinv_jvp,
    _pinv_vjp,
    _square,
    inv_op,
    matmul,
    pinv_op,
    solve_op,
)
from adcore.ops.reduce import max as amax
from adcore.ops.reduce import min as amin
from adcore.ops.reduce import norm, sum, sum_op
from adcore.ops.shape import reshape, reshape_op, transpose
from adcore.registry import Op, declare, defop, public
from adcore.shapes import axis_pair, dtype_of, normalize_axis, shape_of

__all__ = [  # its public functions, re-exported by adcore.ops
    "cholesky",
    "eigh",
    "eigvalsh",
    "lstsq",
    "lstsq_solution",
    "matrix_norm",
    "qr",
    "svd",
    "svdvals",
    "vector_norm",
]


def _triangles(n: int, lower: bool) -> tuple[np.ndarray, np.ndarray]:
    """(the triangle read, diagonal included; the same without the diagonal) as masks."""
    read = np.tri(n, n, 0, dtype=bool)
    strict = np.tri(n, n, -1, dtype=bool)
    return (read, strict) if lower else (read.T, strict.T)


def _mirrored(x: Any, lower: bool) -> Any:
    """The symmetric matrices that an op reading one triangle of ``x`` sees: the triangle,
    mirrored across the diagonal."""
    read, strict = _triangles(shape_of(x)[-1], lower)
    return add(mul(x, read), _mT(mul(x, strict)))


def _folded(g: Any, lower: bool) -> Any:
    """The transpose of ``_mirrored``: a gradient with respect to the symmetric matrix, as one
    with respect to the triangle read (each off-diagonal entry gets its own and its mirror's)."""
    read, strict = _triangles(shape_of(g)[-1], lower)
    return add(mul(g, read), mul(_mT(g), strict))


def _row(v: Any) -> Any:
    """A stack of vectors (..., n) as rows (..., 1, n), to scale the columns of matrices."""
    s = shape_of(v)
    return bind(reshape_op, v, shape=s[:-1] + (1, s[-1]), in_shape=s)


def _col(v: Any) -> Any:
    """A stack of vectors (..., n) as columns (..., n, 1), to scale the rows of matrices."""
    s = shape_of(v)
    return bind(reshape_op, v, shape=s + (1,), in_shape=s)


def _diag_of(m: Any) -> Any:
    """The diagonal of each square matrix of a stack, (..., n)."""
    return bind(sum_op, mul(m, np.eye(shape_of(m)[-1], dtype=bool)), axes=(-1,), keepdims=False)


def _diag_embed(v: Any, values: Any) -> Any:
    """Square matrices with the vectors ``v`` (cotangents of ``values``, which gives their shape
    without a batch) on their diagonals."""
    s = shape_of(values)
    n = s[-1]
    return mul(bind(reshape_op, v, shape=s[:-1] + (1, n), in_shape=s), np.eye(n, dtype=bool))


def _gaps(values: Any) -> Any:
    """F[i, j] = 1 / (values[j] - values[i]) off the diagonal, 0 on it (the double where keeps
    the diagonal's 1 / 0 out of every order of derivative)."""
    n = shape_of(values)[-1]
    off = ~np.eye(n, dtype=bool)
    diff = sub(_row(values), _col(values))
    return where(off, div(1.0, where(off, diff, 1.0)), 0.0)


def _rotation(draw: D.Draw, shape: tuple) -> np.ndarray:
    """Orthogonal matrices away from the axes: the numerical libraries choose the signs of
    eigenvectors and singular vectors, and near an axis-aligned matrix a tiny change can flip
    one (finite differences would then measure the flip)."""
    generic = np.random.default_rng(shape[-1]).normal(size=shape[-2:])
    q, _ = np.linalg.qr(generic + draw.array(shape, -0.2, 0.2))
    return q


def _spd_domain(draw: D.Draw) -> tuple[tuple, dict]:
    """Matrices whose lower (or upper) triangle, mirrored, is symmetric positive definite with
    distinct, separated eigenvalues; the other triangle holds anything (the ops do not read it)."""
    n = draw.integers(1, 3)
    stack = draw.shape(max_dims=1, min_side=1)
    q = _rotation(draw, stack + (n, n))
    values = 1.0 + np.arange(n) + draw.array(stack + (n,), -0.3, 0.3)
    a = q @ (values[..., :, None] * np.swapaxes(q, -1, -2))
    lower = draw.boolean()
    unread = _triangles(n, not lower)[1]
    return (a + draw.array(stack + (n, n), -1.0, 1.0) * unread,), {"UPLO": "L" if lower else "U"}


# --- cholesky ---------------------------------------------------------------------------------

def _phi(x: Any) -> Any:
    """The lower triangle with its diagonal halved."""
    n = shape_of(x)[-1]
    return mul(x, (np.tri(n, n, -1) + 0.5 * np.eye(n)).astype(dtype_of(x)))


def _cholesky_jvp(x_dot: Any, a: Any, out: Any, *, lower: bool) -> Any:
    """With S the mirrored triangle read: dL = L phi(L^-1 dS L^-T) (U = L^T when upper)."""
    low = out if lower else _mT(out)
    low_inv = bind(inv_op, low)  # one inverse of the triangle, then products: cheaper than solves
    inner = matmul(low_inv, matmul(_mirrored(x_dot, lower), _mT(low_inv)))
    dl = matmul(low, _phi(inner))
    return dl if lower else _mT(dl)


def _cholesky_vjp(y_bar: Any, a: Any, out: Any, *, lower: bool) -> Any:
    """a_bar = folded(L^-T phi(L^T L_bar) L^-1)."""
    low, l_bar = (out, y_bar) if lower else (_mT(out), _mT(y_bar))
    low_inv = bind(inv_op, low)
    p = _phi(matmul(_mT(low), l_bar))
    return _folded(matmul(_mT(low_inv), matmul(p, low_inv)), lower)


def _cholesky_domain(draw: D.Draw) -> tuple[tuple, dict]:
    args, params = _spd_domain(draw)
    return args, {"upper": params["UPLO"] == "U"}


cholesky_op: Op = defop(
    "cholesky", lambda a, *, lower: np.linalg.cholesky(a, upper=not lower),
    jvp=(_cholesky_jvp,), vjp=(_cholesky_vjp,), numpy=np.linalg.cholesky, torch_method="cholesky",
    domain=lambda draw: _cholesky_domain(draw),
    doc="cholesky(a) = L, lower triangular with L L^T = S, S the lower triangle of a mirrored "
        "(positive definite).  dL = L phi(L^-1 dS L^-T), phi: the lower triangle, diagonal "
        "halved.", saves="out")


@public(cholesky_op)
def cholesky(a: Any, upper: bool = False) -> Any:
    """cholesky(a, upper=False): the lower-triangular L with L @ L.T = a for each symmetric
    positive-definite matrix, read from its lower triangle (numpy.linalg.cholesky;
    ``upper=True``: U with U.T @ U = a, read from the upper triangle)."""
    _square("cholesky", a)
    return bind(cholesky_op, a, lower=not upper)


# --- eigh and eigvalsh ------------------------------------------------------------------------

class EighResult(NamedTuple):
    eigenvalues: Any
    eigenvectors: Any


def _eigh_jvp(x_dot: Any, a: Any, out: Any, *, lower: bool) -> tuple:
    """P = V^T dS V (S: the triangle read, mirrored): dw = diag(P), dV = V (F * P),
    F[i, j] = 1 / (w[j] - w[i])."""
    w, v = out
    p = matmul(_mT(v), matmul(_mirrored(x_dot, lower), v))
    return _diag_of(p), matmul(v, mul(_gaps(w), p))


def _eigh_vjp(y_bar: Any, a: Any, out: Any, *, lower: bool) -> Any:
    """a_bar = folded(V (diag(w_bar) + F * (V^T V_bar)) V^T)."""
    w, v = out
    w_bar, v_bar = y_bar
    inner = _diag_embed(w_bar, w)
    if received(y_bar, 1):  # the vectors' term (skipped when only the values are used)
        inner = add(inner, mul(_gaps(w), matmul(_mT(v), v_bar)))
    return _folded(matmul(v, matmul(inner, _mT(v))), lower)


eigh_op: Op = defop(
    "eigh", lambda a, *, lower: tuple(np.linalg.eigh(a, "L" if lower else "U")), outputs=2,
    jvp=(_eigh_jvp,), vjp=(_eigh_vjp,), domain=_spd_domain, numpy=np.linalg.eigh,
    doc="eigh(a) = (w, V), S = V diag(w) V^T, S the lower (or upper) triangle of a mirrored.  "
        "dw = diag(V^T dS V), dV = V (F * (V^T dS V)) with F[i, j] = 1 / (w[j] - w[i]): the "
        "vectors' derivative needs distinct eigenvalues.", saves="out")


def _uplo(fn: str, UPLO: str) -> bool:
    if UPLO not in ("L", "U"):
        raise ValueError(f"{fn}: UPLO must be 'L' or 'U', got {UPLO!r}")
    return UPLO == "L"


@public(eigh_op)
def eigh(a: Any, UPLO: str = "L") -> EighResult:
    """eigh(a, UPLO='L'): (eigenvalues ascending, eigenvectors as columns) of each symmetric
    matrix, read from its lower (or upper) triangle (numpy.linalg.eigh). The derivative of the
    eigenvectors needs distinct eigenvalues."""
    _square("eigh", a)
    return EighResult(*bind(eigh_op, a, lower=_uplo("eigh", UPLO)))


def _eigvalsh_jvp(x_dot: Any, a: Any, out: Any, *, lower: bool) -> Any:
    v = bind(eigh_op, a, lower=lower)[1]
    return _diag_of(matmul(_mT(v), matmul(_mirrored(x_dot, lower), v)))


def _eigvalsh_vjp(y_bar: Any, a: Any, out: Any, *, lower: bool) -> Any:
    v = bind(eigh_op, a, lower=lower)[1]
    return _folded(matmul(v, matmul(_diag_embed(y_bar, out), _mT(v))), lower)


eigvalsh_op: Op = defop(
    "eigvalsh", lambda a, *, lower: np.linalg.eigvalsh(a, "L" if lower else "U"),
    jvp=(_eigvalsh_jvp,), vjp=(_eigvalsh_vjp,), domain=_spd_domain, numpy=np.linalg.eigvalsh,
    doc="eigvalsh(a) = w, the eigenvalues of S, the lower (or upper) triangle of a mirrored.  "
        "dw = diag(V^T dS V), a_bar = folded(V diag(w_bar) V^T) (V from eigh).", saves="a out")


@public(eigvalsh_op)
def eigvalsh(a: Any, UPLO: str = "L") -> Any:
    """eigvalsh(a, UPLO='L'): the eigenvalues (ascending) of each symmetric matrix, read from
    its lower (or upper) triangle (numpy.linalg.eigvalsh)."""
    _square("eigvalsh", a)
    return bind(eigvalsh_op, a, lower=_uplo("eigvalsh", UPLO))


# --- svd and svdvals --------------------------------------------------------------------------

class SVDResult(NamedTuple):
    U: Any
    S: Any
    Vh: Any


def _reduced(out: tuple, full: bool) -> tuple[int, int]:
    """The shape (m, n) of the decomposed matrices; refuses full_matrices=True when m != n."""
    m, n = shape_of(out[0])[-2], shape_of(out[2])[-1]
    if full and m != n:
        raise ValueError(f"svd: the derivative of full_matrices=True for a non-square {m}x{n} "
                         f"matrix is not unique (its extra columns are any orthonormal "
                         f"completion); call svd(a, full_matrices=False)")
    return m, n


def _svd_jvp(x_dot: Any, a: Any, out: Any, *, full: bool) -> tuple:
    """With dS = U^T da V and F[i, j] = 1 / (s[j]^2 - s[i]^2): ds = diag(dS),
    dU = U (F * (dS S + S dS^T)) + (I - U U^T) da V / s  (more rows than columns),
    dV = V (F * (S dS + dS^T S)) + (I - V V^T) da^T U / s  (more columns than rows)."""
    m, n = _reduced(out, full)
    u, s, vh = out
    v = _mT(vh)
    ds_mat = matmul(_mT(u), matmul(x_dot, v))
    f = _gaps(mul(s, s))
    s_row, s_col = _row(s), _col(s)
    du = matmul(u, mul(f, add(mul(ds_mat, s_row), mul(s_col, _mT(ds_mat)))))
    dv = matmul(v, mul(f, add(mul(s_col, ds_mat), mul(_mT(ds_mat), s_row))))
    if m > n:
        da_v = matmul(x_dot, v)
        du = add(du, div(sub(da_v, matmul(u, matmul(_mT(u), da_v))), s_row))
    if n > m:
        da_u = matmul(_mT(x_dot), u)
        dv = add(dv, div(sub(da_u, matmul(v, matmul(vh, da_u))), s_row))
    return du, _diag_of(ds_mat), _mT(dv)


def _svd_vjp(y_bar: Any, a: Any, out: Any, *, full: bool) -> Any:
    """The transpose of the JVP: a_bar = U (J + J^T) S V^T + U S (K + K^T) V^T + U diag(s_bar) V^T
    (+ the terms of the extra rows or columns), J = F * (U^T U_bar), K = F * (V^T V_bar)."""
    m, n = _reduced(out, full)
    u, s, vh = out
    u_bar, s_bar, vh_bar = y_bar
    v, v_bar = _mT(vh), _mT(vh_bar)
    f = _gaps(mul(s, s))
    s_row, s_col = _row(s), _col(s)
    core = _diag_embed(s_bar, s)
    if received(y_bar, 0):
        j = mul(f, matmul(_mT(u), u_bar))
        core = add(core, mul(add(j, _mT(j)), s_row))
    if received(y_bar, 2):
        k = mul(f, matmul(vh, v_bar))
        core = add(core, mul(s_col, add(k, _mT(k))))
    a_bar = matmul(u, matmul(core, vh))
    if m > n and received(y_bar, 0):
        rest = sub(u_bar, matmul(u, matmul(_mT(u), u_bar)))
        a_bar = add(a_bar, matmul(div(rest, s_row), vh))
    if n > m and received(y_bar, 2):
        rest = sub(v_bar, matmul(v, matmul(vh, v_bar)))
        a_bar = add(a_bar, matmul(u, _mT(div(rest, s_row))))
    return a_bar


def _svd_domain(draw: D.Draw) -> tuple[tuple, dict]:
    """Matrices with distinct singular values, well away from 0."""
    m, n = draw.integers(1, 3), draw.integers(1, 3)
    k = min(m, n)
    stack = draw.shape(max_dims=1, min_side=1)
    base = np.zeros((m, n))
    base[:k, :k] = np.diag(1.0 + np.arange(k))
    full = m == n and draw.boolean()
    a = _rotation(draw, (m, m)) @ base @ _rotation(draw, (n, n))
    return (a + draw.array(stack + (m, n), -0.1, 0.1),), {"full_matrices": full}


svd_op: Op = defop(
    "svd", lambda a, *, full: tuple(np.linalg.svd(a, full_matrices=full)), outputs=3,
    jvp=(_svd_jvp,), vjp=(_svd_vjp,), domain=_svd_domain, numpy=np.linalg.svd,
    doc="svd(a) = (U, s, Vh), a = U diag(s) Vh.  The vectors' derivatives divide by "
        "s[j]^2 - s[i]^2 (distinct singular values) and by s (non-zero ones for a non-square "
        "matrix); full_matrices=True needs a square matrix.", saves="out")


def _svdvals_jvp(x_dot: Any, a: Any, out: Any) -> Any:
    u, _, vh = bind(svd_op, a, full=False)
    return _diag_of(matmul(_mT(u), matmul(x_dot, _mT(vh))))


def _svdvals_vjp(y_bar: Any, a: Any, out: Any) -> Any:
    u, _, vh = bind(svd_op, a, full=False)
    return matmul(mul(u, _row(y_bar)), vh)


svdvals_op: Op = defop(
    "svdvals", lambda a: np.linalg.svd(a, compute_uv=False),
    jvp=(_svdvals_jvp,), vjp=(_svdvals_vjp,),
    domain=lambda draw: (_svd_domain(draw)[0], {}),
    numpy=np.linalg.svdvals if hasattr(np.linalg, "svdvals") else (),
    doc="svdvals(a) = s, the singular values, descending.  ds = diag(U^T da V), a_bar = "
        "U diag(s_bar) Vh (U, Vh from svd; a sum of singular values is differentiable at ties).",
    saves="a")


@public(svdvals_op)
def svdvals(x: Any) -> Any:
    """svdvals(x): the singular values of each matrix, descending (numpy.linalg.svdvals)."""
    if len(shape_of(x)) < 2:
        raise ValueError(f"svdvals: needs matrices (..., m, n), got shape {shape_of(x)}")
    return bind(svdvals_op, x)


@public(svd_op)
def svd(a: Any, full_matrices: bool = True, compute_uv: bool = True,
        hermitian: bool = False) -> Any:
    """svd(a, full_matrices=True, compute_uv=True): (U, S, Vh) of each matrix, or S alone
    (numpy.linalg.svd). The derivative needs distinct singular values, and full_matrices=False
    for a non-square matrix."""
    if len(shape_of(a)) < 2:
        raise ValueError(f"svd: needs matrices (..., m, n), got shape {shape_of(a)}")
    if not compute_uv:
        return bind(svdvals_op, a)
    return SVDResult(*bind(svd_op, a, full=bool(full_matrices)))


# --- qr -------------------------------------------------------------------------------------

class QRResult(NamedTuple):
    Q: Any
    R: Any


def _tall(out: tuple) -> None:
    m, n = shape_of(out[0])[-2], shape_of(out[1])[-1]
    if m < n:
        raise ValueError(f"qr: the derivative of Q and R for a {m}x{n} matrix with fewer rows "
                         f"than columns is not implemented (as in JAX and PyTorch); "
                         f"differentiate qr of a matrix with at least as many rows as columns")


def _strictly_lower(x: Any) -> Any:
    n = shape_of(x)[-1]
    return mul(x, np.tri(n, n, -1, dtype=bool))


def _qr_jvp(x_dot: Any, a: Any, out: Any, *, mode: str) -> tuple:
    """C = da R^-1, B = Q^T C, O = L - L^T (L: B's strict lower triangle):
    dQ = Q (O - B) + C, dR = (B - O) R."""
    _tall(out)
    q, r = out
    c = _mT(bind(solve_op, _mT(r), _mT(x_dot)))
    b = matmul(_mT(q), c)
    low = _strictly_lower(b)
    omega = sub(low, _mT(low))
    return add(matmul(q, sub(omega, b)), c), matmul(sub(b, omega), r)


def _qr_vjp(y_bar: Any, a: Any, out: Any, *, mode: str) -> Any:
    """M = Q^T Q_bar - R_bar R^T: a_bar = (Q_bar + Q (lower(M - M^T) - M)) R^-T."""
    _tall(out)
    q, r = out
    q_bar, r_bar = y_bar
    m = sub(matmul(_mT(q), q_bar), matmul(r_bar, _mT(r)))
    c_bar = add(q_bar, matmul(q, sub(_strictly_lower(sub(m, _mT(m))), m)))
    return _mT(bind(solve_op, r, _mT(c_bar)))


def _qr_domain(draw: D.Draw) -> tuple[tuple, dict]:
    """Full-rank matrices with no zero below the diagonal: where one is exactly zero, LAPACK's
    Householder step skips its reflection and the signs of Q and R jump."""
    n = draw.integers(1, 3)
    m = n + draw.integers(0, 1)
    base = _rotation(draw, (m, m))[:, :n] * 2.0
    return (base + draw.array(draw.shape(max_dims=1) + (m, n), -0.1, 0.1),), {"mode": "reduced"}


qr_op: Op = defop(
    "qr", lambda a, *, mode: tuple(np.linalg.qr(a, mode=mode)), outputs=2,
    jvp=(_qr_jvp,), vjp=(_qr_vjp,), domain=_qr_domain, numpy=np.linalg.qr,
    doc="qr(a) = (Q, R), a = Q R.  With C = da R^-1, B = Q^T C, O = B's strict lower triangle "
        "minus its transpose: dQ = Q (O - B) + C, dR = (B - O) R (needs rows >= columns).",
    saves="out")


@public(qr_op)
def qr(a: Any, mode: str = "reduced") -> Any:
    """qr(a, mode='reduced'): (Q, R) of each matrix (numpy.linalg.qr); mode 'complete' and 'r'
    as numpy ('raw' is not supported). Differentiable for at least as many rows as columns."""
    if len(shape_of(a)) < 2:
        raise ValueError(f"qr: needs matrices (..., m, n), got shape {shape_of(a)}")
    if mode == "r":
        return bind(qr_op, a, mode="reduced")[1]
    if mode not in ("reduced", "complete"):
        raise ValueError(f"qr: mode={mode!r} is not supported on engine values; use 'reduced', "
                         f"'complete' or 'r'")
    m, n = shape_of(a)[-2:]
    return QRResult(*bind(qr_op, a, mode="reduced" if m <= n else mode))


# --- least squares ---------------------------------------------------------------------------

def _lstsq_jvp_a(a_dot: Any, a: Any, b: Any, out: Any, *, rcond: Any) -> Any:
    p = bind(pinv_op, a, rcond=rcond)
    return matmul(_pinv_jvp(a_dot, a, p, rcond=rcond), b)


def _lstsq_vjp_a(y_bar: Any, a: Any, b: Any, out: Any, *, rcond: Any) -> Any:
    p = bind(pinv_op, a, rcond=rcond)
    return _pinv_vjp(matmul(y_bar, _mT(b)), a, p, rcond=rcond)


def _lstsq_domain(draw: D.Draw) -> tuple[tuple, dict]:
    (a,), _ = _pinv_domain(draw)
    return (a, draw.array((shape_of(a)[0], draw.integers(1, 2)))), {"rcond": None}


def _lstsq_impl(a: np.ndarray, b: np.ndarray, *, rcond: Any) -> np.ndarray:
    """numpy's lstsq, one matrix at a time over leading axes (vmap's examples), which numpy's
    own does not take."""
    if a.ndim == 2 and b.ndim == 2:
        return np.linalg.lstsq(a, b, rcond=rcond)[0]
    stack = np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
    a = np.broadcast_to(a, stack + a.shape[-2:])
    b = np.broadcast_to(b, stack + b.shape[-2:])
    out = np.empty(stack + (a.shape[-1], b.shape[-1]), np.result_type(a, b))
    for k in np.ndindex(*stack):
        out[k] = np.linalg.lstsq(a[k], b[k], rcond=rcond)[0]
    return out


lstsq_op: Op = defop(
    "lstsq", _lstsq_impl,
    jvp=(_lstsq_jvp_a,
         lambda b_dot, a, b, out, *, rcond: matmul(bind(pinv_op, a, rcond=rcond), b_dot)),
    vjp=(_lstsq_vjp_a,
         lambda y_bar, a, b, out, *, rcond: matmul(_mT(bind(pinv_op, a, rcond=rcond)), y_bar)),
    domain=_lstsq_domain,
    doc="lstsq(a, b) = pinv(a) @ b, the least-squares solution.  Differentiated as pinv(a) @ b, "
        "where the rank does not change (a of full rank).", saves=("a b", "a"))


@declare(numpy=np.linalg.lstsq)
def lstsq(a: Any, b: Any, rcond: Any = None) -> tuple:
    """lstsq(a, b, rcond=None): (x, residuals, rank, s) as numpy.linalg.lstsq. x is numpy's,
    differentiable where a has full rank; the residuals (sum((b - a x) ** 2) over rows, when a
    has full column rank and more rows than columns, else empty) and the singular values s are
    recomputed from differentiable ops (their last bits may differ from numpy's); rank is a
    number."""
    sa, sb = shape_of(a), shape_of(b)
    x = lstsq_solution(a, b, rcond)
    column = reshape(b, (sb[0], 1)) if len(sb) == 1 else b
    s = svdvals(a)
    rank = int(np.min(np.linalg.matrix_rank(np.asarray(raw(a)))))
    m, n = sa
    if rank == n and m > n:
        r = sub(column, matmul(a, reshape(x, (n, 1)) if len(sb) == 1 else x))
        residuals = bind(sum_op, mul(r, r), axes=(-2,), keepdims=False)
        if len(sb) == 1:
            residuals = reshape(residuals, (1,))
    else:
        residuals = np.zeros((0,), dtype=np.result_type(raw(a)))
    return x, residuals, rank, s


@public(lstsq_op)
def lstsq_solution(a: Any, b: Any, rcond: Any = None) -> Any:
    """lstsq_solution(a, b, rcond=None): the x of lstsq(a, b) alone (numpy's values)."""
    sa, sb = shape_of(a), shape_of(b)
    if len(sa) != 2 or len(sb) not in (1, 2) or sb[0] != sa[0]:
        raise ValueError(f"lstsq: a must be (m, n) and b (m,) or (m, k) with the same m; got "
                         f"shapes {sa} and {sb}")
    if len(sb) == 1:
        return reshape(bind(lstsq_op, a, reshape(b, (sb[0], 1)), rcond=rcond), (sa[1],))
    return bind(lstsq_op, a, b, rcond=rcond)


# --- norms ------------------------------------------------------------------------------------

@declare(numpy=np.linalg.matrix_norm if hasattr(np.linalg, "matrix_norm") else ())
def matrix_norm(x: Any, ord: Any = "fro", axis: tuple = (-2, -1), keepdims: bool = False) -> Any:
    """matrix_norm(x, ord='fro', axis=(-2, -1)): numpy's matrix norms over two axes: 'fro',
    'nuc' (the sum of singular values), 2 and -2 (the largest and smallest), 1 and -1 (column
    sums of |x|), inf and -inf (row sums). Ties among the entries or singular values that decide
    a max or min share its gradient, as max's do."""
    nd = len(shape_of(x))
    r, c = axis_pair(axis, nd, "matrix_norm")
    if ord in (None, "fro"):
        out = norm(x, None, (r, c), True)
    elif ord in ("nuc", 2, -2):
        rest = [k for k in range(nd) if k not in (r, c)]
        s = svdvals(x if (r, c) == (nd - 2, nd - 1) else transpose(x, rest + [r, c]))
        value = (sum(s, -1) if ord == "nuc" else amax(s, -1) if ord == 2 else amin(s, -1))
        kept = list(shape_of(value))
        for k in sorted((r, c)):
            kept.insert(k, 1)
        out = reshape(value, tuple(kept))
    elif ord in (1, -1, math.inf, -math.inf):
        summed, across = (r, c) if ord in (1, -1) else (c, r)
        sums = sum(abs(x), summed, True)
        out = (amax if ord > 0 else amin)(sums, across, True)
    else:
        raise ValueError(f"matrix_norm: ord={ord!r} is not a matrix norm; use 'fro', 'nuc', "
                         f"2, -2, 1, -1, inf or -inf")
    if keepdims:
        return out
    return reshape(out, tuple(n for k, n in enumerate(shape_of(out)) if k not in (r, c)))


@declare(numpy=np.linalg.norm, name="linalg_norm")
def _linalg_norm(x: Any, ord: Any = None, axis: Any = None, keepdims: bool = False) -> Any:
    """np.linalg.norm on engine values: every vector and matrix norm numpy computes."""
    nd = len(shape_of(x))
    if axis is None and ord is not None and nd == 2:
        axis = (0, 1)
    if isinstance(axis, (tuple, list)) and len(axis) == 2:
        return matrix_norm(x, ord, tuple(axis), keepdims)
    if axis is None and nd > 2 and ord is not None:
        raise ValueError(f"np.linalg.norm: ord={ord!r} needs axis for an array of shape "
                         f"{shape_of(x)} (numpy's rule: 1-d or 2-d without axis)")
    if isinstance(axis, (tuple, list)):
        axis = tuple(axis)
        if len(axis) != 1:
            raise ValueError(f"np.linalg.norm: axis={axis!r} names {len(axis)} axes; give one "
                             f"(a vector norm) or two (a matrix norm)")
    if ord == 0:
        return sum(where(equal(x, 0), 0.0, 1.0), axis, keepdims)
    if ord is not None and ord < 0 and ord != -math.inf:
        p = float(ord)
        return _power_mean(x, p, axis, keepdims)
    return norm(x, ord, axis, keepdims)


@declare(numpy=np.linalg.vector_norm if hasattr(np.linalg, "vector_norm") else ())
def vector_norm(x: Any, axis: Any = None, keepdims: bool = False, ord: Any = 2) -> Any:
    """vector_norm(x, axis=None, keepdims=False, ord=2): numpy's vector norms over one axis, a
    tuple of axes or all entries (numpy.linalg.vector_norm)."""
    if isinstance(axis, (tuple, list)) and len(axis) > 1:
        nd = len(shape_of(x))
        axes = [normalize_axis(int(a), nd, "vector_norm") % nd for a in axis]
        rest = [k for k in range(nd) if k not in axes]
        moved = reshape(transpose(x, rest + axes), tuple(shape_of(x)[k] for k in rest) + (-1,))
        out = vector_norm(moved, -1, False, ord)
        if keepdims:
            kept = list(shape_of(out))
            for k in sorted(axes):
                kept.insert(k, 1)
            out = reshape(out, tuple(kept))
        return out
    if axis is None:
        out = _linalg_norm(reshape(x, (-1,)), ord, 0, False)
        return reshape(out, (1,) * len(shape_of(x))) if keepdims else out
    return _linalg_norm(x, ord, axis, keepdims)


def _power_mean(x: Any, p: float, axis: Any, keepdims: bool) -> Any:
    """sum(|x| ** p) ** (1 / p) for p < 0 (numpy's formula; an entry 0 gives 0)."""
    return pow(sum(pow(abs(x), p), axis, keepdims), 1.0 / p)

