"""einsum and numpy.linalg under the transformations: numpy's values bit for bit, every form of
einsum's subscripts, gradients against finite differences, and the stated conditions of the
decompositions (refusals name the fix)."""
from __future__ import annotations

import numpy as np
import pytest

from adcore import numerical_jacobian, vmap
from forward import jacfwd
from reverse import Tensor, grad, hessian, jacrev

RNG = np.random.default_rng(7)
A = RNG.normal(size=(3, 4))
B = RNG.normal(size=(4, 5))
M = RNG.normal(size=(3, 3))
T = RNG.normal(size=(2, 3, 3))

EINSUMS = [
    ("ij,jk->ik", (A, B)),
    ("ij,jk", (A, B)),  # implicit output: the indices used once, sorted
    ("ji,jk", (A.T, B)),
    ("ii", (M,)),  # a trace
    ("ii->i", (M,)),  # a diagonal
    ("iij->j", (np.stack([M, M], axis=-1),)),
    ("...ij,...jk->...ik", (T, M)),
    ("i...,i...->...", (M, M)),
    ("ij,ij,jk->", (A, A, B)),
    ("ij,j->i", (RNG.normal(size=(3, 1)), RNG.normal(size=(4,)))),  # a length-1 axis broadcasts
    ("ij->", (A,)),
    ("i,j->ij", (A[0], B[0])),
]


@pytest.mark.parametrize("subscripts,operands", EINSUMS, ids=[e[0] for e in EINSUMS])
def test_einsum_is_numpys_and_its_derivatives_are_right(subscripts, operands) -> None:
    first, rest = operands[0], operands[1:]

    def f(x):
        return np.einsum(subscripts, x, *rest)

    expected = np.einsum(subscripts, *operands)
    value, _ = jacrev(f, has_aux=False)(first), None
    out = vmap(f)(np.stack([first, 2 * first]))
    assert np.array_equal(out[0], expected)
    assert value.shape == np.shape(expected) + first.shape
    j = numerical_jacobian(f, first)
    np.testing.assert_allclose(jacrev(f)(first), j, atol=1e-8)
    np.testing.assert_allclose(jacfwd(f)(first), j, atol=1e-8)
    g = grad(lambda x: np.sum(np.sin(f(x))))
    np.testing.assert_allclose(hessian(lambda x: np.sum(np.sin(f(x))))(first),
                               numerical_jacobian(g, first), atol=1e-6)


def test_einsum_interleaved_form_and_optimize() -> None:
    f = lambda a: np.einsum(a, [0, 1], B, [1, 2], [0, 2], optimize=True)
    np.testing.assert_allclose(f(A), A @ B)
    np.testing.assert_allclose(jacrev(f)(A), numerical_jacobian(f, A), atol=1e-8)
    t = Tensor(A, requires_grad=True)
    np.einsum("ij,jk->ik", t, B).sum().backward()
    np.testing.assert_allclose(t.grad.data, np.ones((3, 5)) @ B.T)


def test_einsum_of_empty_stacks() -> None:
    empty = np.zeros((0, 2, 3))
    f = lambda x: np.einsum("...ij,...jk->...ik", x, np.ones((0, 3, 2))).sum()
    assert grad(f)(empty).shape == (0, 2, 3)


def test_einsum_errors_name_the_subscripts() -> None:
    with pytest.raises(ValueError, match="einsum: index 'j' has length 4 in one operand and 3"):
        grad(lambda a: np.einsum("ij,jk->ik", a, M).sum())(A)
    with pytest.raises(ValueError, match="name 2 operands but 1 were given"):
        grad(lambda a: np.einsum("ij,jk->ik", a).sum())(A)


LINALG = [
    ("solve", lambda a: np.linalg.solve(a, B[:3]), M + 3 * np.eye(3)),
    ("solve vector", lambda a: np.linalg.solve(a, A[:, 0]), M + 3 * np.eye(3)),
    ("inv", np.linalg.inv, M + 3 * np.eye(3)),
    ("det", np.linalg.det, T + 2 * np.eye(3)),
    ("slogdet", lambda a: np.linalg.slogdet(a).logabsdet, T + 2 * np.eye(3)),
    ("cholesky", np.linalg.cholesky, M @ M.T + np.eye(3)),
    ("cholesky upper", lambda a: np.linalg.cholesky(a, upper=True), M @ M.T + np.eye(3)),
    ("eigh", lambda a: np.linalg.eigh(a).eigenvalues, M @ M.T + np.eye(3)),
    ("eigvalsh", np.linalg.eigvalsh, M @ M.T + np.eye(3)),
    ("svd values", lambda a: np.linalg.svd(a, compute_uv=False), A),
    ("svd", lambda a: np.abs(np.linalg.svd(a, full_matrices=False).Vh), A),
    ("svd S alone", lambda a: np.linalg.svd(a, full_matrices=False).S, A.T),
    ("svd U alone", lambda a: np.abs(np.linalg.svd(a, full_matrices=False).U), A.T),
    ("eigh vectors", lambda a: np.abs(np.linalg.eigh(a).eigenvectors), M @ M.T + np.eye(3)),
    ("qr", lambda a: np.linalg.qr(a).R, A.T),
    ("pinv", np.linalg.pinv, A),
    ("matrix_power", lambda a: np.linalg.matrix_power(a, 7), M / 2),
    ("norm nuc", lambda a: np.linalg.norm(a, "nuc"), A),
    ("norm 2", lambda a: np.linalg.norm(a, 2), A),
    ("norm -inf", lambda a: np.linalg.norm(a, -np.inf), A),
    ("norm axis", lambda a: np.linalg.norm(a, 3, axis=0), A),
]


@pytest.mark.parametrize("name,f,x", LINALG, ids=[c[0] for c in LINALG])
def test_linalg_is_numpys_and_its_derivatives_are_right(name, f, x) -> None:
    out = vmap(f)(x[None])[0]
    np.testing.assert_array_equal(out, f(x))  # numpy's own value, bit for bit
    j = numerical_jacobian(f, x)
    np.testing.assert_allclose(jacrev(f)(x), j, atol=1e-7)
    np.testing.assert_allclose(jacfwd(f)(x), j, atol=1e-7)


def test_cholesky_and_eigh_read_one_triangle_as_numpy_does() -> None:
    spd = M @ M.T + np.eye(3)
    lopsided = spd + np.triu(np.full((3, 3), 5.0), 1)  # the upper triangle is never read
    for f in (np.linalg.cholesky, lambda a: np.linalg.eigh(a)[0], np.linalg.eigvalsh):
        g = jacrev(f)(lopsided)
        assert np.all(g[..., np.triu_indices(3, 1)[0], np.triu_indices(3, 1)[1]] == 0)
        np.testing.assert_allclose(g, numerical_jacobian(f, lopsided), atol=1e-7)


def test_derivatives_refuse_where_they_are_not_unique() -> None:
    with pytest.raises(ValueError, match="full_matrices=False"):
        jacrev(lambda a: np.linalg.svd(a)[0])(A)
    with pytest.raises(ValueError, match="fewer rows than columns"):
        jacrev(lambda a: np.linalg.qr(a)[0])(A)
    with pytest.raises(np.linalg.LinAlgError, match="cholesky"):  # numpy's own error type
        grad(lambda a: np.linalg.cholesky(a).sum())(-np.eye(2))


def test_norms_at_repeated_singular_values() -> None:
    """The nuclear norm's gradient U Vh is unique at full rank, ties or not; the spectral norm 2
    at a repeated largest singular value shares its gradient evenly among the tied directions,
    as max's ties do."""
    a = np.diag([2.0, 2.0, 1.0])
    np.testing.assert_allclose(grad(lambda m: np.linalg.norm(m, "nuc"))(a), np.eye(3),
                               atol=1e-12)
    np.testing.assert_allclose(grad(lambda m: np.linalg.norm(m, 2))(a),
                               np.diag([0.5, 0.5, 0.0]), atol=1e-12)
    np.testing.assert_allclose(grad(lambda m: np.linalg.norm(m, -2))(a),
                               np.diag([0.0, 0.0, 1.0]), atol=1e-12)
