"""Realistic numpy programs, written as a numpy user writes them, through every transformation:
grad, jacfwd, jacrev, hessian and vmap agree with finite differences and with a loop."""
from __future__ import annotations

import numpy as np
import pytest

from adcore import numerical_jacobian, vmap
from forward import jacfwd
from reverse import grad, hessian, jacrev

RNG = np.random.default_rng(11)
DATA = RNG.normal(size=(20, 3))
T = np.linspace(0.0, 1.0, 8)
Y = np.sin(3 * T) + 0.1 * RNG.normal(size=8)


def gaussian_log_likelihood(theta: np.ndarray) -> np.ndarray:
    """Mean and a Cholesky-like factor of the covariance; the log-density of DATA, by slogdet and
    solve."""
    mu = theta[:3]
    low = np.zeros((3, 3)) + np.tril(np.reshape(theta[3:12], (3, 3)))
    sigma = low @ low.T + 0.5 * np.eye(3)
    centred = DATA - mu
    quad = np.sum(centred.T * np.linalg.solve(sigma, centred.T))
    _, logdet = np.linalg.slogdet(sigma)
    n = DATA.shape[0]
    return -0.5 * quad - 0.5 * n * logdet - 0.5 * n * 3 * np.log(2 * np.pi)


def least_squares_fit(theta: np.ndarray) -> np.ndarray:
    """Polynomial features with a learnt scale and offset; the residual of the least-squares
    coefficients."""
    s = theta[0] * T + theta[1]
    features = np.stack([np.ones_like(s), s, s ** 2, np.sin(s)], axis=1)
    coef, residuals, _, _ = np.linalg.lstsq(features, Y, rcond=None)
    return residuals[0] + 0.01 * np.sum(coef ** 2)


def attention_score(theta: np.ndarray) -> np.ndarray:
    """Scaled dot-product attention with einsum: queries and keys from the parameters."""
    q = np.reshape(theta[:8], (4, 2))
    k = np.reshape(theta[8:16], (4, 2))
    v = DATA[:4, :2]
    scores = np.einsum("qd,kd->qk", q, k) / np.sqrt(2.0)
    weights = np.exp(scores - np.max(scores, axis=-1, keepdims=True))
    weights = weights / np.sum(weights, axis=-1, keepdims=True)
    out = np.einsum("qk,kd->qd", weights, v)
    return np.sum(out ** 2)


def physics_energy(theta: np.ndarray) -> np.ndarray:
    """A chain of particles in the plane: springs on the bond lengths (norm), a bending energy
    on the bond angles (arctan2), a soft repulsion between all pairs."""
    x = np.reshape(theta, (-1, 2))
    bonds = np.diff(x, axis=0)
    lengths = np.linalg.norm(bonds, axis=1)
    angles = np.arctan2(bonds[:, 1], bonds[:, 0])
    bend = np.sum(1 - np.cos(np.diff(angles)))
    i, j = np.triu_indices(x.shape[0], 1)
    pair = np.linalg.norm(x[i] - x[j], axis=-1)
    return np.sum((lengths - 1.0) ** 2) + 0.5 * bend + 0.1 * np.sum(1.0 / pair)


def spline_length(theta: np.ndarray) -> np.ndarray:
    """A piecewise-linear curve through values theta at times T: slopes by diff, the curve
    integrated back by cumsum, its arc length and its misfit to Y."""
    slopes = np.diff(theta) / np.diff(T)
    curve = theta[0] + np.concatenate([[0.0], np.cumsum(slopes * np.diff(T))])
    arc = np.sum(np.sqrt(np.diff(T) ** 2 + np.diff(curve) ** 2))
    return arc + np.sum((curve - Y) ** 2)


PROGRAMS = [
    (gaussian_log_likelihood,
     np.concatenate([[0.1, -0.2, 0.3], (np.eye(3) + 0.1 * RNG.normal(size=(3, 3))).ravel()])),
    (least_squares_fit, np.array([1.3, -0.2])),
    (attention_score, RNG.normal(size=16)),
    (physics_energy, np.array([0.0, 0.0, 1.1, 0.1, 2.0, -0.2, 2.9, 0.3])),
    (spline_length, Y + 0.05),
]
IDS = [p[0].__name__ for p in PROGRAMS]


@pytest.mark.parametrize("f, theta", PROGRAMS, ids=IDS)
def test_gradient_and_hessian_match_finite_differences(f, theta) -> None:
    g = grad(f)(theta)
    np.testing.assert_allclose(g, numerical_jacobian(f, theta), rtol=1e-6, atol=1e-6)
    h = hessian(f)(theta)
    np.testing.assert_allclose(h, numerical_jacobian(grad(f), theta), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(h, h.T, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("f, theta", PROGRAMS, ids=IDS)
def test_both_jacobians_of_the_gradient_agree(f, theta) -> None:
    g = grad(f)
    np.testing.assert_allclose(jacfwd(g)(theta), jacrev(g)(theta), rtol=1e-8, atol=1e-8)
    np.testing.assert_allclose(jacfwd(f)(theta), g(theta), rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("f, theta", PROGRAMS, ids=IDS)
def test_vmap_of_the_value_and_of_the_gradient_match_a_loop(f, theta) -> None:
    batch = np.stack([theta, theta * 1.01, theta + 0.02])
    np.testing.assert_allclose(vmap(f)(batch), [f(b) for b in batch], rtol=1e-12)
    np.testing.assert_allclose(vmap(grad(f))(batch), [grad(f)(b) for b in batch],
                               rtol=1e-10, atol=1e-12)
