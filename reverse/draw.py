"""Pictures of computation graphs: Graphviz DOT source for a Value or Tensor graph, and rendering.

``to_dot(root)`` needs nothing but Python. ``draw(root, path)`` runs Graphviz's ``dot`` program,
which is optional: without it, ``draw`` says how to install it (and ``to_dot`` still works).
"""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import numpy as np

from adcore.shapes import Meta
from reverse.graph import Node, backward, toposort
from reverse.tensor import Tensor
from reverse.value import Value


def _escape(text: str) -> str:
    for ch in '\\{}|<>"':
        text = text.replace(ch, "\\" + ch)
    return text


def _record(node_id: str, fields: list[str], fill: str = "white") -> str:
    label = " | ".join(_escape(f) for f in fields)
    return f'  {node_id} [shape=record, style=filled, fillcolor="{fill}", label="{{ {label} }}"];'


def _op(node_id: str, name: str) -> str:
    return (f'  {node_id} [shape=ellipse, style=filled, fillcolor="#dde8f7", '
            f'label="{_escape(name)}"];')


def _array_text(value: Any) -> str:
    """A short description: the numbers of a small array, the shape and dtype of a large one (or of
    a value that a node keeps only as its shape and dtype)."""
    if isinstance(value, Meta):
        return f"shape {value.shape} {value.dtype}"
    arr = np.asarray(value)
    if arr.size <= 4:
        return np.array2string(arr, precision=4, separator=", ").replace("\n", "")
    return f"shape {arr.shape} {arr.dtype}"


def _edge(source: str, target: str, cotangent: Any = None) -> str:
    """An edge; with a cotangent, labelled with what backward sends along it."""
    if cotangent is None:
        return f"  {source} -> {target};"
    label = f"grad {_array_text(cotangent)}".replace("\\", "\\\\").replace('"', '\\"')
    return f'  {source} -> {target} [label="{label}", fontsize=10, fontcolor="#b03030"];'


def _value_dot(root: Value, grads: bool) -> list[str]:
    lines = []
    for v in toposort([root], Value, "_inputs"):
        vid = f"v{id(v)}"
        fields = [f"data {v.data:.4f}", f"grad {v.grad:.4f}"]
        lines.append(_record(vid, [v.label] + fields if v.label else fields,
                             "#fff4d6" if not v._inputs else "white"))
        if v._op:
            lines.append(_op(vid + "op", v._op))
            lines.append(f"  {vid}op -> {vid};")
            sent: list = [None] * len(v._inputs)
            if grads and v._fn is not None:  # what v passed to each input: its grad times a partial
                primals = [a.data if type(a) is Value else a for a in v._inputs]
                sent = v._fn.vjp(v.grad, primals, v.data, {}, v._needs)
            for child, ct in zip(v._inputs, sent):
                if type(child) is Value:
                    lines.append(_edge(f"v{id(child)}", f"{vid}op", ct))
    return lines


def _edge_cotangents(root: Tensor) -> dict:
    """(node id, input position) -> the cotangent backward sends along that edge, from a backward
    pass that keeps the graph and writes no .grad."""
    sent: dict = {}

    def trace(node: Node, y_bar: Any, x_bars: list) -> None:
        for i, x_bar in enumerate(x_bars):
            sent[(id(node), i)] = x_bar

    try:
        backward([(root._node, np.ones(np.shape(root.data), np.result_type(root.data)))],
                 retain_graph=True, trace=trace)
    except RuntimeError as exc:
        raise RuntimeError("draw(grads=True): the graph was already freed by backward; draw it "
                           "before calling backward, or call backward(retain_graph=True)") from exc
    return sent


def _tensor_dot(root: Tensor, grads: bool) -> list[str]:
    lines = []
    if root._node is None:
        return [_record(f"t{id(root)}", ["leaf", _array_text(root.data)], "#fff4d6")]
    sent = _edge_cotangents(root) if grads else {}
    seen_leaves: set[int] = set()
    for node in toposort([root._node]):
        nid = f"n{id(node)}"
        lines.append(_op(nid + "op", node.op.name))
        freed = node.primals is None
        out_text = "freed by backward" if freed else _array_text(node.out)
        lines.append(_record(nid, [out_text]))
        lines.append(f"  {nid}op -> {nid};")
        for i, parent in enumerate(node.parents):
            if type(parent) is Node:
                lines.append(_edge(f"n{id(parent)}", f"{nid}op", sent.get((id(node), i))))
            elif isinstance(parent, Tensor):
                pid = f"t{id(parent)}"
                if id(parent) not in seen_leaves:
                    seen_leaves.add(id(parent))
                    fields = ["leaf", _array_text(parent.data)]
                    if parent.grad is not None:
                        fields.append("grad " + _array_text(parent.grad.data))
                    lines.append(_record(pid, fields, "#fff4d6"))
                lines.append(_edge(pid, f"{nid}op", sent.get((id(node), i))))
            elif not freed:
                cid = f"{nid}c{i}"
                lines.append(_record(cid, ["constant", _array_text(node.primals[i])], "#eeeeee"))
                lines.append(f"  {cid} -> {nid}op;")
    return lines


def to_dot(root: Value | Tensor, rankdir: str = "LR", grads: bool = False) -> str:
    """Graphviz DOT source for the graph that produced ``root`` (a Value or a Tensor).

    Values show their label, data and grad; tensors show their numbers (or shape and dtype when
    larger than 4 elements); each op is an ellipse with its name. With ``grads=True`` each edge is
    labelled with the cotangent backward sends along it (for Values, after ``backward()``; for a
    Tensor, computed from its graph, which must not have been freed yet).

    >>> a, b = Value(2.0, label="a"), Value(3.0, label="b")
    >>> print(to_dot(a * b).splitlines()[0])
    digraph {
    """
    if type(root) is Value:
        body = _value_dot(root, grads)
    elif isinstance(root, Tensor):
        body = _tensor_dot(root, grads)
    else:
        raise TypeError(f"to_dot: expected a Value or a Tensor, got {type(root).__name__}")
    return "\n".join(["digraph {", f"  rankdir={rankdir};", '  node [fontname="Helvetica"];',
                      *body, "}"]) + "\n"


INSTALL_DOT = ("draw: Graphviz's `dot` program was not found on PATH. Install Graphviz "
               "(Debian/Ubuntu: apt install graphviz; macOS: brew install graphviz; conda: "
               "conda install graphviz), "
               "or call to_dot(root) and paste the text into any Graphviz viewer")


def draw(root: Value | Tensor, path: str | Path = "graph.svg", rankdir: str = "LR",
         grads: bool = False) -> Path:
    """Render the graph of ``root`` to ``path`` (.svg, .png or .pdf) with Graphviz's ``dot``;
    ``grads=True`` labels the edges with their cotangents (see ``to_dot``)."""
    path = Path(path)
    fmt = path.suffix.lstrip(".") or "svg"
    if fmt not in {"svg", "png", "pdf"}:
        raise ValueError(f"draw: cannot render {path.name!r}; use a .svg, .png or .pdf path")
    dot = shutil.which("dot")
    if dot is None:
        raise RuntimeError(INSTALL_DOT)
    subprocess.run([dot, f"-T{fmt}", "-o", str(path)], input=to_dot(root, rankdir, grads),
                   text=True, check=True, capture_output=True)
    return path
