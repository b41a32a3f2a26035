"""Rules compose and levels keep nested transformations apart."""
from __future__ import annotations

import numpy as np
import pytest

from adcore import numerical_jacobian, ops
from forward import jacfwd, jvp
from reverse import Tensor, grad, hessian, jacrev, value_and_grad, vjp


@pytest.mark.parametrize("x", [-2.0, 0.3, 1.7])
def test_grad_of_grad_of_sin_is_minus_sin(x: float) -> None:
    assert grad(grad(ops.sin))(x) == pytest.approx(-np.sin(x), rel=1e-15)
    assert grad(grad(grad(ops.sin)))(x) == pytest.approx(-np.cos(x), rel=1e-15)


def f_multi(x):
    """A small function of several ops: matmul, tanh, broadcasting, a reduction, logsumexp."""
    a = np.array([[1.0, -0.5, 0.2], [0.3, 0.8, -1.0]])
    h = (a @ x).tanh()
    return (h * x[:2]).sum() + ops.logsumexp(x * x) + (x[0] / (1.5 + x[2].exp()))


def test_forward_over_reverse_hessian_matches_finite_differences() -> None:
    x = np.array([0.4, -0.3, 0.9])
    expected = numerical_jacobian(grad(f_multi), x)
    np.testing.assert_allclose(jacfwd(grad(f_multi))(x), expected, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(hessian(f_multi)(x), expected, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(jacrev(grad(f_multi))(x), expected, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(jacfwd(jacfwd(f_multi))(x), expected, rtol=1e-6, atol=1e-8)


def test_perturbation_confusion_forward() -> None:
    # d/dx [x * (d/dy (x + y))|y=1] at x = 1 is 1; a confused implementation returns 2.
    def inner(x):
        return jvp(lambda y: x + y, (1.0,), (1.0,))[1]
    _, d = jvp(lambda x: x * inner(x), (1.0,), (1.0,))
    assert d == 1.0


def test_perturbation_confusion_reverse() -> None:
    def inner(x):
        return grad(lambda y: x + y)(1.0)
    assert grad(lambda x: x * inner(x))(1.0) == 1.0


def test_perturbation_confusion_mixed_modes() -> None:
    def inner(x):
        return grad(lambda y: x * y)(1.0)  # = x
    _, d = jvp(lambda x: x * inner(x), (2.0,), (1.0,))  # d/dx x^2 = 2x
    assert d == 4.0


def test_grad_value_and_grad_and_argnums() -> None:
    def loss(w, b):
        return ((w * 3.0 + b) ** 2).sum()
    w, b = np.array([1.0, 2.0]), np.array([0.5, 0.5])
    value, (gw, gb) = value_and_grad(loss, argnums=(0, 1))(w, b)
    assert value == pytest.approx(3.5 ** 2 + 6.5 ** 2)
    np.testing.assert_allclose(gw, 2 * (w * 3 + b) * 3)
    np.testing.assert_allclose(gb, 2 * (w * 3 + b))
    assert type(grad(loss)(w, b)) is np.ndarray


def test_grad_of_constant_function_is_zero() -> None:
    np.testing.assert_array_equal(grad(lambda x: 3.0)(np.array([1.0, 2.0])), [0.0, 0.0])


def test_vjp_returns_one_cotangent_per_primal() -> None:
    out, vjp_fn = vjp(lambda a, b: a @ b, np.eye(2), np.array([1.0, 2.0]))
    ga, gb = vjp_fn(np.array([1.0, 1.0]))
    np.testing.assert_array_equal(out, [1.0, 2.0])
    np.testing.assert_array_equal(ga, [[1.0, 2.0], [1.0, 2.0]])
    np.testing.assert_array_equal(gb, [1.0, 1.0])


def test_jacrev_uses_one_batched_backward_pass(monkeypatch: pytest.MonkeyPatch) -> None:
    from reverse import graph
    calls = []
    real = graph.backward

    def counting(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)
    monkeypatch.setattr(graph, "backward", counting)
    x = np.array([0.2, -0.1, 0.5])
    jac = jacrev(lambda v: (v[:, None] * v).tanh())(x)
    assert len(calls) == 1 and jac.shape == (3, 3, 3)
    np.testing.assert_allclose(jac, numerical_jacobian(lambda v: np.tanh(v[:, None] * v), x),
                               atol=1e-8)
    calls.clear()
    chunked = jacrev(lambda v: (v[:, None] * v).tanh(), chunk_size=4)(x)
    assert len(calls) == 3
    np.testing.assert_allclose(chunked, jac, rtol=1e-14)


def test_eager_tensors_mix_with_functional_transforms() -> None:
    w = Tensor([1.5, -2.0], requires_grad=True, dtype=np.float64)
    g = grad(lambda x: (w * x * x).sum())(np.array([1.0, 3.0]))  # 2 w x, still a graph in w
    assert type(g) is Tensor and g.requires_grad
    g.sum().backward()
    np.testing.assert_array_equal(w.grad.data, [2.0, 6.0])


def test_arguments_not_differentiated_pass_through_unchanged() -> None:
    x = np.array([1.0, 2.0, 3.0])
    np.testing.assert_array_equal(grad(lambda v, i: v[i].sum())(x, np.array([0, 2, 2])),
                                  [1.0, 0.0, 2.0])
    np.testing.assert_array_equal(grad(lambda v, m: v[m].sum())(x, np.array([True, False, True])),
                                  [1.0, 0.0, 1.0])
    np.testing.assert_array_equal(grad(lambda v, ax: v.reshape(3, 1).sum(ax).sum())(x, 0),
                                  [1.0, 1.0, 1.0])
    np.testing.assert_array_equal(jacfwd(lambda v, i: v[i])(x, np.array([1])), [[0.0, 1.0, 0.0]])


def test_gradients_keep_the_dtype_of_their_input() -> None:
    c = np.array([2.0, 3.0])  # float64 constant
    x32 = np.array([1.0, 2.0], dtype=np.float32)
    assert grad(lambda v: (v * c).sum())(x32).dtype == np.float32
    assert jacrev(lambda v: v * c)(x32).dtype == np.float64  # d (float64 output) / d float32
    assert vjp(lambda v: v * c, x32)[1](np.ones(2))[0].dtype == np.float32
    t = Tensor([1.0, 2.0], requires_grad=True)
    (t * t * c).sum().backward(create_graph=True)
    assert t.grad.dtype == np.float32
    np.testing.assert_array_equal(t.grad.data, [4.0, 12.0])


def test_a_value_escaping_its_transformation_is_an_error() -> None:
    leaked = []
    grad(lambda v: (leaked.append(v), (v * 1).sum())[1])(np.array([1.0]))
    with pytest.raises(RuntimeError, match="escaped"):
        grad(lambda y: (leaked[0] * y).sum())(np.array([5.0]))
    with pytest.raises(RuntimeError, match="escaped"):
        grad(lambda y: (y * leaked[0]).sum())(np.array([5.0]))


def test_pow_derivatives_at_a_zero_base_follow_pytorch() -> None:
    base = np.array([0.0, 2.0])
    np.testing.assert_allclose(grad(lambda y: ops.pow(base, y).sum())(np.array([2.0, 2.0])),
                               [0.0, 4 * np.log(2)])
    np.testing.assert_array_equal(grad(lambda x: ops.pow(x, np.array([0.0, 2.0])).sum())(base),
                                  [0.0, 4.0])
    assert grad(lambda x: x ** 0)(0.0) == 0.0
