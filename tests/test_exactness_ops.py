"""Exact derivatives where rules used to go wrong silently: prod at zeros (to second order), the
remainder x % y, degenerate reductions (std at 0, ddof equal to the count, an empty batch, p-norms
at 0), and what a node keeps (the inputs of div, as PyTorch saves them). Expected values come from
formulas written out here or from finite differences, never from the code under test."""
from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import forward
import reverse
from adcore import numerical_jacobian, ops
from adcore.levels import raw
from reverse import Tensor


def close(a: Any, b: Any, rtol: float = 1e-12, atol: float = 1e-12) -> None:
    np.testing.assert_allclose(np.asarray(raw(a), dtype=np.float64),
                               np.asarray(raw(b), dtype=np.float64), rtol=rtol, atol=atol)


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


# --- degenerate reductions ---------------------------------------------------------------------

@pytest.mark.parametrize("x, kwargs", [
    ([2.0, 2.0, 2.0], {}),  # a constant slice
    ([3.5], {}),  # one entry, ddof 0
    ([1.25, 1.25], {"ddof": 0}),  # repeated entries
    ([[1.0, 1.0, 1.0], [1.0, 2.0, 4.0]], {"axis": 1}),  # one constant row among others
    ([[0.5, 0.5], [0.5, 0.5]], {"axis": 0, "keepdims": True}),
])
def test_std_gradient_is_zero_where_std_is_zero(x: list, kwargs: dict) -> None:
    v = np.array(x)

    def f(t: Any) -> Any:
        return ops.sum(ops.std(t, **kwargs))

    s = np.std(v, **{k: a for k, a in kwargs.items() if k != "keepdims"})
    n = v.size // np.size(s)
    # d std / dx = (x - mean) / (n std) on a slice with std > 0, and 0 (PyTorch's value) at std = 0
    mean = np.mean(v, axis=kwargs.get("axis"), keepdims=True)
    s_keep = np.std(v, axis=kwargs.get("axis"), keepdims=True)
    want = np.where(s_keep == 0, 0.0, (v - mean) / (n * np.where(s_keep == 0, 1.0, s_keep)))
    close(reverse.grad(f)(v), want)
    close(forward.jacfwd(f)(v), want)
    t = Tensor(v, requires_grad=True)
    f(t).backward()
    close(t.grad, want)
    for route, h in all_hessians(f, v).items():
        assert np.all(np.isfinite(h)), route  # no nan from the unused branch of the where
        constant = np.broadcast_to(s_keep == 0, v.shape).reshape(-1)
        flat = h.reshape(v.size, v.size)
        close(flat[constant], 0.0), route  # zero rows (and columns) of the constant slices
        close(flat[:, constant], 0.0), route


def test_std_gradient_elsewhere_still_matches_finite_differences() -> None:
    v = np.array([[1.0, 1.0, 1.0], [1.0, 2.0, 4.0]])
    g = reverse.grad(lambda t: ops.sum(ops.std(t, axis=1)))(v)
    fd = numerical_jacobian(lambda t: np.std(t, axis=1), v)  # (2, 2, 3)
    close(g[1], fd[1, 1], atol=1e-7)


@pytest.mark.filterwarnings("ignore:Degrees of freedom <= 0")  # numpy warns, as PyTorch does
@pytest.mark.parametrize("fn", ["var", "std"])
def test_var_and_std_with_ddof_equal_to_the_count_give_nan_in_every_route(fn: str) -> None:
    # PyTorch: torch.tensor([2.]).var() is nan (correction 1 on one element), its gradient nan
    with np.errstate(all="ignore"):
        t = Tensor([2.0], requires_grad=True)
        out = getattr(t, fn)()
        assert math.isnan(float(out.data))
        out.backward()
        assert t.grad.shape == (1,) and np.isnan(t.grad.data).all()

        def f(v: Any) -> Any:
            return getattr(ops, fn)(v, ddof=2)  # two entries, ddof 2

        x = np.array([1.0, 3.0])
        results = {
            "grad": reverse.grad(f)(x),
            "jacrev": reverse.jacrev(f)(x),
            "jacfwd": forward.jacfwd(f)(x),
            "hessian": reverse.hessian(f)(x),
            "jacfwd(grad)": forward.jacfwd(reverse.grad(f))(x),
            "create_graph": hessian_by_create_graph(f, x),
        }
        for route, got in results.items():
            got = np.asarray(got)
            assert not np.isfinite(got).any(), (route, got)  # nan or inf, never a number
        assert np.isnan(results["grad"]).all() or fn == "var"
        y = np.array([2.0, 2.0])  # x equal to its mean: 0 * inf, nan everywhere (as PyTorch)
        assert np.isnan(reverse.grad(f)(y)).all()


def test_cross_entropy_mean_over_an_empty_batch_is_nan_with_an_empty_gradient() -> None:
    with np.errstate(all="ignore"):
        logits = Tensor(np.zeros((0, 4)), requires_grad=True)
        loss = ops.cross_entropy(logits, np.zeros((0,), dtype=np.int64))
        assert math.isnan(float(loss.data))
        loss.backward()
        assert logits.grad.shape == (0, 4)
        for reduction in ("sum", "none"):
            logits = Tensor(np.zeros((0, 4)), requires_grad=True)
            loss = ops.cross_entropy(logits, np.zeros((0,), dtype=np.int64), reduction=reduction)
            ops.sum(loss).backward()
            assert logits.grad.shape == (0, 4)
        target = np.zeros((0,), dtype=np.int64)
        value, tangent = forward.jvp(lambda v: ops.cross_entropy(v, target), [np.zeros((0, 4))],
                                     [np.zeros((0, 4))])
        assert math.isnan(float(value)) and np.shape(tangent) == ()
        g = reverse.grad(lambda v: ops.cross_entropy(v, target))(np.zeros((0, 4)))
        assert g.shape == (0, 4)


@pytest.mark.parametrize("p", [3, 1.5, 0.5])
def test_p_norm_gradient_is_zero_at_an_all_zero_slice(p: float) -> None:
    x = np.array([[0.0, 0.0, 0.0], [1.0, -2.0, 0.5]])

    def f(t: Any) -> Any:
        return ops.sum(ops.norm(t, p, axis=1))

    norm = np.sum(np.abs(x[1]) ** p) ** (1 / p)
    # d ||x||_p / dx = sign(x) |x| ** (p - 1) / ||x|| ** (p - 1); 0 on the zero row (PyTorch)
    want = np.zeros_like(x)
    want[1] = np.sign(x[1]) * np.abs(x[1]) ** (p - 1) / norm ** (p - 1)
    close(reverse.grad(f)(x), want)
    close(forward.jacfwd(f)(x), want)
    t = Tensor(x, requires_grad=True)
    f(t).backward()
    close(t.grad, want)
    close(ops.norm(x, p, axis=1), [0.0, norm])
    for route, h in all_hessians(f, x).items():
        assert np.all(np.isfinite(h)), route
        fd = numerical_jacobian(lambda v: reverse.grad(f)(v)[1], x)[:, 1]
        close(h.reshape(6, 6)[3:, 3:], fd.reshape(3, 3), rtol=1e-5, atol=1e-6), route


def test_p_norm_below_1_at_a_zero_entry_of_a_nonzero_slice_is_zero_there() -> None:
    # PyTorch, p < 1: the entry's term sign(x) |x| ** (p - 1) is taken as 0 at x = 0
    x = np.array([0.0, 2.0, -1.0])
    g = reverse.grad(lambda t: ops.norm(t, 0.5))(x)
    norm = np.sum(np.abs(x) ** 0.5) ** 2
    close(g[1:], np.sign(x[1:]) * np.abs(x[1:]) ** -0.5 * norm ** 0.5)
    assert g[0] == 0.0


@pytest.mark.parametrize("p", [2, 3, 1.5])
def test_norm_second_derivative_at_an_all_zero_slice_is_zero(p: float) -> None:
    # PyTorch masks the whole backward where the norm is 0, so its derivative is 0 there too
    # (the 2-norm's rule used to give x / 1 there, whose derivative is the identity)
    x = np.array([[0.0, 0.0], [3.0, -4.0]])

    def f(t: Any) -> Any:
        return ops.sum(ops.norm(t, p, axis=1))

    for route, h in all_hessians(f, x).items():
        flat = h.reshape(4, 4)
        close(flat[:2], 0.0), route
        close(flat[:, :2], 0.0), route
    if p == 2:  # elsewhere: (I - u u^T) / ||x||, u = x / ||x||
        u = x[1] / 5.0
        close(reverse.hessian(f)(x).reshape(4, 4)[2:, 2:], (np.eye(2) - np.outer(u, u)) / 5.0)


def test_p_norm_gradient_under_vmap() -> None:
    # the p-norm's masks live in its rule, so vmap of grad sees them as batched values
    import adcore
    x = np.array([[1.0, -2.0], [0.0, 0.0], [3.0, 4.0]])
    got = adcore.vmap(reverse.grad(lambda v: ops.norm(v, 3)))(x)
    norms = np.sum(np.abs(x) ** 3, axis=1, keepdims=True) ** (1 / 3)
    want = np.sign(x) * x ** 2 / np.where(norms == 0, 1.0, norms) ** 2
    close(got, want)


# --- what a node keeps: PyTorch's saved values -------------------------------------------------

def test_div_result_changed_in_place_keeps_both_gradients() -> None:
    xv, dv = np.array([1.0, -2.0, 0.5]), np.array([3.0, 4.0, -0.25])
    x, d = Tensor(xv, requires_grad=True), Tensor(dv, requires_grad=True)
    y = x / d
    y.add_(1)
    (y * y).sum().backward()
    # L = sum((x / d + 1) ** 2): dL/dx = 2 (x / d + 1) / d, dL/dd = -2 (x / d + 1) x / d ** 2
    close(x.grad, 2 * (xv / dv + 1) / dv)
    close(d.grad, -2 * (xv / dv + 1) * xv / dv ** 2)


def test_exp_result_changed_in_place_still_raises() -> None:
    # exp reads its result (PyTorch saves it too): changing it before backward is an error
    x = Tensor([0.5, -1.0], requires_grad=True, dtype=np.float64)
    t = x.exp()
    t.add_(1)
    with pytest.raises(RuntimeError, match="exp"):
        t.sum().backward()


def test_pow_with_a_tensor_exponent_keeps_its_result_as_pytorch() -> None:
    # d x ** e / de = x ** e log x: PyTorch saves the result for it, so changing it is an error
    x = Tensor([1.5, 2.0], requires_grad=True, dtype=np.float64)
    e = Tensor([2.0, 0.5], requires_grad=True, dtype=np.float64)
    y = x ** e
    y.add_(1)
    with pytest.raises(RuntimeError, match="pow"):
        y.sum().backward()
