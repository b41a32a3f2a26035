"""The backward pass owns the cotangent buffers it creates, and only those.

A cotangent that a rule returns as a new array held by nothing else may become a leaf's ``.grad``
without a copy, and later cotangents for the same node are added into it in place. Nothing the pass
did not create is ever written into or handed out as ``.grad``: a user's gradient, a saved value,
an array a custom rule keeps elsewhere, a cotangent passed through to several inputs.
"""
from __future__ import annotations

import weakref
from typing import ClassVar

import numpy as np

from reverse import Function, Tensor


class Scale(Function):
    """y = 3 x; its backward makes a fresh array (remembered weakly) or returns one it keeps."""

    made: ClassVar[list] = []
    keep: ClassVar[np.ndarray | None] = None

    @staticmethod
    def forward(ctx, x):
        return 3.0 * x

    @staticmethod
    def backward(ctx, y_bar):
        if Scale.keep is not None:
            Scale.keep[...] = 3.0 * y_bar
            return Scale.keep
        fresh = 3.0 * np.asarray(y_bar)
        Scale.made.append(weakref.ref(fresh))
        return fresh


def test_a_fresh_cotangent_becomes_the_grad_without_a_copy() -> None:
    Scale.made.clear()
    Scale.keep = None
    x = Tensor(np.ones(1000), requires_grad=True)
    Scale.apply(x).sum().backward()
    assert x.grad.data is Scale.made[-1]()  # adopted, not copied
    np.testing.assert_array_equal(x.grad.data, np.full(1000, 3.0))
    assert x.grad.data.flags.writeable and x.grad.data.flags.c_contiguous


def test_an_array_the_rule_keeps_elsewhere_is_copied_and_never_written() -> None:
    Scale.keep = np.zeros(1000)
    try:
        x = Tensor(np.ones(1000), requires_grad=True)
        Scale.apply(x).sum().backward()
        assert x.grad.data is not Scale.keep
        x.grad.data *= 10
        np.testing.assert_array_equal(Scale.keep, np.full(1000, 3.0))
        # Accumulating into the same leaf: the kept array is read, not added into.
        y = Scale.apply(x) + Scale.apply(x)
        x.grad = None
        y.sum().backward()
        np.testing.assert_array_equal(x.grad.data, np.full(1000, 6.0))
        np.testing.assert_array_equal(Scale.keep, np.full(1000, 3.0))
    finally:
        Scale.keep = None


def test_cotangents_for_one_node_are_added_in_place_with_the_right_value() -> None:
    x = Tensor(np.arange(4.0), requires_grad=True)
    h = x * 1.0
    y = h * 2.0 + h * 3.0 + h.tanh()  # three cotangents meet at h
    y.sum().backward()
    np.testing.assert_allclose(x.grad.data, 5.0 + (1 - np.tanh(np.arange(4.0)) ** 2))


def test_the_users_gradient_is_never_written_into_or_handed_out() -> None:
    a = Tensor(np.ones(3), requires_grad=True)
    b = Tensor(np.ones(3), requires_grad=True)
    g = np.array([1.0, 2.0, 3.0])
    (a + b + a).backward(gradient=g)  # g flows unchanged to a (twice) and to b
    np.testing.assert_array_equal(g, [1.0, 2.0, 3.0])
    np.testing.assert_array_equal(a.grad.data, 2 * g)
    np.testing.assert_array_equal(b.grad.data, g)
    assert a.grad.data is not g and b.grad.data is not g
    a.grad.data += 100
    b.grad.data += 1000
    np.testing.assert_array_equal(g, [1.0, 2.0, 3.0])
    np.testing.assert_array_equal(b.grad.data, g + 1000)


def test_a_cotangent_passed_to_two_inputs_is_owned_by_neither() -> None:
    x = Tensor(np.ones(5), requires_grad=True)
    w = Tensor(np.full(5, 2.0), requires_grad=True)
    h = x * w  # h's cotangent is fresh (from the mul below) ...
    s = h + h  # ... and add passes its own cotangent to both of its inputs, the same node twice
    (s * 4.0).sum().backward()
    np.testing.assert_array_equal(x.grad.data, np.full(5, 16.0))
    np.testing.assert_array_equal(w.grad.data, np.full(5, 8.0))
    a = Tensor(np.ones(5), requires_grad=True)
    b = Tensor(np.ones(5), requires_grad=True)
    ((a + b) * 4.0).sum().backward()  # one fresh cotangent, sent on to two leaves
    assert a.grad.data is not b.grad.data
    a.grad.data *= 0
    np.testing.assert_array_equal(b.grad.data, np.full(5, 4.0))


def test_saved_values_are_not_written_by_backward() -> None:
    x = Tensor(np.linspace(-1, 1, 6), requires_grad=True)
    t = x.tanh()
    saved = t.data.copy()
    (t * t + t).sum().backward(retain_graph=True)
    np.testing.assert_array_equal(t.data, saved)
    first = x.grad.data.copy()
    x.grad = None
    (t * t + t).sum().backward()
    np.testing.assert_array_equal(x.grad.data, first)
