"""Seeing the chain rule: the backward pass printed node by node, in the order it ran.

``explain(y)`` (or ``y.backward(explain=True)``) runs backward and prints, for each recorded op:
the cotangent that came in (d output / d this op's result), the op's local derivative with respect
to each input (for elementwise ops the partial's value; for other ops the transpose rule from the
op's declaration), and what it sent to each input. Multiplying along a path is the chain rule:
for ``g = x * 2; f = g + 3`` it shows f's partial 1 and g's partial 2, and x.grad = 1 * 2 = 2.
Works on Tensor graphs (arrays are summarised when large) and on scalar ``Value`` graphs.
"""
from __future__ import annotations

import sys
from typing import Any, TextIO

import numpy as np

from adcore.levels import raw
from adcore.shapes import Meta
from reverse.graph import Node, toposort
from reverse.tensor import Tensor
from reverse.value import Value


def show(value: Any) -> str:
    """A short rendering: the numbers of a small array, a summary of a large one."""
    value = raw(value)
    if isinstance(value, Meta):
        return f"<shape {value.shape}>"
    if isinstance(value, (bool, np.bool_)):
        return str(value)
    arr = np.asarray(value, dtype=np.float64)
    if arr.size == 1:
        return f"{arr.item():.6g}"
    if arr.size <= 6:
        return np.array2string(arr, precision=4, separator=", ", suppress_small=True)
    return (f"<shape {arr.shape}: mean {arr.mean():.4g}, largest |entry| "
            f"{np.abs(arr).max():.4g}>")


def _rule(op: Any) -> str:
    """The math of an op's derivative, from its declaration's docstring."""
    doc = op.doc.split("  ", 1)
    return doc[1].strip() if len(doc) > 1 else op.doc.strip()


def _partial(op: Any, i: int, primals: tuple, out: Any, params: dict) -> Any:
    """The value of an elementwise op's local derivative d out / d input i (None otherwise)."""
    partials = op.partials
    if partials is None or i >= len(partials) or partials[i] is None:
        return None
    p = partials[i]
    if not callable(p):
        return p
    return p(*primals, out, **params)


class _Names:
    """Numbers for the leaves (#1, #2, ...) in the order the explanation meets them."""

    def __init__(self) -> None:
        self.leaves: dict[int, tuple[str, Any]] = {}

    def leaf(self, t: Any) -> str:
        key = id(t)
        if key not in self.leaves:
            self.leaves[key] = (f"leaf #{len(self.leaves) + 1}", t)
        return self.leaves[key][0]


def _explain_tensor(y: Tensor, gradient: Any, retain_graph: bool | None) -> list[str]:
    root = y.grad_fn
    if root is None:
        raise RuntimeError("explain: this tensor was not made by recorded ops (a leaf, or computed "
                           "under no_grad); there is no backward pass to show")
    # Numbered in the order backward runs them: latest recorded first.
    steps = {node: k for k, node in enumerate(sorted(toposort([root]), key=lambda n: -n.seq), 1)}
    names = _Names()
    lines = [f"backward from {root.op.name} (output shape {np.shape(raw(y))}), seeded with "
             f"{show(gradient if gradient is not None else np.ones(np.shape(raw(y))))} "
             f"(d output / d output):"]

    def trace(node: Node, y_bar: Any, x_bars: list) -> None:
        op = node.op
        lines.append(f"  step {steps[node]}: {op.name:<14s} incoming y_bar = {show(y_bar)}")
        if op.partials is None:
            lines.append(f"          rule: {_rule(op)}")
        for i, (key, x_bar) in enumerate(zip(node, x_bars)):
            if key is None:
                lines.append(f"          input {i}: a constant, no gradient")
                continue
            where = (f"step {steps[key]} ({key.op.name})" if isinstance(key, Node) else
                     f"{names.leaf(key)} (shape {np.shape(raw(key.data))})")
            partial = _partial(op, i, node.primals or (), node.out, node.params)
            if partial is not None:
                lines.append(f"          input {i} <- {where}: local d out/d in = {show(partial)}; "
                             f"sends {show(partial)} * {show(y_bar)} = {show(x_bar)}")
            else:
                lines.append(f"          input {i} <- {where}: sends {show(x_bar)}")

    y.backward(gradient, retain_graph=retain_graph, _trace=trace)
    lines += [f"{name}.grad = {show(t.grad)}" for name, t in names.leaves.values()
              if t.grad is not None]
    return lines


def _explain_value(y: Value) -> list[str]:
    order = [v for v in reversed(toposort([y], Value, "_inputs")) if v._inputs]
    steps = {v: k for k, v in enumerate(order, 1)}

    def name(v: Any) -> str:
        if not isinstance(v, Value):
            return f"the constant {v:g}"
        return v.label or (f"step {steps[v]} ({v._op})" if v in steps else "a leaf")

    lines = [f"backward from {name(y)} = {y.data:.6g}, seeded with 1 (d output / d output):"]

    def trace(v: Value, x_bars: list) -> None:
        label = f"{v.label} = " if v.label else "value "
        lines.append(f"  step {steps[v]}: {v._op:<8s} {label}{v.data:.6g}, incoming grad = "
                     f"{v.grad:.6g}")
        primals = [a.data if isinstance(a, Value) else a for a in v._inputs]
        for i, (a, x_bar) in enumerate(zip(v._inputs, x_bars)):
            if x_bar is None:
                lines.append(f"          input {i}: {name(a)}, no gradient")
                continue
            partial = _partial(v._fn, i, tuple(primals), v.data, {})
            lines.append(f"          input {i} <- {name(a)}: local d out/d in = {show(partial)}; "
                         f"sends {show(partial)} * {v.grad:.6g} = {show(x_bar)}")

    y.backward(trace=trace)
    leaves = [v for v in toposort([y], Value, "_inputs") if not v._inputs]
    lines += [f"{v.label or 'leaf'}.grad = {v.grad:.6g}" for v in leaves]
    return lines


def explain(y: Tensor | Value, gradient: Any = None, retain_graph: bool | None = None,
            file: TextIO | None = None) -> str:
    """Run backward from ``y`` (accumulating ``.grad`` as ``y.backward()`` does) and print it,
    node by node; returns the printed text.

    >>> from reverse import Tensor
    >>> x = Tensor(3.0, requires_grad=True)
    >>> g = x * 2
    >>> f = g + 3
    >>> text = explain(f, file=None)  # doctest: +ELLIPSIS
    backward from add (output shape ()), seeded with 1 (d output / d output):
      step 1: add            incoming y_bar = 1
              input 0 <- step 2 (mul): local d out/d in = 1; sends 1 * 1 = 1
              input 1: a constant, no gradient
      step 2: mul            incoming y_bar = 1
              input 0 <- leaf #1 (shape ()): local d out/d in = 2; sends 2 * 1 = 2
              input 1: a constant, no gradient
    leaf #1.grad = 2
    """
    if isinstance(y, Value):
        lines = _explain_value(y)
    elif isinstance(y, Tensor):
        lines = _explain_tensor(y, gradient, retain_graph)
    else:
        raise TypeError(f"explain: expected a Tensor or a Value, got {type(y).__name__}")
    text = "\n".join(lines)
    print(text, file=file if file is not None else sys.stdout)
    return text
