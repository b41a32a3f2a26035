"""Custom ops through reverse.Function: recorded on the same tape, usable in forward mode."""
from __future__ import annotations

import numpy as np
import pytest

import forward
from reverse import Function, Tensor, grad


class Cube(Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x ** 3

    @staticmethod
    def backward(ctx, y_bar):
        (x,) = ctx.saved_tensors
        return 3 * x ** 2 * y_bar

    @staticmethod
    def jvp(ctx, x_dot):
        (x,) = ctx.saved_tensors
        return 3 * x ** 2 * x_dot


class MulAdd(Function):
    """x * y + z, with a gradient for every input."""

    @staticmethod
    def forward(ctx, x, y, z):
        ctx.save_for_backward(x, y)
        return x * y + z

    @staticmethod
    def backward(ctx, y_bar):
        x, y = ctx.saved_tensors
        return y_bar * y, y_bar * x, y_bar


def test_function_records_on_the_tape_and_mixes_with_registry_ops() -> None:
    x = Tensor([1.0, 2.0], requires_grad=True)
    y = Cube.apply(x * 2).sum()  # (2x)^3 -> 24 x^2
    assert repr(y.grad_fn) == "<SumBackward>"
    y.backward()
    np.testing.assert_allclose(x.grad.data, [24.0, 96.0])


def test_function_with_several_inputs_and_constants() -> None:
    x = Tensor([1.0, 2.0], requires_grad=True)
    z = Tensor([0.5, 0.5], requires_grad=True)
    out = MulAdd.apply(x, 3.0, z)
    assert out.grad_fn.name == "MulAdd"
    out.sum().backward()
    np.testing.assert_array_equal(x.grad.data, [3.0, 3.0])
    np.testing.assert_array_equal(z.grad.data, [1.0, 1.0])


def test_function_in_forward_mode_and_in_the_functional_api() -> None:
    _, dot = forward.jvp(Cube.apply, (np.array([2.0]),), (np.array([1.0]),))
    np.testing.assert_array_equal(dot, [12.0])
    assert grad(lambda x: Cube.apply(x).sum())(np.array([3.0]))[0] == 27.0


def test_function_without_jvp_says_how_to_add_it() -> None:
    with pytest.raises(NotImplementedError, match="MulAdd: forward mode needs a static jvp"):
        forward.jvp(lambda x: MulAdd.apply(x, x, x), (np.array([1.0]),), (np.array([1.0]),))


def test_backward_returning_the_wrong_number_of_gradients() -> None:
    class Broken(Function):
        @staticmethod
        def forward(ctx, x, y):
            return x + y

        @staticmethod
        def backward(ctx, y_bar):
            return y_bar

    x = Tensor([1.0], requires_grad=True)
    with pytest.raises(ValueError, match=r"Broken.backward returned 1 gradient.*2 input"):
        Broken.apply(x, x).sum().backward()


def test_function_backward_differentiates_again() -> None:
    from forward import jacfwd
    from reverse import hessian
    x0 = np.array([2.0])
    assert grad(grad(lambda v: Cube.apply(v).sum()))(x0)[0] == 12.0
    assert hessian(lambda v: Cube.apply(v).sum())(x0)[0, 0] == 12.0
    assert jacfwd(jacfwd(lambda v: Cube.apply(v).sum()))(x0)[0, 0] == 12.0
    x = Tensor([2.0], requires_grad=True, dtype=np.float64)
    Cube.apply(x).sum().backward(create_graph=True)
    g, x.grad = x.grad, None
    g.sum().backward()
    assert x.grad.item() == 12.0


def test_needs_input_grad_is_known_in_forward() -> None:
    seen = []

    class Probe(Function):
        @staticmethod
        def forward(ctx, x, y):
            seen.append(ctx.needs_input_grad)
            return x * y

        @staticmethod
        def backward(ctx, y_bar):
            return y_bar, None

    Probe.apply(Tensor([1.0], requires_grad=True), Tensor([2.0]))
    assert seen == [(True, False)]


def test_broadcast_gradients_from_backward_are_summed_back() -> None:
    class SumRows(Function):
        @staticmethod
        def forward(ctx, x):
            return x.sum()

        @staticmethod
        def backward(ctx, y_bar):
            return np.ones((4, 3)) * y_bar  # broadcast over a new leading axis

    x = Tensor([1.0, 2.0, 3.0], requires_grad=True)
    SumRows.apply(x).backward()
    np.testing.assert_array_equal(x.grad.data, [4.0, 4.0, 4.0])


def test_gradient_of_an_incompatible_shape_is_an_error() -> None:
    class Wrong(Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, y_bar):
            return np.ones(5)

    with pytest.raises(ValueError,
                       match=r"Wrong.backward: the gradient for input 0 has shape \(5,\)"):
        Wrong.apply(Tensor([1.0, 2.0], requires_grad=True)).sum().backward()
