"""Every registered op, checked from its own declaration: this file has no list of ops.

For each op in ``adcore.registry`` hypothesis draws arguments from the op's declared domain, then:
- forward mode, reverse mode and central finite differences (float64) agree (``adcore.gradcheck``);
- the adjoint identity <u, J v> = <J^T u, v> holds between the two engines;
- a batch of tangents (cotangents) gives what the same directions give one at a time;
- the rules differentiate again: forward-over-reverse matches finite differences of the VJP, and
  reverse-over-reverse satisfies the adjoint identity against it;
- outputs, tangents and cotangents keep the inputs' dtype, float32 and float64, in both engines.
Nodes here keep no value their rule does not read (not even small ones), so a rule that reads a
value its declaration does not account for fails loudly.
A registered op without a domain fails here, and so does any op whose rules are off.
"""
from __future__ import annotations

import dis
import functools
import inspect
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from strategies import HypothesisDraw

import forward
import reverse
from adcore import GradcheckError, bind, defop, gradcheck, ops, registry
from adcore import domains as D
from adcore.levels import raw
from adcore.ops import cos, mul
from adcore.promotion import PROMOTING_KINDS
from reverse import Tensor, graph

OPS = sorted(registry)


@pytest.fixture(autouse=True)
def keep_only_what_rules_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(graph, "KEEP_UNREAD_BELOW", -1)


def draw_case(name: str, data: Any) -> tuple[Callable[..., Any], list, HypothesisDraw]:
    """(f of the differentiable arguments, their values, the draw) for one drawn case of an op."""
    op = registry[name]
    assert op.domain is not None, f"op {name!r} declares no domain, so its rules cannot be checked"
    assert op.fn is not None, f"op {name!r} has no public function"
    draw = HypothesisDraw(data)
    args, params = op.domain(draw)
    args = list(args)
    wrt = [i for i, a in enumerate(args)
           if isinstance(a, np.ndarray) and a.dtype.kind == "f"]

    def f(*diff: Any) -> Any:
        full = list(args)
        for i, v in zip(wrt, diff):
            full[i] = v
        return joined(op(*full, **params))
    f.__name__ = name
    return f, [args[i] for i in wrt], draw


def joined(out: Any) -> Any:
    """An op's several outputs (eigh's values and vectors) as one vector, so that each check
    gives every output a tangent and a cotangent."""
    if not isinstance(out, tuple):
        return out
    return ops.concatenate([ops.reshape(o, (-1,)) for o in out])


def like(draw: HypothesisDraw, shape: tuple, batch: tuple = ()) -> np.ndarray:
    return draw.array(batch + shape, -1.0, 1.0)


def close(a: Any, b: Any, rtol: float = 1e-10, atol: float = 1e-12) -> None:
    np.testing.assert_allclose(np.asarray(raw(a), dtype=np.float64),
                               np.asarray(raw(b), dtype=np.float64),
                               rtol=rtol, atol=atol)


def inner(a: Any, b: Any) -> float:
    return float(np.sum(np.asarray(a) * np.asarray(b)))


@pytest.mark.parametrize("name", OPS)
@given(data=st.data())
def test_forward_reverse_and_finite_differences_agree(name: str, data: Any) -> None:
    f, primals, _ = draw_case(name, data)
    gradcheck(f, *primals)


@pytest.mark.parametrize("name", OPS)
@given(data=st.data())
def test_adjoint_identity_and_batched_rules(name: str, data: Any) -> None:
    f, primals, draw = draw_case(name, data)
    out, vjp_fn = reverse.vjp(f, *primals)
    out_shape = np.shape(out)

    v = [like(draw, p.shape) for p in primals]
    u = like(draw, out_shape)
    _, jv = forward.jvp(f, primals, v)
    jtu = vjp_fn(u)
    lhs, rhs = inner(u, jv), sum(inner(a, b) for a, b in zip(jtu, v))
    scale = np.sum(np.abs(u * jv)) + sum(np.sum(np.abs(a * b)) for a, b in zip(jtu, v))
    assert abs(lhs - rhs) <= 1e-10 * scale + 1e-12, f"{name}: <u, Jv> = {lhs}, <J^T u, v> = {rhs}"

    batch = (draw.integers(1, 3),)
    vs = [like(draw, p.shape, batch) for p in primals]
    _, jvs = forward.jvp(f, primals, vs)
    for b in range(batch[0]):
        close(forward.jvp(f, primals, [t[b] for t in vs])[1], np.asarray(jvs)[b])

    us = like(draw, out_shape, batch)
    jtus = vjp_fn(us)
    for b in range(batch[0]):
        for one, many in zip(vjp_fn(us[b]), jtus):
            close(one, np.asarray(many)[b])


@pytest.mark.parametrize("name", OPS)
@given(data=st.data())
def test_rules_differentiate_again(name: str, data: Any) -> None:
    f, primals, draw = draw_case(name, data)
    out_shape = np.shape(f(*primals))
    u = like(draw, out_shape)

    def pullback(*xs: Any) -> Any:  # x -> J(x)^T u, a function built from the VJP rules
        return reverse.vjp(f, *xs)[1](u)

    v = [like(draw, p.shape) for p in primals]
    _, fwd_over_rev = forward.jvp(pullback, primals, v)
    eps = 1e-6
    plus = pullback(*[p + eps * d for p, d in zip(primals, v)])
    minus = pullback(*[p - eps * d for p, d in zip(primals, v)])
    for got, hi, lo in zip(fwd_over_rev, plus, minus):
        close(got, (np.asarray(hi) - np.asarray(lo)) / (2 * eps), rtol=1e-5, atol=1e-6)

    w = [like(draw, p.shape) for p in primals]
    rev_over_rev = reverse.vjp(pullback, *primals)[1](tuple(w))
    lhs = sum(inner(a, b) for a, b in zip(w, fwd_over_rev))
    rhs = sum(inner(a, b) for a, b in zip(rev_over_rev, v))
    assert abs(lhs - rhs) <= 1e-9 * (abs(lhs) + abs(rhs)) + 1e-10, (name, lhs, rhs)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", OPS)
@given(data=st.data())
def test_outputs_tangents_and_cotangents_keep_the_dtype(name: str, dtype: Any, data: Any) -> None:
    op = registry[name]
    draw = HypothesisDraw(data)
    args, params = op.domain(draw)
    args = [a.astype(dtype) if isinstance(a, np.ndarray) and a.dtype.kind == "f" else a
            for a in args]
    wrt = [i for i, a in enumerate(args) if isinstance(a, np.ndarray) and a.dtype.kind == "f"]
    want = np.dtype(params.get("dtype", dtype))  # astype's output has the dtype it is given

    def f(*diff: Any) -> Any:
        full = list(args)
        for i, v in zip(wrt, diff):
            full[i] = v
        return joined(op(*full, **params))

    primals = [args[i] for i in wrt]
    assert np.result_type(f(*primals)) == want, "plain"
    # Under a transformation of numpy arrays, operands promote as numpy promotes them (a float64
    # scalar drawn for a bound promotes a float32 array), and the tangent follows its primal.
    in_numpy = want
    if op.kind in PROMOTING_KINDS:
        in_numpy = np.result_type(*[a if type(a) in (int, float, bool) else np.result_type(a)
                                    for a in args if a is not None])
    out, out_dot = forward.jvp(f, primals, [np.ones_like(p) for p in primals])
    assert np.result_type(out) == in_numpy and np.result_type(out_dot) == in_numpy, "forward"
    tensors = [Tensor(p, requires_grad=True) for p in primals]
    result = f(*tensors)
    assert result.dtype == want, "reverse"
    if result.requires_grad:  # the raw rule: cotangents in the inputs' dtype before any cast
        node = result.grad_fn
        y_bar = np.ones(result.shape, want)
        for ct, p in zip(node.op.vjp(y_bar, node.primals, node.out, node.params, node.needs),
                         node.primals):
            if ct is not None:
                assert np.result_type(ct) == np.result_type(p), "vjp"


@pytest.mark.parametrize("name", [n for n in OPS if registry[n].ufunc])
@given(data=st.data())
def test_an_op_declared_a_ufunc_makes_new_real_memory(name: str, data: Any) -> None:
    """The engines trust ``ufunc`` and skips its alias and complex checks: the declaration must
    hold on every drawn case, with array and 0-d operands."""
    op = registry[name]
    args, params = op.domain(HypothesisDraw(data))
    for operands in (list(args), [np.asarray(a)[()] if isinstance(a, np.ndarray) and a.ndim == 0
                                  else a for a in args]):
        out = op.impl(*operands, **params)
        for a in operands:
            assert not (isinstance(out, np.ndarray) and isinstance(a, np.ndarray)
                        and np.shares_memory(out, a)), f"{name} returned an input's memory"
        assert np.result_type(out).kind != "c", f"{name} made a complex result from real operands"


def _code_reads(rule: Any, skip: int, n: int) -> frozenset:
    """The positions among a rule's n value parameters (after ``skip`` leading ones) that its code
    reads, found in its bytecode (a rule taking ``*args`` reads them all)."""
    code = getattr(rule, "__code__", None)
    if code is None or code.co_flags & inspect.CO_VARARGS:
        return frozenset(range(n))
    names = code.co_varnames[skip:code.co_argcount]
    used = set(code.co_cellvars)  # captured by an inner function
    for ins in dis.get_instructions(code):
        if "FAST" in ins.opname or "DEREF" in ins.opname or "CLOSURE" in ins.opname:
            used.update(ins.argval if isinstance(ins.argval, tuple) else (ins.argval,))
    return frozenset(i for i, name in enumerate(names) if name in used)


def _declared_rules(op: Any) -> tuple[tuple, int, int]:
    """(the VJP rules as declared, leading parameters before the values, number of values)."""
    if op.kind == "elementwise":
        return op.partials, 0, len(op.partials) + 1
    cells = dict(zip(op.vjp.__code__.co_freevars, [c.cell_contents for c in op.vjp.__closure__]))
    if op.kind == "bilinear":
        return cells["transposes"], 1, len(cells["transposes"])
    return cells["vjps"], 1, len(cells["vjps"]) + 1


@pytest.mark.parametrize("name", [n for n in OPS if registry[n].kind != "linear"
                                  and registry[n].reads is not None])
def test_what_a_declaration_saves_is_what_its_rules_read(name: str) -> None:
    """``saves=`` is declared; the rules' code says what they read: the two must agree, so that a
    node keeps neither less (a rule would read a placeholder) nor more (memory held in vain)."""
    op = registry[name]
    rules, skip, n = _declared_rules(op)
    code = tuple(_code_reads(r, skip, n) if callable(r) else frozenset() for r in rules)
    assert op.reads == code, f"{name}: saves= declares {op.reads}, its rules read {code}"


def test_every_op_declares_a_domain_docs_and_a_kind() -> None:
    for name, op in registry.items():
        assert op.domain is not None, name
        assert op.doc, name
        assert op.kind in {"elementwise", "linear", "bilinear", "explicit"}, (name, op.kind)
        assert op.fn is not None and op.fn.op is op, name


def test_an_op_without_domain_fails_the_registry_check() -> None:
    op = defop("no_domain", np.sin, partials=(lambda x, out: cos(x),), register=False)
    registry["no_domain"] = op
    try:
        op.fn = functools.partial(bind, op)
        with pytest.raises(AssertionError, match="declares no domain"):
            draw_case("no_domain", None)
    finally:
        del registry["no_domain"]


def _sin_with(partial: Any = None, jvp: Any = None, vjp: Any = None) -> Callable[[Any], Any]:
    if partial is not None:
        op = defop("bad_sin", np.sin, partials=(partial,), domain=D.unary(), register=False)
    else:
        op = defop("bad_sin", np.sin, jvp=(jvp,), vjp=(vjp,), domain=D.unary(), register=False)

    def bad_sin(x: Any) -> Any:
        return bind(op, x)
    return bad_sin


@given(x=st.floats(-3, 3).filter(lambda x: abs(np.cos(x)) > 0.1))
def test_checker_catches_a_rule_off_by_a_factor_of_1_001(x: float) -> None:
    good = _sin_with(lambda x, out: cos(x))
    assert gradcheck(good, np.array([x, 0.5]))

    off = _sin_with(lambda x, out: mul(1.001, cos(x)))  # both modes wrong: finite differences tell
    with pytest.raises(GradcheckError, match=r"bad_sin.*finite differences"):
        gradcheck(off, np.array([x, 0.5]))

    vjp_off = _sin_with(jvp=lambda x_dot, x, out: mul(cos(x), x_dot),
                        vjp=lambda y_bar, x, out: mul(1.001, mul(cos(x), y_bar)))
    with pytest.raises(GradcheckError, match="reverse mode disagrees"):
        gradcheck(vjp_off, np.array([x, 0.5]))
