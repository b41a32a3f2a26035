"""Seeing the chain rule: explain() prints the backward pass, draw(grads=True) labels edges."""
from __future__ import annotations

import io

import numpy as np
import pytest

from reverse import Tensor, Value, explain, to_dot


def test_the_curriculum_chain_rule_example() -> None:
    x = Tensor(3.0, requires_grad=True)
    g = x * 2
    f = g + 3
    out = io.StringIO()
    text = explain(f, file=out)
    assert out.getvalue().strip() == text
    lines = text.splitlines()
    assert "step 1: add" in lines[1] and "step 2: mul" in lines[4]
    assert "local d out/d in = 1; sends 1 * 1 = 1" in lines[2]  # df/dg = 1
    assert "local d out/d in = 2; sends 2 * 1 = 2" in lines[5]  # dg/dx = 2
    assert lines[-1] == "leaf #1.grad = 2"
    assert float(x.grad) == 2.0  # explain ran backward


def test_backward_with_explain_on_tensors_summarises_large_arrays(capsys) -> None:
    w = Tensor(np.ones((3, 4)), requires_grad=True)
    x = Tensor(np.arange(40.0).reshape(10, 4))
    (x @ w.T).tanh().sum().backward(explain=True)
    printed = capsys.readouterr().out
    assert "rule: Transpose: broadcast back." in printed  # sum's declared transpose
    assert "<shape (10, 3): mean" in printed and "leaf #1.grad = <shape (3, 4)" in printed
    assert w.grad is not None


def test_explain_on_values_multiplies_along_each_path(capsys) -> None:
    a, b = Value(2.0, label="a"), Value(-3.0, label="b")
    e = a * b + a
    e.label = "e"
    explain(e)
    printed = capsys.readouterr().out
    assert "input 0 <- a: local d out/d in = -3; sends -3 * 1 = -3" in printed
    assert "input 1 <- b: local d out/d in = 2; sends 2 * 1 = 2" in printed
    assert "a.grad = -2" in printed and a.grad == -2.0  # -3 (through a * b) + 1


def test_draw_labels_each_edge_with_its_cotangent() -> None:
    x = Tensor(3.0, requires_grad=True)
    f = (x * 2) + 3
    dot = to_dot(f, grads=True)
    assert dot.count("label=\"grad 2.\"") == 1 and dot.count("label=\"grad 1.\"") == 1
    assert x.grad is None  # drawing does not accumulate gradients
    f.backward()
    with pytest.raises(RuntimeError, match=r"already freed by backward.*retain_graph"):
        to_dot(f, grads=True)
    a = Value(2.0, label="a")
    y = a * a
    y.backward()
    assert 'label="grad 2."' in to_dot(y, grads=True)  # 2 along each of the two edges from a
