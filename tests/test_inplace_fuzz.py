"""Random programs with in-place operations: never a wrong gradient.

A program is a list of steps on a list of live values (all of shape (4,)): new values from old ones
(tanh, exp, products, sums, views), and in-place changes (``add_``, ``mul_``, item assignment,
``zero_``, changes through slices), some of them after values were already used. It runs twice: on
Tensors, and on plain numpy arrays, whose views alias memory exactly as the Tensors' data do. The
loss is a weighted sum of every value at the end. The Tensor run's gradient must equal the finite
differences of the numpy run, or backward (or the in-place op itself) must raise RuntimeError.
"""
from __future__ import annotations

from typing import Any

import numpy as np
from hypothesis import assume, event, given, settings
from hypothesis import strategies as st

from adcore import numerical_jacobian
from reverse import Tensor

UNARY = {
    "tanh": (lambda v: v.tanh(), np.tanh),
    "sin": (lambda v: v.sin(), np.sin),
    "scale": (lambda v: v * 0.7, lambda v: v * 0.7),
    "square": (lambda v: v * v, lambda v: v * v),
    "exp": (lambda v: (v * 0.3).exp(), lambda v: np.exp(v * 0.3)),
}
VIEWS = {
    "reverse": lambda v: v[::-1],
    "same": lambda v: v.reshape(4),
    "pairs": lambda v: v.reshape(2, 2).reshape(4),
}
INPLACE = ["add", "mul", "mul_value", "setitem", "setitem_slice", "zero", "slice_mul", "iadd_item"]

step = st.one_of(
    st.tuples(st.just("unary"), st.sampled_from(sorted(UNARY)), st.integers(0, 50)),
    st.tuples(st.just("binary"), st.sampled_from(["mul", "add"]), st.integers(0, 50),
              st.integers(0, 50)),
    st.tuples(st.just("view"), st.sampled_from(sorted(VIEWS)), st.integers(0, 50)),
    st.tuples(st.just("inplace"), st.sampled_from(INPLACE), st.integers(0, 50),
              st.integers(0, 50), st.integers(0, 3)),
)


def run(program: list, x: Any, tensors: bool) -> Any:
    """The program's loss on x: Tensors when ``tensors``, else numpy arrays."""
    values = [x * 1.0]  # never change the input itself (a leaf that requires grad)
    for s in program:
        kind = s[0]
        if kind == "unary":
            f = UNARY[s[1]][0 if tensors else 1]
            values.append(f(values[s[2] % len(values)]))
        elif kind == "binary":
            a, b = values[s[2] % len(values)], values[s[3] % len(values)]
            values.append(a * b if s[1] == "mul" else a + b)
        elif kind == "view":
            values.append(VIEWS[s[1]](values[s[2] % len(values)]))
        else:
            _, what, i, j, k = s
            v, w = values[i % len(values)], values[j % len(values)]
            if what == "add":
                v += 0.5
            elif what == "mul":
                v *= 1.5
            elif what == "mul_value":
                v *= w if w is not v else 2.0
            elif what == "setitem":
                v[k] = w[(k + 1) % 4] * 0.5
            elif what == "setitem_slice":
                v[1:3] = w[0:2] * 0.25
            elif what == "zero":
                v[k] = 0.0
            elif what == "slice_mul":
                v[k:k + 2] *= 3.0
            else:
                v[k] += w[k] * 2.0
    weights = np.arange(1.0, len(values) + 1.0)
    total = values[0].sum() * 0.0
    for wgt, v in zip(weights, values):
        total = total + (v * wgt).sum()
    return total


@settings(max_examples=150, deadline=None)
@given(program=st.lists(step, min_size=1, max_size=10),
       x=st.lists(st.floats(-1.5, 1.5), min_size=4, max_size=4))
def test_in_place_ops_give_the_right_gradient_or_raise(program: list, x: list) -> None:
    x0 = np.array(x)
    # finite differences need moderate values and slopes: chained squares and exponentials can
    # overflow them (numpy raises here, under the suite's error state), and on a slope of 1e6 their
    # own error exceeds the tolerance (the gradient itself is right: smaller steps converge to it)
    try:
        assume(abs(run(program, x0.copy(), tensors=False)) < 1e4)
        expected = numerical_jacobian(lambda v: run(program, v, tensors=False), x0)
    except FloatingPointError:
        assume(False)
    assume(np.abs(expected).max() < 1e4)
    t = Tensor(x0, requires_grad=True)
    try:
        loss = run(program, t, tensors=True)
        np.testing.assert_allclose(float(loss), run(program, x0.copy(), tensors=False),
                                   rtol=1e-12, atol=1e-12)
        loss.backward()
    except RuntimeError as exc:
        assert "in-place" in str(exc) or "in place" in str(exc), exc
        event("refused")
        return
    event("differentiated")
    np.testing.assert_allclose(t.grad, expected, rtol=1e-5, atol=1e-5)


def test_the_fuzzed_programs_mostly_differentiate() -> None:
    """The property above is not vacuous: programs like these give gradients, not errors."""
    program = [("binary", "add", 0, 0), ("view", "reverse", 1), ("inplace", "slice_mul", 2, 0, 1),
               ("binary", "mul", 2, 0), ("inplace", "setitem", 3, 1, 2), ("unary", "square", 3),
               ("inplace", "zero", 4, 0, 0)]
    x0 = np.array([0.3, -0.7, 1.1, 0.2])
    t = Tensor(x0, requires_grad=True)
    run(program, t, tensors=True).backward()
    np.testing.assert_allclose(
        t.grad, numerical_jacobian(lambda v: run(program, v, tensors=False), x0), rtol=1e-5,
        atol=1e-6)
