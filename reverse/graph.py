"""The tape: graph nodes and the whole backward pass.

A node records one op application: the op, its parameters, its inputs' primal values, its output's
primal value, and for each input the *key* that cotangents flow to (the input's node, the leaf tensor
itself, or None for a constant). Nodes never refer to the tensors they produced, so a graph has no
reference cycles and is freed by reference counting alone.

``backward`` orders the nodes with an iterative depth-first search (no recursion: a chain of 100,000
ops is fine), pulls cotangents through each op's VJP from adcore, accumulates them with adcore's ``add``
(so that accumulation is differentiable too) and returns the cotangents that reach the leaves.
"""
from __future__ import annotations

from typing import Any, Callable

from adcore.ops import add


class Node(list):
    """One recorded op application (shown as a tensor's ``grad_fn``).

    The node *is* the list of its inputs' keys (so a recorded op costs the garbage collector one
    object, not two: on long graphs that halves its work); the op, its parameters, the inputs'
    primal values, the output's primal value and which inputs need a cotangent are attributes.
    """

    __slots__ = ("op", "params", "primals", "out", "needs")
    __hash__ = object.__hash__  # identity, not list equality: nodes are dictionary keys
    __eq__ = object.__eq__
    __ne__ = object.__ne__

    def __init__(self, op: Any, params: dict, parents: list, primals: tuple, out: Any,
                 needs: tuple[bool, ...]) -> None:
        list.__init__(self, parents)
        self.op = op
        self.params = params
        self.primals = primals
        self.out = out
        self.needs = needs

    def __bool__(self) -> bool:
        return True

    @property
    def parents(self) -> list:
        """Per input: its node, the leaf tensor itself, or None (a constant)."""
        return self

    @property
    def name(self) -> str:
        return self.op.name

    def __repr__(self) -> str:
        title = "".join(part[:1].upper() + part[1:] for part in self.op.name.split("_"))
        return f"<{title}Backward{' (freed)' if self.primals is None else ''}>"


def toposort(roots: list, kind: type | None = None, inputs: str | None = None) -> list:
    """The objects of type ``kind`` (Node by default) reachable from ``roots`` through their
    ``inputs`` attribute (a Node is itself the list of its inputs), each after all of its inputs.

    An iterative depth-first search: an object is placed in the order as soon as all of its
    inputs are; until then it waits on the stack under the inputs it pushed.
    """
    kind = kind or Node
    order: list = []
    placed: dict = {}  # object -> True once placed, False while its inputs are being placed
    stack = [r for r in roots if type(r) is kind]
    while stack:
        node = stack[-1]
        state = placed.get(node)
        if state is None:
            waiting = False
            for p in (node if inputs is None else getattr(node, inputs)):
                if type(p) is kind and p not in placed:
                    stack.append(p)
                    waiting = True
            if waiting:
                placed[node] = False
                continue
        stack.pop()
        if not state:
            placed[node] = True
            order.append(node)
    return order


FREED = ("backward: part of this graph was already freed by an earlier backward pass through "
         "'{name}'. Call backward(retain_graph=True) the first time if you need to go back through "
         "the same graph again, or recompute the forward pass.")


def backward(roots: list[tuple[Any, Any]], *, retain_graph: bool = False,
             rebuild: Callable[[Any, Any], Any] | None = None) -> dict:
    """Pull the cotangents ``roots`` = [(key, y_bar), ...] back to the leaves.

    Returns {leaf tensor: cotangent}. With ``rebuild`` (create_graph), each rule sees engine values
    rebuilt from the nodes by ``rebuild(key, primal)``, so the engine records the backward pass too;
    without it, rules run on the primal values and record nothing at this level.
    """
    cts: dict = {}
    for key, y_bar in roots:
        prev = cts.get(key)
        cts[key] = y_bar if prev is None else add(prev, y_bar)
    for node in reversed(toposort([key for key, _ in roots])):
        y_bar = cts.pop(node, None)
        if y_bar is None:
            continue
        primals = node.primals
        if primals is None:
            raise RuntimeError(FREED.format(name=node.op.name))
        if rebuild is None:
            x_bars = node.op.vjp(y_bar, primals, node.out, node.params, node.needs)
        else:
            x_bars = node.op.vjp(y_bar, [rebuild(k, p) for k, p in zip(node, primals)],
                                 rebuild(node, node.out), node.params, node.needs)
        for key, x_bar in zip(node, x_bars):
            if x_bar is None or key is None:
                continue
            prev = cts.get(key)
            cts[key] = x_bar if prev is None else add(prev, x_bar)
        if not retain_graph:
            node.primals = node.out = None
            node.clear()
    return cts
