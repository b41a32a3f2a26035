"""Run HIPS autograd's own test files against this library, through an adapter (outside CI).

    pip download autograd --no-binary :all: --no-deps -d /tmp/autograd-src
    tar xzf /tmp/autograd-src/autograd-*.tar.gz -C /tmp/autograd-src
    python tests/autograd_suite.py /tmp/autograd-src/autograd-1.9.1/tests [--markdown]

The argument is the folder holding autograd's test files (or the unpacked sdist holding it);
nothing of autograd is installed or committed. Before importing them the script puts a fake
``autograd`` package in ``sys.modules``: ``autograd.numpy`` IS plain numpy (so the tests' numpy
calls reach this library through ``__array_function__`` / ``__array_ufunc__``), ``grad``,
``jacobian``, ``hessian``, ``value_and_grad``, ``make_vjp``, ``make_jvp``, ... are shims over
``reverse`` and ``forward``, and ``autograd.test_util.check_grads`` is reimplemented as autograd's:
the library's JVP (forward mode) and VJP (reverse mode) against central finite differences
(eps 1e-6) in random directions, to absolute or relative tolerance 1e-6, then the same for the
JVP and VJP functions themselves, recursively to ``order``. autograd names that have no
counterpart here are absent, so the tests that use them fail and are counted.

A check is a test function (parametrized ones expanded), run with numpy's seed 42 (autograd's
conftest) under a per-test timeout. Tests using complex numbers (complex literals and dtypes,
np.real / imag / conj / angle, holomorphic_grad) are out of scope and counted apart. "Mixed" tests
(the numpy_utils helpers, or the C(...) inputs of test_systematic) check real and then complex
inputs: their complex sub-checks are skipped and they count on their real ones; the strict figure
excludes them as well. Failures are grouped by cause: the first line of the message without its
numbers and shapes (a test counts under the first failure it meets; failures that never reach
this library, such as autograd-only names, are marked). ``--markdown`` prints the same as markdown
(for docs/numpy.md); ``-v`` adds each failure's line in the test and its message.
"""
from __future__ import annotations

import argparse
import importlib.util
import inspect
import itertools
import re
import signal
import sys
import time
import traceback
import types
import warnings
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent  # this checkout: its library is the one tested
# The files run by default: autograd's numpy tests (autograd.scipy and fft are out of scope).
DEFAULT_FILES = ("test_core.py", "test_direct.py", "test_jacobian.py", "test_linalg.py",
                 "test_numpy.py", "test_scalar_ops.py", "test_systematic.py", "test_wrappers.py")

TOL = 1e-6  # autograd.test_util's absolute and relative tolerances and finite-difference step
RTOL = 1e-6
EPS = 1e-6

# np.linalg.eig: a real matrix's eigenvalues and eigenvectors may be complex.
COMPLEX_MARKERS = re.compile(
    r"\b\d*\.?\d+j\b|complex|clongdouble|cdouble|csingle|holomorphic|\blinalg\.eig\b"
    r"|\bnp\.(real|imag|conj|conjugate|angle|real_if_close)\b|\bfft\b")
MIXED_MARKERS = re.compile(r"\b(stat_check|unary_ufunc_check|binary_ufunc_check\w*)\(|\bC\(")


class OverTime(BaseException):
    """SIGALRM's: a test ran too long (a BaseException, so that pytest.raises does not eat it)."""


@dataclass
class Tally:
    """What check_grads saw during one test: real sub-checks run, complex ones skipped."""

    real: int = 0
    complex: int = 0
    current: str = ""  # the check under way: its modes and order, and the inputs' shapes


TALLY = Tally()


# ---------------------------------------------------------------- vector spaces (autograd's VSpace)

def tree_map(f: Callable[..., Any], x: Any, *rest: Any) -> Any:
    """f over the leaves of tuples, lists and dicts (their types kept)."""
    if isinstance(x, dict):
        return {k: tree_map(f, x[k], *(r[k] for r in rest)) for k in x}
    if isinstance(x, (tuple, list)):
        items = [tree_map(f, *parts) for parts in zip(x, *rest)]
        if isinstance(x, tuple) and hasattr(x, "_fields"):
            return type(x)(*items)
        return type(x)(items)
    return f(x, *rest)


def leaves(x: Any) -> list:
    if isinstance(x, dict):
        return [leaf for k in x for leaf in leaves(x[k])]
    if isinstance(x, (tuple, list)):
        return [leaf for e in x for leaf in leaves(e)]
    return [x]


def vspace(x: Any) -> Any:
    """A comparable description of x's vector space: nesting, and each leaf's shape and dtype."""
    if isinstance(x, dict):
        return ("dict", tuple((k, vspace(v)) for k, v in x.items()))
    if isinstance(x, (tuple, list)):
        return (type(x).__name__, tuple(vspace(e) for e in x))
    a = np.asarray(x)
    return ("array", a.shape, a.dtype)


def randn(x: Any) -> Any:
    return tree_map(lambda a: np.array(np.random.randn(*np.shape(a))).astype(np.asarray(a).dtype),
                    x)


def ones(x: Any) -> Any:
    return tree_map(lambda a: np.ones(np.shape(a), dtype=np.asarray(a).dtype), x)


def add(x: Any, y: Any) -> Any:
    return tree_map(lambda a, b: a + b, x, y)


def scalar_mul(x: Any, c: float) -> Any:
    return tree_map(lambda a: a * c, x)


def inner_prod(x: Any, y: Any) -> Any:
    return sum(np.dot(np.ravel(a), np.ravel(b)) for a, b in zip(leaves(x), leaves(y)))


def describe(x: Any) -> str:
    """x's shapes (and small values), to say which of a test's checks failed."""
    if isinstance(x, (tuple, list)):
        return "(" + ", ".join(describe(e) for e in x) + ")"
    if isinstance(x, (str, int, float, bool)) or x is None:
        return repr(x)
    return f"array{np.shape(x)}"


def has_complex(x: Any) -> bool:
    return any(np.iscomplexobj(leaf) for leaf in leaves(x) if not isinstance(leaf, str))


# ---------------------------------------------------------------- autograd.test_util, reimplemented

def scalar_close(a: Any, b: Any) -> bool:
    return bool(abs(a - b) < TOL or abs(a - b) / abs(a + b) < RTOL)


def make_numerical_jvp(f: Callable[[Any], Any], x: Any) -> Callable[[Any], Any]:
    """v -> (f(x + v eps/2) - f(x - v eps/2)) / eps."""
    def jvp(v: Any) -> Any:
        plus = f(add(x, scalar_mul(v, EPS / 2)))
        minus = f(add(x, scalar_mul(v, -EPS / 2)))
        return scalar_mul(add(plus, scalar_mul(minus, -1.0)), 1.0 / EPS)
    return jvp


def _space_diff(got: Any, want: Any) -> str:
    """Why two vector spaces differ, in words that group: nesting, shape or dtype."""
    if got[0] != want[0] or (got[0] != "array" and len(got[1]) != len(want[1])):
        return "nesting"
    if got[0] == "array":
        return "shape" if got[1] != want[1] else "dtype"
    for g, w in zip(got[1], want[1]):
        if g != w:
            return _space_diff(g[1] if got[0] == "dict" else g, w[1] if got[0] == "dict" else w)
    return "?"


def _check_space(got: Any, want: Any, what: str) -> None:
    vg, vw = vspace(got), vspace(want)
    if vg != vw:
        raise AssertionError(f"{what} has the wrong {_space_diff(vg, vw)}\n"
                             f"got: {vg}\nwant: {vw}")


def check_equivalent(x: Any, y: Any, what: str = "value") -> None:
    _check_space(x, y, what)
    v = randn(x)
    a, b = inner_prod(x, v), inner_prod(y, v)
    assert scalar_close(a, b), f"wrong value: {what}\ngot: {x}\nwant: {y}"


def _vjp(f: Callable[[Any], Any], x: Any) -> tuple[Callable[[Any], Any], Any]:
    from reverse import vjp
    out, vjp_fn = vjp(f, x)
    return (lambda g: vjp_fn(g)[0]), out


def _jvp(f: Callable[[Any], Any], x: Any, v: Any) -> tuple[Any, Any]:
    from forward import jvp
    return jvp(f, (x,), (v,))


def check_vjp(f: Callable[[Any], Any], x: Any, name: str = "f") -> None:
    vjp, y = _vjp(f, x)
    numeric_jvp = make_numerical_jvp(f, x)
    x_v, y_v = randn(x), randn(y)
    vjp_y = vjp(y_v)
    _check_space(vjp_y, x, f"reverse mode: the VJP of {name}")
    exact = inner_prod(x_v, vjp_y)
    numeric = inner_prod(y_v, numeric_jvp(x_v))
    assert scalar_close(numeric, exact), (
        f"wrong value: reverse mode (VJP) of {name} differs from finite differences\n"
        f"analytic: {exact}\nnumeric: {numeric}")


def check_jvp(f: Callable[[Any], Any], x: Any, name: str = "f") -> None:
    numeric_jvp = make_numerical_jvp(f, x)
    x_v = randn(x)
    _, tangent = _jvp(f, x, x_v)
    numeric = numeric_jvp(x_v)
    _check_space(tangent, numeric, f"forward mode: the JVP of {name}")
    v = randn(tangent)
    exact, approx = inner_prod(tangent, v), inner_prod(numeric, v)
    assert scalar_close(exact, approx), (
        f"wrong value: forward mode (JVP) of {name} differs from finite differences\n"
        f"analytic: {exact}\nnumeric: {approx}")


def _check_unary(f: Callable[[Any], Any], x: Any, modes: Any, order: int, name: str) -> None:
    if "fwd" in modes:
        check_jvp(f, x, name)
        if order > 1:
            def jvp_f(xv: Any) -> Any:
                return _jvp(f, xv[0], xv[1])[1]
            _check_unary(jvp_f, (x, randn(x)), modes, order - 1, f"jvp({name})")
    if "rev" in modes:
        check_vjp(f, x, name)
        if order > 1:
            def vjp_f(xv: Any) -> Any:
                return _vjp(f, xv[0])[0](xv[1])
            _check_unary(vjp_f, (x, randn(f(x))), modes, order - 1, f"vjp({name})")


def subvals(args: tuple, pairs: Any) -> tuple:
    out = list(args)
    for i, v in pairs:
        out[i] = v
    return tuple(out)


def unary_to_nary(unary_operator: Callable[..., Any]) -> Callable[..., Any]:
    """autograd.wrap_util.unary_to_nary: op(fun, argnum)(*args, **kwargs) applies the unary
    ``op(unary_f, x)`` where x is args[argnum] (a tuple of them when argnum is a tuple or list)."""
    def nary_operator(fun: Callable[..., Any], argnum: Any = 0, *op_args: Any,
                      **op_kwargs: Any) -> Callable[..., Any]:
        assert type(argnum) in (int, tuple, list), argnum

        def nary_f(*args: Any, **kwargs: Any) -> Any:
            def unary_f(x: Any) -> Any:
                pairs = [(argnum, x)] if isinstance(argnum, int) else zip(argnum, x)
                return fun(*subvals(args, pairs), **kwargs)
            x = args[argnum] if isinstance(argnum, int) else tuple(args[i] for i in argnum)
            return unary_operator(unary_f, x, *op_args, **op_kwargs)
        nary_f.__name__ = f"{unary_operator.__name__}_of_{getattr(fun, '__name__', '?')}"
        return nary_f
    nary_operator.__name__ = unary_operator.__name__
    return nary_operator


@unary_to_nary
def check_grads(f: Callable[[Any], Any], x: Any, modes: Any = ("fwd", "rev"),
                order: int = 2) -> None:
    """autograd.test_util.check_grads; a complex input is a skipped (counted) sub-check."""
    assert all(m in ("fwd", "rev") for m in modes)
    if has_complex(x):
        TALLY.complex += 1
        return
    TALLY.real += 1
    TALLY.current = f"check_grads(modes={list(modes)}, order={order}) at x = {describe(x)}"
    _check_unary(f, x, modes, order, "f")


def combo_check(fun: Callable[..., Any], *args: Any, **kwargs: Any) -> Callable[..., None]:
    """autograd.test_util.combo_check: check_grads over every combination of the values given."""
    def _combo_check(*cargs: Any, **ckwargs: Any) -> None:
        kwarg_key_vals = [[(k, x) for x in xs] for k, xs in ckwargs.items()]
        for _args in itertools.product(*cargs):
            for _kwargs in itertools.product(*kwarg_key_vals):
                check_grads(fun, *args, **kwargs)(*_args, **dict(_kwargs))
    return _combo_check


# ---------------------------------------------------------------- autograd's wrappers, as shims

def _argnums(argnum: Any) -> Any:
    return tuple(argnum) if isinstance(argnum, list) else argnum


def grad(fun: Callable[..., Any], argnum: Any = 0) -> Callable[..., Any]:
    from reverse import grad as grad_
    return grad_(fun, _argnums(argnum))


def value_and_grad(fun: Callable[..., Any], argnum: Any = 0) -> Callable[..., Any]:
    from reverse import value_and_grad as value_and_grad_
    return value_and_grad_(fun, _argnums(argnum))


def grad_and_aux(fun: Callable[..., Any], argnum: Any = 0) -> Callable[..., Any]:
    from reverse import grad as grad_
    return grad_(fun, _argnums(argnum), has_aux=True)


def jacobian(fun: Callable[..., Any], argnum: Any = 0) -> Callable[..., Any]:
    from reverse import jacrev
    return jacrev(fun, _argnums(argnum))


def hessian(fun: Callable[..., Any], argnum: Any = 0) -> Callable[..., Any]:
    from reverse import hessian as hessian_
    return hessian_(fun, _argnums(argnum))


@unary_to_nary
def elementwise_grad(fun: Callable[[Any], Any], x: Any) -> Any:
    vjp, out = _vjp(fun, x)
    return vjp(ones(out))


@unary_to_nary
def deriv(fun: Callable[[Any], Any], x: Any) -> Any:
    return _jvp(fun, x, ones(x))[1]


@unary_to_nary
def make_vjp(fun: Callable[[Any], Any], x: Any) -> tuple[Callable[[Any], Any], Any]:
    return _vjp(fun, x)


@unary_to_nary
def make_jvp(fun: Callable[[Any], Any], x: Any) -> Callable[[Any], Any]:
    return lambda v: _jvp(fun, x, v)


@unary_to_nary
def make_hvp(fun: Callable[[Any], Any], x: Any) -> tuple[Callable[[Any], Any], Any]:
    return _vjp(grad(fun), x)


@unary_to_nary
def holomorphic_grad(fun: Callable[[Any], Any], x: Any) -> Any:
    return grad(lambda x: np.real(fun(x)))(x)


def grad_named(fun: Callable[..., Any], argname: str) -> Callable[..., Any]:
    return grad(fun, list(inspect.signature(fun).parameters).index(argname))


def hessian_tensor_product(fun: Callable[..., Any], argnum: int = 0) -> Callable[..., Any]:
    fun_grad = grad(fun, argnum)

    def vector_dot_grad(*args: Any, **kwargs: Any) -> Any:
        args, vector = args[:-1], args[-1]
        return np.tensordot(fun_grad(*args, **kwargs), vector, np.ndim(vector))
    return grad(vector_dot_grad, argnum)


def tensor_jacobian_product(fun: Callable[..., Any], argnum: int = 0) -> Callable[..., Any]:
    def vector_dot_fun(*args: Any, **kwargs: Any) -> Any:
        args, vector = args[:-1], args[-1]
        return np.tensordot(vector, fun(*args, **kwargs), axes=np.ndim(vector))
    return jacobian(vector_dot_fun, argnum)


def make_ggnvp(f: Callable[..., Any], g: Callable[[Any], Any] | None = None,
               f_argnum: int = 0) -> Callable[..., Any]:
    if g is None:
        def g(x: Any) -> Any:
            return 1.0 / 2 * np.sum(x ** 2, axis=-1)

    @unary_to_nary
    def _make_ggnvp(f: Callable[[Any], Any], x: Any) -> Callable[[Any], Any]:
        f_vjp, f_x = _vjp(f, x)
        g_hvp, grad_g_x = _vjp(grad(g), f_x)
        f_jvp, _ = _vjp(f_vjp, tree_map(np.zeros_like, grad_g_x))
        return lambda v: f_vjp(g_hvp(f_jvp(v)))
    return _make_ggnvp(f, f_argnum)


def multigrad_dict(fun: Callable[..., Any]) -> Callable[..., Any]:
    """Gradients with respect to every named argument, as a dict (no *args / **kwargs)."""
    sig = inspect.signature(fun)

    def gradfun(*args: Any, **kwargs: Any) -> dict:
        bound = sig.bind(*args, **kwargs)
        bound.apply_defaults()
        g = grad(lambda d: fun(**d))(dict(bound.arguments))
        return {name: g[name] for name in bound.arguments}
    return gradfun


def checkpoint(fun: Callable[..., Any]) -> Callable[..., Any]:
    return fun  # same derivatives; the memory trade-off is not modelled


def isbox(x: Any) -> bool:
    from adcore.levels import is_engine_value
    return is_engine_value(x)


def _module(name: str, **attrs: Any) -> types.ModuleType:
    """A module whose missing names say that the adapter has no counterpart for them."""
    module = types.ModuleType(name)
    module.__dict__.update(attrs)

    def __getattr__(attr: str) -> Any:
        if attr.startswith("__"):
            raise AttributeError(attr)
        raise AttributeError(f"{name}.{attr}: no counterpart in this library (adapter)")
    module.__getattr__ = __getattr__  # type: ignore[method-assign]
    return module


def install_fake_autograd() -> None:
    """Put the adapter's ``autograd`` package in sys.modules (before any real one)."""
    import builtins
    test_util = _module(
        "autograd.test_util", check_grads=check_grads, combo_check=combo_check,
        check_equivalent=check_equivalent, check_vjp=check_vjp, check_jvp=check_jvp,
        scalar_close=scalar_close, make_numerical_jvp=make_numerical_jvp, TOL=TOL, RTOL=RTOL,
        EPS=EPS)
    core = _module("autograd.core", make_vjp=lambda fun, x: _vjp(fun, x),
                   make_jvp=lambda fun, x: (lambda v: _jvp(fun, x, v)))
    wrap_util = _module("autograd.wrap_util", unary_to_nary=unary_to_nary)
    tracer = _module("autograd.tracer", isbox=isbox)
    extend = _module("autograd.extend")
    util = _module("autograd.util", subvals=subvals)
    containers = {name: getattr(builtins, name) for name in
                  ("tuple", "list", "dict", "isinstance", "type")}
    builtins_module = _module("autograd.builtins", **containers)
    package = _module(
        "autograd", __path__=[], numpy=np, test_util=test_util, core=core, wrap_util=wrap_util,
        tracer=tracer, extend=extend, util=util, builtins=builtins_module, grad=grad,
        value_and_grad=value_and_grad, grad_and_aux=grad_and_aux, jacobian=jacobian,
        hessian=hessian, elementwise_grad=elementwise_grad, deriv=deriv, make_vjp=make_vjp,
        make_jvp=make_jvp, make_hvp=make_hvp, holomorphic_grad=holomorphic_grad,
        grad_named=grad_named, hessian_tensor_product=hessian_tensor_product,
        hessian_vector_product=hessian_tensor_product,
        tensor_jacobian_product=tensor_jacobian_product,
        vector_jacobian_product=tensor_jacobian_product, make_ggnvp=make_ggnvp,
        multigrad_dict=multigrad_dict, checkpoint=checkpoint, **containers)
    for key in [k for k in sys.modules if k == "autograd" or k.startswith("autograd.")]:
        del sys.modules[key]
    sys.modules.update({
        "autograd": package, "autograd.numpy": np, "autograd.numpy.random": np.random,
        "autograd.numpy.linalg": np.linalg, "autograd.test_util": test_util,
        "autograd.core": core, "autograd.wrap_util": wrap_util, "autograd.tracer": tracer,
        "autograd.extend": extend, "autograd.util": util, "autograd.builtins": builtins_module})


# ---------------------------------------------------------------- collecting and running

@dataclass
class Case:
    file: str
    name: str
    func: Callable[..., Any]
    params: dict = field(default_factory=dict)
    kind: str = "real"  # "real", "mixed" (complex sub-checks skipped) or "complex"
    error: BaseException | None = None  # the module did not import
    outcome: str = ""  # "pass", "fail", "complex"
    key: str = ""  # the cause of a failure, what groups it
    exc: str = ""  # the exception's type
    detail: str = ""  # the message in full, and the check under way
    where: str = ""  # the test's line the exception went through last
    library: bool = True  # the exception went through this library (or the adapter's checks)
    checks: str = ""  # check_grads calls run on real inputs / skipped on complex ones
    seconds: float = 0.0

    @property
    def id(self) -> str:
        return f"{self.file}::{self.name}"


def _parametrizations(func: Callable[..., Any]) -> Iterator[tuple[str, dict]]:
    """pytest.mark.parametrize, expanded (stacked marks as their product)."""
    grids = []
    for mark in getattr(func, "pytestmark", []):
        if mark.name != "parametrize":
            continue
        argnames, argvalues = mark.args[0], mark.args[1]
        if isinstance(argnames, str):
            argnames = [a.strip() for a in argnames.split(",")]
        rows = []
        for value in argvalues:
            value = getattr(value, "values", value)  # pytest.param(...)
            rows.append(dict(zip(argnames, [value] if len(argnames) == 1 else value)))
        grids.append(rows)
    if not grids:
        yield "", {}
        return
    for combo in itertools.product(*reversed(grids)):
        params = {k: v for row in combo for k, v in row.items()}
        yield "[" + "-".join(_short(v) for v in params.values()) + "]", params


def _short(v: Any) -> str:
    text = getattr(v, "__name__", None) or repr(v)
    return text if len(text) <= 20 else text[:17] + "..."


def _classify(func: Callable[..., Any]) -> str:
    try:
        source = inspect.getsource(func)
    except (OSError, TypeError):
        return "real"
    source = "\n".join(line.split("#")[0] for line in source.splitlines())
    real_only = re.search(r"test_complex\s*=\s*False", source) is not None
    source = re.sub(r"test_complex\s*=\s*False", "", source)
    if COMPLEX_MARKERS.search(source):
        return "complex"
    return "mixed" if MIXED_MARKERS.search(source) and not real_only else "real"


def collect(folder: Path, files: list[str]) -> list[Case]:
    sys.path.insert(0, str(folder))
    cases = []
    for file in files:
        path = folder / file
        np.random.seed(42)
        try:
            spec = importlib.util.spec_from_file_location(path.stem, path)
            assert spec is not None and spec.loader is not None
            module = importlib.util.module_from_spec(spec)
            sys.modules[path.stem] = module
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                spec.loader.exec_module(module)
        except Exception as e:
            names = re.findall(r"^def (test_\w+)", path.read_text(), re.M)
            cases += [Case(file, n, lambda: None, error=e) for n in dict.fromkeys(names)]
            continue
        for name, func in vars(module).items():
            if (name.startswith("test_") and inspect.isfunction(func)
                    and func.__module__ == module.__name__):
                for suffix, params in _parametrizations(func):
                    cases.append(Case(file, name + suffix, func, params, _classify(func)))
    return cases


def _alarm(signum: int, frame: Any) -> None:
    raise OverTime


AUTOGRAD_ONLY = "autograd.numpy-only name, not in numpy"


def _via(where: str) -> str:
    """The numpy call a traced value reached on the test's line: the one given a list, else
    the first."""
    code = where.split(": ", 1)[-1]
    m = (re.search(r"np(?:\.\w+)+(?=\(\[|\(\(|\[)", code) or re.search(r"np(?:\.\w+)+", code))
    return m.group(0) if m else "?"


def cause(exc: BaseException, where: str) -> str:
    """What groups a failure: the first line of its message, with the variable parts removed,
    and a few messages that name the same cause differently put into one form."""
    line = normalize(str(exc))
    m = re.match(r"(np\.([\w.]+)) is not supported on a (Tensor|Dual)", line)
    if m:
        name = m.group(1)
        if f"linalg.{m.group(2)}" in where:
            name = f"np.linalg.{m.group(2)}"
        return f"{name} is not supported (no registry op)"
    if line.startswith("np.array(x) / np.asarray(x)"):
        return (f"{_via(where)}: builds an array from traced values (np.array / np.asarray "
                f"refuse them)")
    if "got a Python list that holds a" in line:
        return f"{_via(where)}: takes a Python list of traced values where an array is expected"
    m = re.match(r"module '(numpy[\w.]*)' has no attribute '(\w+)'", line)
    if m:
        return f"{AUTOGRAD_ONLY}: {m.group(1)}.{m.group(2)}"
    m = re.match(r"cannot import name '(\w+)' from '([\w.]+)'", line)
    if m:
        return f"no counterpart in the adapter (wrapper missing): {m.group(2)}.{m.group(1)}"
    return f"{type(exc).__name__}: {line}" if line else f"{type(exc).__name__} (no message)"


def normalize(text: str) -> str:
    """A message's first line without the numbers, shapes and values that vary between tests."""
    line = text.strip().splitlines()[0] if text.strip() else ""
    line = re.sub(r" \(unknown location\)| \(.*\.py\)", "", line)
    line = re.sub(r"\(shape [^)]*\)+", "(shape ...)", line)
    line = re.sub(r"shapes? \([^)]*\)( and \([^)]*\))?", "shape ...", line)
    line = re.sub(r"\[[^\]]*\]", "[...]", line)
    line = re.sub(r"(?<![\w.])-?\d+(\.\d+)?(e[-+]?\d+)?(?![\w])", "N", line)
    return line[:160]


def run(case: Case, folder: Path, timeout: int) -> None:
    if case.error is not None:
        case.outcome = "fail"
        case.exc = type(case.error).__name__
        case.key = f"the test file does not import: {cause(case.error, '')}"
        return
    if case.kind == "complex":
        case.outcome = "complex"
        return
    TALLY.real = TALLY.complex = 0
    TALLY.current = ""
    np.random.seed(42)
    start = time.perf_counter()
    signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(timeout)
    try:
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            case.func(**case.params)
        signal.alarm(0)
        case.outcome = "pass"
    except (Exception, OverTime) as e:
        signal.alarm(0)
        case.outcome = "fail"
        case.exc = type(e).__name__
        frames = [f for f in traceback.extract_tb(e.__traceback__)
                  if Path(f.filename).parent == folder]
        if frames:
            case.where = f"{Path(frames[-1].filename).name}:{frames[-1].lineno}: {frames[-1].line}"
        ours = [str(ROOT / p) for p in ("adcore", "forward", "reverse", "nn", "optim")]
        case.library = any(f.filename.startswith(tuple(ours)) or f.filename == __file__
                           for f in traceback.extract_tb(e.__traceback__)[1:])  # not run's
        if isinstance(e, OverTime):
            case.key = f"timeout: more than {timeout} s"
        else:
            case.key = cause(e, case.where)
            case.detail = str(e).strip()
            if case.key.startswith(AUTOGRAD_ONLY):
                case.library = False
        if TALLY.current:
            case.detail += f"\nduring {TALLY.current}"
    case.seconds = time.perf_counter() - start
    case.checks = f"{TALLY.real} real check_grads, {TALLY.complex} complex skipped"
    if TALLY.complex and case.kind == "real":
        case.kind = "mixed"


# ---------------------------------------------------------------- the report

def summary(cases: list[Case]) -> dict[str, Any]:
    real = [c for c in cases if c.outcome != "complex"]
    strict = [c for c in real if c.kind == "real"]
    return dict(
        total=len(cases), complex=len(cases) - len(real), real=len(real),
        passed=sum(c.outcome == "pass" for c in real),
        failed=sum(c.outcome == "fail" for c in real),
        mixed=sum(c.kind == "mixed" for c in real),
        mixed_passed=sum(c.kind == "mixed" and c.outcome == "pass" for c in real),
        strict=len(strict), strict_passed=sum(c.outcome == "pass" for c in strict),
        outside=sum(c.outcome == "fail" and not c.library for c in real))


def groups(cases: list[Case]) -> list[tuple[str, list[Case]]]:
    by_key: dict[str, list[Case]] = defaultdict(list)
    for c in cases:
        if c.outcome == "fail":
            by_key[c.key].append(c)
    return sorted(by_key.items(), key=lambda kv: (-len(kv[1]), kv[0]))


OUTSIDE = "no traced value involved: autograd's API, not numpy's"


def _types(members: list[Case]) -> str:
    return ", ".join(dict.fromkeys(c.exc for c in members))


def _pct(a: int, b: int) -> str:
    return f"{100 * a / b:.1f}%" if b else "-"


def report_text(cases: list[Case], source: str, verbose: bool) -> str:
    s = summary(cases)
    out = [f"autograd's tests ({source}) against this library",
           f"  checks (test functions, parametrized ones expanded): {s['total']}",
           f"  complex, out of scope (excluded):                     {s['complex']}",
           f"  real-valued:   {s['passed']} passed, {s['failed']} failed of {s['real']}  "
           f"({_pct(s['passed'], s['real'])})",
           f"    of which mixed (complex sub-checks skipped): {s['mixed']}, "
           f"{s['mixed_passed']} passed",
           f"  strict (mixed tests excluded too): {s['strict_passed']} passed of {s['strict']}  "
           f"({_pct(s['strict_passed'], s['strict'])})",
           f"  failures that never reach this library ({OUTSIDE}): {s['outside']}",
           "", "per file:"]
    for file in dict.fromkeys(c.file for c in cases):
        fs = summary([c for c in cases if c.file == file])
        out.append(f"  {file:22} {fs['passed']:4} / {fs['real']:4} real passed"
                   f"   ({fs['complex']} complex excluded, {fs['mixed']} mixed)")
    out += ["", "failures by cause (a test counts under the first failure it meets):"]
    for key, members in groups(cases):
        outside = f" [{OUTSIDE}]" if not any(c.library for c in members) else ""
        out.append(f"  [{len(members)}] {key}   ({_types(members)}){outside}")
        for c in members:
            out.append(f"        {c.id}{' (mixed)' if c.kind == 'mixed' else ''}")
            if verbose:
                out += [f"            at {c.where}"] if c.where else []
                out += [f"            | {line}" for line in c.detail.splitlines()[:6]]
    slow = sorted(cases, key=lambda c: -c.seconds)[:5]
    out += ["", "slowest: " + ", ".join(f"{c.id} {c.seconds:.1f} s" for c in slow)]
    return "\n".join(out)


def report_markdown(cases: list[Case], source: str) -> str:
    s = summary(cases)
    out = [
        "## autograd's own tests",
        "",
        f"`python tests/autograd_suite.py DIR` runs HIPS autograd's numpy test files ({source}) "
        "against this library through an adapter: `autograd.numpy` is plain numpy, autograd's "
        "wrappers are shims over `reverse` and `forward`, and `check_grads` compares both modes "
        "with finite differences to second order, as autograd's does. Of "
        f"{s['total']} test functions, {s['complex']} use complex numbers (out of scope); of the "
        f"{s['real']} real-valued ones **{s['passed']} pass** ({_pct(s['passed'], s['real'])}). "
        f"{s['mixed']} of them also check complex inputs, which are skipped; without them "
        f"{s['strict_passed']} of {s['strict']} pass ({_pct(s['strict_passed'], s['strict'])}). "
        f"{s['outside']} failures never reach this library (marked below): they test autograd's "
        "own API, which plain numpy and the adapter do not have.",
        "",
        "Failures by cause (a test counts under the first failure it meets):",
        "",
        "| cause | raises | tests | which |",
        "| --- | --- | --- | --- |",
    ]
    for key, members in groups(cases):
        which = ", ".join(f"`{c.file.removesuffix('.py')}::{c.name}`" for c in members)
        key = key.replace("|", "/") + (" (not this library)" if not any(
            c.library for c in members) else "")
        out.append(f"| {key} | {_types(members)} | {len(members)} | {which} |")
    return "\n".join(out)


def find_folder(path: Path) -> Path:
    for candidate in (path, path / "tests"):
        if (candidate / "test_numpy.py").exists():
            return candidate.resolve()
    raise SystemExit(f"{path}: no autograd test files here (test_numpy.py); get them with\n"
                     "  pip download autograd --no-binary :all: --no-deps -d /tmp/autograd-src")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("tests", type=Path, help="folder holding autograd's test files")
    parser.add_argument("--markdown", action="store_true", help="print the report as markdown")
    parser.add_argument("--timeout", type=int, default=20, help="seconds per test (20)")
    parser.add_argument("--files", nargs="+", default=list(DEFAULT_FILES),
                        help="test files to run (default: the numpy ones)")
    parser.add_argument("-k", default="", help="only tests whose id contains this")
    parser.add_argument("-v", "--verbose", action="store_true",
                        help="print each test as it runs, and where each failure was raised")
    args = parser.parse_args(argv)
    folder = find_folder(args.tests)
    sys.path.insert(0, str(ROOT))
    install_fake_autograd()
    cases = [c for c in collect(folder, args.files) if args.k in c.id]
    for c in cases:
        run(c, folder, args.timeout)
        if args.verbose:
            print(f"{c.outcome:8} {c.seconds:5.1f} s  {c.id}  ({c.checks})  {c.key}",
                  file=sys.stderr, flush=True)
    pkg = folder.parent / "PKG-INFO"
    version = re.search(r"^Version: (.+)$", pkg.read_text(), re.M) if pkg.exists() else None
    source = f"autograd {version.group(1)}, " if version else ""
    source += f"{len(args.files)} files"
    print(report_markdown(cases, source) if args.markdown else
          report_text(cases, source, args.verbose))
    return 0


if __name__ == "__main__":
    sys.exit(main())
