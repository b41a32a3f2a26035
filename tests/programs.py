"""A hypothesis strategy for whole programs: 1 to 12 registry ops on one to three inputs.

A program is a list of steps; each step applies one op (elementwise functions, broadcasting
arithmetic, reductions along axes, reshapes, transposes, indexing, concatenation, matrix products)
to values computed before, and the program's output is its last value. Steps are drawn while the
program runs on the example inputs, so every step fits the shapes it meets. The ops are smooth where
they are evaluated (no kinks near the drawn values), so finite differences can check them.

``program(data)`` returns (run, inputs): ``run(*values)`` replays the program on any values (numpy
arrays, tensors, duals, batched values) using adcore's ops.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import hypothesis.extra.numpy as hnp
import numpy as np
from hypothesis import strategies as st

from adcore import ops

Step = tuple  # (name, operand positions, parameters)

UNARY: dict[str, Callable[[Any], Any]] = {
    "sin": ops.sin, "tanh": ops.tanh, "sigmoid": ops.sigmoid, "softplus": ops.softplus,
    "neg": ops.neg, "square": lambda x: x * x, "exp": lambda x: ops.exp(x * 0.3),
    "log1p_sq": lambda x: ops.log1p(x * x), "cube_root_ish": lambda x: x / (1.0 + x * x),
}
BINARY: dict[str, Callable[[Any, Any], Any]] = {
    "add": ops.add, "sub": ops.sub, "mul": ops.mul,
    "div": lambda x, y: x / (1.5 + ops.sin(y)), "maximum_soft": lambda x, y: ops.logsumexp(
        ops.stack([x + 0 * y, y + 0 * x]), axis=0),
}


def _apply(step: Step, values: list) -> Any:
    name, args, params = step
    operands = [values[i] for i in args]
    if name in UNARY:
        return UNARY[name](operands[0])
    if name in BINARY:
        return BINARY[name](*operands)
    x = operands[0]
    if name == "sum":
        return ops.sum(x, axis=params["axis"], keepdims=params["keepdims"])
    if name == "mean":
        return ops.mean(x, axis=params["axis"], keepdims=params["keepdims"])
    if name == "logsumexp":
        return ops.logsumexp(x, axis=params["axis"], keepdims=params["keepdims"])
    if name == "softmax":
        return ops.softmax(x, axis=params["axis"])
    if name == "log_softmax":
        return ops.log_softmax(x, axis=params["axis"])
    if name == "reshape":
        return ops.reshape(x, params["shape"])
    if name == "transpose":
        return ops.transpose(x, params["axes"])
    if name == "getitem":
        return ops.getitem(x, params["index"])
    if name == "concatenate":
        return ops.concatenate([x, operands[1]], axis=params["axis"])
    if name == "matmul":
        return ops.matmul(x, operands[1])
    if name == "broadcast":
        return ops.broadcast_to(ops.expand_dims(x, 0), (params["n"],) + np.shape(x))
    raise AssertionError(f"unknown step {name}")


def _draw_step(data: Any, values: list) -> Step | None:
    """One step that fits the shapes of ``values`` (None when the drawn kind fits nothing)."""
    n = len(values)
    i = data.draw(st.integers(0, n - 1))
    shape = np.shape(values[i])
    kind = data.draw(st.sampled_from(["unary", "binary", "reduce", "normalise", "reshape",
                                      "transpose", "getitem", "concatenate", "matmul",
                                      "broadcast"]))
    if kind == "unary":
        return (data.draw(st.sampled_from(sorted(UNARY))), (i,), {})
    if kind == "binary":
        j = data.draw(st.integers(0, n - 1))
        try:
            np.broadcast_shapes(shape, np.shape(values[j]))
        except ValueError:
            return None
        return (data.draw(st.sampled_from(sorted(BINARY))), (i, j), {})
    if kind == "reduce" and shape and all(shape):
        axis = data.draw(st.one_of(st.none(), st.integers(-len(shape), len(shape) - 1)))
        return (data.draw(st.sampled_from(["sum", "mean", "logsumexp"])), (i,),
                {"axis": axis, "keepdims": data.draw(st.booleans())})
    if kind == "normalise" and shape:
        return (data.draw(st.sampled_from(["softmax", "log_softmax"])), (i,),
                {"axis": data.draw(st.integers(-len(shape), len(shape) - 1))})
    if kind == "reshape":
        size = int(np.prod(shape))
        options = [(size,), shape[::-1], (1,) + shape] + ([(size // 2, 2)] if size % 2 == 0 else [])
        return ("reshape", (i,), {"shape": data.draw(st.sampled_from(options))})
    if kind == "transpose" and len(shape) > 1:
        perm = data.draw(st.permutations(range(len(shape))))
        return ("transpose", (i,), {"axes": tuple(perm)})
    if kind == "getitem" and shape and shape[0]:
        first = data.draw(st.sampled_from(["int", "slice", "array"]))
        index: Any = {"int": data.draw(st.integers(-shape[0], shape[0] - 1)),
                      "slice": slice(data.draw(st.integers(0, shape[0] - 1)), None,
                                     data.draw(st.sampled_from([1, 2, -1]))),
                      "array": np.array(data.draw(st.lists(st.integers(0, shape[0] - 1),
                                                           min_size=1, max_size=3)))}[first]
        return ("getitem", (i,), {"index": index})
    if kind == "concatenate" and shape:
        axis = data.draw(st.integers(-len(shape), len(shape) - 1))
        same = [j for j in range(n) if len(np.shape(values[j])) == len(shape) and all(
            a == b for k, (a, b) in enumerate(zip(np.shape(values[j]), shape))
            if k != axis % len(shape))]
        return ("concatenate", (i, data.draw(st.sampled_from(same))), {"axis": axis})
    if kind == "matmul" and shape:
        fits = [j for j in range(n) if np.shape(values[j]) and np.shape(values[j])[0] ==
                shape[-1] and len(np.shape(values[j])) <= 2]
        if fits:
            return ("matmul", (i, data.draw(st.sampled_from(fits))), {})
    if kind == "broadcast" and len(shape) < 3:
        return ("broadcast", (i,), {"n": data.draw(st.integers(1, 2))})
    return None


@st.composite
def programs(draw: Any, max_steps: int = 12, max_inputs: int = 3) -> tuple[Callable, list]:
    """(run, inputs): a random program and float64 inputs it was drawn for."""
    data = draw(st.data())
    count = data.draw(st.integers(1, max_inputs))
    shapes = data.draw(hnp.mutually_broadcastable_shapes(num_shapes=count, min_dims=0,
                                                         max_dims=2, min_side=1, max_side=3))
    inputs = [data.draw(hnp.arrays(np.float64, s, elements=st.floats(-1.5, 1.5)))
              for s in shapes.input_shapes]
    values = list(inputs)
    steps: list[Step] = []
    target = data.draw(st.integers(1, max_steps))
    for _ in range(4 * target):
        if len(steps) == target:
            break
        step = _draw_step(data, values)
        if step is None:
            continue
        try:
            with np.errstate(all="raise"):
                out = _apply(step, values)
        except (ValueError, IndexError, FloatingPointError):
            continue
        if not np.all(np.isfinite(out)) or np.size(out) == 0 or np.max(np.abs(out)) > 1e3:
            continue
        steps.append(step)
        values.append(out)

    def run(*xs: Any) -> Any:
        vals = list(xs)
        for step in steps:
            vals.append(_apply(step, vals))
        return vals[-1]

    run.__name__ = "program(" + ", ".join(s[0] for s in steps) + ")"
    return run, inputs
