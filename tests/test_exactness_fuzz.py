"""Random programs mixing views, in-place ops, retained gradients, double backward and custom
Functions: this library must agree with PyTorch (and with finite differences).

A program is plain data (a ``Program``): two leaves ``x`` (2, 3) and ``y`` (3,), numpy constants
and integer index arrays, and a list of steps on a growing list of values. Steps make new values
(elementwise ops, products with numpy constants, fancy indexing with an index array, views:
slices, reshape/view, transpose/.T/permute, expand, detach; ``ops.where(True, v, 0.0)``; custom
``Function``s), change values in place (``add_``, ``mul_``, ``sub_``, ``div_``, ``x[i] = v``,
``x[i] += v``, ``copy_``, ``zero_``, ``fill_``, ``clamp_``, directly or through views), retain
gradients, or change a numpy constant or index array in place. The loss is a weighted sum of every
value. Optionally the first backward has ``create_graph=True`` and a second backward runs through
the leaves' gradients, after more in-place steps (``between``).

One interpreter runs a program on three backends: this library (``reverse.Tensor``), PyTorch
(float64; numpy constants are copied when used, as ``torch.tensor`` does) and plain numpy (views
alias memory as the tensors' data do; the ground truth for finite differences). Compared with
PyTorch: where an error is raised (the step, or the first or second backward), the loss, the
leaves' gradients, the retained gradients and the second-order gradients.

A known bug can be named in ``KNOWN_BUGS`` (a program feature and why) while its fix is under way:
the strict tests then skip the programs that have the feature. The list is empty: every class the
fuzzer has found is fixed and has a named regression test in tests/test_exactness.py.

Longer runs: ``python tests/fuzz_exactness.py --minutes 10`` (classifies and shrinks every
discrepancy), or ``EXACTNESS_FUZZ_EXAMPLES=3000 pytest tests/test_exactness_fuzz.py``.
"""
from __future__ import annotations

import dataclasses
import functools
import os
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st

from adcore import numerical_jacobian, ops
from reverse import Function, Tensor

# --- known bugs: one line each; delete a line when its fix lands -------------------------------
# Each entry: a feature of a program (recorded by the generator, see ``Program.features``) and why.
KNOWN_BUGS: dict[str, str] = {
}


def known_bug(program: Program) -> str | None:
    """The name of the first known bug whose feature the program has (None: check strictly)."""
    for name in KNOWN_BUGS:
        if name in program.features:
            return name
    return None


# --- programs --------------------------------------------------------------------------------
UNARY = ["tanh", "exp", "sin", "square", "scale"]
BINARY = ["add", "sub", "mul", "div"]
CONST_OPS = ["mul", "add", "div"]
VIEWS = ["slice0", "slice_step", "int", "reshape_flat", "reshape_rev", "view_flat", "T",
         "transpose", "permute", "expand", "detach"]
FUNCTIONS = ["pass", "twice", "swapT", "viewfn", "selffn", "cube"]
INPLACE_W = ["add_", "sub_", "mul_", "div_", "copy_", "set_int", "set_slice", "set_fancy",
             "iadd_int", "iadd_fancy"]
INPLACE_S = ["add_s", "mul_s", "imul_slice", "zero_", "fill_", "clamp_"]


@dataclass
class Program:
    x: np.ndarray
    y: np.ndarray
    consts: list  # positive float arrays of shapes (2, 3) and (3,)
    idxs: list  # integer index arrays with values in {0, 1}
    steps: list = field(default_factory=list)
    double: bool = False
    between: list = field(default_factory=list)  # steps between the two backward passes
    dropped: frozenset = frozenset()  # the values left out of the loss
    features: set = field(default_factory=set)

    def __repr__(self) -> str:
        return "\n" + source(self)


def _weights(shape: tuple, k: int) -> np.ndarray:
    size = int(np.prod(shape, dtype=int))
    return (np.cos(np.arange(size) * 0.7 + k) + 1.5).reshape(shape)


# --- backends ---------------------------------------------------------------------------------
class NumpyBackend:
    """Plain arrays: the values the tensors hold, for finite differences."""

    name = "numpy"

    def __init__(self) -> None:
        self.clamp_inputs: list = []

    def leaf(self, a: np.ndarray) -> Any:
        return a.copy()

    def const(self, c: np.ndarray) -> Any:
        return c

    def index(self, idx: np.ndarray) -> Any:
        return idx

    def unary(self, name: str, v: Any) -> Any:
        rules: dict[str, Any] = {"tanh": np.tanh, "exp": lambda a: np.exp(a * 0.3),
                                 "sin": np.sin, "square": lambda a: a * a,
                                 "scale": lambda a: a * 0.5}
        return rules[name](v)

    def view(self, kind: str, v: Any) -> Any:
        if kind == "detach":
            return v.view()
        if kind == "expand":
            return np.broadcast_to(v, (2,) + v.shape)
        if kind == "int":
            return v[0, ...]  # a 0-d view, not a scalar, as tensors give
        return _view(kind, v)

    def where(self, v: Any) -> Any:
        return np.where(True, v, 0.0)

    def fn(self, name: str, a: Any, b: Any = None) -> Any:
        return {"pass": lambda: a + 0.0, "twice": lambda: 2 * a + b, "swapT": lambda: a + b.T,
                # a Function's output has memory of its own, even when forward returns a view
                "viewfn": lambda: a[:1].copy(), "selffn": lambda: a.copy(),
                "cube": lambda: a ** 3}[name]()

    def fresh_operand(self, w: Any, v: Any) -> Any:
        return w

    def check_target(self, v: Any) -> None:
        pass

    def clamp(self, v: Any) -> None:
        self.clamp_inputs.append(np.array(v))
        np.clip(v, -0.8, 0.8, out=v)

    def retain(self, v: Any) -> None:
        pass

    def requires_grad(self, v: Any) -> bool:
        return False

    def number(self, v: Any) -> float:
        return float(v)


def _view(kind: str, v: Any) -> Any:
    """The views whose spelling numpy arrays, Tensors and torch tensors share."""
    if kind == "slice0":
        return v[1:]
    if kind == "slice_step":
        return v[..., ::2]
    if kind == "int":
        return v[0]
    if kind == "reshape_flat":
        return v.reshape(-1)
    if kind == "reshape_rev":
        return v.reshape(v.shape[::-1])
    if kind == "view_flat":  # only drawn for contiguous values
        return v.view(-1) if not isinstance(v, np.ndarray) else v.reshape(-1)
    if kind == "T":
        return v.T
    if kind == "transpose":
        return v.transpose(0, 1) if not isinstance(v, np.ndarray) else v.swapaxes(0, 1)
    if kind == "permute":
        return v.permute(1, 0) if not isinstance(v, np.ndarray) else v.transpose(1, 0)
    raise AssertionError(kind)


def custom_functions(base: type, concatenate: Any) -> dict[str, type]:
    """The six custom Functions of the programs, as subclasses of ``base`` (this library's
    ``Function`` or PyTorch's ``autograd.Function``); ``concatenate`` joins along axis 0."""

    class Pass(base):
        @staticmethod
        def forward(ctx, a):
            return a + 0.0

        @staticmethod
        def backward(ctx, g):
            return g

    class Twice(base):
        @staticmethod
        def forward(ctx, a, b):
            return 2 * a + b

        @staticmethod
        def backward(ctx, g):
            return g * 2, g

    class SwapT(base):
        @staticmethod
        def forward(ctx, a, b):
            return a + b.T

        @staticmethod
        def backward(ctx, g):
            return g, g.T  # the same buffer twice: once itself, once as a view

    class ViewFn(base):
        @staticmethod
        def forward(ctx, a):
            ctx.n = a.shape[0]
            return a[:1]

        @staticmethod
        def backward(ctx, g):
            return concatenate([g] + [g * 0.0] * (ctx.n - 1))

    class SelfFn(base):
        @staticmethod
        def forward(ctx, a):
            return a

        @staticmethod
        def backward(ctx, g):
            return g

    class Cube(base):
        @staticmethod
        def forward(ctx, a):
            ctx.save_for_backward(a)
            return a ** 3

        @staticmethod
        def backward(ctx, g):
            (a,) = ctx.saved_tensors
            return 3 * a * a * g

    return {"pass": Pass, "twice": Twice, "swapT": SwapT, "viewfn": ViewFn, "selffn": SelfFn,
            "cube": Cube}


class LibBackend:
    """This library: reverse.Tensor, float64 leaves, numpy constants handed over as they are."""

    name = "lib"
    FN: ClassVar[dict] = custom_functions(Function, lambda xs: ops.concatenate(xs, axis=0))

    def leaf(self, a: np.ndarray) -> Any:
        return Tensor(a.copy(), requires_grad=True)

    def const(self, c: np.ndarray) -> Any:
        return c

    def index(self, idx: np.ndarray) -> Any:
        return idx

    def unary(self, name: str, v: Any) -> Any:
        return {"tanh": lambda: v.tanh(), "exp": lambda: (v * 0.3).exp(), "sin": lambda: v.sin(),
                "square": lambda: v * v, "scale": lambda: v * 0.5}[name]()

    def view(self, kind: str, v: Any) -> Any:
        if kind == "detach":
            return v.detach()
        if kind == "expand":
            return v.expand(2, *v.shape)
        return _view(kind, v)

    def where(self, v: Any) -> Any:
        return ops.where(True, v, 0.0)

    def fn(self, name: str, a: Any, b: Any = None) -> Any:
        f = self.FN[name]
        return f.apply(a) if b is None else f.apply(a, b)

    def fresh_operand(self, w: Any, v: Any) -> Any:
        return w

    def check_target(self, v: Any) -> None:
        pass

    def clamp(self, v: Any) -> None:
        v.clamp_(-0.8, 0.8)

    def retain(self, v: Any) -> None:
        if v.requires_grad:
            v.retain_grad()

    def requires_grad(self, v: Any) -> bool:
        return bool(v.requires_grad)

    def number(self, v: Any) -> float:
        return float(v)

    def grad(self, t: Any) -> np.ndarray | None:
        return None if t.grad is None else np.array(t.grad.data, dtype=np.float64)


@functools.cache
def torch_backend() -> Any:
    """PyTorch as the reference (imported only here: torch stays optional)."""
    import torch

    class TorchBackend(LibBackend):
        name = "torch"
        FN: ClassVar[dict] = custom_functions(torch.autograd.Function,
                                              lambda xs: torch.cat(xs, dim=0))

        def leaf(self, a: np.ndarray) -> Any:
            return torch.tensor(a, dtype=torch.float64, requires_grad=True)

        def const(self, c: np.ndarray) -> Any:
            return torch.tensor(c, dtype=torch.float64)  # a copy, made when used

        def index(self, idx: np.ndarray) -> Any:
            return torch.tensor(idx, dtype=torch.int64)

        def where(self, v: Any) -> Any:
            return torch.where(torch.tensor(True), v, 0.0)

        def fresh_operand(self, w: Any, v: Any) -> Any:
            # PyTorch refuses in-place ops whose operand overlaps the target's memory ("clone()
            # it first"); numpy and this library compute as if it had been cloned.
            if isinstance(w, torch.Tensor) and \
                    w.untyped_storage().data_ptr() == v.untyped_storage().data_ptr():
                return w.clone()
            return w

        def check_target(self, v: Any) -> None:
            # PyTorch lets fill_ and zero_ write into an expanded tensor (one memory location
            # for several elements) and refuses the other in-place ops; numpy and this library
            # refuse them all (read-only broadcast views).
            if any(st == 0 and n > 1 for st, n in zip(v.stride(), v.shape)):
                raise RuntimeError("in-place write into an expanded tensor")

        def number(self, v: Any) -> float:
            return float(v.detach())

        def grad(self, t: Any) -> np.ndarray | None:
            return None if t.grad is None else t.grad.detach().numpy().copy()

    return TorchBackend()


# --- the interpreter --------------------------------------------------------------------------
class StepError(Exception):
    """An error raised by one step or one backward pass: where, and what."""

    def __init__(self, phase: str, exc: BaseException) -> None:
        super().__init__(f"{phase}: {type(exc).__name__}: {exc}")
        self.phase = phase
        self.exc = exc


def apply(step: tuple, values: list, B: Any, consts: list, idxs: list) -> None:
    """Run one step on ``values`` (appending a new value or changing one in place)."""
    kind = step[0]
    if kind == "unary":
        values.append(B.unary(step[1], values[step[2]]))
    elif kind == "binary":
        a, b = values[step[2]], values[step[3]]
        values.append({"add": lambda: a + b, "sub": lambda: a - b, "mul": lambda: a * b,
                       "div": lambda: a / (b * b + 2.0)}[step[1]]())
    elif kind == "const":
        v, c = values[step[2]], B.const(consts[step[3]])
        values.append({"mul": lambda: v * c, "add": lambda: v + c, "div": lambda: v / c}[step[1]]())
    elif kind == "fancy":
        values.append(values[step[1]][B.index(idxs[step[2]])])
    elif kind == "view":
        values.append(B.view(step[1], values[step[2]]))
    elif kind == "where":
        values.append(B.where(values[step[1]]))
    elif kind == "fn":
        values.append(B.fn(step[1], *[values[i] for i in step[2:]]))
    elif kind == "retain":
        B.retain(values[step[1]])
    elif kind == "mutate_const":
        consts[step[1]] += 0.5
    elif kind == "mutate_idx":
        idxs[step[1]][...] = 1 - idxs[step[1]]
    elif kind == "inplace":
        inplace(step[1], values[step[2]], values[step[3]] if len(step) > 3 else None, B, idxs)
    else:
        raise AssertionError(kind)
    if isinstance(values[-1], np.generic):  # numpy's 0-d results are scalars: make them arrays
        values[-1] = np.array(values[-1])


def inplace(what: str, v: Any, w: Any, B: Any, idxs: list) -> None:
    np_ = isinstance(v, np.ndarray)
    B.check_target(v)
    if what in ("add_", "sub_", "mul_", "copy_", "iadd_int"):  # w itself is written from
        w = B.fresh_operand(w, v)
    if what == "add_":
        v.__iadd__(w) if np_ else v.add_(w)
    elif what == "sub_":
        v.__isub__(w) if np_ else v.sub_(w)
    elif what == "mul_":
        v.__imul__(w) if np_ else v.mul_(w)
    elif what == "div_":
        v.__itruediv__(w * w + 2.0) if np_ else v.div_(w * w + 2.0)
    elif what == "copy_":
        np.copyto(v, w) if np_ else v.copy_(w)
    elif what == "set_int":
        v[0] = (w * 0.5).sum()
    elif what == "set_slice":
        v[1:] = w * 0.25
    elif what == "set_fancy":
        v[B.index(idxs[0])] = (w * 0.5).sum()
    elif what == "iadd_int":
        v[0] += w
    elif what == "iadd_fancy":
        v[B.index(idxs[0])] += (w * 1.0).sum()
    elif what == "add_s":
        v.__iadd__(0.5) if np_ else v.add_(0.5)
    elif what == "mul_s":
        v.__imul__(1.5) if np_ else v.mul_(1.5)
    elif what == "imul_slice":
        v[..., ::2] *= 3.0
    elif what == "zero_":
        v.fill(0.0) if np_ else v.zero_()
    elif what == "fill_":
        v.fill(0.3) if np_ else v.fill_(0.3)
    elif what == "clamp_":
        B.clamp(v)
    else:
        raise AssertionError(what)


ERRORS = (RuntimeError, ValueError, TypeError, IndexError)


@dataclass
class Outcome:
    error: StepError | None = None
    loss: Any = None
    grads: dict = field(default_factory=dict)  # "x", "y", "r<i>" (retained), "x2", "y2", "r<i>2"


def run(program: Program, B: Any, x: np.ndarray | None = None, y: np.ndarray | None = None
        ) -> Outcome:
    """Run the program on backend B (the leaves' values may be replaced, for finite differences)."""
    out = Outcome()
    consts = [c.copy() for c in program.consts]
    idxs = [i.copy() for i in program.idxs]
    lx = B.leaf(program.x if x is None else x)
    ly = B.leaf(program.y if y is None else y)
    values: list = [lx, ly]
    retained: list = []
    try:
        for n, s in enumerate(program.steps):
            phase = f"step {n}"
            apply(s, values, B, consts, idxs)
            v = values[s[1]] if s[0] == "retain" else None
            if v is not None and B.requires_grad(v) and all(r is not v for r in retained):
                retained.append(v)  # (by identity: == on tensors is elementwise)
        phase = "loss"
        loss = None
        for k, v in enumerate(values):
            if k in program.dropped:
                continue
            term = (v * B.const(_weights(v.shape, k))).sum()
            loss = term if loss is None else loss + term
        assert loss is not None, "the last value is always in the loss"
        out.loss = B.number(loss)
        if B.name == "numpy":
            return out
        phase = "backward"
        loss.backward(create_graph=program.double)
        named = [("x", lx), ("y", ly)] + [(f"r{j}", r) for j, r in enumerate(retained)]
        for name, t in named:
            out.grads[name] = B.grad(t)
        if not program.double:
            return out
        for n, s in enumerate(program.between):
            phase = f"between {n}"
            apply(s, values, B, consts, idxs)
        phase = "second"
        total = None
        for k, leaf in enumerate((lx, ly)):
            if leaf.grad is not None:
                term = (leaf.grad * B.const(_weights(leaf.shape, 7 + k))).sum()
                total = term if total is None else total + term
        for _, t in named:
            t.grad = None
        if total is None:
            return out
        total.backward()
        for name, t in named:
            out.grads[name + "2"] = B.grad(t)
    except ERRORS as exc:
        out.error = StepError(phase, exc)
    return out


# --- generating programs ----------------------------------------------------------------------
@dataclass
class _Meta:
    """What the generator tracks per value: shape, contiguity, memory group, what made it."""
    shape: tuple
    contiguous: bool
    group: int
    alias: bool = False  # the output of an aliasing op, or a view of one
    root: bool = True  # owns its memory (not a view)


@st.composite
def programs(draw: Any, max_steps: int = 10) -> Program:
    floats = st.floats(-1.5, 1.5, allow_nan=False, allow_infinity=False)
    x = np.array(draw(st.lists(floats, min_size=6, max_size=6))).reshape(2, 3)
    y = np.array(draw(st.lists(floats, min_size=3, max_size=3)))
    consts = [np.linspace(1.0, 2.0, 6).reshape(2, 3), np.array([1.5, 1.25, 2.0])]
    idxs = [np.array(draw(st.lists(st.integers(0, 1), min_size=2, max_size=3)))]
    program = Program(x, y, consts, idxs)
    meta = [_Meta((2, 3), True, 0), _Meta((3,), True, 1)]
    group_root_op = {0: "leaf", 1: "leaf"}  # what last wrote each memory group's root
    group_leaf = {0: True, 1: True}
    used_consts: set = set()
    retained: set = set()
    groups_with_alias: set = set()
    fn_inputs: set = set()  # memory groups passed to Functions that save nothing
    feats = program.features

    def new(shape: tuple, made_by: str, contiguous: bool = True) -> None:
        g = len(group_root_op) + 100
        group_root_op[g] = made_by
        group_leaf[g] = False
        meta.append(_Meta(shape, contiguous, g))

    def pick(pred: Any = lambda m: True) -> Any:
        ok = [i for i, m in enumerate(meta) if pred(m)]
        return draw(st.sampled_from(ok)) if ok else None

    def broadcastable(src: tuple, dst: tuple) -> bool:
        try:
            return np.broadcast_shapes(src, dst) == dst
        except ValueError:
            return False

    def draw_inplace(between: bool) -> tuple | None:
        i = pick()
        assert i is not None
        m = meta[i]
        what = draw(st.sampled_from(INPLACE_W + INPLACE_S))
        if what in INPLACE_S:
            if what == "imul_slice" and not m.shape:
                return None
            step: tuple = ("inplace", what, i)
        else:
            target = {"set_int": m.shape[1:], "set_slice": None, "iadd_int": m.shape[1:]}.get(
                what, m.shape)
            if what in ("set_int", "iadd_int", "set_slice", "set_fancy", "iadd_fancy") and \
                    not m.shape:
                return None
            if what == "set_slice":
                target = (max(m.shape[0] - 1, 0),) + m.shape[1:]
            if what in ("set_fancy", "iadd_fancy"):
                if m.shape[0] < 2:
                    return None
                j = pick()
            else:
                j = pick(lambda n: broadcastable(n.shape, target))
            if j is None:
                return None
            step = ("inplace", what, i, j)
            if what in ("set_fancy", "iadd_fancy"):
                feats.add("uses_index")
                used_consts.add("idx")
                if len(set(idxs[0].tolist())) < len(idxs[0]):
                    # Only one of the repeated positions is written (the function's derivative
                    # counts it once), but PyTorch's index_put_ backward, and this library's
                    # setitem rule, send the gradient to the value once per repetition.
                    feats.add("duplicate_index_write")
        # features
        if i in retained:
            feats.add("retain_then_inplace")
        if group_root_op.get(m.group) == "div" and not group_leaf.get(m.group):
            feats.add("inplace_on_div")
        if group_root_op.get(m.group) in ("pass", "twice", "swapT", "cube"):
            feats.add("inplace_on_fn_output")
        if m.group in fn_inputs:
            feats.add("inplace_on_fn_input")
        if m.group in groups_with_alias:
            feats.add("alias_output")
        if between:
            feats.add("inplace_between_backwards")
        # the root's history after the change
        group_root_op[m.group] = "div" if what == "div_" and m.root else "inplace"
        return step

    n_steps = draw(st.integers(1, max_steps))
    for _ in range(n_steps):
        kind = draw(st.sampled_from(["unary", "binary", "const", "fancy", "view", "view", "fn",
                                     "where", "retain", "mutate", "inplace", "inplace",
                                     "inplace"]))
        step: tuple | None = None
        if kind == "unary":
            i = pick()
            step = ("unary", draw(st.sampled_from(UNARY)), i)
            new(meta[i].shape, "unary")
        elif kind == "binary":
            i = pick()
            j = pick(lambda n, s=meta[i].shape: broadcastable(n.shape, s))
            if j is not None:
                op = draw(st.sampled_from(BINARY))
                step = ("binary", op, i, j)
                new(meta[i].shape, op)
        elif kind == "const":
            c = draw(st.integers(0, 1))
            i = pick(lambda n, s=program.consts[c].shape: broadcastable(s, n.shape))
            if i is not None:
                op = draw(st.sampled_from(CONST_OPS))
                step = ("const", op, i, c)
                used_consts.add(c)
                new(meta[i].shape, op)
        elif kind == "fancy":
            i = pick(lambda n: bool(n.shape) and n.shape[0] >= 2)
            if i is not None:
                step = ("fancy", i, 0)
                feats.add("uses_index")
                used_consts.add("idx")
                new((len(idxs[0]),) + meta[i].shape[1:], "fancy")
        elif kind == "view":
            vk = draw(st.sampled_from(VIEWS))
            i = pick({"slice0": lambda n: bool(n.shape) and n.shape[0] >= 2,
                      "slice_step": lambda n: bool(n.shape),
                      "int": lambda n: len(n.shape) >= 1,
                      "view_flat": lambda n: n.contiguous,
                      "T": lambda n: len(n.shape) == 2,
                      "transpose": lambda n: len(n.shape) == 2,
                      "permute": lambda n: len(n.shape) == 2,
                      "expand": lambda n: len(n.shape) <= 2}.get(vk, lambda n: True))
            if i is not None:
                m = meta[i]
                out = NumpyBackend().view(vk, np.zeros(m.shape))
                step = ("view", vk, i)
                same = vk not in ("reshape_flat", "reshape_rev") or m.contiguous
                contiguous = same and m.contiguous and vk in (
                    "reshape_flat", "reshape_rev", "view_flat", "detach", "slice0", "int")
                if same:
                    meta.append(_Meta(out.shape, contiguous, m.group, m.alias, False))
                else:  # reshape of a non-contiguous value copies
                    new(out.shape, "reshape")
        elif kind == "where":
            i = pick()
            step = ("where", i)
            feats.add("alias_output")
            meta.append(_Meta(meta[i].shape, meta[i].contiguous, meta[i].group, True, False))
            groups_with_alias.add(meta[i].group)
        elif kind == "fn":
            name = draw(st.sampled_from(FUNCTIONS))
            feats.add("fn_" + name)
            if name in ("pass", "cube"):
                i = pick()
                step = ("fn", name, i)
                new(meta[i].shape, name)
            elif name == "twice":
                i = pick()
                j = pick(lambda n, s=meta[i].shape: n.shape == s)
                step = ("fn", name, i, j)
                new(meta[i].shape, name)
            elif name == "swapT":
                i = pick(lambda n: len(n.shape) == 2)
                if i is not None:
                    j = pick(lambda n, s=meta[i].shape[::-1]: n.shape == s)
                    if j is not None:
                        step = ("fn", name, i, j)
                        new(meta[i].shape, name)
            elif name == "viewfn":
                i = pick(lambda n: bool(n.shape) and n.shape[0] >= 2)
                if i is not None:
                    step = ("fn", name, i)
                    feats.add("alias_output")
                    m = meta[i]
                    meta.append(_Meta((1,) + m.shape[1:], m.contiguous, m.group, True, False))
                    groups_with_alias.add(m.group)
            else:  # selffn
                i = pick()
                step = ("fn", name, i)
                feats.add("alias_output")
                m = meta[i]
                meta.append(_Meta(m.shape, m.contiguous, m.group, True, False))
                groups_with_alias.add(m.group)
            if step is None:
                feats.discard("fn_" + name)
            elif name != "cube":
                fn_inputs.update(meta[k].group for k in step[2:])
        elif kind == "retain":
            i = pick()
            step = ("retain", i)
            retained.add(i)
        elif kind == "mutate":
            if draw(st.booleans()):
                c = draw(st.integers(0, 1))
                step = ("mutate_const", c)
                if c in used_consts:
                    feats.add("mutated_constant")
            else:
                step = ("mutate_idx", 0)
                if "idx" in used_consts:
                    feats.add("mutated_constant")
        else:
            step = draw_inplace(between=False)
        if step is not None:
            program.steps.append(step)
    # Not every value enters the loss: a value that only reaches the loss through later ops
    # gets all its cotangents from inside the graph (where aliasing and buffer reuse matter).
    program.dropped = frozenset(k for k in range(len(meta) - 1) if draw(st.booleans()))
    program.double = draw(st.booleans())
    if program.double:
        for _ in range(draw(st.integers(0, 2))):
            step = draw_inplace(between=True)
            if step is not None:
                program.between.append(step)
    return program


# --- reading a program as code ----------------------------------------------------------------
def source(program: Program) -> str:
    """The program as lines of Python for this library (for reports and shrunk examples)."""
    lines = [f"x = Tensor(np.array({program.x.tolist()}), requires_grad=True)",
             f"y = Tensor(np.array({program.y.tolist()}), requires_grad=True)",
             f"c0 = np.array({program.consts[0].tolist()}); c1 = np.array("
             f"{program.consts[1].tolist()}); idx = np.array({program.idxs[0].tolist()})"]
    names = ["x", "y"]

    def line(s: tuple) -> str:
        k = s[0]
        n = f"v{len(names)}"
        if k == "unary":
            expr = {"tanh": "{}.tanh()", "exp": "({} * 0.3).exp()", "sin": "{}.sin()",
                    "square": "{0} * {0}", "scale": "{} * 0.5"}[s[1]].format(names[s[2]])
        elif k == "binary":
            a, b = names[s[2]], names[s[3]]
            expr = {"add": f"{a} + {b}", "sub": f"{a} - {b}", "mul": f"{a} * {b}",
                    "div": f"{a} / ({b} * {b} + 2.0)"}[s[1]]
        elif k == "const":
            expr = f"{names[s[2]]} {dict(mul='*', add='+', div='/')[s[1]]} c{s[3]}"
        elif k == "fancy":
            expr = f"{names[s[1]]}[idx]"
        elif k == "view":
            a = names[s[2]]
            expr = {"slice0": f"{a}[1:]", "slice_step": f"{a}[..., ::2]", "int": f"{a}[0]",
                    "reshape_flat": f"{a}.reshape(-1)", "reshape_rev": f"{a}.reshape(<reversed>)",
                    "view_flat": f"{a}.view(-1)", "T": f"{a}.T",
                    "transpose": f"{a}.transpose(0, 1)", "permute": f"{a}.permute(1, 0)",
                    "expand": f"{a}.expand(2, *{a}.shape)", "detach": f"{a}.detach()"}[s[1]]
        elif k == "where":
            expr = f"ops.where(True, {names[s[1]]}, 0.0)"
        elif k == "fn":
            expr = f"{s[1].capitalize()}.apply({', '.join(names[i] for i in s[2:])})"
        elif k == "retain":
            return f"{names[s[1]]}.retain_grad()"
        elif k == "mutate_const":
            return f"c{s[1]} += 0.5"
        elif k == "mutate_idx":
            return "idx[...] = 1 - idx"
        else:
            v = names[s[2]]
            w = names[s[3]] if len(s) > 3 else ""
            return {"add_": f"{v}.add_({w})", "sub_": f"{v}.sub_({w})", "mul_": f"{v}.mul_({w})",
                    "div_": f"{v}.div_({w} * {w} + 2.0)", "copy_": f"{v}.copy_({w})",
                    "set_int": f"{v}[0] = ({w} * 0.5).sum()", "set_slice": f"{v}[1:] = {w} * 0.25",
                    "set_fancy": f"{v}[idx] = ({w} * 0.5).sum()", "iadd_int": f"{v}[0] += {w}",
                    "iadd_fancy": f"{v}[idx] += ({w} * 1.0).sum()", "add_s": f"{v}.add_(0.5)",
                    "mul_s": f"{v}.mul_(1.5)", "imul_slice": f"{v}[..., ::2] *= 3.0",
                    "zero_": f"{v}.zero_()", "fill_": f"{v}.fill_(0.3)",
                    "clamp_": f"{v}.clamp_(-0.8, 0.8)"}[s[1]]
        names.append(n)
        return f"{n} = {expr}"

    lines += [line(s) for s in program.steps]
    kept = [n for k, n in enumerate(names) if k not in program.dropped]
    lines.append(f"loss = sum((v * W[k]).sum() for k, v in [{', '.join(kept)}])")
    if program.double:
        lines.append("loss.backward(create_graph=True)")
        lines += [line(s) for s in program.between]
        lines.append("(x.grad * W7).sum() + (y.grad * W8).sum()).backward()  # grads reset")
    else:
        lines.append("loss.backward()")
    return "\n".join(lines)


# --- comparing --------------------------------------------------------------------------------
def compare(lib: Outcome, ref: Outcome, rtol: float = 1e-7, atol: float = 1e-9) -> str | None:
    """None when the outcomes agree, else a one-line description of the first difference."""
    if (lib.error is None) != (ref.error is None):
        if lib.error is not None:
            return f"lib raises at {lib.error.phase}, torch computes ({lib.error})"
        assert ref.error is not None
        return f"lib computes, torch raises at {ref.error.phase} ({ref.error})"
    if lib.error is not None and ref.error is not None:
        if lib.error.phase != ref.error.phase:
            return f"both raise, lib at {lib.error.phase}, torch at {ref.error.phase}"
        return None
    if not np.isclose(lib.loss, ref.loss, rtol=rtol, atol=atol):
        return f"forward value: lib {lib.loss!r}, torch {ref.loss!r}"
    for name in sorted(set(lib.grads) | set(ref.grads)):
        a, b = lib.grads.get(name, "missing"), ref.grads.get(name, "missing")
        if isinstance(a, str) or isinstance(b, str):
            return f"grad {name}: lib {a if isinstance(a, str) else 'present'}, torch " \
                   f"{b if isinstance(b, str) else 'present'}"
        if a is None or b is None:
            if a is None and b is None:
                continue
            shape = np.shape(b if a is None else a)
            a = np.zeros(shape) if a is None else a
            b = np.zeros(shape) if b is None else b
        if np.shape(a) != np.shape(b) or not np.allclose(a, b, rtol=rtol, atol=atol):
            return f"grad {name}: lib {np.round(a, 6).tolist()}, torch {np.round(b, 6).tolist()}"
    return None


def usable(program: Program) -> bool:
    """Whether the numpy run has moderate values (chained squares and exponentials may not)."""
    try:
        with np.errstate(all="raise"):
            out = run(program, NumpyBackend())
    except FloatingPointError:
        return False
    return out.error is not None or (out.loss is not None and abs(out.loss) < 1e4)


def check_against_torch(program: Program, torch_b: Any) -> str | None:
    """None, or the discrepancy between this library and PyTorch on the program.

    PyTorch refuses an in-place change of a custom Function's output that views its input (or of
    that input); this library gives such an output memory of its own and goes on: there its
    numbers are checked against finite differences instead (or it raises later, for a reason of
    its own, which is just as honest)."""
    lib, ref = run(program, LibBackend()), run(program, torch_b)
    if ref.error is not None and "custom Function" in str(ref.error):
        return check_against_differences(program) if lib.error is None else None
    return compare(lib, ref)


def check_against_differences(program: Program) -> str | None:
    """None, or how this library's first-order gradients differ from central differences."""
    if any(s[:2] == ("view", "detach") for s in program.steps):
        return None  # in numpy a detached value moves with the leaf: the torch test covers it
    if "duplicate_index_write" in program.features:
        return None  # x[idx] = v with a repeated index: PyTorch's convention (below)
    lib = run(program, LibBackend())
    if lib.error is not None or not lib.grads:
        return None
    if program.double:
        lib = run(dataclasses.replace(program, double=False, between=[]), LibBackend())
        if lib.error is not None:
            return None
    nb = NumpyBackend()
    ref = run(program, nb)
    if ref.error is not None:
        return f"lib computes, numpy raises at {ref.error.phase} ({ref.error})"
    if any(np.min(np.abs(np.abs(c) - 0.8)) < 1e-4 for c in nb.clamp_inputs if c.size):
        return None  # too close to clamp's kink for central differences
    if not np.isclose(lib.loss, ref.loss, rtol=1e-9, atol=1e-9):
        return f"forward value: lib {lib.loss!r}, numpy {ref.loss!r}"
    xy = np.concatenate([program.x.ravel(), program.y])

    def f(v: np.ndarray) -> float:
        return run(program, NumpyBackend(), v[:6].reshape(2, 3), v[6:]).loss

    expected = numerical_jacobian(f, xy)
    got = np.concatenate([np.zeros(6) if lib.grads["x"] is None else lib.grads["x"].ravel(),
                          np.zeros(3) if lib.grads["y"] is None else lib.grads["y"]])
    if not np.allclose(got, expected, rtol=1e-5, atol=1e-5):
        return (f"grads: lib {np.round(got, 5).tolist()}, "
                f"differences {np.round(expected, 5).tolist()}")
    return None


# --- the tests --------------------------------------------------------------------------------
def _examples(default: int) -> int:
    return int(os.environ.get("EXACTNESS_FUZZ_EXAMPLES", default))


_SETTINGS: dict[str, Any] = dict(deadline=None,
                                 derandomize=os.environ.get("EXACTNESS_FUZZ_RANDOM") is None,
                                 suppress_health_check=[HealthCheck.too_slow,
                                                        HealthCheck.filter_too_much,
                                                        HealthCheck.data_too_large])


@settings(max_examples=_examples(100), **_SETTINGS)
@given(program=programs())
def test_same_gradients_and_errors_as_pytorch(program: Program) -> None:
    pytest.importorskip("torch")
    torch_b = torch_backend()
    assume(known_bug(program) is None and usable(program))
    problem = check_against_torch(program, torch_b)
    event("error" if run(program, LibBackend()).error else "differentiated")
    assert problem is None, problem


@settings(max_examples=_examples(100), **_SETTINGS)
@given(program=programs())
def test_first_order_gradients_match_finite_differences(program: Program) -> None:
    assume(known_bug(program) is None and usable(program))
    problem = check_against_differences(program)
    assert problem is None, problem


def test_a_program_with_a_pass_through_and_its_view_agrees_with_differences() -> None:
    """The program that once gave doubled gradients (a Function whose backward returns
    (g, g.T), its input used elsewhere) now agrees with finite differences."""
    program = Program(np.array([[0.3, -0.7, 1.1], [0.2, 0.5, -0.4]]), np.array([0.1, 0.2, 0.3]),
                      [np.ones((2, 3)), np.ones(3)], [np.array([0, 1])],
                      steps=[("unary", "scale", 0), ("view", "T", 2), ("unary", "tanh", 2),
                             ("fn", "swapT", 2, 3), ("unary", "square", 5)],
                      dropped=frozenset({0, 1, 2, 3}))
    lib, ref = run(program, LibBackend()), run(program, NumpyBackend())
    assert lib.error is None and ref.error is None
    assert check_against_differences(program) is None
