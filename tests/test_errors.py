"""Bad input: errors name the op or function, the shapes or values, and the fix."""
from __future__ import annotations

import numpy as np
import pytest

from adcore import ops
from reverse import Tensor, grad


def test_matmul_shape_mismatch_names_both_shapes() -> None:
    with pytest.raises(ValueError, match=r"^matmul: \(3, 4\) @ \(5, 6\): 4 != 5"):
        Tensor(np.ones((3, 4))) @ Tensor(np.ones((5, 6)))
    with pytest.raises(ValueError, match=r"matmul: \(3,\) @ \(\): both arguments need"):
        ops.matmul(np.ones(3), np.float64(2.0))


def test_broadcast_mismatch_names_the_op_and_shapes() -> None:
    with pytest.raises(ValueError, match=r"^add: shapes \(2, 3\) and \(4,\) do not broadcast "
                       r"together.*reshape or expand one argument"):
        Tensor(np.ones((2, 3))) + Tensor(np.ones(4))
    with pytest.raises(ValueError,
                       match=r"broadcast_to: shape \(3,\) does not broadcast to \(2, 4\)"):
        ops.broadcast_to(np.ones(3), (2, 4))


@pytest.mark.parametrize("data", ["abc", ["a", "b"], {"a": 1}, [object()], np.array([1 + 2j])])
def test_unsupported_dtypes_are_rejected_at_construction(data) -> None:
    with pytest.raises(TypeError, match="Tensor: "):
        Tensor(data)


def test_integer_tensor_cannot_require_grad() -> None:
    with pytest.raises(TypeError, match="only floating-point tensors"):
        Tensor([1, 2], dtype=np.int64, requires_grad=True)


def test_reshape_axis_and_index_errors() -> None:
    with pytest.raises(ValueError, match=r"reshape: cannot reshape an array of shape \(2, 3\)"):
        Tensor(np.ones((2, 3))).reshape(4)
    with pytest.raises(ValueError, match=r"sum: axis 2 is out of range .* 2 dimension"):
        Tensor(np.ones((2, 3))).sum(axis=2)
    with pytest.raises(IndexError,
                       match=r"getitem: index 5 is out of bounds for axis 0 with size 3"):
        Tensor(np.ones(3))[5]
    with pytest.raises(ValueError, match=r"concatenate: array 1 has shape \(2, 2\)"):
        ops.concatenate([np.ones((2, 3)), np.ones((2, 2))], axis=0)
    with pytest.raises(ValueError, match="max: cannot reduce an array of shape \\(0,\\)"):
        ops.max(np.ones(0))


def test_grad_of_non_scalar_function_says_what_to_do() -> None:
    with pytest.raises(ValueError, match=r"grad: f must return a scalar.*shape \(2,\).*jacrev"):
        grad(lambda x: x * 2)(np.ones(2))


def test_boolean_mask_must_match_the_axes_it_indexes() -> None:
    with pytest.raises(IndexError, match=r"boolean mask of shape \(2,\) does not match .* \(3,\)"):
        ops.getitem(np.arange(3.0), np.array([True, False]))


def test_axis_errors_on_0d_arrays_and_numpy_integer_axes() -> None:
    with pytest.raises(ValueError, match="a 0-d array has no axes"):
        ops.sum(np.array(1.0), axis=0)
    np.testing.assert_array_equal(ops.sum(np.ones((2, 3)), axis=np.int64(1)), [3.0, 3.0])


def test_softmax_over_an_empty_axis_is_empty() -> None:
    assert ops.softmax(np.zeros((0, 3)), axis=0).shape == (0, 3)
    assert ops.log_softmax(np.zeros((2, 0)), axis=1).shape == (2, 0)
