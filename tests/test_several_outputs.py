"""Ops with several outputs (eigh, slogdet, max with indices need them): a node has several
outputs, each engine returns a tuple, and every route agrees with finite differences."""
from __future__ import annotations

import numpy as np
import pytest

from adcore import defop, numerical_jacobian, ops, vmap
from forward import jacfwd, jvp
from reverse import Tensor, grad, hessian, jacrev


def _polar_impl(x, y):
    return np.hypot(x, y), np.arctan2(y, x)


# d r = (x dx + y dy) / r,  d theta = (x dy - y dx) / r^2: one tuple of output tangents per input
polar = defop(
    "polar", _polar_impl, outputs=2, register=False,
    jvp=(lambda x_dot, x, y, out: (x_dot * x / out[0], -x_dot * y / out[0] ** 2),
         lambda y_dot, x, y, out: (y_dot * y / out[0], y_dot * x / out[0] ** 2)),
    vjp=(lambda y_bar, x, y, out: y_bar[0] * x / out[0] - y_bar[1] * y / out[0] ** 2,
         lambda y_bar, x, y, out: y_bar[0] * y / out[0] + y_bar[1] * x / out[0] ** 2))


def both(v):
    r, theta = polar(v[0], v[1])
    return r * ops.sin(theta) + r ** 2  # r sin(theta) = y


def only_angle(v):
    return polar(v[0], v[1])[1] * 3  # the other output gets no cotangent


X = np.array([[1.0, 0.5], [2.0, -1.5]])


@pytest.mark.parametrize("f", [both, only_angle])
def test_every_route_matches_finite_differences(f) -> None:
    expected = numerical_jacobian(f, X)
    np.testing.assert_allclose(jacfwd(f)(X), expected, atol=1e-7)
    np.testing.assert_allclose(jacrev(f)(X), expected, atol=1e-7)
    g = grad(lambda v: f(v).sum())
    np.testing.assert_allclose(g(X), expected.sum(axis=0), atol=1e-7)
    h = numerical_jacobian(g, X)
    np.testing.assert_allclose(hessian(lambda v: f(v).sum())(X), h, atol=1e-6)
    np.testing.assert_allclose(jacrev(g)(X), h, atol=1e-6)
    np.testing.assert_allclose(vmap(f)(np.stack([X, 2 * X])), np.stack([f(X), f(2 * X)]))
    out, out_dot = jvp(f, (X,), (np.ones_like(X),))
    np.testing.assert_allclose(out, f(X))
    np.testing.assert_allclose(out_dot, expected.reshape(2, -1) @ np.ones(4), atol=1e-7)


def test_tensors_retain_the_gradient_of_each_output_and_differentiate_twice() -> None:
    x = Tensor([3.0], requires_grad=True, dtype=np.float64)
    y = Tensor([4.0], requires_grad=True, dtype=np.float64)
    r, theta = polar(x, y)
    r.retain_grad()
    theta.retain_grad()
    (2 * r + 5 * theta).sum().backward(create_graph=True)
    np.testing.assert_allclose(r.grad.data, [2.0])
    np.testing.assert_allclose(theta.grad.data, [5.0])
    # d/dx = 2 x / r - 5 y / r^2 = 1.2 - 0.8
    np.testing.assert_allclose(x.grad.data, [2 * 3 / 5 - 5 * 4 / 25])
    gx = x.grad
    x.grad = None
    y.grad = None
    gx.sum().backward()  # d/dx (2x/r - 5y/r^2) = 2 y^2 / r^3 + 10 x y / r^4
    np.testing.assert_allclose(x.grad.data, [2 * 16 / 125 + 10 * 12 / 625])


def test_changing_an_output_that_the_rule_reads_raises() -> None:
    x = Tensor([3.0], requires_grad=True, dtype=np.float64)
    y = Tensor([4.0], requires_grad=True, dtype=np.float64)
    r, theta = polar(x, y)
    loss = (theta * 2).sum()
    r.mul_(2)  # polar's rules read r
    with pytest.raises(RuntimeError, match="modified by an in-place operation"):
        loss.backward()
