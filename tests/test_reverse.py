"""The Tensor tape: the curriculum's examples, backward's contract, modes and memory."""
from __future__ import annotations

import gc
import threading

import numpy as np
import pytest

from adcore import numerical_jacobian
from reverse import Tensor, enable_grad, is_grad_enabled, no_grad


def test_chain_rule_example_from_the_curriculum() -> None:
    x = Tensor(5.0, requires_grad=True)
    g = x * 2
    f = g + 3
    f.backward()
    assert f.item() == 13.0
    assert x.grad.item() == 2.0


def test_matmul_example_from_the_curriculum() -> None:
    x = Tensor([[1, 2], [3, 4]], requires_grad=True)
    y = Tensor([[5, 6], [7, 8]], requires_grad=True)
    z = x @ y
    loss = z.sum()
    loss.backward()
    np.testing.assert_array_equal(x.grad.data, [[11, 15], [11, 15]])
    np.testing.assert_array_equal(y.grad.data, [[4, 4], [6, 6]])
    assert x.dtype == np.float32 and x.grad.dtype == np.float32
    assert loss.item() == 134.0


def test_multiple_paths_accumulate() -> None:
    x = Tensor(3.0, requires_grad=True)
    y = x * x + x * 4 + x  # d/dx = 2x + 5 = 11
    y.backward()
    assert x.grad.item() == 11.0


def test_same_input_twice_and_repeated_backward_accumulate() -> None:
    x = Tensor([1.0, 2.0], requires_grad=True)
    (x * x).sum().backward()
    (x * x).sum().backward()
    np.testing.assert_array_equal(x.grad.data, [4.0, 8.0])  # 2 * 2x


def test_detach_stops_gradient_flow() -> None:
    x = Tensor(2.0, requires_grad=True)
    y = x * x.detach()  # the detached factor is a constant: d/dx = x, not 2x
    y.backward()
    assert x.grad.item() == 2.0
    assert x.detach().is_leaf and not x.detach().requires_grad


def test_broadcast_gradients_are_summed_to_each_input_shape() -> None:
    w = Tensor(np.ones((3, 1)), requires_grad=True)
    b = Tensor(np.ones(4), requires_grad=True)
    out = w * Tensor(np.arange(12.0).reshape(3, 4)) + b
    out.sum().backward()
    np.testing.assert_array_equal(w.grad.data, [[6.0], [22.0], [38.0]])
    np.testing.assert_array_equal(b.grad.data, [3.0, 3.0, 3.0, 3.0])
    assert w.grad.shape == (3, 1) and b.grad.shape == (4,)


def test_numbers_and_arrays_on_either_side() -> None:
    x = Tensor([1.0, 2.0], requires_grad=True)
    y = 2 - x * np.array([3.0, 4.0]) + 1 / x + x ** 2 - (-x) + 2 ** x
    y.sum().backward()
    xs = np.array([1.0, 2.0])
    expected = -np.array([3.0, 4.0]) - 1 / xs ** 2 + 2 * xs + 1 + 2 ** xs * np.log(2)
    np.testing.assert_allclose(x.grad.data, expected, rtol=1e-6)
    assert type(np.array([1.0, 2.0]) * x) is Tensor


def test_attributes_of_a_tensor() -> None:
    x = Tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    assert x.shape == (2, 3) and x.ndim == 2 and x.dtype == np.float64
    assert x.strides == (24, 8) and x.T.shape == (3, 2) and x.T.strides == (8, 24)
    assert x.is_leaf and x.grad_fn is None and x.requires_grad
    y = (x * 2).sum(axis=1)
    assert not y.is_leaf and y.requires_grad
    assert repr(y.grad_fn) == "<SumBackward>" and y.grad_fn.name == "sum"
    assert "grad_fn=<SumBackward>" in repr(y)


def test_comparisons_return_non_differentiable_tensors() -> None:
    x = Tensor([-1.0, 2.0], requires_grad=True)
    mask = x > 0
    assert type(mask) is Tensor and mask.dtype == np.bool_ and not mask.requires_grad
    np.testing.assert_array_equal(mask.data, [False, True])
    ((x * mask) + (x == 2.0) * 0).sum().backward()
    np.testing.assert_array_equal(x.grad.data, [0.0, 1.0])


def test_indexing_with_repeated_indices_accumulates() -> None:
    x = Tensor([1.0, 2.0, 3.0], requires_grad=True)
    x[[0, 0, 2]].sum().backward()
    np.testing.assert_array_equal(x.grad.data, [2.0, 0.0, 1.0])
    m = Tensor(np.arange(12.0).reshape(3, 4), requires_grad=True)
    (m[1:, ::2] * 2).sum().backward()
    np.testing.assert_array_equal(m.grad.data, [[0, 0, 0, 0], [2, 0, 2, 0], [2, 0, 2, 0]])


def test_iteration_and_python_conversions() -> None:
    x = Tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    rows = list(x)
    assert len(rows) == 2 and rows[1].shape == (2,)
    (rows[0] * rows[1]).sum().backward()
    np.testing.assert_array_equal(x.grad.data, [[3.0, 4.0], [1.0, 2.0]])
    assert float(x[1, 1]) == 4.0 and int(x[0, 1]) == 2 and bool(x[0, 0] > 0)


def test_non_scalar_backward_needs_a_gradient() -> None:
    x = Tensor([1.0, 2.0], requires_grad=True)
    y = x * 3
    with pytest.raises(RuntimeError, match=r"shape \(2,\).*y.sum\(\).backward\(\)"):
        y.backward()
    y.backward(gradient=np.array([1.0, 10.0]))
    np.testing.assert_array_equal(x.grad.data, [3.0, 30.0])


def test_gradient_shape_mismatch_is_an_error() -> None:
    y = Tensor([1.0, 2.0], requires_grad=True) * 2
    with pytest.raises(ValueError, match=r"gradient has shape \(3,\).*\(2,\)"):
        y.backward(np.ones(3))


def test_freed_graph_is_an_error_and_retain_graph_keeps_it() -> None:
    x = Tensor(2.0, requires_grad=True)
    y = (x * x).exp()
    y.backward(retain_graph=True)
    y.backward()
    np.testing.assert_allclose(x.grad.data, 2 * 4 * np.exp(4.0), rtol=1e-6)
    with pytest.raises(RuntimeError, match="retain_graph=True"):
        y.backward()


def test_backward_on_a_tensor_without_grad_says_what_to_do() -> None:
    with pytest.raises(RuntimeError, match="requires_grad=True"):
        (Tensor([1.0]) * 2).sum().backward()


def test_long_chain_backpropagates_without_recursion() -> None:
    x = Tensor(0.5, requires_grad=True)
    y = x
    for _ in range(100_000):
        y = y * 1.0
    y.backward()
    assert x.grad.item() == 1.0


def test_graph_is_freed_by_reference_counting_alone() -> None:
    gc.collect()
    gc.disable()
    try:
        x = Tensor(np.ones((4, 3)), requires_grad=True)
        w = Tensor(np.ones((3, 2)), requires_grad=True)
        for retain in (False, True):
            loss = ((x @ w).tanh() * 2 + 1).log_softmax(axis=1).sum()
            loss.backward(retain_graph=retain)
            del loss
        unreachable = gc.collect()
    finally:
        gc.enable()
    assert unreachable == 0


def test_no_grad_stops_recording_and_enable_grad_resumes() -> None:
    x = Tensor([1.0], requires_grad=True)
    with no_grad():
        assert not is_grad_enabled()
        y = x * 2
        with enable_grad():
            z = x * 2
    assert is_grad_enabled()
    assert not y.requires_grad and y.is_leaf and z.requires_grad

    @no_grad()
    def double(t: Tensor) -> Tensor:
        return t * 2
    assert not double(x).requires_grad


def test_no_grad_is_thread_local() -> None:
    x = Tensor([1.0], requires_grad=True)
    seen = []
    with no_grad():
        thread = threading.Thread(target=lambda: seen.append((x * 2).requires_grad))
        thread.start()
        thread.join()
    assert seen == [True]


def test_requires_grad_toggle_on_leaves_only() -> None:
    x = Tensor([1.0, 2.0])
    assert not x.requires_grad
    x.requires_grad_()
    (x * x).sum().backward()
    np.testing.assert_array_equal(x.grad.data, [2.0, 4.0])
    with pytest.raises(RuntimeError, match="leaf"):
        (x * 2).requires_grad_(False)


def test_create_graph_gives_second_derivatives() -> None:
    x = Tensor([0.3, 1.2], requires_grad=True, dtype=np.float64)
    y = (x.sin() * x ** 3).sum()
    y.backward(create_graph=True)
    g = x.grad
    assert g.requires_grad
    x.grad = None
    g.sum().backward()
    xs = np.array([0.3, 1.2])
    first = lambda v: np.cos(v) * v ** 3 + 3 * v ** 2 * np.sin(v)
    np.testing.assert_allclose(x.grad.data, np.diag(numerical_jacobian(first, xs)), rtol=1e-6)


def test_float64_data_stays_float64_and_lists_become_float32() -> None:
    assert Tensor(np.array([1.0, 2.0])).dtype == np.float64
    assert Tensor([1.5, 2.5]).dtype == np.float32
    assert Tensor(np.arange(3)).dtype == np.float32
    assert Tensor([1, 2], dtype=np.float64).dtype == np.float64
    assert (Tensor([1.0]) * 2.5).dtype == np.float32
