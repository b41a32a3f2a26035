"""Graph drawings: DOT source for Value and Tensor graphs, rendered through Graphviz if present."""
from __future__ import annotations

import importlib
import re
import shutil

import numpy as np
import pytest

from reverse import Tensor, Value, draw, to_dot

draw_module = importlib.import_module("reverse.draw")  # the module, not the function it exports


def test_value_graph_dot_has_every_value_op_and_edge() -> None:
    x, w = Value(2.0, label="x"), Value(-3.0, label="w")
    out = x * w + x
    out.label = "out"
    out.backward()
    dot = to_dot(out)
    assert dot.startswith("digraph {") and dot.rstrip().endswith("}")
    assert "x | data 2.0000 | grad -2.0000" in dot
    assert "w | data -3.0000 | grad 2.0000" in dot
    assert "out | data -4.0000 | grad 1.0000" in dot
    assert re.findall(r'shape=ellipse.*label="(.*)"', dot) == ["*", "+"]
    assert len(re.findall(r"->", dot)) == 2 + 2 + 2  # x, w -> *; * , x -> +; each op -> its value


def test_tensor_graph_dot_shows_leaves_constants_ops_and_values() -> None:
    x = Tensor([[1, 2], [3, 4]], requires_grad=True)
    loss = (x @ x * 2).sum()
    dot = to_dot(loss)
    for text in ("matmul", "mul", "sum", "leaf", "constant", "108."):
        assert text in dot
    loss.backward()
    assert "freed by backward" in to_dot(loss)
    assert "leaf" in to_dot(Tensor(np.zeros(10)))


def test_to_dot_rejects_other_objects() -> None:
    with pytest.raises(TypeError, match="to_dot: expected a Value or a Tensor, got ndarray"):
        to_dot(np.zeros(2))


def test_draw_without_graphviz_says_how_to_install_it(monkeypatch, tmp_path) -> None:
    monkeypatch.setattr(draw_module.shutil, "which", lambda name: None)
    with pytest.raises(RuntimeError, match=r"apt install graphviz.*to_dot"):
        draw(Value(1.0) * 2, tmp_path / "g.svg")


def test_draw_rejects_unknown_formats(tmp_path) -> None:
    with pytest.raises(ValueError, match=r"use a \.svg, \.png or \.pdf path"):
        draw(Value(1.0) * 2, tmp_path / "g.gif")


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot program is not installed")
def test_draw_renders_svg_and_png(tmp_path) -> None:
    a = Value(1.5, label="a")
    out = (a * a).tanh()
    svg = draw(out, tmp_path / "g.svg").read_text()
    assert "<svg" in svg and "tanh" in svg
    png = draw(Tensor([1.0, 2.0], requires_grad=True).exp().sum(), tmp_path / "g.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
