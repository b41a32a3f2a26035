"""Indices are operands: an integer index array is a value of the op (getitem, setitem,
scatter_add), never a parameter, so an index that differs from example to example works under
vmap in every mode, and a frozen copy is what a node keeps."""
from __future__ import annotations

import numpy as np
import pytest

from adcore import ops, vmap
from adcore.ops.shape import Slot
from forward import jacfwd
from reverse import Tensor, grad, jacrev

X = np.arange(12.0).reshape(3, 4) + 1
XS = np.stack([X, 2 * X, 3 * X])
INDEX = np.array([[0, 2], [1, 1], [2, 3]])  # one index array per example


def gather_columns(x, i):
    return x[:, i] ** 2


def separated(x, i):  # advanced indices separated by a slice: numpy moves their axes first
    return x[i[0], :][None] * x[1, i][:, None]


def written(x, i):
    y = x * 1.0
    y[i[0]] = 0.0
    y[:, i] = y[:, i] * 3
    return y


def per_example(fn):
    return np.stack([fn(x, i) for x, i in zip(XS, INDEX)])


@pytest.mark.parametrize("fn", [gather_columns, separated, written])
@pytest.mark.parametrize("route", ["value", "jacfwd", "jacrev"])
def test_an_index_that_differs_per_example_under_vmap(fn, route) -> None:
    wrap = {"value": lambda f: f, "jacfwd": jacfwd, "jacrev": jacrev}[route]
    np.testing.assert_allclose(vmap(wrap(fn))(XS, INDEX), per_example(wrap(fn)))


@pytest.mark.parametrize("fn", [gather_columns, separated, written])
def test_per_example_gradients_with_per_example_indices(fn) -> None:
    g = grad(lambda x, i: fn(x, i).sum())
    np.testing.assert_allclose(vmap(g, in_axes=(None, 0))(X, INDEX),
                               np.stack([g(X, i) for i in INDEX]))


def test_an_embedding_lookup_per_example_sends_gradients_to_the_rows_used() -> None:
    table = Tensor(np.arange(10.0).reshape(5, 2), requires_grad=True)
    tokens = np.array([[0, 3], [3, 3]])
    out = vmap(lambda t: ops.getitem(table, t))(tokens)
    (out * 2).sum().backward()
    expected = np.zeros((5, 2))
    np.add.at(expected, tokens.ravel(), 2.0)
    np.testing.assert_allclose(table.grad.data, expected)


def test_the_index_is_an_operand_and_a_frozen_copy() -> None:
    x = Tensor(X, requires_grad=True)
    i = np.array([2, 0])
    y = x[:, i]
    node = y.grad_fn
    index = node.params["index"]
    assert type(index[1]) is Slot and index[1].shape == (2,)
    kept = node.primals[1]
    assert not kept.flags.writeable and not np.shares_memory(kept, i)
    np.testing.assert_array_equal(kept, i)


# --- a slice's cotangent added straight into the input's running sum ------------------------------

def _step_by_step(x, indices):
    """A loop that reads one piece of x per step, as a recurrent network reads its time steps."""
    return ops.sum(ops.stack([ops.sum(ops.sin(x[i]) * (k + 1)) for k, i in enumerate(indices)]))


INDICES = [
    [0, 1, 2, 3, 4, 5],  # one row per step
    [slice(0, 3), slice(2, 5), 4, slice(None, None, 2)],  # overlapping slices
    [(2, 1), (2, 1), 0, (slice(None), 3)],  # the same entry twice, and a column
    [np.array([0, 0, 5]), np.array([1, 5]), 3],  # integer arrays with repeats
    [(Ellipsis, 1), (None, 2), (4, slice(1, 3))],  # Ellipsis, None, mixed
]


@pytest.mark.parametrize("indices", INDICES, ids=range(len(INDICES)))
def test_a_loop_of_slices_sums_every_cotangent(indices) -> None:
    """getitem's cotangents are added into the input's running sum in place (once the pass owns
    it); the gradient is the transpose's, entry for entry, in both dtypes."""
    for dtype in (np.float64, np.float32):
        data = np.linspace(-1, 1, 24, dtype=dtype).reshape(6, 4)
        want = np.zeros_like(data)
        for k, i in enumerate(indices):
            if isinstance(i, np.ndarray):
                np.add.at(want, i, np.cos(data[i]) * (k + 1))  # repeats add up
            else:
                want[i] += np.cos(data[i]) * (k + 1)
        x = Tensor(data, requires_grad=True)
        _step_by_step(x, indices).backward()
        assert x.grad.dtype == dtype
        np.testing.assert_allclose(x.grad.data, want, rtol=1e-6 if dtype == np.float32 else 1e-14)


def test_sliced_cotangents_with_hooks_retained_graphs_and_second_order() -> None:
    data = np.linspace(-1, 1, 24).reshape(6, 4)
    x = Tensor(data, requires_grad=True)
    h = x * 2.0
    seen = []
    h.register_hook(lambda g: seen.append(g.data.copy()))
    loss = _step_by_step(h, [0, 1, 1, slice(2, 6)])
    loss.backward(retain_graph=True)
    first = x.grad.data.copy()
    loss.backward()  # a second pass over the retained graph adds the same again
    np.testing.assert_allclose(x.grad.data, 2 * first, rtol=1e-15)
    np.testing.assert_allclose(seen[0] * 2.0, first, rtol=1e-15)
    g = grad(lambda v: _step_by_step(v, [0, 1, 1, slice(2, 6)]))
    np.testing.assert_allclose(2.0 * g(2.0 * data), first, rtol=1e-14)
    hess = jacrev(g)(data)  # second order: the backward pass is recorded, nothing in place
    np.testing.assert_allclose(hess, jacfwd(g)(data), rtol=1e-12, atol=1e-14)
