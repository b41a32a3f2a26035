"""The derivation of an op's JVP and VJP from its kind (see adcore/registry.py's table).

``defop`` declares an op by its kind; the functions here turn that declaration into the pair of
rules the engines call. The derived rules are written with registry ops (add, mul, neg, reshape,
broadcast_to, sum_to), so that an engine can trace them again. Those ops are themselves declared
with ``defop``, so this module cannot import them: ``adcore.ops`` hands them over once they are
declared (``hand_over``), before any rule runs. Imports flow one way: ops -> registry -> derive.
"""
from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from adcore.levels import bind, raw
from adcore.shapes import dtype_of, shape_of

Rule = Callable[..., Any]


# The registry ops the derived rules are written with, set by ``hand_over``.
add: Callable[..., Any]
mul: Callable[..., Any]
neg: Callable[..., Any]
where: Callable[..., Any]
reshape_op: Any
broadcast_to_op: Any
sum_to_op: Any


def hand_over(*, add_fn: Callable[..., Any], mul_fn: Callable[..., Any],
              neg_fn: Callable[..., Any], where_fn: Callable[..., Any], reshape: Any,
              broadcast_to: Any, sum_to: Any) -> None:
    """Give the derived rules the ops they are written with (``adcore.ops`` calls this once its
    elementwise and shape ops are declared)."""
    global add, mul, neg, where, reshape_op, broadcast_to_op, sum_to_op
    add, mul, neg, where = add_fn, mul_fn, neg_fn, where_fn
    reshape_op, broadcast_to_op, sum_to_op = reshape, broadcast_to, sum_to


def saved(rules: Sequence[Any], saves: str | Sequence[str] | None, skip: int, n: int,
          name: str) -> tuple[frozenset, ...]:
    """Per rule, the positions among its ``n`` value parameters (after ``skip`` leading ones: the
    cotangent) that the declaration ``saves`` names: one string of parameter names per rule
    (a single string for a one-input op). A rule that is a number or None reads nothing; a rule
    without a declaration, or taking ``*args``, may read every value."""
    if isinstance(saves, str):
        saves = (saves,)
    if saves is not None and len(saves) != len(rules):
        raise TypeError(f"defop({name!r}): saves= gives {len(saves)} entries for {len(rules)} "
                        f"rules; give one string of the parameter names each rule reads")
    found: list[frozenset] = []
    for i, rule in enumerate(rules):
        if not callable(rule):
            found.append(frozenset())
            continue
        params = _value_parameters(rule, skip, n)
        if params is None or saves is None:
            found.append(frozenset(range(n)))
            continue
        wanted = saves[i].split()
        unknown = [w for w in wanted if w not in params]
        if unknown:
            raise TypeError(f"defop({name!r}): saves= names {unknown} for rule {i}, whose value "
                            f"parameters are {params}")
        found.append(frozenset(params.index(w) for w in wanted))
    return tuple(found)


def _value_parameters(rule: Rule, skip: int, n: int) -> list[str] | None:
    """The names of a rule's ``n`` value parameters after ``skip`` leading ones (None when it
    takes ``*args`` or has no signature)."""
    try:
        parameters = list(inspect.signature(rule).parameters.values())
    except (TypeError, ValueError):
        return None
    if any(p.kind is p.VAR_POSITIONAL for p in parameters):
        return None
    names = [p.name for p in parameters if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    return names[skip:skip + n]


# ----------------------------------------------------------------------------------------------
# Batch helpers shared by the derived rules and by explicit rules of ops whose inputs broadcast
# (solve). A tangent of an input with shape s has shape batch + s; when s has fewer axes than the
# output (broadcasting), singleton axes are inserted after the batch so that numpy aligns the
# batch with the batch, not with the output's axes.

def align(x_dot: Any, x_shape: tuple, out_ndim: int) -> Any:
    t_shape = shape_of(x_dot)
    if len(x_shape) >= out_ndim or len(t_shape) == len(x_shape):
        return x_dot
    return bind(reshape_op, x_dot, shape=(1,) * (out_ndim - len(x_shape)) + x_shape,
                in_shape=x_shape)


def _expand(total: Any, out_shape: tuple) -> Any:
    """Broadcast a tangent to batch + out_shape (a term may still be broadcast-smaller)."""
    t_shape = shape_of(total)
    nb = max(0, len(t_shape) - len(out_shape))
    if t_shape[nb:] == out_shape:
        return total
    return bind(broadcast_to_op, total, shape=out_shape, in_shape=t_shape[nb:])


def unbroadcast(ct: Any, x_shape: tuple, out_ndim: int) -> Any:
    """Sum a cotangent of shape batch + core (core has out_ndim axes) back to batch + x_shape."""
    ct_shape = shape_of(ct)
    core = ct_shape[len(ct_shape) - out_ndim:] if out_ndim else ()
    if core == x_shape:
        return ct
    return bind(sum_to_op, ct, shape=x_shape, in_shape=core)


_NONDIFF, _ONE, _MINUS_ONE, _RULE, _SELECT = range(5)


def selecting(rule: Rule) -> Rule:
    """Declare a partial that returns a mask (where's condition, relu's ``out > 0``): it selects
    the tangent or cotangent instead of multiplying it, so that an unselected entry is 0 even
    where that value is inf or nan (0 * inf would be nan), as PyTorch's and JAX's selections
    give."""
    rule.selects = True  # type: ignore[attr-defined]
    return rule


def _partial_code(p: Any) -> int:
    if p is None:
        return _NONDIFF
    if callable(p):
        return _SELECT if getattr(p, "selects", False) else _RULE
    if p == 1:
        return _ONE
    if p == -1:
        return _MINUS_ONE
    raise TypeError(f"a partial must be a rule, 1, -1 or None, not {p!r}")


def _scale(code: int, partial: Any, v: Any) -> Any:
    """partial * v (a tangent or a cotangent times a partial), or v where a mask partial holds."""
    if code == _RULE:
        if type(v) is float and type(partial) is float:
            return partial * v  # Python floats (the Value engine): mul itself, one call less
        return mul(partial, v)
    if type(partial) is bool and type(v) is float:
        return v if partial else 0.0  # the Value engine
    return where(partial, v, 0.0)


def elementwise_rules(partials: tuple) -> tuple[Rule, Rule]:
    codes = tuple(_partial_code(p) for p in partials)

    def term(code: int, i: int, v: Any, primals: Sequence[Any], out: Any, params: dict) -> Any:
        """partial_i * v: a tangent or a cotangent."""
        if code == _ONE:
            return v
        if code == _MINUS_ONE:
            return neg(v)
        return _scale(code, partials[i](*primals, out, **params), v)

    def jvp(tangents: Sequence[Any], primals: Sequence[Any], out: Any, params: dict) -> Any:
        out_shape = shape_of(out)
        total = None
        for i, x_dot in enumerate(tangents):
            code = codes[i]
            if x_dot is None or code == _NONDIFF:
                continue
            x_dot = align(x_dot, shape_of(primals[i]), len(out_shape))
            t = term(code, i, x_dot, primals, out, params)
            total = t if total is None else add(total, t)
        return None if total is None else _expand(total, out_shape)

    if codes in ((_RULE,), (_SELECT,)):  # unary: the input has the output's shape
        rule, code = partials[0], codes[0]

        def unary_vjp(y_bar: Any, primals: Sequence[Any], out: Any, params: dict,
                      needs: Sequence[bool]) -> list:
            if not needs[0]:
                return [None]
            partial = rule(primals[0], out, **params) if params else rule(primals[0], out)
            return [_scale(code, partial, y_bar)]
        return jvp, unary_vjp

    def vjp(y_bar: Any, primals: Sequence[Any], out: Any, params: dict,
            needs: Sequence[bool]) -> list:
        cts: list = [None] * len(codes)
        out_shape = None
        for i, code in enumerate(codes):
            if not needs[i] or code == _NONDIFF:
                continue
            if code == _ONE:
                ct = y_bar
            elif code == _MINUS_ONE:
                ct = neg(y_bar)
            else:
                ct = _scale(code, partials[i](*primals, out, **params) if params else
                            partials[i](*primals, out), y_bar)
            if type(ct) is float:  # a number has no shape to sum back to (the Value engine)
                cts[i] = ct
                continue
            if out_shape is None:
                out_shape = shape_of(out)
            x_shape = shape_of(primals[i])
            if x_shape != out_shape:
                ct = unbroadcast(ct, x_shape, len(out_shape))
            cts[i] = ct
        return cts

    return jvp, vjp


def _zeros_tangent(like: Any, like_primal: Any, primal: Any) -> np.ndarray:
    """A zero tangent for ``primal`` with the batch shape of the tangent ``like``."""
    t_shape = shape_of(like)
    batch = t_shape[:len(t_shape) - len(shape_of(like_primal))]
    return np.zeros(batch + shape_of(primal), dtype=np.result_type(raw(like)))


def _fill_tangents(tangents: Sequence[Any], primals: Sequence[Any],
                   variables: int | None = None) -> list | None:
    """The tangents of a linear op's inputs, zeros where an input has none. Inputs from position
    ``variables`` on are operands that the map is not linear in (the index arrays of getitem,
    which have no transpose): they are passed as they are."""
    first = next((i for i, t in enumerate(tangents) if t is not None), None)
    if first is None:
        return None
    n = len(tangents) if variables is None else variables
    return [primals[i] if i >= n else t if t is not None else
            _zeros_tangent(tangents[first], primals[first], primals[i])
            for i, t in enumerate(tangents)]


def linear_rules(op: Any, transposes: Sequence[Rule | None] | Rule) -> tuple[Rule, Rule]:
    # A linear op is linear in the inputs that have a transpose; any further inputs (index
    # arrays) are operands it is not linear in, passed to the tangent map as they are.
    variables = None if callable(transposes) else len(tuple(transposes))

    def jvp(tangents: Sequence[Any], primals: Sequence[Any], out: Any, params: dict) -> Any:
        if len(tangents) == 1:
            x_dot = tangents[0]
            return None if x_dot is None else bind(op, x_dot, **params)
        filled = _fill_tangents(tangents, primals, variables)
        return None if filled is None else bind(op, *filled, **params)

    if callable(transposes):  # variadic: one rule that takes the input's position
        variadic = transposes

        def vjp(y_bar: Any, primals: Sequence[Any], out: Any, params: dict,
                needs: Sequence[bool]) -> list:
            return [variadic(y_bar, i, *primals, **params) if need else None
                    for i, need in enumerate(needs)]
    else:
        fixed = tuple(transposes)

        def vjp(y_bar: Any, primals: Sequence[Any], out: Any, params: dict,
                needs: Sequence[bool]) -> list:
            cts = [t(y_bar, *primals, **params) if needs[i] and t is not None else None
                   for i, t in enumerate(fixed)]
            if len(primals) > len(cts):  # operands without a transpose (index arrays)
                cts += [None] * (len(primals) - len(cts))
            return cts

    return jvp, vjp


def bilinear_rules(op: Any, transposes: tuple) -> tuple[Rule, Rule]:
    def jvp(tangents: Sequence[Any], primals: Sequence[Any], out: Any, params: dict) -> Any:
        out_shape = shape_of(out)
        total = None
        for i, x_dot in enumerate(tangents):
            if x_dot is None:
                continue
            args = list(primals)
            args[i] = align(x_dot, shape_of(primals[i]), len(out_shape))
            term = bind(op, *args, **params)
            total = term if total is None else add(total, term)
        return None if total is None else _expand(total, out_shape)

    def vjp(y_bar: Any, primals: Sequence[Any], out: Any, params: dict,
            needs: Sequence[bool]) -> list:
        out_ndim = len(shape_of(out))
        return [unbroadcast(t(y_bar, *primals, **params), shape_of(primals[i]), out_ndim)
                if needs[i] else None for i, t in enumerate(transposes)]

    return jvp, vjp


def explicit_rules(jvps: tuple, vjps: tuple, outputs: int = 1) -> tuple[Rule, Rule]:
    def jvp(tangents: Sequence[Any], primals: Sequence[Any], out: Any, params: dict) -> Any:
        total = None
        for i, x_dot in enumerate(tangents):
            if x_dot is None or jvps[i] is None:
                continue
            term = jvps[i](x_dot, *primals, out, **params)
            if outputs == 1:
                total = term if total is None else add(total, term)
            elif total is None:
                total = tuple(term)
            else:  # several outputs: tangents add output by output (None: a zero tangent)
                total = tuple(b if a is None else a if b is None else add(a, b)
                              for a, b in zip(total, term))
        return total

    def vjp(y_bar: Any, primals: Sequence[Any], out: Any, params: dict,
            needs: Sequence[bool]) -> list:
        if outputs != 1:
            y_bar = _fill_cotangents(y_bar, out)
        return [v(y_bar, *primals, out, **params) if needs[i] and v is not None else None
                for i, v in enumerate(vjps)]

    return jvp, vjp


def variadic_rules(jvp_rule: Rule, vjp_rule: Rule) -> tuple[Rule, Rule]:
    """Explicit rules of an op that takes any number of inputs: each rule takes the input's
    position after the tangent or cotangent."""
    def jvp(tangents: Sequence[Any], primals: Sequence[Any], out: Any, params: dict) -> Any:
        total = None
        for i, x_dot in enumerate(tangents):
            if x_dot is not None:
                term = jvp_rule(x_dot, i, *primals, out=out, **params)
                total = term if total is None else add(total, term)
        return total

    def vjp(y_bar: Any, primals: Sequence[Any], out: Any, params: dict,
            needs: Sequence[bool]) -> list:
        return [vjp_rule(y_bar, i, *primals, out=out, **params) if need else None
                for i, need in enumerate(needs)]

    return jvp, vjp


class Several(list):
    """The cotangents of an op's several outputs, as a node receives them: one entry per output,
    None where an output has received none (yet)."""

    __slots__ = ()

    def merged(self, other: Several) -> Several:
        """Self with ``other``'s cotangents added in, output by output."""
        for k, c in enumerate(other):
            if c is not None:
                self[k] = c if self[k] is None else add(self[k], c)
        return self


def select_vjp(y_bar: Any, primals: Sequence[Any], out: Any, params: dict,
                needs: Sequence[bool]) -> list:
    ct = Several([None] * params["count"])
    ct[params["index"]] = y_bar
    return [ct]


def select_jvp(tangents: Sequence[Any], primals: Sequence[Any], out: Any, params: dict) -> Any:
    t = tangents[0]
    return None if t is None else t[params["index"]]


class Filled(tuple):
    """The cotangents of an op's several outputs as its VJP rules receive them: zeros where an
    output received none, and ``received[k]`` saying which did, so that a rule can skip the work
    of a zero (eigh's vectors when only its values are used)."""

    received: tuple[bool, ...]


def received(y_bar: Any, k: int) -> bool:
    """Whether output ``k`` of an op with several outputs received a cotangent (a rule called
    with a plain tuple, as a test may call it, received them all)."""
    return getattr(y_bar, "received", None) is None or y_bar.received[k]


def _fill_cotangents(y_bars: Sequence[Any], outs: Sequence[Any]) -> Filled:
    """The cotangents of an op's several outputs, zeros (with the others' batch axes) where an
    output received none."""
    first = next((k for k, c in enumerate(y_bars) if c is not None), None)
    if first is None:
        raise AssertionError("a node runs only when one of its outputs has a cotangent")
    ct_shape = shape_of(y_bars[first])
    batch = ct_shape[:len(ct_shape) - len(shape_of(outs[first]))]
    filled = Filled(np.zeros(batch + shape_of(o), dtype=dtype_of(raw(o))) if c is None else c
                    for c, o in zip(y_bars, outs))
    filled.received = tuple(c is not None for c in y_bars)
    return filled
