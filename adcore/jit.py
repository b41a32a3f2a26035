"""jit: trace a function once into a program of registry ops, then run the program alone.

``jit(f)(*args)`` calls ``f`` once per signature (the pytree structure of the arguments, each
array's shape and dtype, each Python number's type, the values of static arguments) on ``Traced``
values, as a level of its own beside vmap's: every op that reaches the level is computed one level
down, on the real values, and recorded as one equation of a ``Program``. The program is then
compiled to Python source (``Compiled.source``) that calls the ops' forward rules in sequence, and
later calls with the same signature run that source alone, with none of the bookkeeping of the
levels above it. Because every derivative rule is written in registry ops, ``jit(grad(f))`` records
the whole forward and backward computation as one flat program.

What is traced, and what is not:

- Values that depend on the arguments, or on an array or Tensor from outside ``f``, are variables
  of the program. A value computed from Python numbers alone is computed once, while tracing, and
  kept; so is what numpy computes by itself (``np.ones(3) * 2``), which no op of the library sees.
- Python numbers among the arguments are traced (a changing learning rate does not retrace) and
  stay Python numbers, so numpy's promotion is the same as without jit; mark them static
  (``static_argnums``) when ``f``'s Python code branches on them.
- An array or Tensor that ``f`` closes over enters the program as a reference to that object: it
  is read at each call (a parameter updated in place is seen), never copied. The trace level
  *captures* the ops that read only such values (``levels.capturing``), so that ``ops.exp(w)`` is
  a step of the program, not a value frozen while tracing.
- Python control flow on a traced value (``if x > 0:``, ``float(x)``) is refused at trace time with
  the user's line: use ``where`` or make the argument static. Loops over Python ranges unroll.
- Changing an argument in place is refused; values created inside ``f`` may be changed in place.

Under an enclosing transformation (``grad(jit(f))``, ``vmap(jit(f))``, jit inside jit) the
arguments are values of that transformation, and ``jit`` calls ``f`` itself: only the outermost
``jit`` compiles.
"""
from __future__ import annotations

import functools
import os
import sys
import warnings
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import numpy as np

from adcore import views
from adcore.levels import (
    Level,
    bind,
    capture_open,
    captures_open,
    new_level,
    open_levels,
    raw,
    resume_capture,
    speaks_numpy,
    suspend_capture,
    value_types,
)
from adcore.methods import ArrayMethods, is_traced_depth
from adcore.promotion import PROMOTING_KINDS, numpy_operands
from adcore.pytree import LEAF, flatten, unflatten
from adcore.shapes import check_real, shape_of

__all__ = ["Compiled", "Program", "jit", "make_program", "refuse_random_draws"]

_NUMBERS = (bool, int, float)
# Files of the library: a traced value used in Python control flow is reported at the first
# frame outside them, which is the user's line.
_LIBRARY = tuple(os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep + name
                 + os.sep for name in ("adcore", "forward", "reverse", "nn", "optim"))


# --- the program -----------------------------------------------------------------------------

class Eqn:
    """One step of a program: ``outs = fn(*ins, **params)``. ``ins`` holds variable numbers
    (>= 0) and constant numbers (< 0, ``~index`` into the program's constants)."""

    __slots__ = ("name", "fn", "ins", "params", "outs", "dispatch")

    def __init__(self, name: str, fn: Any, ins: list[int], params: dict, outs: list[int],
                 dispatch: bool) -> None:
        self.name = name  # the op's name, for the listing
        self.fn = fn  # the op (or the function without a derivative) that was applied
        self.ins = ins
        self.params = params
        self.outs = outs
        # True when a constant is a value of a level below jit's (a Tensor recording a tape): the
        # compiled step then dispatches through bind, so that level records it as it would eagerly.
        self.dispatch = dispatch


class Program:
    """A traced function: its inputs, its equations in order, its outputs and the constants they
    read. ``str(program)`` is the listing, one line per equation, as a jaxpr is."""

    __slots__ = ("inputs", "eqns", "outputs", "consts", "avals", "types", "out_spec")

    def __init__(self) -> None:
        self.inputs: list[int] = []
        self.eqns: list[Eqn] = []
        self.outputs: list[int] = []
        self.consts: list[Any] = []
        self.avals: list[tuple[tuple, Any]] = []  # per variable: (shape, dtype)
        self.types: list[type] = []  # per variable: the type of its value (ndarray, float, ...)
        self.out_spec: Any = None

    def var(self, value: Any) -> int:
        self.avals.append((shape_of(value), _dtype_of(value)))
        self.types.append(type(value))
        return len(self.avals) - 1

    def type_of(self, ref: int) -> type:
        return type(self.consts[~ref]) if ref < 0 else self.types[ref]

    def dtype_of(self, ref: int) -> Any:
        return _dtype_of(self.consts[~ref]) if ref < 0 else self.avals[ref][1]

    def const(self, value: Any) -> int:
        for i, c in enumerate(self.consts):
            if c is value:
                return ~i
        self.consts.append(value)
        return ~(len(self.consts) - 1)

    def name(self, ref: int) -> str:
        if ref < 0:
            return f"c{~ref}"
        return _letters(ref)

    def __str__(self) -> str:
        def typed(v: int) -> str:
            shape, dtype = self.avals[v]
            return f"{self.name(v)}:{_short_dtype(dtype)}{list(shape)}"

        lines = ["{ lambda " + ", ".join(typed(v) for v in self.inputs) + " ."]
        for k, c in enumerate(self.consts):
            lines.append(f"    c{k} = {_describe_const(c)}")
        for e in self.eqns:
            params = " ".join(f"{k}={_short_repr(v)}" for k, v in e.params.items())
            args = " ".join(self.name(r) for r in e.ins)
            lines.append(f"    {' '.join(typed(v) for v in e.outs)} = {e.name} {args}"
                         + (f" {params}" if params else ""))
        outs = ", ".join(self.name(r) for r in self.outputs)
        lines.append(f"  in ({outs}) }}")
        return "\n".join(lines)

    __repr__ = __str__


def _letters(n: int) -> str:
    """0 -> a, 25 -> z, 26 -> ba, ...: the listing's variable names."""
    s = ""
    while True:
        s = chr(ord("a") + n % 26) + s
        n //= 26
        if n == 0:
            return s


def _dtype_of(value: Any) -> Any:
    value = raw(value)
    dtype = getattr(value, "dtype", None)
    return dtype if isinstance(dtype, np.dtype) else type(value)


def _short_dtype(dtype: Any) -> str:
    if isinstance(dtype, np.dtype):
        return {"f": "f", "i": "i", "u": "u", "b": "bool", "c": "c"}.get(dtype.kind, dtype.kind) \
            + (str(dtype.itemsize * 8) if dtype.kind != "b" else "")
    return getattr(dtype, "__name__", str(dtype))


def _short_repr(v: Any) -> str:
    if isinstance(v, np.ndarray):
        return f"array{list(v.shape)}"
    text = repr(v)
    return text if len(text) <= 40 else text[:37] + "..."


def _describe_const(c: Any) -> str:
    if isinstance(c, np.ndarray):
        return f"{_short_dtype(c.dtype)}{list(c.shape)} array" + (
            f" {c.tolist()}" if c.size <= 4 else "")
    if type(c) in value_types:
        return f"{type(c).__name__} {_short_dtype(_dtype_of(c))}{list(shape_of(c))} (read at call)"
    return _short_repr(c)


# --- tracing ---------------------------------------------------------------------------------

class TraceLevel(Level):
    """A jit trace in progress: each op on its values is computed one level down and recorded."""

    __slots__ = ("program",)
    per_call = True
    captures = True

    def __init__(self, depth: int) -> None:
        super().__init__(depth)
        self.program = Program()

    def _operands(self, args: Sequence[Any]) -> tuple[list, list[int], bool]:
        values, refs, dispatch = [], [], False
        program = self.program
        for a in args:
            if type(a) in value_types and a._level is self:
                if a._link is not None:
                    views.fresh(a)
                values.append(a.value)
                refs.append(a._var)
                dispatch = dispatch or type(a.value) in value_types
            else:
                values.append(a)
                refs.append(program.const(a))
                dispatch = dispatch or type(a) in value_types
        return values, refs, dispatch

    def _record(self, name: str, fn: Any, refs: list[int], params: dict, out: Any,
                dispatch: bool, several: bool) -> Any:
        program = self.program
        outs = list(out) if several else [out]
        ids = [program.var(o) for o in outs]
        program.eqns.append(Eqn(name, fn, refs, params, ids, dispatch))
        traced = [make_traced(o, v, self) for o, v in zip(outs, ids)]
        return tuple(traced) if several else traced[0]

    def _own(self, args: tuple) -> bool:
        """Whether an operand is a value of this trace (else the op is captured: it reads only
        arrays and eager values from outside, which the program reads when it runs)."""
        return any(type(a) is Traced and a._level is self for a in args)

    def process(self, op: Any, args: tuple, params: dict) -> Any:
        own = self._own(args)
        if own and self.numpy and op.kind in PROMOTING_KINDS:
            args = numpy_operands(args)
        values, refs, dispatch = self._operands(args)
        outer = suspend_capture()
        try:
            out = bind(op, *values, **params)
        finally:
            resume_capture(outer)
        check_real(op, out, values)
        result = self._record(op.name, op, refs, params, out, dispatch, op.outputs != 1)
        if op.view:
            if own:
                views.link(result, args[0], op, params)
            elif not op.outputs != 1:
                # a view of memory from outside (a closed-over array): refused in place, as an
                # argument is, since the program cannot change it as eager code would
                result._argument = True
        return result

    def nondiff(self, fn: Any, args: tuple, kwargs: dict) -> Any:
        values, refs, dispatch = self._operands(args)
        outer = suspend_capture()
        try:
            out = fn(*values, **kwargs)
        finally:
            resume_capture(outer)
        return self._record(getattr(fn, "name", getattr(fn, "__name__", "fn")), fn, refs, kwargs,
                            out, dispatch or type(out) in value_types, False)

    def constant(self, value: Any) -> Any:
        return make_traced(value, self.program.const(value), self)


class Traced(ArrayMethods):
    """A value inside a jit trace: ``value`` is the real value of this call, ``_var`` its number
    in the program (negative for a constant). Python cannot branch on it: the program must hold
    for every call with the same shapes."""

    __slots__ = ("value", "_var", "_level", "_link", "_box", "_argument", "__weakref__")
    value: Any
    _var: int
    _level: TraceLevel
    _link: views.Link | None
    _box: list | None
    _argument: bool

    @property
    def shape(self) -> tuple:
        return shape_of(self.value)

    def _unwrap(self) -> Any:
        return self.value

    def _traced(self) -> bool:
        return True

    def _snapshot(self) -> Traced:
        return make_traced(self.value, self._var, self._level)

    def _assign(self, other: Traced) -> None:
        self.value = other.value
        self._var = other._var

    def _inplace(self, op: Any, args: tuple, params: dict) -> Traced:
        root = self
        while root._link is not None:
            root = root._link.base
        if root._argument:
            raise TypeError(f"jit: {op.name} in place on an argument of the jitted function or an "
                            f"array it closes over (or a view of one), at {_user_line()}: the "
                            f"compiled program cannot change its caller's arrays; compute a new "
                            f"value (y = x + 1 rather than x += 1) and return it")
        return views.rebind_in_place(self, op, args, params, "jit")

    def _number(self, kind: str) -> Any:
        raise TypeError(_control_flow(f"{kind}()"))

    def __bool__(self) -> bool:
        raise TypeError(_control_flow("the truth value (if, while, and, or, not, bool())"))

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        raise TypeError(_control_flow("np.array(x) / np.asarray(x)"))

    def __repr__(self) -> str:
        return f"Traced(shape={self.shape}, dtype={_dtype_of(self.value)})"


def make_traced(value: Any, var: int, level: TraceLevel, argument: bool = False) -> Traced:
    t = Traced.__new__(Traced)
    t.value = value
    t._var = var
    t._level = level
    t._link = None
    t._box = None
    t._argument = argument
    return t


def _user_line() -> str:
    """``file:line`` of the innermost frame outside the library (the user's code)."""
    frame = sys._getframe(1)
    while frame is not None:
        filename = os.path.abspath(frame.f_code.co_filename)
        if not filename.startswith(_LIBRARY) and "importlib" not in filename:
            return f"{frame.f_code.co_filename}:{frame.f_lineno}"
        frame = frame.f_back  # type: ignore[assignment]
    return "<unknown>"


def _control_flow(what: str) -> str:
    return (f"jit: {what} of a traced value, at {_user_line()}: the value differs from call to "
            f"call, but the compiled program is fixed when it is traced. Select with "
            f"where(cond, a, b) instead of branching, or mark the argument static "
            f"(jit(f, static_argnums=...)) so that each of its values gets its own program")


def refuse_random_draws(fn: str) -> None:
    """Raise if a jit trace is open: a random draw made while tracing would be fixed into the
    program, the same numbers on every later call."""
    if any(type(level) is TraceLevel for level in open_levels()):
        raise RuntimeError(f"{fn} inside a jitted function, at {_user_line()}: the numbers drawn "
                           f"while tracing would be fixed into the program and repeat on every "
                           f"call. Draw them outside and pass them in as an argument (a dropout "
                           f"mask, noise), or call the function without jit")


# --- compiling -------------------------------------------------------------------------------

def _param_key(v: Any) -> Any:
    """A hashable stand-in for a parameter value, equal for equal parameters."""
    if isinstance(v, (tuple, list)):
        return (type(v).__name__, tuple(_param_key(x) for x in v))
    if isinstance(v, slice):
        return ("slice", _param_key(v.start), _param_key(v.stop), _param_key(v.step))
    if isinstance(v, dict):
        return ("dict", tuple(sorted((k, _param_key(x)) for k, x in v.items())))
    if isinstance(v, np.ndarray) or type(v) in value_types:
        return ("object", id(v))
    try:
        hash(v)
    except TypeError:
        return ("object", id(v))
    return (type(v).__name__, v)


def optimize(program: Program) -> Program:
    """Common-subexpression elimination, then dead-code elimination, in place; returns it."""
    replace: dict[int, int] = {}
    seen: dict[Any, list[int]] = {}
    kept = []
    for e in program.eqns:
        e.ins = [replace.get(r, r) for r in e.ins]
        key = (id(e.fn), tuple(e.ins), tuple(sorted((k, _param_key(v))
                                                     for k, v in e.params.items())))
        earlier = seen.get(key)
        if earlier is not None:
            replace.update(zip(e.outs, earlier))
            continue
        seen[key] = e.outs
        kept.append(e)
    program.outputs = [replace.get(r, r) for r in program.outputs]
    live = {r for r in program.outputs if r >= 0}
    alive = []
    for e in reversed(kept):
        if any(o in live for o in e.outs):
            alive.append(e)
            live.update(r for r in e.ins if r >= 0)
    program.eqns = alive[::-1]
    return program


class Compiled:
    """A program compiled to Python source: ``source`` is the text, calling it runs the program
    on the leaves of the arguments (in the traced order) and returns the output leaves.

    Each step calls the op's forward rule (or, where the rule would call a numpy ufunc as it is,
    the ufunc itself). A variable is deleted after its last use, so that memory is freed as early
    as eagerly; and a ufunc writes its result into the array of an operand that dies at that step
    (``out=``), when the shapes and dtypes agree and no other variable can share that memory.
    """

    __slots__ = ("program", "source", "run")

    def __init__(self, program: Program) -> None:
        self.program = program
        namespace: dict[str, Any] = {"bind": bind}
        taken: dict[int, str] = {}

        def name_of(obj: Any, hint: str) -> str:
            if id(obj) not in taken:
                base = "".join(c if c.isalnum() else "_" for c in hint) or "fn"
                name, n = base, 1
                while name in namespace:
                    n += 1
                    name = f"{base}_{n}"
                namespace[name] = obj
                taken[id(obj)] = name
            return taken[id(obj)]

        def ref(r: int) -> str:
            return f"c{~r}" if r < 0 else f"v{r}"

        for k, c in enumerate(program.consts):
            namespace[f"c{k}"] = c
            taken[id(c)] = f"c{k}"
        eqns = program.eqns
        direct = [None if e.dispatch or not hasattr(e.fn, "impl") else _direct_ufunc(program, e)
                  for e in eqns]
        outputs = {r for r in program.outputs if r >= 0}
        last_use: dict[int, int] = {}
        for k, e in enumerate(eqns):
            for r in e.ins:
                if r >= 0:
                    last_use[r] = k
        # Arrays a step may write into: made by a ufunc here (fresh memory) and read only by
        # ufuncs (which make no views), never an argument or an output.
        owned = {o for k, e in enumerate(eqns) if direct[k] is not None for o in e.outs}
        for k, e in enumerate(eqns):
            if direct[k] is None:
                owned.difference_update(e.ins)
        owned -= outputs
        lines = []
        for k, e in enumerate(eqns):
            params = []
            for key, value in e.params.items():
                literal = _literal(value)
                if literal is None:
                    literal = name_of(value, f"p{k}_{key}")
                params.append(f"{key}={literal}")
            args = [ref(r) for r in e.ins]
            ufunc = direct[k]
            if ufunc is not None:
                args += _reuse(program, e, owned, last_use, k)
                call = f"{name_of(ufunc, ufunc.__name__)}({', '.join(args)})"
            elif hasattr(e.fn, "impl") and not e.dispatch:
                call = f"{name_of(e.fn.impl, e.name)}({', '.join([*args, *params])})"
            elif hasattr(e.fn, "impl"):  # a level below jit's (a Tensor's tape): as eagerly
                call = f"bind({name_of(e.fn, 'op_' + e.name)}, {', '.join([*args, *params])})"
            else:  # a function without a derivative, which dispatches itself
                call = f"{name_of(e.fn, e.name)}({', '.join([*args, *params])})"
            outs = ", ".join(f"v{o}" for o in e.outs)
            if len(e.outs) > 1 or getattr(e.fn, "outputs", 1) != 1:
                outs += ","
            lines.append(f"    {outs} = {call}")
            dead = [f"v{r}" for r in dict.fromkeys(e.ins)
                    if r >= 0 and last_use[r] == k and r not in outputs]
            dead += [f"v{o}" for o in e.outs if o not in last_use and o not in outputs]
            if dead:
                lines.append(f"    del {', '.join(dead)}")
        inputs = ", ".join(f"v{v}" for v in program.inputs)
        outs = ", ".join(ref(r) for r in program.outputs)
        self.source = (f"def compiled({inputs}):\n" + "\n".join(lines)
                       + ("\n" if lines else "") + f"    return ({outs}{',' if outs else ''})\n")
        exec(compile(self.source, "<jit>", "exec"), namespace)
        self.run: Callable[..., tuple] = namespace["compiled"]

    def __call__(self, *leaves: Any) -> tuple:
        return self.run(*leaves)


def _reuse(program: Program, e: Eqn, owned: set[int], last_use: dict[int, int],
           k: int) -> list[str]:
    """``["out=vN"]`` when an operand of the ufunc step ``e`` dies there and its array can take
    the result (same shape and dtype, an array with axes, owned by the program); else []."""
    if len(e.outs) != 1:
        return []
    shape, dtype = program.avals[e.outs[0]]
    if not shape or program.types[e.outs[0]] is not np.ndarray:
        return []
    for r in e.ins:
        if (r >= 0 and r in owned and last_use[r] == k and program.avals[r] == (shape, dtype)
                and program.types[r] is np.ndarray):
            owned.discard(r)
            return [f"out=v{r}"]
    return []


def _direct_ufunc(program: Program, e: Eqn) -> Any:
    """The numpy ufunc that the op's forward rule would call on these operands, when the rule
    calls it as it is (arrays of one dtype, or an array and a Python number): the program calls
    it directly, which skips the rule's checks of its operands' types and gives the same result."""
    ufunc = getattr(e.fn.impl, "ufunc", None)
    if ufunc is None or e.params:
        return None
    types = [program.type_of(r) for r in e.ins]
    if len(types) == 1:
        return ufunc if types[0] is np.ndarray else None
    if len(types) != 2 or np.ndarray not in types:
        return None
    tx, ty = types
    if tx is ty:
        same = program.dtype_of(e.ins[0]) == program.dtype_of(e.ins[1])
        return ufunc if same else None
    other = ty if tx is np.ndarray else tx
    return ufunc if other is float or other is int else None


def _literal(value: Any) -> str | None:
    """Python source for a parameter value that reads back equal, or None."""
    if value is None or type(value) in (bool, int, str):
        return repr(value)
    if type(value) is float:
        return repr(value) if np.isfinite(value) else None
    if type(value) is tuple:
        items = [_literal(v) for v in value]
        if all(i is not None for i in items):
            return "(" + ", ".join(items) + ("," if len(items) == 1 else "") + ")"  # type: ignore
    return None


# --- jit and make_program --------------------------------------------------------------------

class CacheInfo(NamedTuple):
    """How a jitted function's calls went: ``hits`` ran a compiled program, ``misses`` traced one;
    ``size`` programs are kept, one per signature."""

    hits: int
    misses: int
    size: int


def _signature_of(leaf: Any) -> Any:
    if type(leaf) in _NUMBERS:
        return ("number", type(leaf))
    if isinstance(leaf, np.ndarray):
        return ("array", leaf.shape, leaf.dtype.str)
    if isinstance(leaf, np.generic):
        return ("scalar", leaf.dtype.str)
    raise TypeError(f"jit: an argument of type {type(leaf).__name__} cannot be traced; pass "
                    f"numpy arrays, Python or numpy numbers, or tuples, lists and dicts of them, "
                    f"and mark anything else static (static_argnums / static_argnames)")


def _flat_key(args: tuple) -> tuple | None:
    """The cache key of arguments that are all arrays or Python numbers, or None."""
    key: list[Any] = []
    for a in args:
        t = type(a)
        if t is np.ndarray:
            key.append((a.shape, a.dtype))
        elif t is float or t is int or t is bool:
            key.append(t)
        else:
            return None
    return tuple(key)


def _finisher(run: Callable[..., tuple], out_spec: Any) -> Callable[[tuple], Any]:
    """A call of the compiled program on flat arguments that returns the output tree."""
    if out_spec == LEAF:
        return lambda args: run(*args)[0]
    return lambda args: unflatten(out_spec, list(run(*args)))


def _split_static(fn_name: str, args: tuple, kwargs: dict, static_argnums: tuple,
                  static_argnames: tuple) -> tuple[tuple, dict, tuple]:
    """(traced positional args with None at static positions, traced kwargs, static key)."""
    static = []
    traced_args = list(args)
    for i in static_argnums:
        if i >= len(args):
            raise ValueError(f"jit({fn_name}): static_argnums has {i}, but the call has "
                             f"{len(args)} positional arguments")
        static.append(("arg", i, args[i]))
        traced_args[i] = None
    traced_kwargs = dict(kwargs)
    for name in static_argnames:
        if name in kwargs:
            static.append(("kwarg", name, kwargs[name]))
            del traced_kwargs[name]
    key = tuple(static)
    try:
        hash(key)
    except TypeError as exc:
        raise TypeError(f"jit({fn_name}): a static argument must be hashable (it keys the cache "
                        f"of programs), got {exc}; pass arrays as traced arguments") from exc
    return tuple(traced_args), traced_kwargs, key


class _Jitted:
    """What ``jit(f)`` returns: call it as ``f``."""

    def __init__(self, f: Callable[..., Any], static_argnums: tuple,
                 static_argnames: tuple) -> None:
        self.f = f
        self.static_argnums = static_argnums
        self.static_argnames = static_argnames
        self.cache: dict[Any, tuple[Compiled, Any]] = {}
        # Calls whose arguments are all arrays and numbers, by (shape, dtype) or type alone: the
        # finished call, found without flattening anything.
        self.flat: dict[tuple, Callable[[tuple], Any]] = {}
        self.hits = 0
        self.misses = 0
        self._last_key: Any = None
        self._warned = False
        functools.update_wrapper(self, f)

    def cache_info(self) -> CacheInfo:
        return CacheInfo(self.hits, self.misses, len(self.cache))

    def _name(self) -> str:
        return getattr(self.f, "__name__", repr(self.f))

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if captures_open[0] and capture_open():
            return self.f(*args, **kwargs)  # inside another jit's trace, which records f's ops
        if not kwargs:
            key = _flat_key(args)
            if key is not None:
                finish = self.flat.get(key)
                if finish is not None:
                    self.hits += 1
                    return finish(args)
        call = self._signature(args, kwargs)
        if call is None:  # a transformation's values: f is inlined
            return self.f(*args, **kwargs)
        traced_args, traced_kwargs, leaves, spec, key, eager = call
        entry = self.cache.get(key)
        if entry is not None:
            self.hits += 1
            compiled, out_spec = entry
            outs = list(compiled.run(*leaves))
        else:
            self.misses += 1
            self._report_retrace(key)
            program, outs = _trace(self.f, args, kwargs, traced_args, traced_kwargs, leaves,
                                   spec, self.static_argnums, self.static_argnames,
                                   numpy=eager is None)
            compiled, out_spec = Compiled(optimize(program)), program.out_spec
            self.cache[key] = (compiled, out_spec)
            self._last_key = key
            flat = None if kwargs or self.static_argnums else _flat_key(args)
            if flat is not None:
                self.flat[flat] = _finisher(compiled.run, out_spec)
        if eager is not None:  # arrays back into the arguments' kind (Tensors without a graph)
            outs = [eager.constant(o) if type(o) is np.ndarray else o for o in outs]
        return unflatten(out_spec, outs)

    def _report_retrace(self, key: Any) -> None:
        if self._warned or self.hits or self.misses < 4 or self._last_key is None:
            return
        self._warned = True
        old, new = self._last_key, key
        if old[0] != new[0]:
            reason = "the structure of the arguments changed"
        elif old[2] != new[2]:
            reason = "a static argument changed value"
        else:
            diffs = [f"leaf {i}: {a} then {b}" for i, (a, b) in enumerate(zip(old[1], new[1]))
                     if a != b]
            reason = "the shapes or dtypes changed (" + "; ".join(diffs[:3]) + ")"
        warnings.warn(f"jit({self._name()}) traced a new program on each of its {self.misses} "
                      f"calls: {reason}. Each trace costs more than running eagerly; pad to fixed "
                      f"shapes, or call {self._name()} without jit", RuntimeWarning, stacklevel=3)

    def _signature(self, args: tuple, kwargs: dict) -> tuple | None:
        """(traced args, traced kwargs, leaves, spec, cache key, eager level) of a call, or None
        when an argument is a transformation's value (then f is called as it is). The eager
        level is that of the Tensors among the arguments (their personality, and their results'
        type), whose leaves are their arrays."""
        traced_args, traced_kwargs, static_key = _split_static(
            self._name(), args, kwargs, self.static_argnums, self.static_argnames)
        leaves, spec = flatten((traced_args, traced_kwargs))
        eager = None
        for leaf in leaves:
            if type(leaf) in value_types:
                if not _is_eager_constant(leaf):
                    return None
                eager = eager or leaf._level
        if eager is not None:
            leaves = [leaf._unwrap() if type(leaf) in value_types else leaf for leaf in leaves]
        key = (spec, tuple(_signature_of(x) for x in leaves), static_key, eager is not None)
        return traced_args, traced_kwargs, leaves, spec, key, eager

    def compiled(self, *args: Any, **kwargs: Any) -> Compiled:
        """The compiled program for these arguments (traced now if need be): ``.source`` is its
        Python source and ``.program`` the program it was compiled from."""
        call = self._signature(args, kwargs)
        if call is None:
            raise ValueError(f"jit({self._name()}).compiled: the arguments are values of a "
                             f"transformation, for which jit calls the function itself; pass "
                             f"arrays, numbers or Tensors that record nothing")
        if call[4] not in self.cache:
            self(*args, **kwargs)
        return self.cache[call[4]][0]


def _is_eager_constant(x: Any) -> bool:
    """Whether ``x`` is a value built by hand that records nothing (a Tensor that does not
    require grad): jit traces its array, with PyTorch's personality."""
    return (not is_traced_depth(x._level.depth) and not getattr(x, "requires_grad", True)
            and type(x._unwrap()) is np.ndarray)


def _trace(f: Callable[..., Any], args: tuple, kwargs: dict, traced_args: tuple,
           traced_kwargs: dict, leaves: list, spec: Any, static_argnums: tuple,
           static_argnames: tuple, numpy: bool = True) -> tuple[Program, list]:
    """Run ``f`` on traced leaves; returns the program and the output leaves of this call.
    ``numpy``: the personality of the traced values (False when the arguments were Tensors)."""
    with new_level(TraceLevel) as level:
        level.numpy = numpy and speaks_numpy(leaves)
        program = level.program
        traced = []
        for leaf in leaves:
            v = program.var(leaf)
            program.inputs.append(v)
            traced.append(make_traced(leaf, v, level, argument=True))
        targs, tkwargs = unflatten(spec, traced)
        call_args = list(targs)
        for i in static_argnums:
            call_args[i] = args[i]
        call_kwargs = dict(tkwargs)
        for name in static_argnames:
            if name in kwargs:
                call_kwargs[name] = kwargs[name]
        out = f(*call_args, **call_kwargs)
        out_leaves, out_spec = flatten(out)
        values = []
        for o in out_leaves:
            if type(o) is Traced and o._level is level:
                if o._link is not None:
                    views.fresh(o)
                program.outputs.append(o._var)
                values.append(o.value)
            elif type(o) in value_types and o._level.depth > level.depth:
                raise RuntimeError(f"jit({getattr(f, '__name__', f)}): an output belongs to a "
                                   f"transformation inside the function that has returned; "
                                   f"return values computed from the arguments")
            else:
                program.outputs.append(program.const(o))
                values.append(o)
        program.out_spec = out_spec
    return program, values


def _statics(static_argnums: int | Sequence[int], static_argnames: str | Sequence[str]
             ) -> tuple[tuple[int, ...], tuple[str, ...]]:
    """static_argnums and static_argnames as tuples (one int or one name may be given alone)."""
    nums = (static_argnums,) if isinstance(static_argnums, int) else tuple(static_argnums)
    names = (static_argnames,) if isinstance(static_argnames, str) else tuple(static_argnames)
    return nums, names


def jit(f: Callable[..., Any], static_argnums: int | Sequence[int] = (),
        static_argnames: str | Sequence[str] = ()) -> Any:
    """``f`` traced once per signature into a program of registry ops and compiled; later calls
    with the same shapes, dtypes and static values run the compiled program alone.

    ``f`` takes and returns pytrees (tuples, lists, dicts) of arrays and numbers. Arguments listed
    in ``static_argnums`` / ``static_argnames`` are passed as they are and key the cache (Python
    code may branch on them). ``jitted.cache_info()`` counts hits and traces;
    ``jitted.compiled(*args).source`` shows the generated code.

    >>> import numpy as np
    >>> from adcore import ops
    >>> f = jit(lambda x: ops.sin(x) * 2)
    >>> f(np.array([0.0, 1.0])).round(4)
    array([0.    , 1.6829])
    """
    return _Jitted(f, *_statics(static_argnums, static_argnames))


def make_program(f: Callable[..., Any], static_argnums: int | Sequence[int] = (),
                 static_argnames: str | Sequence[str] = ()) -> Callable[..., Program]:
    """``make_program(f)(*args)`` is the program that ``jit(f)`` traces for these arguments,
    before optimisation: print it for the listing (one line per op: outputs with shape and dtype,
    op, inputs, parameters)."""
    nums, names = _statics(static_argnums, static_argnames)

    def traced(*args: Any, **kwargs: Any) -> Program:
        name = getattr(f, "__name__", repr(f))
        targs, tkwargs, _ = _split_static(name, args, kwargs, nums, names)
        leaves, spec = flatten((targs, tkwargs))
        for leaf in leaves:
            _signature_of(leaf)
        return _trace(f, args, kwargs, targs, tkwargs, leaves, spec, nums, names)[0]

    return traced

