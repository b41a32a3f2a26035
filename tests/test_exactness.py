"""A gradient is right or an error: the aliasing, in-place and ownership cases that once gave a
wrong number silently. Each expected value is worked out by hand (PyTorch gives the same numbers,
or raises where these tests expect an error)."""
from __future__ import annotations

import threading

import numpy as np
import pytest

from adcore import ops
from forward import jacfwd
from reverse import Function, Tensor, grad, hessian, jacobian, jacrev, vjp


def close(a, b, tol=1e-12):
    a = a.data if isinstance(a, Tensor) else a
    np.testing.assert_allclose(np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64),
                               rtol=tol, atol=tol)


# --- 1. a cotangent passed through as a view is never written into ---------------------------

class PassThroughAndTranspose(Function):
    @staticmethod
    def forward(ctx, a, b):
        return a + b.T

    @staticmethod
    def backward(ctx, y_bar):
        return y_bar, y_bar.T  # the same buffer twice: once itself, once as a view


def test_a_pass_through_cotangent_viewed_by_another_input_is_not_accumulated_into() -> None:
    y = Tensor(np.ones((2, 2)), requires_grad=True)
    a, b = y * 1, y * 1
    out = PassThroughAndTranspose.apply(a, b)
    q = a * 3
    ((out * 2).sum() + (out * 3).sum() + q.sum()).backward()
    # d/dy: through a, 5 (out) + 3 (q); through b, 5.
    close(y.grad, np.full((2, 2), 13.0))


# --- 2. operands that are not tensors are frozen when recorded --------------------------------

def test_a_numpy_constant_changed_before_backward_does_not_change_the_gradient() -> None:
    x = Tensor([1.0, 2.0], requires_grad=True)
    c = np.array([3.0, 4.0])
    y = (x * c).sum()
    c[:] = 100
    y.backward()
    close(x.grad, [3.0, 4.0])


def test_an_index_array_changed_before_backward_does_not_change_the_gradient() -> None:
    x = Tensor([1.0, 2.0, 3.0], requires_grad=True)
    idx = np.array([0, 1])
    y = (x[idx] * Tensor([3.0, 4.0])).sum()
    idx[:] = 2
    y.backward()
    close(x.grad, [3.0, 4.0, 0.0])


def test_an_index_tensor_changed_in_place_before_backward_does_not_change_the_gradient() -> None:
    x = Tensor([1.0, 2.0, 3.0], requires_grad=True)
    idx = Tensor(np.array([0, 1]), dtype=np.int64)
    y = (x[idx] * Tensor([3.0, 4.0])).sum()
    idx.add_(1)
    y.backward()
    close(x.grad, [3.0, 4.0, 0.0])


def test_vjp_keeps_its_own_copy_of_the_callers_arrays() -> None:
    x = np.array([3.0, 4.0])
    out, vjp_fn = vjp(lambda v: v * v, x)
    x[:] = 100
    out[:] = -1  # the returned output is the caller's to change too
    close(vjp_fn(np.ones(2))[0], [6.0, 8.0])


def test_vjp_keeps_its_own_copy_of_the_arrays_f_closes_over() -> None:
    w = np.array([3.0, 4.0])
    _, vjp_fn = vjp(lambda v: ops.sum(v * w), np.array([1.0, 1.0]))
    w[:] = 100  # vjp_fn outlives the call: w stays writeable, and the node kept its own copy
    close(vjp_fn(1.0)[0], [3.0, 4.0])


@pytest.mark.parametrize("transform", [grad, jacrev, lambda f: jacobian(f, mode="reverse"),
                                       hessian])
def test_an_array_f_closes_over_is_read_only_until_the_transformation_is_done(transform) -> None:
    w = np.array([3.0, 4.0])
    seen = []

    def f(v):
        y = ops.sum(v * v * w)
        seen.append(w.flags.writeable)
        return y

    transform(f)(np.array([1.0, 2.0]))
    assert seen[0] is False and w.flags.writeable  # held while recorded, released after

    def writes_after_use(v):
        y = ops.sum(v * w)
        w[0] = 100.0  # numpy would compute sum(v * [3, 4]): the gradient would silently be [100, 4]
        return y

    with pytest.raises(ValueError, match="read-only"):
        transform(writes_after_use)(np.array([1.0, 2.0]))
    assert w.flags.writeable and w[0] == 3.0  # released when f raised


def test_an_array_held_by_two_levels_is_writeable_only_after_both_release_it() -> None:
    w = np.array([3.0, 4.0])
    seen = []

    def outer(x):
        def inner(v):
            y = ops.sum(v * w)  # held by the inner level first
            seen.append(("inner", w.flags.writeable))
            return y + ops.sum(x * w)  # then by the outer one, while the inner still holds it
        g = grad(inner)(x * 1.0)
        seen.append(("outer", w.flags.writeable))
        return ops.sum(g * x) + ops.sum(x * w)

    close(grad(outer)(np.array([1.0, 2.0])), [6.0, 8.0])  # d/dx (w.x + w.x): 2w
    assert seen == [("inner", False), ("outer", False)] and w.flags.writeable


def test_jacobian_in_forward_mode_releases_the_arrays_of_its_taped_try_first() -> None:
    buf = np.zeros(3)

    def f(v):  # writes into its buffer before reading it: fine in numpy, and so here
        buf[:] = 2.0
        return v * buf

    close(jacobian(f)(np.array([1.0, 2.0, 3.0])[:1]), [[2.0], [2.0], [2.0]])
    assert buf.flags.writeable


def test_a_read_only_array_of_the_user_stays_read_only() -> None:
    w = np.array([3.0, 4.0])
    w.flags.writeable = False
    close(grad(lambda v: ops.sum(v * w))(np.array([1.0, 1.0])), [3.0, 4.0])
    assert not w.flags.writeable


# --- 3. a tensor of an outer level changed in place inside a transformation --------------------

def test_an_outer_tensor_changed_in_place_after_use_inside_grad_raises() -> None:
    c = Tensor([3.0], dtype=np.float64)

    def f(y):
        s = (y * c).sum()
        c.mul_(10)
        return s

    with pytest.raises(RuntimeError, match="modified by an in-place operation"):
        grad(f)(np.array([1.0]))
    c32 = Tensor([3.0])  # promoted to float64 first: the op reads its own converted copy
    close(grad(lambda y: (y * c32).sum() + 0 * c32.mul_(10).sum())(np.array([1.0])), [3.0])


# --- 4. an output that shares an input's memory is a copy, whatever op made it ----------------

def test_where_with_a_python_bool_returns_its_own_memory() -> None:
    a = Tensor([1.0, 2.0], requires_grad=True)
    h = a * 1
    b = ops.where(True, h, 0.0)
    z = (h * h).sum()
    b.mul_(10)
    z.backward()
    close(a.grad, [2.0, 4.0])
    assert not np.shares_memory(b.data, h.data)


class FirstElement(Function):
    @staticmethod
    def forward(ctx, a):
        return a[:1]  # a view of the input's memory

    @staticmethod
    def backward(ctx, y_bar):
        return ops.concatenate([y_bar, ops.mul(y_bar, 0.0)])


def test_a_function_returning_a_view_of_its_input_gives_a_copy() -> None:
    a = Tensor([1.0, 2.0], requires_grad=True)
    h = a * 1
    z = (h * h).sum()
    v = FirstElement.apply(h)
    v.mul_(10)
    z.backward()
    close(a.grad, [2.0, 4.0])
    close(h, [1.0, 2.0])


# --- 5. a retained gradient moves with in-place ops --------------------------------------------

@pytest.mark.parametrize("steps", [1, 4])
def test_a_retained_gradient_is_counted_once_after_in_place_ops(steps: int) -> None:
    x = Tensor([1.0, 1.0], requires_grad=True)
    y = x * 1
    y.retain_grad()
    for _ in range(steps):
        y.add_(1)
    (y * 3).sum().backward()
    close(y.grad, [3.0, 3.0])
    close(x.grad, [3.0, 3.0])


def test_a_retained_gradient_of_a_base_moves_when_a_view_changes_it() -> None:
    x = Tensor([1.0, 2.0], requires_grad=True)
    y = x * 1
    y.retain_grad()
    y[0:1].mul_(5)
    (y * y).sum().backward()
    close(y.grad, [10.0, 4.0])  # 2 y at y = (5, 2)
    close(x.grad, [50.0, 4.0])


# --- 6. create_graph never adopts the caller's gradient tensor --------------------------------

def test_create_graph_copies_the_callers_gradient() -> None:
    x = Tensor([1.0, 2.0], requires_grad=True)
    g = Tensor([1.0, 1.0])
    x.backward(gradient=g, create_graph=True)
    (x * 1).backward(gradient=Tensor([5.0, 5.0]))
    close(g, [1.0, 1.0])
    close(x.grad, [6.0, 6.0])


# --- 7. second order sees in-place changes made after the first backward ----------------------

def test_second_order_after_an_in_place_change_raises() -> None:
    x = Tensor([1.0, 2.0], requires_grad=True)
    h = x * 1
    (h ** 3).sum().backward(create_graph=True)
    g = x.grad
    h.mul_(2)
    with pytest.raises(RuntimeError, match="modified by an in-place operation"):
        g.sum().backward()


def test_second_order_after_an_in_place_change_of_a_saved_output_raises() -> None:
    x = Tensor([0.5, 1.0], requires_grad=True)
    t = x.tanh()
    t.sum().backward(create_graph=True)  # tanh's rule reads its output
    g = x.grad
    t.mul_(2)
    with pytest.raises(RuntimeError, match="modified by an in-place operation"):
        g.sum().backward()


def test_second_order_without_in_place_changes_is_right() -> None:
    x = Tensor([1.0, 2.0], requires_grad=True)
    h = x * 1
    (h ** 3).sum().backward(create_graph=True)
    g = x.grad
    x.grad = None
    g.sum().backward()
    close(x.grad, [6.0, 12.0])


# --- 10. converting a value that requires grad to numpy is an error ---------------------------

@pytest.mark.parametrize("convert", [np.array, np.asarray, lambda t: np.r_[t, t],
                                     lambda t: np.array([t, t]), lambda t: t.numpy()])
def test_numpy_conversion_of_a_tensor_that_requires_grad_raises(convert) -> None:
    x = Tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="detach"):
        convert(x)
    assert np.array_equal(convert(x.detach()).reshape(-1)[:2], [1.0, 2.0])


@pytest.mark.parametrize("transform", [grad, jacfwd])
def test_numpy_conversion_inside_a_transformation_raises_in_both_modes(transform) -> None:
    def f(v):
        return (np.asarray(v) * v).sum()

    with pytest.raises((RuntimeError, TypeError), match=r"np\.array"):
        transform(f)(np.array([1.0, 2.0]))


# --- 11. complex values are refused at the op that makes them ---------------------------------

def test_complex_results_are_refused_naming_the_op() -> None:
    x = Tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(TypeError, match="mul: the result is complex"):
        x * (1 + 1j)
    with pytest.raises(TypeError, match="complex"):
        grad(lambda v: (v * np.array([1j, 1.0])).sum())(np.array([1.0, 2.0]))
    with pytest.raises(TypeError, match="complex"):
        jacfwd(lambda v: v * (1 + 1j))(np.array([1.0, 2.0]))


# --- 14. threads: a transformation in a worker thread over an outer one's value ---------------

def test_a_grad_in_a_worker_thread_closing_over_an_outer_value() -> None:
    seen: dict = {}

    def outer(x):
        def work():
            try:
                seen["inner"] = grad(lambda y: (y * x).sum())(np.array([1.0, 2.0]))
            except Exception as exc:
                seen["inner"] = exc
        thread = threading.Thread(target=work)
        thread.start()
        thread.join()
        return (x * x).sum()

    close(grad(outer)(np.array([3.0, 4.0])), [6.0, 8.0])
    inner = seen["inner"]
    assert not isinstance(inner, Exception), inner
    close(inner, [3.0, 4.0])  # d/dy (y . x) = x


# --- 17. hand-set gradients are checked -------------------------------------------------------

def test_a_hand_set_gradient_of_the_wrong_shape_or_type_is_refused() -> None:
    x = Tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(ValueError, match=r"shape \(2, 2\).*\(2,\)"):
        x.grad = Tensor(np.zeros((2, 2), dtype=np.float32))
    with pytest.raises(TypeError, match="Tensor or None"):
        x.grad = np.zeros(2)  # type: ignore[assignment]
    with pytest.raises(TypeError, match="dtype float64"):
        x.grad = Tensor(np.zeros(2))
    x.grad = Tensor([10.0, 10.0])
    (x * 1).sum().backward()
    close(x.grad, [11.0, 11.0])


def test_a_gradient_argument_that_is_not_numeric_is_refused() -> None:
    x = Tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(TypeError, match="real numbers"):
        (x * 1).backward(gradient=[None, None])


# --- 15. in-place ops under nested transformations, and numpy's views under every one ---------

def _assign_first(v):
    y = v * 1
    y[0] = 0
    return (y ** 2).sum() * v[0]


def _through_views(v):
    """Changes y through a view of it, then reads another view after changing y itself."""
    y = v * v
    z = y[1:]
    z *= 3
    w = y[0:2]
    y[0] = -1
    return (y * w.sum()) + w[0]


@pytest.mark.parametrize("f", [_assign_first, _through_views])
@pytest.mark.parametrize("route", ["hessian", "jacfwd(jacfwd)", "jacrev(jacrev)", "jacfwd(jacrev)"])
def test_in_place_ops_under_nested_transformations_match_finite_differences(f, route) -> None:
    from adcore import numerical_jacobian
    from reverse import jacrev
    make = {"hessian": hessian, "jacfwd(jacfwd)": lambda g: jacfwd(jacfwd(g)),
            "jacrev(jacrev)": lambda g: jacrev(jacrev(g)),
            "jacfwd(jacrev)": lambda g: jacfwd(jacrev(g))}[route]
    x = np.array([1.0, 2.0, 3.0])
    expected = numerical_jacobian(grad(lambda v: f(v).sum()), x)
    close(make(lambda v: f(v).sum())(x), expected, tol=1e-6)


def test_views_inside_jvp_and_vmap_behave_as_numpy_views() -> None:
    from adcore import numerical_jacobian, vmap
    from forward import jvp
    xs = np.arange(6.0).reshape(2, 3) + 1
    close(vmap(_through_views)(xs), [_through_views(x) for x in xs])
    out, out_dot = jvp(_through_views, (xs[0],), (np.ones(3),))
    close(out, _through_views(xs[0]))
    close(out_dot, numerical_jacobian(_through_views, xs[0]) @ np.ones(3), tol=1e-6)


# --- found beyond the list: what a Function saved, what relu saves, constants under vmap -------

class PassThrough(Function):
    @staticmethod
    def forward(ctx, a):
        return a * 1.0

    @staticmethod
    def backward(ctx, y_bar):
        return y_bar


def test_a_functions_output_or_input_that_it_did_not_save_may_change_in_place() -> None:
    x = Tensor([1.0, 2.0], requires_grad=True)
    o = PassThrough.apply(x * 1)
    o.add_(1)
    (o * o).sum().backward()
    close(x.grad, [4.0, 6.0])  # 2 (x + 1), as PyTorch: only saved tensors are checked
    x.grad = None
    h = x * 1
    o = PassThrough.apply(h)
    h.add_(1)
    (o * o).sum().backward()
    close(x.grad, [2.0, 4.0])


def test_relu_saves_its_output_as_pytorch() -> None:
    x = Tensor([-1.0, 2.0], requires_grad=True)
    h = x * 1
    y = h.relu()
    h.add_(1)  # relu's rule reads its output, not its input
    y.sum().backward()
    close(x.grad, [0.0, 1.0])
    y = (x * 1).relu()
    loss = y.sum()
    y.mul_(2)
    with pytest.raises(RuntimeError, match="modified by an in-place operation"):
        loss.backward()


def test_a_mask_of_a_batched_value_inside_grad_under_vmap() -> None:
    from adcore import vmap
    xs = np.array([[1.0, -1.0], [3.0, 4.0]])
    got = vmap(grad(lambda v: ops.sum(ops.where(v > 0, v, 0.0))))(xs)
    close(got, (xs > 0).astype(float))


def _returns_a_view_changed_through_its_base(v):
    y = v * 2
    z = y[1:]
    y[1] = -1.0  # numpy: z sees it
    return z


@pytest.mark.parametrize("route", ["jvp", "vjp", "vmap", "jacrev"])
def test_a_returned_view_sees_changes_made_through_its_base(route) -> None:
    from adcore import vmap
    from forward import jvp
    from reverse import jacrev
    f = _returns_a_view_changed_through_its_base
    x = np.array([1.0, 2.0, 3.0])
    expected = f(x)
    jac = np.array([[0.0, 0.0, 0.0], [0.0, 0.0, 2.0]])
    if route == "jvp":
        out, out_dot = jvp(f, (x,), (np.ones(3),))
        close(out, expected)
        close(out_dot, jac @ np.ones(3))
    elif route == "vjp":
        out, vjp_fn = vjp(f, x)
        close(out, expected)
        close(vjp_fn(np.ones(2))[0], np.ones(2) @ jac)
    elif route == "vmap":
        close(vmap(f)(np.stack([x, x])), [expected, expected])
    else:
        close(jacrev(f)(x), jac)
