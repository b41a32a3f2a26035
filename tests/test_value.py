"""The scalar Value engine: micrograd's API and sanity check, on the registry's rules."""
from __future__ import annotations

import gc
import math
import sys
from pathlib import Path

import numpy as np
import pytest

from adcore import numerical_jacobian
from reverse import Tensor, Value

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "examples"))


def sanity_expression(a, b):
    """micrograd's test_sanity_check expression (test_engine.py), for any engine."""
    c = a + b
    d = a * b + b ** 3
    c = c + c + 1
    c = c + 1 + c + (-a)
    d = d + d * 2 + (b + a).relu()
    d = d + 3 * d + (b - a).relu()
    e = c - d
    f = e ** 2
    g = f / 2.0
    g = g + 10.0 / f
    return g


def test_micrograd_sanity_check_against_tensor_engine_and_finite_differences() -> None:
    a, b = Value(-4.0), Value(2.0)
    g = sanity_expression(a, b)
    g.backward()

    ta = Tensor(-4.0, requires_grad=True, dtype=np.float64)
    tb = Tensor(2.0, requires_grad=True, dtype=np.float64)
    tg = sanity_expression(ta, tb)
    tg.backward()
    assert g.data == pytest.approx(tg.item(), rel=1e-15)
    assert a.grad == pytest.approx(ta.grad.item(), rel=1e-14)
    assert b.grad == pytest.approx(tb.grad.item(), rel=1e-14)

    def plain(v):
        return sanity_expression(Value(v[0]), Value(v[1])).data
    fd = numerical_jacobian(lambda v: np.array(plain(v)), np.array([-4.0, 2.0]))
    np.testing.assert_allclose([a.grad, b.grad], fd, rtol=1e-7)
    # and the figures micrograd's own test compares with PyTorch
    assert g.data == pytest.approx(24.70408163265306, abs=1e-6)
    assert a.grad == pytest.approx(138.83381924198252, abs=1e-6)
    assert b.grad == pytest.approx(645.5772594752186, abs=1e-6)


def test_value_attributes_match_the_curriculum() -> None:
    x, y = Value(2.0, label="x"), Value(3.0, label="y")
    assert x.data == 2.0 and x.grad == 0.0 and x._prev == set() and x._op == ""
    assert x._backward() is None  # a leaf's _backward does nothing
    z = x * y + x ** 2
    assert z._op == "+" and {c._op for c in z._prev} == {"*", "**2"}
    assert (x * y)._prev == {x, y}
    assert [v._op for v in (x.tanh(), x.relu(), x.sigmoid(), x.exp(), x.log(), -x, x / y, x - y)] \
        == ["tanh", "ReLU", "sigmoid", "exp", "log", "neg", "/", "-"]
    z.backward()
    assert x.grad == 3.0 + 4.0 and y.grad == 2.0


@pytest.mark.parametrize("name, f, df", [
    ("tanh", lambda v: v.tanh(), lambda x: 1 - math.tanh(x) ** 2),
    ("sigmoid", lambda v: v.sigmoid(), lambda x: math.exp(-x) / (1 + math.exp(-x)) ** 2),
    ("exp", lambda v: v.exp(), math.exp),
    ("log", lambda v: v.log(), lambda x: 1 / x),
    ("relu", lambda v: v.relu(), lambda x: float(x > 0)),
    ("rpow", lambda v: 2 ** v, lambda x: 2 ** x * math.log(2)),
    ("rdiv", lambda v: 3 / v, lambda x: -3 / x ** 2),
    ("rsub", lambda v: 3 - v, lambda x: -1.0),
    ("pow value", lambda v: v ** Value(1.5), lambda x: 1.5 * x ** 0.5),
])
def test_value_derivatives(name, f, df) -> None:
    for x0 in (0.7, 1.9):
        x = Value(x0)
        f(x).backward()
        assert x.grad == pytest.approx(df(x0), rel=1e-12), name


def test_numbers_on_either_side_and_repeated_use() -> None:
    x = Value(3.0)
    y = 2 * x + x * x - 1 + 1 / x
    y.backward()
    assert y.data == pytest.approx(6 + 9 - 1 + 1 / 3)
    assert x.grad == pytest.approx(2 + 6 - 1 / 9)


def test_long_chain_backward_without_recursion() -> None:
    x = Value(0.5)
    y = x
    for _ in range(50_000):
        y = y * 1.0 + 0.0
    y.backward()
    assert x.grad == 1.0


def test_handwritten_backward_in_micrograd_style() -> None:
    a, b = Value(2.0), Value(5.0)
    out = Value(a.data * b.data, (a, b), "*")

    def _backward():
        a.grad += b.data * out.grad
        b.grad += a.data * out.grad
    out._backward = _backward
    (out * 3).backward()
    assert (a.grad, b.grad) == (15.0, 6.0)


def test_value_graph_has_no_reference_cycles() -> None:
    gc.collect()
    gc.disable()
    try:
        a, b = Value(-4.0), Value(2.0)
        sanity_expression(a, b).backward()
        del a, b
        unreachable = gc.collect()
    finally:
        gc.enable()
    assert unreachable == 0


def test_bad_operands_are_rejected() -> None:
    with pytest.raises(TypeError, match="cannot combine a Value with str"):
        Value(1.0) + "a"
    with pytest.raises(TypeError, match="exponent must be a number or a Value"):
        Value(1.0) ** [2]


def test_demo_mlp_reaches_full_training_accuracy() -> None:
    import random

    from micrograd_demo import MLP, loss_and_accuracy, make_moons, train_step
    random.seed(1337)
    X, y = make_moons()
    model = MLP(2, [16, 16, 1])
    losses = [train_step(model, X, y, lr=1.0 - 0.9 * k / 100)[0] for k in range(100)]
    _, accuracy = loss_and_accuracy(model, X, y)
    assert accuracy == 1.0
    assert losses[-1] < 0.1 * losses[0]
