"""The tape: graph nodes and the whole backward pass.

A node records one op application: the op, its parameters, for each input the *key* that cotangents
flow to (the input's node, the leaf tensor itself, or None for a constant), and the values its VJP
reads. Which values those are comes from the op's declaration (``op.keep(needs)``): a node keeps
them, and keeps large values that the rule does not read only as a ``Meta`` (shape and dtype), so
that memory is freed as soon as the forward pass drops them. For each tensor whose data it keeps, a
node remembers the tensor's version; ``backward`` compares before running the rule, so a value
changed in place since it was recorded raises an error instead of giving a wrong gradient.

Nodes never refer to the tensors they produced, so a graph has no reference cycles and is freed by
reference counting alone.

``backward`` runs the nodes latest-recorded first (each node has a sequence number, and the nodes
that use a node's output always come after it, as in PyTorch's engine), pulls cotangents through
each op's VJP from adcore, accumulates them with adcore's ``add`` (so that accumulation is
differentiable too) and returns the cotangents that reach the leaves. Nothing recurses: a chain of
100,000 ops is fine.

Which cotangents the pass may write into is decided in one place, the accumulator of
reverse/cotangents.py: the pass owns what it made and nothing else refers to. With
``create_graph`` every cotangent is a recorded value and none is owned.
"""
from __future__ import annotations

from collections.abc import Callable
from heapq import heappop
from typing import Any

import numpy as np

from adcore.levels import value_types
from adcore.registry import select_op
from adcore.shapes import Meta
from reverse import anomaly
from reverse.cotangents import Cotangents
from reverse.held import hold, is_held
from reverse.modes import mode
from reverse.node import Modified, Node, next_seq

# Values a rule does not read are kept by reference up to this many elements: a placeholder would
# cost more time than the memory it frees. Larger ones are kept as their shape and dtype only.
KEEP_UNREAD_BELOW = 4096

_ndarray = np.ndarray


def record(op: Any, params: dict, parents: list, primals: list, out: Any, needs: tuple,
           args: tuple, level: Any) -> Node:
    """The node for one op application at ``level``: what its rule reads, frozen.

    What a node keeps cannot change under it. A tensor's data is checked by version (the node
    stores, per value its rule reads, the position, the tensor that owns the memory and its
    version then), whatever level the tensor belongs to; a numpy array the user passed is copied
    (the user may change it before backward, as PyTorch copies what ``torch.tensor`` is given),
    or, at the level of a transformation that runs its backward pass before it returns (grad,
    jacrev), made read-only until then (``reverse.held``: a copy of each weight matrix per call
    would cost as much as the matrix products); a value of a lower transformation (a Dual, a
    batch) is kept as it is now.
    """
    kept = op._keeps.get(needs)
    read, unread, reads_out = kept if kept is not None else op.keep(needs, params)
    versions: tuple | None = None
    for i in read:
        a = args[i]
        if type(a) in value_types:
            if a._level is not level and not hasattr(a, "_count"):
                primals[i] = a._snapshot()  # a Dual or a batch: in place rebinds it
                continue
            view = a._view
            root = a if view is None else view.root
            entry = (i, root, root._count)
            versions = entry if versions is None else versions + entry
        elif type(a) is _ndarray and (a.flags.writeable or a.base is not None or is_held(a)):
            # (a read-only array of its own, as an index, cannot change: kept as it is)
            if level.held is None or a.base is not None:
                primals[i] = a.copy()
            else:
                hold(a, level.held)
    # An elementwise op's inputs are never larger than its output: a small output settles it.
    if unread and (op.kind != "elementwise" or type(out) is not _ndarray
                   or out.size > KEEP_UNREAD_BELOW):
        for i in unread:
            p = primals[i]
            if type(p) is _ndarray and p.size > KEEP_UNREAD_BELOW:
                primals[i] = Meta(p.shape, p.dtype)
    if not reads_out and type(out) is _ndarray and out.size > KEEP_UNREAD_BELOW:
        out = Meta(out.shape, out.dtype)
    node = Node(parents)
    node.seq = next_seq()
    node.op = op
    node.params = params
    node.primals = tuple(primals)
    node.out = out
    node.needs = needs
    node.versions = versions
    node.hook = None
    node.anchor = None
    return node


def select(node: Node, index: int, count: int, out: Any) -> Node:
    """The node of output ``index`` of ``node``'s op (an op with several outputs): it sends its
    cotangent to ``node`` in that output's place (``adcore.registry.select_op``)."""
    sel = Node([node])
    sel.seq = next_seq()
    sel.op = select_op
    sel.params = {"index": index, "count": count}
    sel.primals = ()
    sel.out = Meta(np.shape(out), getattr(out, "dtype", None))
    sel.needs = (True,)
    sel.versions = None
    sel.hook = None
    sel.anchor = None
    return sel


def toposort(roots: list, kind: type | None = None, inputs: str | None = None) -> list:
    """The objects of type ``kind`` (Node by default) reachable from ``roots`` through their
    ``inputs`` attribute (a Node is itself the list of its inputs), each after all of its inputs.

    An iterative depth-first search: an object is placed in the order as soon as all of its
    inputs are; until then it waits on the stack under the inputs it pushed.
    """
    kind = kind or Node
    order: list = []
    placed: dict = {}  # object -> True once placed, False while its inputs are being placed
    stack: list[Any] = [r for r in roots if type(r) is kind]
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


def _modified_error(node: Node, what: str, shape: tuple, dtype: Any, saved: int, now: int
                    ) -> RuntimeError:
    return RuntimeError(
        f"backward: {what} of {node.op.name} (shape {shape}, dtype {dtype}), which its "
        f"derivative needs, was modified by an in-place operation after {node.op.name} was "
        f"recorded: it is at version {now}, and {node.op.name} saved version {saved}. Do the "
        f"in-place change after backward, or use the out-of-place form (y = x + 1 instead of "
        f"x += 1), or clone() the tensor before changing it")


def check_versions(node: Node) -> None:
    """Raise if a value the node's rule reads was modified in place since it was recorded. (A node
    with nothing to check and no hook has ``versions`` None and skips this.)"""
    out = node.out
    if type(out) is Modified:
        raise _modified_error(node, "the output", out.shape, out.dtype, out.saved, out.now)
    versions = node.versions
    if versions is None:
        return
    triples = iter(versions)  # (position, root, saved version), flattened
    for _, root, saved in zip(triples, triples, triples):
        if root._count != saved:
            raise _modified_error(node, "an input", root.data.shape, root.data.dtype, saved,
                                  root._count)


def _run_rule(node: Node, y_bar: Any, primals: tuple, rebuild: Callable | None) -> list:
    """The node's VJP: on the saved values, or (create_graph) on engine values rebuilt from them,
    each sharing the version counter of the tensor its value came from (``rebuild(key, value,
    root)``), so that a later in-place change of that tensor is seen by the graph built here."""
    if rebuild is None:
        return node.op.vjp(y_bar, primals, node.out, node.params, node.needs)
    roots: dict = {}
    versions = node.versions or ()
    for j in range(0, len(versions), 3):
        roots[versions[j]] = versions[j + 1]
    out = node.out
    if type(out) is tuple:  # several outputs: each rebuilt behind a selection of its own
        out = tuple(rebuild(select(node, i, len(out), o), o, None) for i, o in enumerate(out))
    else:
        out = rebuild(node, out, node if node.reads_out() else None)  # versioned by node.anchor
    return node.op.vjp(y_bar, [rebuild(k, p, roots.get(i)) for i, (k, p) in
                               enumerate(zip(node, primals))], out, node.params, node.needs)


def backward(roots: list[tuple[Any, Any]], *, retain_graph: bool = False,
             rebuild: Callable[[Any, Any, Any], Any] | None = None,
             trace: Callable[[Node, Any, list], None] | None = None) -> Cotangents:
    """Pull the cotangents ``roots`` = [(key, y_bar), ...] back to the leaves.

    Returns the accumulator, which then holds a cotangent per leaf tensor reached (``.sums``) and
    whether the pass owns it (``.owns(leaf)``: the caller may keep it without a copy). With
    ``rebuild`` (create_graph), each rule sees engine values rebuilt from the nodes by
    ``rebuild(key, primal, root)``, so the engine records the backward pass too. ``trace``, if
    given, sees each node as it runs, with its cotangent and what it sends to each input
    (reverse.explain prints them).

    Nodes run latest-recorded first: those that use a node's output were recorded after it, so
    it runs once all of its cotangents are in. Nodes sent nothing are freed at the end.
    """
    cts = Cotangents(in_place=rebuild is None and trace is None)  # (a trace may keep what it sees)
    for key, y_bar in roots:
        cts.offer(key, y_bar, None, False)
    ready, sums, owned, starved, checking = cts.ready, cts.sums, cts.owned, [], mode.anomaly
    in_place = cts.in_place and not checking
    while ready:
        node = heappop(ready)[1]  # the latest-recorded node holding a cotangent: all are in
        y_bar, y_owned = sums.pop(node), node in owned
        primals = node.primals
        if primals is None:
            raise RuntimeError(FREED.format(name=node.op.name))
        if node.versions is not None:  # something to check, or hooks (reverse/hooks.py)
            check_versions(node)
            hooks = node.hook
            if hooks is not None:
                if hooks.fns:  # a user's hook may keep the cotangent, or replace it
                    y_owned = False
                y_bar = hooks(y_bar)
        if in_place and node.op.accumulate is not None and _accumulated(node, y_bar, primals, cts):
            if not retain_graph:
                node.primals = node.out = node.versions = None
                node.clear()
            continue
        if checking:  # let NaN and inf appear, to name the op that made them
            with np.errstate(all="ignore"):
                x_bars = _run_rule(node, y_bar, primals, rebuild)
            anomaly.check_backward(node, y_bar, x_bars)
        else:
            x_bars = _run_rule(node, y_bar, primals, rebuild)
        if trace is not None:
            trace(node, y_bar, x_bars)
        for key, x_bar in zip(node, x_bars):
            if x_bar is not None and key is not None:
                cts.offer(key, x_bar, y_bar, y_owned)
            elif type(key) is Node:
                starved.append(key)  # its rule sent this input nothing
        if not retain_graph:
            node.primals = node.out = node.versions = None
            node.clear()
    if starved and not retain_graph:
        _free_unreached(starved)
    for key in [k for k in sums if type(k) is not Node and k._hooks is not None]:
        sums[key] = key._hooks(sums[key])  # a leaf's hooks, on its whole gradient
        owned.discard(key)  # (which they may keep, or replace)
    return cts


def _accumulated(node: Node, y_bar: Any, primals: tuple, cts: Cotangents) -> bool:
    """For an op that declares ``accumulate`` (getitem): add its cotangent straight into its
    input's running sum, when the pass owns that sum, instead of running the transpose (which
    would spread the cotangent into an array of zeros of the input's size, then add that). A
    loop that reads one slice per step (a recurrent network's time steps) then costs the slices
    alone, not one whole input per step."""
    key = node[0]
    if key not in cts.owned or type(y_bar) is not _ndarray:
        return False
    if len(node) > 1 and any(k is not None for k in node[1:]):  # (index arrays have no key)
        return False
    total = cts.sums[key]
    if total.dtype != y_bar.dtype:
        return False
    node.op.accumulate(total, y_bar, *primals[1:], **node.params)
    return True


def _free_unreached(starts: list) -> None:
    """Free the nodes that the pass never reached: those in ``starts`` and, through their inputs,
    every node they lead to that was not run either (run nodes are empty lists already)."""
    stack = list(starts)
    while stack:
        node = stack.pop()
        if node.primals is None:
            continue
        stack.extend(k for k in node if type(k) is Node)
        node.primals = node.out = node.versions = None
        node.clear()
