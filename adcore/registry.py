"""The operator registry: one record per differentiable op, its rules derived from its kind.

An op is declared once, with its forward rule (``impl``) and *one* derivative description chosen by
its kind; ``defop`` derives the pair of rules the engines call:

| kind        | you declare                  | JVP (forward mode)        | VJP (reverse mode)      |
| ----------- | ---------------------------- | ------------------------- | ----------------------- |
| elementwise | ``partials``: d out / d x_i  | sum_i partial_i * x_dot_i | partial_i * y_bar,      |
|             |                              |                           | summed back to x_i      |
| linear      | ``transpose``: one per input | the op on the tangents    | the transpose rules     |
| bilinear    | ``bilinear``: transpose each | product rule with the op  | transposes, summed back |
| explicit    | ``jvp``, ``vjp``: per input  | sum of per-input rules    | the per-input rules     |

Rule signatures (``primals`` are the op's inputs, ``out`` its primal output, params keyword-only):

- partial:      ``p(*primals, out, **params)``, the number 1 or -1, or None (not differentiable)
- transpose:    ``t(y_bar, *primals, **params)`` (linear and bilinear ops); a variadic op, which
                takes any number of inputs (concatenate, stack), gives one rule
                ``t(y_bar, i, *primals, **params)`` for its input i
- explicit jvp: ``j(x_dot, *primals, out, **params)``, summed over the inputs that have tangents
- explicit vjp: ``v(y_bar, *primals, out, **params)``

Rules are written with adcore's op functions, never with numpy on raw data, so that an engine can
trace them again: that is what makes higher derivatives work. Tangents and cotangents may carry
extra *leading* batch axes; the derived rules and the ops' parameters (negative axes, core shapes)
keep every rule correct on a batch.

The engines call ``op.jvp(tangents, primals, out, params)`` (tangents hold None where an input has
no tangent) and ``op.vjp(y_bar, primals, out, params, needs)`` (a list with None where ``needs[i]``
is false or input i is not differentiable).

What a VJP reads is derived, not declared: a linear op's transpose reads only shapes and dtypes; any
other rule reads the parameters its code names (``lambda x, out: sub(1, mul(out, out))`` reads
``out``, not ``x``). A reverse-mode node keeps just those values (the others as ``Meta``: shape
and dtype), and checks before running the rule that none of them was modified in place.
"""
from __future__ import annotations

import dis
import functools
import inspect
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from adcore.levels import bind, raw
from adcore.shapes import dtype_of, shape_of

Rule = Callable[..., Any]

registry: dict[str, Op] = {}


class Op:
    """A differentiable operation: forward rule, JVP, VJP, test domain and public function.

    Besides its rules an op records what they read (``reads``: per input, the positions among
    ``(*primals, out)`` that the VJP for that input reads), which a reverse-mode node uses to keep
    only those values and to check that none of them changed before it runs, and how users reach it
    (``methods``, ``operator``, ``inplace``, ``numpy``), from which the engines build their method
    tables and NumPy protocol tables.
    """

    __slots__ = ("name", "impl", "jvp", "vjp", "kind", "domain", "fn", "doc", "variadic", "reads",
                 "_keeps", "methods", "operator", "inplace", "numpy", "view", "partials",
                 "outputs", "numpy_methods", "torch_methods", "variables", "fresh")

    def __init__(self, name: str, impl: Callable[..., Any], jvp: Rule, vjp: Rule, *,
                 kind: str = "custom", domain: Callable[..., Any] | None = None, doc: str = "",
                 variadic: bool = False, reads: tuple | None = None) -> None:
        self.name = name
        self.variadic = variadic
        self.impl = impl
        self.jvp = jvp
        self.vjp = vjp
        self.kind = kind
        self.domain = domain
        self.fn: Callable[..., Any] | None = None
        self.doc = doc
        self.reads = reads  # None: every rule may read every value (custom ops)
        self._keeps: dict = {}
        self.methods: tuple[str, ...] = ()
        self.operator: str | None = None
        self.inplace: tuple[str, ...] = ()
        self.numpy: tuple = ()
        self.view = False
        self.partials: tuple | None = None  # an elementwise op's declared partials, for display
        self.outputs = 1  # several: impl returns a tuple, rules take and give one entry per output
        self.numpy_methods: tuple[str, ...] = ()  # method names of one personality only
        # A linear op's inputs from this position on are operands it is not linear in (index
        # arrays): its transposes read them.
        self.variables: int | None = None
        self.torch_methods: tuple[str, ...] = ()
        # Its result never shares an input's memory, and is real when its operands are (numpy's
        # ufuncs): the tape skips those two checks.
        self.fresh = False

    def __call__(self, *args: Any, **params: Any) -> Any:
        """Call the op's public function (which checks and canonicalises the parameters); the
        arrays of a variadic op (concatenate, stack) are passed one by one here."""
        if self.fn is None:
            return bind(self, *args, **params)
        return self.fn(args, **params) if self.variadic else self.fn(*args, **params)

    def __repr__(self) -> str:
        return f"<op {self.name} ({self.kind})>"

    def keep(self, needs: tuple[bool, ...], params: dict | None = None
             ) -> tuple[tuple[int, ...], tuple[int, ...], bool]:
        """What the VJP reads when it computes the cotangents ``needs``: (the inputs it reads, the
        inputs it does not read, whether it reads the output). A custom op whose reads are known
        only once it ran (a Function: what its forward saved) answers from its ``ctx``
        parameter."""
        ctx = params.get("ctx") if params else None
        if ctx is not None and hasattr(ctx, "reads"):
            return ctx.reads(len(needs))
        kept = self._keeps.get(needs)
        if kept is None:
            n = len(needs)
            if self.reads is None:
                read = set(range(n + 1))
            else:
                read = set()
                for i, need in enumerate(needs):
                    if need and i < len(self.reads):
                        read.update(self.reads[i])
                if self.variables is not None and any(needs):
                    read.update(range(self.variables, n))
            kept = (tuple(i for i in range(n) if i in read),
                    tuple(i for i in range(n) if i not in read), n in read)
            self._keeps[needs] = kept
        return kept

    def error(self, exc: Exception, args: tuple, params: dict) -> Exception:
        """A numpy error raised again so that it names the op and what it was given."""
        def describe(a: Any) -> str:
            a = raw(a)
            if isinstance(a, (int, float, np.ndarray, np.generic)):
                return f"{shape_of(a)} {dtype_of(a)}" if isinstance(a, np.ndarray) else str(a)
            return f"{type(a).__name__} {a!r:.40}"
        if "broadcast" in str(exc):
            shapes = " and ".join(str(shape_of(raw(a))) for a in args if _has_shape(raw(a)))
            return ValueError(f"{self.name}: shapes {shapes} do not broadcast together: counting "
                              f"from the last axis, each pair of lengths must be equal or one of "
                              f"them 1; reshape or expand one argument")
        message = f"{self.name}: {exc} (arguments: {', '.join(describe(a) for a in args)}"
        if params:
            message += "; " + ", ".join(f"{k}={v!r}" for k, v in params.items())
        message += ")"
        if isinstance(exc, TypeError):
            message += "; pass numbers, numpy arrays or tensors of a numeric dtype"
        kind = next(k for k in (IndexError, ValueError, TypeError) if isinstance(exc, k))
        return kind(message)


def _has_shape(a: Any) -> bool:
    return isinstance(a, (np.ndarray, np.generic, int, float))


def defop(name: str, impl: Callable[..., Any], *,
          partials: Sequence[Any] | None = None,
          transpose: Sequence[Rule | None] | Rule | None = None,
          bilinear: Sequence[Rule] | None = None,
          jvp: Sequence[Rule | None] | None = None,
          vjp: Sequence[Rule | None] | None = None,
          domain: Callable[..., Any] | None = None,
          doc: str = "",
          method: str | Sequence[str] = (),
          numpy_method: str | Sequence[str] = (),
          torch_method: str | Sequence[str] = (),
          operator: str | None = None,
          inplace: str | Sequence[str] = (),
          numpy: Any = (),
          view: bool = False,
          fresh: bool = False,
          outputs: int = 1,
          register: bool = True) -> Op:
    """Declare an op by its kind and derive its JVP/VJP pair (see the module docstring).

    How users reach the op, for the generated tables: ``method`` names the Tensor/Dual (and, for
    elementwise ops, Value) methods that call its public function; ``numpy_method`` and
    ``torch_method`` name methods of one personality only (``x.copy()`` is numpy's name for
    ``clone``; see adcore/methods.py); ``operator`` a Python operator
    (``"add"``: ``x + y``, ``y + x``, ``x += y``); ``inplace`` its in-place method (``"add_"``);
    ``numpy`` the numpy ufuncs or functions that route to it (``np.add``); ``view`` that its result
    may share memory with its first input (reshape, transpose, basic indexing); ``fresh`` that its
    result never shares an input's memory and is real for real operands, as a numpy ufunc's (the
    engines then skip checking both; tests/test_registry.py checks the claim).

    ``outputs=k`` (k > 1) declares an op with several outputs (eigh, slogdet, max with indices):
    ``impl`` returns a tuple of k arrays, and the explicit rules work on tuples: each ``jvp`` entry
    returns a tuple of k output tangents (None for an output it does not move), each ``vjp`` entry
    receives a tuple of k output cotangents (zeros where an output received none). The engines give
    back a tuple of k values of their own; a node has several outputs.

    ``register=False`` makes an op that the public ``registry`` does not list (tests use it for
    deliberately wrong rules, and to register a throwaway op for a while with ``register(op)``).
    """
    given = [k for k, v in (("partials", partials), ("transpose", transpose),
                            ("bilinear", bilinear), ("jvp/vjp", jvp or vjp)) if v]
    if len(given) != 1:
        raise TypeError(f"defop({name!r}): declare exactly one of partials, transpose, bilinear or "
                        f"jvp+vjp; got {given or 'none'}")
    op = Op(name, impl, _no_rule, _no_rule, domain=domain, doc=doc, variadic=callable(transpose))
    op.outputs = outputs
    if outputs != 1 and (jvp is None or vjp is None):
        raise TypeError(f"defop({name!r}): an op with {outputs} outputs declares explicit jvp and "
                        f"vjp rules (one entry per input) that work on tuples of outputs")
    if partials is not None:
        op.kind = "elementwise"
        op.partials = tuple(partials)
        op.jvp, op.vjp = _elementwise_rules(op.partials)
        n = len(partials)
        op.reads = tuple(_reads(p, 0, n + 1) if callable(p) else frozenset() for p in partials)
    elif transpose is not None:
        op.kind = "linear"
        op.jvp, op.vjp = _linear_rules(op, transpose)
        op.variables = None if callable(transpose) else len(tuple(transpose))
        op.reads = ()  # a linear map's transpose reads shapes and dtypes only
    elif bilinear is not None:
        op.kind = "bilinear"
        op.jvp, op.vjp = _bilinear_rules(op, tuple(bilinear))
        op.reads = tuple(_reads(t, 1, len(bilinear)) for t in bilinear)
    else:
        if jvp is None or vjp is None or len(jvp) != len(vjp):
            raise TypeError(f"defop({name!r}): explicit rules need jvp and vjp, one entry per "
                            f"input")
        op.kind = "explicit"
        op.jvp, op.vjp = _explicit_rules(tuple(jvp), tuple(vjp), outputs)
        op.reads = tuple(_reads(v, 1, len(vjp) + 1) if v is not None else frozenset()
                         for v in vjp)
    op.methods = _names(method)
    op.numpy_methods = _names(numpy_method)
    op.torch_methods = _names(torch_method)
    op.operator = operator
    op.inplace = (inplace,) if isinstance(inplace, str) else tuple(inplace)
    op.numpy = tuple(numpy) if isinstance(numpy, (tuple, list)) else (numpy,)
    op.view = view
    op.fresh = fresh
    if register:
        _register(op)
    return op


def _names(names: str | Sequence[str]) -> tuple[str, ...]:
    return (names,) if isinstance(names, str) else tuple(names)


def _reads(rule: Rule, skip: int, n: int) -> frozenset:
    """The positions among a rule's n value parameters (after ``skip`` leading ones) that its code
    reads. A rule that is not plain Python code, or takes ``*args``, reads them all."""
    code = getattr(rule, "__code__", None)
    if code is None or code.co_flags & inspect.CO_VARARGS:
        return frozenset(range(n))
    names = code.co_varnames[skip:code.co_argcount]
    used = set(code.co_cellvars)  # captured by an inner function
    for ins in dis.get_instructions(code):
        if "FAST" in ins.opname or "DEREF" in ins.opname or "CLOSURE" in ins.opname:
            used.update(ins.argval if isinstance(ins.argval, tuple) else (ins.argval,))
    return frozenset(i for i, name in enumerate(names) if name in used)


class PublicFunction:
    """A public function that is not an op of its own: a composition of ops (squeeze is a reshape)
    or a function without a derivative (a comparison, argmax). Declared with the same user-facing
    names as an op, so that the engines' method and protocol tables include it."""

    __slots__ = ("name", "fn", "methods", "operator", "inplace", "numpy", "doc", "kind",
                 "numpy_methods", "torch_methods")

    def __init__(self, name: str, fn: Callable[..., Any], *, method: str | Sequence[str] = (),
                 operator: str | None = None, numpy: Any = (), doc: str = "",
                 numpy_method: str | Sequence[str] = (),
                 torch_method: str | Sequence[str] = ()) -> None:
        self.name = name
        self.fn = fn
        self.methods = _names(method)
        self.numpy_methods = _names(numpy_method)
        self.torch_methods = _names(torch_method)
        self.operator = operator
        self.inplace: tuple[str, ...] = ()
        self.numpy = tuple(numpy) if isinstance(numpy, (tuple, list)) else (numpy,)
        self.doc = doc
        self.kind = "function"


functions: dict[str, PublicFunction] = {}

# Whoever builds tables from the registry (methods, NumPy protocols, the Value engine) listens here:
# install(op) for every registered op or public function, now and later; uninstall(op) when one is
# taken out.
_listeners: list[tuple[Callable[[Any], None], Callable[[Any], None]]] = []


def subscribe(install: Callable[[Any], None], uninstall: Callable[[Any], None]) -> None:
    """Call ``install`` for every op and public function declared so far, and for each declared
    later."""
    _listeners.append((install, uninstall))
    for op in [*registry.values(), *functions.values()]:
        install(op)


def declare(*, method: str | Sequence[str] = (), operator: str | None = None, numpy: Any = (),
            name: str | None = None, numpy_method: str | Sequence[str] = (),
            torch_method: str | Sequence[str] = ()
            ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorator: list a public function that is not an op (see ``PublicFunction``) in the tables
    built from the registry, under its method names (both personalities', or one's), operator
    and NumPy functions."""
    def attach(fn: Callable[..., Any]) -> Callable[..., Any]:
        record = PublicFunction(name or fn.__name__, fn, method=method, operator=operator,
                                numpy=numpy, doc=fn.__doc__ or "", numpy_method=numpy_method,
                                torch_method=torch_method)
        if record.name in functions:
            raise ValueError(f"declare: a public function named {record.name!r} already exists")
        functions[record.name] = record
        for install, _ in _listeners:
            install(record)
        return fn
    return attach


def _register(op: Op) -> Op:
    """Add ``op`` to the registry and to every table built from it (methods, NumPy routes)."""
    if op.name in registry:
        raise ValueError(f"defop: an op named {op.name!r} is already registered")
    if op.fn is None:
        op.fn = functools.partial(bind, op)
    registry[op.name] = op
    for install, _ in _listeners:
        install(op)
    return op


register = _register  # defop's keyword ``register`` shadows the name inside defop


def unregister(op: Op) -> None:
    """Take ``op`` out of the registry and of every table built from it."""
    if registry.get(op.name) is not op:
        raise ValueError(f"unregister: {op!r} is not registered")
    del registry[op.name]
    for _, uninstall in _listeners:
        uninstall(op)


def public(op: Op) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorator: mark ``fn`` as the public function of ``op`` (what users and the tests call)."""
    def attach(fn: Callable[..., Any]) -> Callable[..., Any]:
        _reinstall(op, fn)
        fn.op = op  # type: ignore[attr-defined]
        if not op.doc:
            op.doc = fn.__doc__ or ""
        return fn
    return attach


def _reinstall(op: Op, fn: Callable[..., Any]) -> None:
    """Give ``op`` its public function, refreshing the tables that hold the old one."""
    installed = registry.get(op.name) is op
    if installed:
        for _, uninstall in _listeners:
            uninstall(op)
    op.fn = fn
    if installed:
        for install, _ in _listeners:
            install(op)


def _no_rule(*args: Any, **kwargs: Any) -> Any:  # pragma: no cover - replaced by defop
    raise AssertionError("rule not derived")


# ----------------------------------------------------------------------------------------------
# Batch helpers shared by the derived rules. A tangent of an input with shape s has shape
# batch + s; when s has fewer axes than the output (broadcasting), singleton axes are inserted
# after the batch so that numpy aligns the batch with the batch, not with the output's axes.

def _align(x_dot: Any, x_shape: tuple, out_ndim: int) -> Any:
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


def _unbroadcast(ct: Any, x_shape: tuple, out_ndim: int) -> Any:
    """Sum a cotangent of shape batch + core (core has out_ndim axes) back to batch + x_shape."""
    ct_shape = shape_of(ct)
    core = ct_shape[len(ct_shape) - out_ndim:] if out_ndim else ()
    if core == x_shape:
        return ct
    return bind(sum_to_op, ct, shape=x_shape, in_shape=core)


_NONDIFF, _ONE, _MINUS_ONE, _RULE = range(4)


def _partial_code(p: Any) -> int:
    if p is None:
        return _NONDIFF
    if callable(p):
        return _RULE
    if p == 1:
        return _ONE
    if p == -1:
        return _MINUS_ONE
    raise TypeError(f"a partial must be a rule, 1, -1 or None, not {p!r}")


def _elementwise_rules(partials: tuple) -> tuple[Rule, Rule]:
    codes = tuple(_partial_code(p) for p in partials)

    def term(code: int, i: int, v: Any, primals: Sequence[Any], out: Any, params: dict) -> Any:
        """partial_i * v: a tangent or a cotangent."""
        if code == _ONE:
            return v
        if code == _MINUS_ONE:
            return neg(v)
        partial = partials[i](*primals, out, **params)
        if type(v) is float and type(partial) is float:
            return partial * v  # Python floats (the Value engine): mul itself, one call less
        return mul(partial, v)

    def jvp(tangents: Sequence[Any], primals: Sequence[Any], out: Any, params: dict) -> Any:
        out_shape = shape_of(out)
        total = None
        for i, x_dot in enumerate(tangents):
            code = codes[i]
            if x_dot is None or code == _NONDIFF:
                continue
            x_dot = _align(x_dot, shape_of(primals[i]), len(out_shape))
            t = term(code, i, x_dot, primals, out, params)
            total = t if total is None else add(total, t)
        return None if total is None else _expand(total, out_shape)

    if codes == (_RULE,):  # unary: the input has the output's shape, nothing to sum back
        rule = partials[0]

        def unary_vjp(y_bar: Any, primals: Sequence[Any], out: Any, params: dict,
                      needs: Sequence[bool]) -> list:
            if not needs[0]:
                return [None]
            partial = rule(primals[0], out, **params) if params else rule(primals[0], out)
            if type(y_bar) is float and type(partial) is float:
                return [partial * y_bar]  # Python floats (the Value engine): one call less
            return [mul(partial, y_bar)]
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
                partial = (partials[i](*primals, out, **params) if params else
                           partials[i](*primals, out))
                if type(y_bar) is float and type(partial) is float:
                    cts[i] = partial * y_bar  # Python floats (the Value engine): no shapes
                    continue
                ct = mul(partial, y_bar)
            if type(ct) is float:  # a number has no shape to sum back to
                cts[i] = ct
                continue
            if out_shape is None:
                out_shape = shape_of(out)
            x_shape = shape_of(primals[i])
            if x_shape != out_shape:
                ct = _unbroadcast(ct, x_shape, len(out_shape))
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


def _linear_rules(op: Op, transposes: Sequence[Rule | None] | Rule) -> tuple[Rule, Rule]:
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


def _bilinear_rules(op: Op, transposes: tuple) -> tuple[Rule, Rule]:
    def jvp(tangents: Sequence[Any], primals: Sequence[Any], out: Any, params: dict) -> Any:
        out_shape = shape_of(out)
        total = None
        for i, x_dot in enumerate(tangents):
            if x_dot is None:
                continue
            args = list(primals)
            args[i] = _align(x_dot, shape_of(primals[i]), len(out_shape))
            term = bind(op, *args, **params)
            total = term if total is None else add(total, term)
        return None if total is None else _expand(total, out_shape)

    def vjp(y_bar: Any, primals: Sequence[Any], out: Any, params: dict,
            needs: Sequence[bool]) -> list:
        out_ndim = len(shape_of(out))
        return [_unbroadcast(t(y_bar, *primals, **params), shape_of(primals[i]), out_ndim)
                if needs[i] else None for i, t in enumerate(transposes)]

    return jvp, vjp


def _explicit_rules(jvps: tuple, vjps: tuple, outputs: int = 1) -> tuple[Rule, Rule]:
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


def _select_vjp(y_bar: Any, primals: Sequence[Any], out: Any, params: dict,
                needs: Sequence[bool]) -> list:
    ct = Several([None] * params["count"])
    ct[params["index"]] = y_bar
    return [ct]


def _select_jvp(tangents: Sequence[Any], primals: Sequence[Any], out: Any, params: dict) -> Any:
    t = tangents[0]
    return None if t is None else t[params["index"]]


# Output ``index`` of an op with several outputs, as the tape records it: the node of each output
# is a selection from the op's node, whose transpose puts the output's cotangent in its place
# among the op's outputs. Not a public op: engines other than the tape return tuples directly.
select_op = Op("select", lambda outs, *, index, count: outs[index], _select_jvp, _select_vjp,
               kind="linear", reads=())


def _fill_cotangents(y_bars: Sequence[Any], outs: Sequence[Any]) -> tuple:
    """The cotangents of an op's several outputs, zeros (with the others' batch axes) where an
    output received none."""
    first = next((k for k, c in enumerate(y_bars) if c is not None), None)
    if first is None:
        raise AssertionError("a node runs only when one of its outputs has a cotangent")
    ct_shape = shape_of(y_bars[first])
    batch = ct_shape[:len(ct_shape) - len(shape_of(outs[first]))]
    return tuple(np.zeros(batch + shape_of(o), dtype=dtype_of(raw(o))) if c is None else c
                 for c, o in zip(y_bars, outs))


# The derived rules are written with these ops, which are themselves declared with defop; importing
# them last breaks the cycle (adcore/__init__ imports this module before adcore.ops).
from adcore.ops.elementwise import add, mul, neg  # noqa: E402
from adcore.ops.shape import broadcast_to_op, reshape_op, sum_to_op  # noqa: E402
