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
- explicit vjp: ``v(y_bar, *primals, out, **params)``; an op with any number of inputs (einsum)
                gives one rule of each, ``j(x_dot, i, *primals, out, **params)`` and
                ``v(y_bar, i, *primals, out, **params)``, for its input i

Rules are written with adcore's op functions, never with numpy on raw data, so that an engine can
trace them again: that is what makes higher derivatives work. Tangents and cotangents may carry
extra *leading* batch axes; the derived rules and the ops' parameters (negative axes, core shapes)
keep every rule correct on a batch.

The engines call ``op.jvp(tangents, primals, out, params)`` (tangents hold None where an input has
no tangent) and ``op.vjp(y_bar, primals, out, params, needs)`` (a list with None where ``needs[i]``
is false or input i is not differentiable).

What a VJP reads is declared where the kind does not decide it: a linear op's transpose reads only
shapes and dtypes, a constant partial (1, -1) nothing; any other rule reads what the declaration's
``saves=`` names, one string of the rule's parameter names per input (tanh, whose partial is
``lambda x, out: sub(1, mul(out, out))``, declares ``saves="out"``; an op without ``saves=`` may
read every value). A reverse-mode node keeps just those values (the others as ``Meta``: shape and
dtype), and checks before running the rule that none of them was modified in place; the
registry suite checks each declaration against the rule's code.
"""
from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from adcore import derive
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
                 "outputs", "numpy_methods", "torch_methods", "variables", "ufunc", "broadcasts",
                 "accumulate")

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
        self.ufunc = False
        # Its inputs broadcast against each other, aligned from the last axis (elementwise and
        # bilinear ops, solve's stacks): vmap lines up their batch axes accordingly.
        self.broadcasts = False
        # A linear op whose transpose spreads a small cotangent into a large zero array (getitem:
        # a slice's cotangent into the whole input's shape) may declare how to add it into an
        # existing array of that shape in place instead: the reverse engine then adds each
        # further cotangent into the input's running sum, at the cost of the slice alone.
        self.accumulate: Callable[..., None] | None = None

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
        kind = next(k for k in (np.linalg.LinAlgError, IndexError, ValueError, TypeError)
                    if isinstance(exc, k))
        return kind(message)


def _has_shape(a: Any) -> bool:
    return isinstance(a, (np.ndarray, np.generic, int, float))


def defop(name: str, impl: Callable[..., Any], *,
          partials: Sequence[Any] | None = None,
          transpose: Sequence[Rule | None] | Rule | None = None,
          bilinear: Sequence[Rule] | None = None,
          jvp: Sequence[Rule | None] | Rule | None = None,
          vjp: Sequence[Rule | None] | Rule | None = None,
          domain: Callable[..., Any] | None = None,
          doc: str = "",
          method: str | Sequence[str] = (),
          numpy_method: str | Sequence[str] = (),
          torch_method: str | Sequence[str] = (),
          operator: str | None = None,
          inplace: str | Sequence[str] = (),
          numpy: Any = (),
          view: bool = False,
          ufunc: bool = False,
          saves: str | Sequence[str] | None = None,
          outputs: int = 1,
          broadcasts: bool = False,
          accumulate: Callable[..., None] | None = None,
          register: bool = True) -> Op:
    """Declare an op by its kind and derive its JVP/VJP pair (see the module docstring).

    How users reach the op, for the generated tables: ``method`` names the Tensor/Dual (and, for
    elementwise ops, Value) methods that call its public function; ``numpy_method`` and
    ``torch_method`` name methods of one personality only (``x.copy()`` is numpy's name for
    ``clone``; see adcore/methods.py); ``operator`` a Python operator
    (``"add"``: ``x + y``, ``y + x``, ``x += y``); ``inplace`` its in-place method (``"add_"``);
    ``numpy`` the numpy ufuncs or functions that route to it (``np.add``); ``view`` that its result
    may share memory with its first input (reshape, transpose, basic indexing); ``ufunc`` that its
    result never shares an input's memory and is real for real operands, as a numpy ufunc's (the
    engines then skip checking both; tests/test_registry.py checks the claim).

    ``saves`` names what each rule reads (see the module docstring): ``saves=("y", "x")`` for
    mul, whose partials are ``lambda x, y, out: y`` and ``lambda x, y, out: x``.

    ``outputs=k`` (k > 1) declares an op with several outputs (eigh, slogdet, max with indices):
    ``impl`` returns a tuple of k arrays, and the explicit rules work on tuples: each ``jvp`` entry
    returns a tuple of k output tangents (None for an output it does not move), each ``vjp`` entry
    receives a tuple of k output cotangents (zeros where an output received none). The engines give
    back a tuple of k values of their own; a node has several outputs.

    ``broadcasts=True`` says that an explicit op's inputs broadcast against each other from the
    last axis, as numpy's ufuncs do (solve's stacks of matrices); elementwise and bilinear ops
    always do.

    ``accumulate(total, y_bar, *operands, **params)`` (a linear op only) adds in place into
    ``total``, an array of the first input's shape, what the transpose would give for ``y_bar``:
    the transpose's own computation, into an existing array instead of zeros.

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
        op.jvp, op.vjp = derive.elementwise_rules(op.partials)
        op.reads = derive.saved(op.partials, saves, 0, len(partials) + 1, name)
    elif transpose is not None:
        op.kind = "linear"
        op.jvp, op.vjp = derive.linear_rules(op, transpose)
        op.variables = None if callable(transpose) else len(tuple(transpose))
        op.reads = ()  # a linear map's transpose reads shapes and dtypes only
    elif bilinear is not None:
        op.kind = "bilinear"
        op.jvp, op.vjp = derive.bilinear_rules(op, tuple(bilinear))
        op.reads = derive.saved(tuple(bilinear), saves, 1, len(bilinear), name)
    elif callable(jvp) and callable(vjp):  # any number of inputs: one rule of each
        op.kind = "explicit"
        op.jvp, op.vjp = derive.variadic_rules(jvp, vjp)
        op.reads = None  # the rule for input i may read every input
    else:
        if (jvp is None or vjp is None or callable(jvp) or callable(vjp)
                or len(jvp) != len(vjp)):
            raise TypeError(f"defop({name!r}): explicit rules need jvp and vjp, one entry per "
                            f"input (or one rule of each, taking the input's position)")
        op.kind = "explicit"
        op.jvp, op.vjp = derive.explicit_rules(tuple(jvp), tuple(vjp), outputs)
        op.reads = derive.saved(tuple(vjp), saves, 1, len(vjp) + 1, name)
    op.methods = _names(method)
    op.numpy_methods = _names(numpy_method)
    op.torch_methods = _names(torch_method)
    op.operator = operator
    op.inplace = (inplace,) if isinstance(inplace, str) else tuple(inplace)
    op.numpy = tuple(numpy) if isinstance(numpy, (tuple, list)) else (numpy,)
    op.view = view
    op.ufunc = ufunc
    op.broadcasts = broadcasts or op.kind in ("elementwise", "bilinear")
    op.accumulate = accumulate
    if register:
        _register(op)
    return op


def _names(names: str | Sequence[str]) -> tuple[str, ...]:
    return (names,) if isinstance(names, str) else tuple(names)


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


# Output ``index`` of an op with several outputs, as the tape records it: the node of each output
# is a selection from the op's node, whose transpose puts the output's cotangent in its place
# among the op's outputs. Not a public op: engines other than the tape return tuples directly.
select_op = Op("select", lambda outs, *, index, count: outs[index], derive.select_jvp,
               derive.select_vjp, kind="linear", reads=())
