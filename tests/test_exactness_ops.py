"""Exact derivatives where rules used to go wrong silently: prod at zeros (to second order), the
remainder x % y, degenerate reductions (std at 0, ddof equal to the count, an empty batch, p-norms
at 0), and what a node keeps (the inputs of div, as PyTorch saves them). Expected values come from
formulas written out here or from finite differences, never from the code under test."""
from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import forward
import reverse
from adcore import numerical_jacobian, ops
from reverse import Tensor


def close(a: Any, b: Any, rtol: float = 1e-12, atol: float = 1e-12) -> None:
    np.testing.assert_allclose(np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64),
                               rtol=rtol, atol=atol)


# --- prod: the product of the other entries, to second order ---------------------------------

def prod_gradient(x: np.ndarray) -> np.ndarray:
    """d prod / dx_i = the product of every entry but x_i (written out with a loop)."""
    flat = x.reshape(-1)
    return np.array([np.prod(np.delete(flat, i)) for i in range(flat.size)]).reshape(x.shape)


def prod_hessian(x: np.ndarray) -> np.ndarray:
    """d2 prod / dx_i dx_j = the product of every entry but x_i and x_j (i != j), 0 for i = j."""
    flat = x.reshape(-1)
    n = flat.size
    h = np.zeros((n, n))
    for i, j in itertools.product(range(n), range(n)):
        if i != j:
            h[i, j] = np.prod(np.delete(flat, [i, j]))
    return h


def hessian_by_create_graph(f: Callable[[Any], Any], x: np.ndarray) -> np.ndarray:
    """Each row of the Hessian: backward(create_graph=True), then backward of one gradient entry."""
    rows = []
    for i in range(x.size):
        t = Tensor(x, requires_grad=True)
        f(t).backward(create_graph=True)
        g = t.grad
        if not g.requires_grad:  # a constant gradient (prod of one entry): no second derivative
            rows.append(np.zeros(x.size))
            continue
        t.grad = None
        g.reshape(-1)[i].backward()
        rows.append(t.grad.data.reshape(-1).copy())
    return np.array(rows).reshape(x.shape + x.shape)


def all_hessians(f: Callable[[Any], Any], x: np.ndarray) -> dict[str, np.ndarray]:
    return {
        "hessian": reverse.hessian(f)(x),
        "jacrev(grad)": reverse.jacrev(reverse.grad(f))(x),
        "jacfwd(jacfwd)": forward.jacfwd(forward.jacfwd(f))(x),
        "create_graph": hessian_by_create_graph(f, x),
    }


@pytest.mark.parametrize("x", [[0.0, 2.0, 3.0], [0.0, 0.0, 3.0], [2.0, 0.0, 5.0, 0.0],
                               [0.0, 0.0, 0.0], [1.5, -2.0, 3.0], [0.0]])
def test_prod_hessian_is_exact_where_entries_are_zero_in_every_route(x: list) -> None:
    v = np.array(x)
    want = prod_hessian(v)
    if v.tolist() == [0.0, 2.0, 3.0]:  # the entries, spelt out once
        close(want, [[0, 3, 2], [3, 0, 0], [2, 0, 0]])
    if v.tolist() == [0.0, 0.0, 3.0]:
        close(want, [[0, 3, 0], [3, 0, 0], [0, 0, 0]])
    for route, got in all_hessians(lambda t: ops.prod(t), v).items():
        close(got, want), route


@pytest.mark.parametrize("x", [[0.0, 2.0, 3.0], [0.0, 0.0, 3.0], [0.0, 0.0, 0.0], [4.0, 0.5]])
def test_prod_gradient_is_the_product_of_the_others_in_both_modes(x: list) -> None:
    v = np.array(x)
    close(reverse.grad(lambda t: ops.prod(t))(v), prod_gradient(v))
    close(forward.jacfwd(lambda t: ops.prod(t))(v), prod_gradient(v))
    t = Tensor(v, requires_grad=True)
    t.prod().backward()
    close(t.grad, prod_gradient(v))


@pytest.mark.parametrize("axis, keepdims", [(1, True), (1, False), (0, True), ((0, 2), True),
                                            ((0, 2), False), (None, True)])
def test_prod_over_axes_is_exact_at_zeros_to_second_order(axis: Any, keepdims: bool) -> None:
    # one zero in some reduced slices, two in others, none in the rest
    x = np.array([[[0.0, 2.0], [3.0, 0.0], [1.5, -1.0]],
                  [[0.0, 0.5], [-2.0, 4.0], [0.0, 0.0]]])
    out_shape = np.prod(x, axis=axis, keepdims=keepdims).shape
    w = np.linspace(0.5, 1.7, int(np.prod(out_shape))).reshape(out_shape)

    def f(t: Any) -> Any:
        return ops.sum(ops.mul(ops.prod(t, axis=axis, keepdims=keepdims), w))

    # f = sum_k w_k prod(slice_k): each slice's own gradient and Hessian, weighted
    axes = tuple(range(x.ndim)) if axis is None else (axis,) if isinstance(axis, int) else axis
    rest = tuple(a for a in range(x.ndim) if a not in axes)
    want_g = np.zeros(x.shape)
    want_h = np.zeros(x.shape + x.shape)
    w_full = np.broadcast_to(np.reshape(w, np.prod(x, axis=axis, keepdims=True).shape),
                             np.prod(x, axis=axis, keepdims=True).shape)
    for outer in itertools.product(*(range(x.shape[a]) for a in rest)):
        index: list[Any] = [slice(None)] * x.ndim
        for a, i in zip(rest, outer):
            index[a] = i
        cells = np.zeros(x.shape, dtype=bool)
        cells[tuple(index)] = True
        positions = np.argwhere(cells)
        values = x[cells]
        weight = w_full[tuple(0 if a in axes else i for a, i in enumerate(positions[0]))]
        g = prod_gradient(values)
        h = prod_hessian(values)
        for p, gp in zip(positions, g):
            want_g[tuple(p)] += weight * gp
        for (p, q), hv in zip(itertools.product(positions, positions), h.reshape(-1)):
            want_h[tuple(p) + tuple(q)] += weight * hv
    close(reverse.grad(f)(x), want_g)
    close(forward.jacfwd(f)(x), want_g)
    for route, got in all_hessians(f, x).items():
        close(got, want_h), route


# --- remainder: d/dx = 1, d/dy = -floor(x / y) -----------------------------------------------

X = np.array([1.5, -2.5, 7.3, 0.2, -5.1])
Y = np.array([0.7, 2.0, -3.0, -0.9, 1.3])


def test_remainder_of_tensors_has_the_gradients_of_x_minus_y_floor_x_over_y() -> None:
    x, y = Tensor(X, requires_grad=True), Tensor(Y, requires_grad=True)
    out = x % y
    close(out, np.remainder(X, Y))
    out.sum().backward()
    close(x.grad, np.ones(5))
    close(y.grad, -np.floor(X / Y))
    for fn in (np.remainder, np.mod):  # one ufunc under two names, and ops.remainder
        x, y = Tensor(X, requires_grad=True), Tensor(Y, requires_grad=True)
        (fn(x, y) * 2.0).sum().backward()
        close(x.grad, 2 * np.ones(5))
        close(y.grad, -2 * np.floor(X / Y))


def test_remainder_with_a_number_on_either_side() -> None:
    x = Tensor(X, requires_grad=True)
    (x % 2.0).sum().backward()
    close(x.grad, np.ones(5))
    y = Tensor(Y, requires_grad=True)
    (5.0 % y).sum().backward()
    close(y.grad, -np.floor(5.0 / Y))
    y = Tensor(Y, requires_grad=True)
    ops.remainder(5.0, y).sum().backward()
    close(y.grad, -np.floor(5.0 / Y))


def test_remainder_agrees_with_finite_differences_in_both_modes() -> None:
    def f(x: Any, y: Any) -> Any:
        return x % y
    jx = numerical_jacobian(lambda v: f(v, Y), X)
    jy = numerical_jacobian(lambda v: f(X, v), Y)
    close(np.diag(jx), np.ones(5), atol=1e-6)
    close(np.diag(jy), -np.floor(X / Y), atol=1e-6)
    close(reverse.jacrev(f, argnums=(0, 1))(X, Y)[1], jy, atol=1e-6)
    close(forward.jacfwd(lambda v: f(X, v))(Y), jy, atol=1e-6)
    close(forward.jacfwd(lambda v: f(v, Y))(X), jx, atol=1e-6)
