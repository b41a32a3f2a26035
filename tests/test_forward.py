"""Forward mode: dual numbers, jvp and jacfwd."""
from __future__ import annotations

import math

import numpy as np
import pytest

from adcore import numerical_jacobian, ops
from forward import Dual, jacfwd, jvp


def test_scalar_dual_numbers() -> None:
    x = Dual(2.0, 1.0)
    y = x * x * 3 + x.exp() - 1 / x
    assert y.primal == pytest.approx(12 + math.exp(2) - 0.5)
    assert y.tangent == pytest.approx(12 + math.exp(2) + 0.25)
    assert type(y.primal) is float  # classic dual numbers stay Python floats


def test_dual_arrays_and_methods() -> None:
    x = Dual(np.array([0.5, 1.0]), np.array([1.0, 0.0]))
    y = (x.sin() * x.tanh()).sum(axis=0)
    d = np.cos(0.5) * np.tanh(0.5) + np.sin(0.5) * (1 - np.tanh(0.5) ** 2)
    assert y.tangent == pytest.approx(d)
    assert x.shape == (2,) and x.T.shape == (2,) and (x > 0.7).tolist() == [False, True]


def test_dual_without_tangent_has_zero_tangent() -> None:
    x = Dual(np.array([1.0, 2.0]))
    np.testing.assert_array_equal((x * 3).tangent, [0.0, 0.0])


def test_jvp_of_several_inputs_and_outputs() -> None:
    def f(x, y):
        return x * y, (x + y).sum()
    (a, b), (da, db) = jvp(f, (np.array([1.0, 2.0]), np.array([3.0, 4.0])),
                           (np.array([1.0, 0.0]), np.array([0.0, 1.0])))
    np.testing.assert_array_equal(a, [3.0, 8.0])
    np.testing.assert_array_equal(da, [3.0, 2.0])
    assert b == 10.0 and db == 2.0


def test_jvp_of_a_constant_output_is_zero() -> None:
    out, dot = jvp(lambda x: np.ones(3), (np.array([1.0]),), (np.array([1.0]),))
    np.testing.assert_array_equal(out, np.ones(3))
    np.testing.assert_array_equal(dot, np.zeros(3))


def test_jacfwd_matches_finite_differences() -> None:
    def f(x):
        return ops.tanh(x[:, None] * x[None, :]) @ ops.exp(x)
    x = np.array([0.1, -0.4, 0.7])
    np.testing.assert_allclose(jacfwd(f)(x), numerical_jacobian(f, x), rtol=1e-7, atol=1e-9)


def test_jacfwd_runs_f_once(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []

    def f(x):
        calls.append(1)
        return x.softmax()
    jac = jacfwd(f)(np.arange(5.0))
    assert len(calls) == 1 and jac.shape == (5, 5)


def test_jacfwd_argnums_and_shapes() -> None:
    def f(a, b):
        return a @ b
    a, b = np.ones((2, 3)), np.arange(12.0).reshape(3, 4)
    ja, jb = jacfwd(f, argnums=(0, 1))(a, b)
    assert ja.shape == (2, 4, 2, 3) and jb.shape == (2, 4, 3, 4)
    np.testing.assert_allclose(ja, numerical_jacobian(lambda v: v @ b, a), atol=1e-7)
    np.testing.assert_allclose(jb, numerical_jacobian(lambda v: a @ v, b), atol=1e-7)


def test_batched_tangents_push_many_directions_at_once() -> None:
    x = np.array([0.3, 0.9])
    directions = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    _, dots = jvp(lambda v: (v * v.sin()).sum(), (x,), (directions,))
    d = x * np.cos(x) + np.sin(x)
    np.testing.assert_allclose(dots, directions @ d)


def test_tangent_shape_must_fit() -> None:
    with pytest.raises(ValueError, match=r"tangent of shape \(3,\).*primal of shape \(2,\)"):
        Dual(np.zeros(2), np.zeros(3))
    with pytest.raises(TypeError, match="real numbers"):
        Dual(np.array(["a"]))
