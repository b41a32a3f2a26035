"""NumPy's own functions on Tensors and Duals go through the registry (``__array_ufunc__`` and
``__array_function__``), so they are differentiable in both modes and inside every transformation;
what the registry does not support raises TypeError naming it."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from adcore import gradcheck, numerical_jacobian
from forward import Dual, jacfwd
from reverse import Tensor, hessian, jacrev

X = np.array([[0.3, -1.2, 0.7], [1.5, 0.4, -0.6]])
Y = np.array([[0.9, 0.2, -0.5], [-0.3, 1.1, 0.8]])
W = np.array([[0.5, -1.0], [0.25, 2.0], [1.5, -0.5]])

# Each program uses numpy's functions only; x is the differentiated argument.
PROGRAMS: dict[str, Callable[[Any], Any]] = {
    "sin": lambda x: np.sin(x),
    "exp": lambda x: np.exp(x),
    "tanh": lambda x: np.tanh(x),
    "add": lambda x: np.add(x, 1.0),
    "sum axis": lambda x: np.sum(x * x, axis=0),
    "mean": lambda x: np.mean(np.sin(x), axis=1),
    "matmul": lambda x: np.matmul(x, W),
    "ndarray @ x": lambda x: W.T @ np.transpose(x),
    "maximum": lambda x: np.maximum(x, Y),
    "where": lambda x: np.where(X > 0, x * x, -x),
    "clip": lambda x: np.clip(x, -1.0, 1.0),
    "concatenate": lambda x: np.concatenate([x, np.sin(x)], axis=1),
    "stack": lambda x: np.stack([x, x * 2.0]),
    "reshape": lambda x: np.reshape(x, (3, 2)) * np.arange(6.0).reshape(3, 2),
    "transpose": lambda x: np.transpose(x) @ x,
    "ndarray * x": lambda x: Y * x,
    "numpy scalar * x": lambda x: np.float64(3.0) * x,
}


def _point(name: str) -> np.ndarray:
    # away from the kinks of maximum and clip
    return X + 0.05 if name in ("maximum", "clip") else X


@pytest.mark.parametrize("name", PROGRAMS)
def test_numpy_function_in_both_modes_and_finite_differences(name: str) -> None:
    f = PROGRAMS[name]
    x = _point(name)
    assert gradcheck(f, x)
    expected = numerical_jacobian(f, x)
    np.testing.assert_allclose(jacfwd(f)(x), expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(jacrev(f)(x), expected, rtol=1e-5, atol=1e-6)
    t = Tensor(x, requires_grad=True)
    out = f(t)
    assert isinstance(out, Tensor), f"{name} returned {type(out).__name__}"
    (out * 1.0).sum().backward()
    np.testing.assert_allclose(t.grad, expected.reshape(-1, *x.shape).sum(axis=0)
                               if expected.ndim > x.ndim else expected, rtol=1e-5, atol=1e-6)
    d = f(Dual(x, np.ones_like(x)))
    assert isinstance(d, Dual)


def test_numpy_functions_inside_a_hessian() -> None:
    def f(x):
        return np.sum(np.tanh(x) * np.exp(x) + np.clip(x, -1.0, 1.0) ** 2)

    x = np.array([0.2, -0.4, 1.5])
    h = hessian(f)(x)
    fd = numerical_jacobian(jacrev(f), x)
    np.testing.assert_allclose(h, fd, rtol=1e-5, atol=1e-6)


def test_a_jax_style_jacobian_just_works() -> None:
    x = np.array([0.5, 1.0, 2.0])
    np.testing.assert_allclose(jacfwd(lambda v: np.sin(v) * v)(x),
                               np.diag(np.cos(x) * x + np.sin(x)), rtol=1e-12)


@pytest.mark.parametrize("call, named", [
    (lambda t: np.convolve(t, t), r"np\.convolve is not supported"),
    (lambda t: np.add(t, 1.0, out=np.empty(3)),
     r"np\.add into a numpy array .*out=array.*carries derivatives"),
    (lambda t: np.add.reduce(t), r"np\.add\.reduce is not supported"),
    (lambda t: np.correlate(t, t), r"np\.correlate is not supported"),
    (lambda t: np.fft.fft(t), r"np\.fft is not supported"),
])
@pytest.mark.parametrize("make", [lambda v: Tensor(v, requires_grad=True), lambda v: Dual(v, v)])
def test_unsupported_numpy_calls_raise_type_error_naming_them(call, named, make) -> None:
    with pytest.raises(TypeError, match=named):
        call(make(np.array([1.0, 2.0, 3.0])))


def test_inspecting_functions_read_plain_values() -> None:
    t = Tensor([1.0, 2.0, 3.0], requires_grad=True)
    assert np.shape(t) == (3,) and np.ndim(t) == 1
    assert np.allclose(t, [1.0, 2.0, 3.0])
    np.testing.assert_allclose(t.detach(), [1.0, 2.0, 3.0])  # as in PyTorch: detach first
