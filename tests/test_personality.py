"""Two personalities, one library: a function written for numpy arrays computes the same values
under every transformation as without one (numpy's method semantics and promotion), while a
Tensor built by hand keeps PyTorch's."""
from __future__ import annotations

import numpy as np
import pytest

from adcore import numerical_jacobian, vmap
from adcore.levels import raw
from forward import jacfwd, jvp
from reverse import Tensor, grad, jacrev, value_and_grad

X = np.array([[0.3, -1.2, 2.0], [1.4, 0.7, -0.4]])

# Methods as a numpy user writes them: each returns what ndarray's method returns.
METHODS = {
    "var": lambda v: v.var(),
    "var(axis, ddof)": lambda v: v.var(axis=0, ddof=1),
    "std": lambda v: v.std(1),
    "max(axis)": lambda v: v.max(0),
    "min(axis, keepdims)": lambda v: v.min(axis=1, keepdims=True),
    "max()": lambda v: v.max(),
    "size": lambda v: v.sum() * v.size,
    "ndim and shape": lambda v: v * (v.ndim + v.shape[0]),
    "sum": lambda v: v.sum(axis=1),
    "mean(keepdims)": lambda v: v.mean(axis=0, keepdims=True),
    "any/all gate": lambda v: v * (v > -5).all() + v * (v > 1).any(),
    "astype float32": lambda v: v.astype(np.float32) * 2,
    "copy": lambda v: v.copy() * v,
    "flatten": lambda v: v.flatten() ** 2,
    "ravel": lambda v: v.ravel()[::2],
    "reshape": lambda v: v.reshape(3, 2) @ v,
    "reshape tuple": lambda v: v.reshape((-1,)),
    "T": lambda v: v.T @ v,
    "transpose()": lambda v: v.transpose(),
    "transpose(axes)": lambda v: v.transpose(1, 0) * 2,
    "swapaxes": lambda v: v.swapaxes(0, 1),
    "clip": lambda v: v.clip(-1.0, 1.0),
    "round then use": lambda v: v * v.round(),
    "cumsum()": lambda v: v.cumsum(),
    "cumsum(axis)": lambda v: v.cumsum(axis=1),
    "dot": lambda v: v.dot(v.T),
    "dot vector": lambda v: v[0].dot(v[1]),
    "prod(axis)": lambda v: v.prod(axis=0),
    "squeeze": lambda v: v[:1].squeeze(),
    "float32 times float64 0-d": lambda v: v.astype(np.float32) * np.array(2.0),
    "float32 times float64 scalar": lambda v: v.astype(np.float32) * np.float64(2.0),
    "float32 times python float": lambda v: v.astype(np.float32) * 2.0,
}


def _check_same(got, expected, tol=1e-12):
    got = raw(got)
    assert np.shape(got) == np.shape(expected)
    assert np.result_type(got) == np.result_type(expected), (np.result_type(got),
                                                             np.result_type(expected))
    np.testing.assert_allclose(np.asarray(got, dtype=np.float64),
                               np.asarray(expected, dtype=np.float64), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("name", sorted(METHODS))
def test_values_under_every_transformation_match_numpy(name: str) -> None:
    f = METHODS[name]
    expected = f(X)
    out, _ = jvp(f, (X,), (np.ones_like(X),))
    _check_same(out, expected)
    value, _ = value_and_grad(lambda v: f(v).sum())(X)
    _check_same(value, np.sum(expected))
    _check_same(vmap(f)(np.stack([X, 2 * X])), np.stack([expected, f(2 * X)]))


@pytest.mark.parametrize("name", sorted(METHODS))
def test_derivatives_of_numpy_methods_match_finite_differences(name: str) -> None:
    f = METHODS[name]
    # float32 rounds: a wider step (these functions are linear in v, so the step costs nothing)
    eps = 1e-2 if "float32" in name else 1e-6
    expected = numerical_jacobian(lambda v: np.asarray(f(v), dtype=np.float64), X, eps=eps)
    tol = 1e-4 if "float32" in name else 1e-6
    np.testing.assert_allclose(jacfwd(f)(X), expected, rtol=tol, atol=tol)
    np.testing.assert_allclose(jacrev(f)(X), expected, rtol=tol, atol=tol)


@pytest.mark.parametrize("method", [lambda v: v.item(), lambda v: v.tolist(),
                                    lambda v: v.astype(int)])
@pytest.mark.parametrize("transform", [grad, jacfwd])
def test_methods_that_leave_the_graph_raise_under_a_transformation(method, transform) -> None:
    with pytest.raises(TypeError):
        transform(lambda v: method(v) * v)(np.array([2.0]))


def test_a_tensor_built_by_hand_keeps_pytorchs_methods() -> None:
    t = Tensor([[1.0, 2.0, 4.0], [3.0, 3.0, 0.0]])
    np.testing.assert_allclose(t.var().data, np.var(t.data, ddof=1), rtol=1e-6)
    values, indices = t.max(1)
    assert indices.data.tolist() == [2, 0] and values.data.tolist() == [4.0, 3.0]
    assert t.size() == (2, 3) and t.size(1) == 3
    assert t.transpose(0, 1).shape == (3, 2)
    # ... and so does a transformation of such tensors
    assert grad(lambda u: u.var())(t).shape == (2, 3)
    np.testing.assert_allclose(grad(lambda u: u.var())(t).data,
                               2 * (t.data - t.data.mean()) / 5, rtol=1e-6)


def test_a_tangent_or_cotangent_has_its_primals_dtype_in_every_route() -> None:
    x = np.array([1.0, 2.0], dtype=np.float32)

    def f(v):
        return v * np.array(3.0)  # numpy: float32 times a float64 0-d array is float64

    out, out_dot = jvp(f, (x,), (np.ones(2, np.float32),))
    assert out.dtype == out_dot.dtype == np.float64
    _, batched = jvp(f, (x,), (np.ones((4, 2), np.float32),))
    assert batched.dtype == np.float64
    assert grad(lambda v: f(v).sum())(x).dtype == np.float32
    jf, jr = jacfwd(f)(x), jacrev(f)(x)
    assert jf.dtype == jr.dtype
    np.testing.assert_allclose(jf, jr)
    assert vmap(f)(np.stack([x, x])).dtype == f(x).dtype
