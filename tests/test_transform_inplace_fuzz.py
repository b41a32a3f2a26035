"""Random numpy programs with views and in-place ops, under every transformation: numpy's answer.

A program is plain numpy code on one float64 input ``v`` (a vector or a matrix): it copies ``v``
(``y = v * 1.0``), applies elementwise functions, makes views (strided slices, reshape, ``.T``,
``np.transpose``, rows, columns, items), changes values and views in place (``+=``, ``*=``,
``y[i] = expr``, ``y[idx] = expr`` with distinct indices, ``y[1:] *= c``, ``y[k] += expr``), reads
views after their base changed, gathers with integer arrays, reduces (sum, mean, max over an axis)
and selects with ``np.where`` on a mask computed from values; it returns one of its values (maybe a
view). Every augmented assignment is written back to its slot, as Python's ``s += c`` rebinds ``s``.

The same Python function runs on ndarrays (the reference) and inside jvp, vjp, jacfwd, jacrev,
grad, hessian, vmap and their nestings. Values must equal numpy's (tight tolerance), first
derivatives central finite differences, second derivatives finite differences of the gradient
(looser), and vmap a loop over the examples. Steps are drawn while the program runs on every
example of the batch, and a step is dropped when it would overflow or come near a kink: a max within
``GAP`` of a tie, a ``np.where`` mask within ``GAP`` of its threshold.

CI runs a few dozen examples, derandomized; ``DUALTAPE_FUZZ_EXAMPLES=2000`` runs more.
"""
from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from adcore import numerical_jacobian, vmap
from forward import jacfwd, jvp
from reverse import grad, hessian, jacrev, value_and_grad, vjp

EXAMPLES = int(os.environ.get("DUALTAPE_FUZZ_EXAMPLES", "40"))
GAP = 1e-2  # no max within GAP of a tie, no where-mask entry within GAP of its threshold
BOUND = 1e3  # no value beyond it (finite differences need moderate values)

# Features the generator may use. A feature switched off here has a known bug, reproduced by a
# strict xfail test below; switching it back on must not make the fuzzer fail.
FEATURES = {
    "unary", "binary", "copy", "view", "iadd", "imul", "imul_value", "setitem", "setitem_value",
    "setitem_idx", "slice_imul", "item_iadd", "fancy", "reduce", "where",
}

UNARY: dict[str, Callable[[Any], Any]] = {
    "sin": np.sin,
    "tanh": np.tanh,
    "exp": lambda x: np.exp(x * 0.3),
    "square": lambda x: x * x,
    "div": lambda x: x / 1.7,
    "neg": lambda x: -x,
}
BINARY: dict[str, Callable[[Any, Any], Any]] = {
    "mul": lambda a, b: a * b,
    "add": lambda a, b: a + b,
    "sub": lambda a, b: a - b,
}
# An item of a vector, ``s = y[k]``, is a numpy scalar (a copy): ``s *= 2`` leaves ``y`` alone.
VIEWS_1D = ["step2", "tail", "rev", "split", "item"]
VIEWS_2D = ["T", "transpose", "flat", "row", "col", "step2", "tail", "rev", "swap"]


class Reject(Exception):
    """The step is not drawn: it overflows or comes near a kink on some example."""


def _view(name: str, x: Any, k: int) -> Any:
    nd = np.ndim(x)
    if name == "step2":
        return x[::2]
    if name == "tail":
        return x[1:]
    if name == "rev":
        return x[::-1]
    if name == "item":  # a numpy scalar (a copy), not a view
        return x[k % x.shape[0]]
    if name == "split":  # a vector of even length as a matrix (a view)
        return x.reshape(2, -1)
    if name == "T":
        return x.T
    if name == "transpose":
        return np.transpose(x)
    if name == "flat":  # a view when x is contiguous, else a copy: as numpy decides
        return x.reshape(-1)
    if name == "row":
        return x[k % x.shape[0]]
    if name == "col":
        return x[:, k % x.shape[1]]
    if name == "swap":
        return x.reshape(x.shape[::-1])
    raise AssertionError(nd)


def _scalar_expr(w: Any) -> Any:
    return np.tanh(w).sum() * 0.3


def _apply(s: tuple, values: list, check: bool) -> None:
    """Runs one step on ``values`` (numpy arrays, or a transformation's values)."""
    kind = s[0]
    if kind == "unary":
        values.append(UNARY[s[1]](values[s[2]]))
    elif kind == "binary":
        values.append(BINARY[s[1]](values[s[2]], values[s[3]]))
    elif kind == "copy":
        values.append(values[s[1]] * 1.0)
    elif kind == "view":
        values.append(_view(s[1], values[s[2]], s[3]))
    elif kind == "iadd":
        v = values[s[1]]
        v += s[2]
        values[s[1]] = v
    elif kind == "imul":
        v = values[s[1]]
        v *= s[2]
        values[s[1]] = v
    elif kind == "imul_value":
        v = values[s[1]]
        v *= values[s[2]]
        values[s[1]] = v
    elif kind == "setitem":  # y[k] = a scalar expression of another value
        values[s[1]][s[2]] = _scalar_expr(values[s[3]])
    elif kind == "setitem_value":  # y[index] = a value of the region's shape
        values[s[1]][s[2]] = values[s[3]] * 0.5
    elif kind == "setitem_idx":  # y[idx] = expr, distinct indices
        values[s[1]][np.array(s[2])] = _scalar_expr(values[s[3]]) + 0.25
    elif kind == "slice_imul":
        v = values[s[1]]
        v[1:] *= s[2]
    elif kind == "item_iadd":
        v = values[s[1]]
        v[s[2]] += _scalar_expr(values[s[3]])
    elif kind == "fancy":  # a gather: a copy, indices may repeat
        values.append(values[s[1]][np.array(s[2])])
    elif kind == "reduce":
        op, i, axis = s[1], s[2], s[3]
        x = values[i]
        if check and op == "max":
            a = np.sort(np.asarray(x), axis=axis)
            a = a.reshape(-1) if axis is None else np.moveaxis(a, axis, -1)
            if a.shape[-1] > 1 and np.min(a[..., -1] - a[..., -2]) < GAP:
                raise Reject("near a tie")
        values.append({"sum": np.sum, "mean": np.mean, "max": np.max}[op](x, axis=axis))
    elif kind == "where":
        i, j, c = s[1], s[2], s[3]
        x = values[i]
        if check and np.min(np.abs(np.asarray(x) - c)) < GAP:
            raise Reject("near the mask's threshold")
        values.append(np.where(x > c, x * 2.0, values[j] * 0.5))
    else:
        raise AssertionError(kind)


def run(steps: list, out: int, v: Any, check: bool = False) -> Any:
    values = [v * 1.0]
    for s in steps:
        _apply(s, values, check)
        if check:
            for x in values:
                if not np.all(np.isfinite(x)) or np.max(np.abs(x)) > BOUND:
                    raise Reject("too large")
    return values[out % len(values)]


def _draw_step(data: Any, values: list) -> tuple | None:
    """One step that may fit the shapes of ``values`` (numpy arrays of the first example)."""
    n = len(values)
    kind = data.draw(st.sampled_from(sorted(FEATURES)))
    i = data.draw(st.integers(0, n - 1))
    x = values[i]
    shape = np.shape(x)
    c = data.draw(st.sampled_from([0.5, -0.75, 1.5, 2.0]))
    if kind == "unary":
        return ("unary", data.draw(st.sampled_from(sorted(UNARY))), i)
    if kind == "binary":
        same = [j for j in range(n) if np.shape(values[j]) == shape]
        return ("binary", data.draw(st.sampled_from(sorted(BINARY))), i,
                data.draw(st.sampled_from(same)))
    if kind == "copy":
        return ("copy", i)
    if kind == "view" and shape:
        names = VIEWS_1D if len(shape) == 1 else VIEWS_2D
        return ("view", data.draw(st.sampled_from(names)), i, data.draw(st.integers(0, 5)))
    if kind == "iadd":
        return ("iadd", i, c)
    if kind == "imul":
        return ("imul", i, c)
    if kind == "imul_value":
        fits = [j for j in range(n) if _broadcasts(np.shape(values[j]), shape)
                and np.broadcast_shapes(np.shape(values[j]), shape) == shape]
        return ("imul_value", i, data.draw(st.sampled_from(fits)))
    if kind in ("setitem", "item_iadd") and shape:
        index = data.draw(st.integers(-shape[0], shape[0] - 1))
        return (kind, i, index, data.draw(st.integers(0, n - 1)))
    if kind == "setitem_value" and shape and shape[0] > 1:
        index = data.draw(st.sampled_from([slice(1, None), slice(None, None, 2), slice(None, 1),
                                           0, -1]))
        region = np.shape(np.empty(shape)[index])
        fits = [j for j in range(n) if np.shape(values[j]) == region]
        if fits:
            return ("setitem_value", i, index, data.draw(st.sampled_from(fits)))
    if kind == "setitem_idx" and shape:
        idx = data.draw(st.lists(st.integers(0, shape[0] - 1), min_size=1, max_size=shape[0],
                                 unique=True))
        return ("setitem_idx", i, tuple(idx), data.draw(st.integers(0, n - 1)))
    if kind == "slice_imul" and shape and shape[0] > 1:
        return ("slice_imul", i, c)
    if kind == "fancy" and shape:
        idx = data.draw(st.lists(st.integers(-shape[0], shape[0] - 1), min_size=1, max_size=4))
        return ("fancy", i, tuple(idx))
    if kind == "reduce" and shape:
        axis = data.draw(st.sampled_from([None, *range(len(shape))]))
        return ("reduce", data.draw(st.sampled_from(["sum", "mean", "max"])), i, axis)
    if kind == "where" and shape:
        same = [j for j in range(n) if np.shape(values[j]) == shape]
        return ("where", i, data.draw(st.sampled_from(same)),
                data.draw(st.sampled_from([0.0, 0.3, -0.4])))
    return None


def _broadcasts(a: tuple, b: tuple) -> bool:
    try:
        np.broadcast_shapes(a, b)
    except ValueError:
        return False
    return True


@st.composite
def programs(draw: Any, max_steps: int = 9) -> tuple[list, int, np.ndarray]:
    """(steps, out, xs): a program, the index of the value it returns, and a batch of inputs."""
    data = draw(st.data())
    shape = data.draw(st.sampled_from([(4,), (6,), (2, 3), (3, 2)]))
    batch = data.draw(st.integers(2, 3))
    xs = np.array([[data.draw(st.floats(-1.5, 1.5)) for _ in range(int(np.prod(shape)))]
                   for _ in range(batch)]).reshape((batch,) + shape)
    steps: list = []
    target = data.draw(st.integers(1, max_steps))
    for _ in range(4 * target):
        if len(steps) == target:
            break
        values = [xs[0] * 1.0]
        for s in steps:
            _apply(s, values, check=False)
        step = _draw_step(data, values)
        if step is None:
            continue
        try:
            with np.errstate(all="raise"):
                for x in xs:
                    run([*steps, step], -1, x.copy(), check=True)
        except (Reject, ValueError, IndexError, TypeError, FloatingPointError):
            continue
        steps.append(step)
    count = 1 + len([s for s in steps if s[0] in ("unary", "binary", "copy", "view", "fancy",
                                                   "reduce", "where")])
    out = data.draw(st.sampled_from([-1, *range(count)]))
    return steps, out, xs


def _close(got: Any, want: Any, tol: float) -> None:
    got = np.asarray(got, dtype=np.float64)
    want = np.asarray(want, dtype=np.float64)
    assert got.shape == want.shape, f"shape {got.shape} != {want.shape}"
    scale = 1.0 + float(np.max(np.abs(want), initial=0.0))
    np.testing.assert_allclose(got, want, rtol=tol, atol=tol * scale)


VALUE, FIRST, SECOND = 1e-10, 1e-5, 1e-4
# docs/errors.md 25: reverse mode refuses (as PyTorch) when a value its derivative needs was
# changed in place; forward mode and vmap must never refuse.
REFUSAL = "modified by an in-place operation"
FORWARD_ONLY = ("jvp", "jacfwd", "vmap", "vmap(jacfwd)")


def check(steps: list, out: int, xs: np.ndarray) -> list[tuple[str, str]]:
    """Every route's discrepancy with numpy and finite differences: (route, message)."""
    f = lambda v: run(steps, out, v)
    g = lambda v: f(v).sum()
    x = xs[0]
    ref = np.asarray(f(x.copy()))
    jac = numerical_jacobian(f, x)
    tangent = np.linspace(-1.0, 1.3, x.size).reshape(x.shape)
    cot = np.linspace(0.7, -1.1, ref.size).reshape(ref.shape)
    failures: list[tuple[str, str]] = []

    def route(name: str, body: Callable[[], None]) -> None:
        try:
            body()
        except RuntimeError as exc:
            if REFUSAL not in str(exc) or name in FORWARD_ONLY:
                raise_as_failure(name, exc)
            else:  # reverse mode refuses to differentiate through a changed saved value
                event(f"{name} refused")
        except Exception as exc:  # every other error is a discrepancy: numpy gave an answer
            raise_as_failure(name, exc)

    def raise_as_failure(name: str, exc: Exception) -> None:
        failures.append((name, f"{type(exc).__name__}: {str(exc)[:300]}"))

    def jvp_route() -> None:
        o, o_dot = jvp(f, (x.copy(),), (tangent,))
        _close(o, ref, VALUE)
        _close(o_dot, np.tensordot(jac, tangent, axes=x.ndim), FIRST)

    def vjp_route() -> None:
        o, pull = vjp(f, x.copy())
        _close(o, ref, VALUE)
        _close(pull(cot)[0], np.tensordot(cot, jac, axes=ref.ndim), FIRST)

    def vmap_route() -> None:
        _close(vmap(f)(xs.copy()), np.stack([f(e.copy()) for e in xs]), VALUE)

    def grad_route() -> None:
        val, gr = value_and_grad(g)(x.copy())
        _close(val, g(x.copy()), VALUE)
        _close(gr, numerical_jacobian(g, x), FIRST)

    route("jvp", jvp_route)
    route("vjp", vjp_route)
    route("vmap", vmap_route)
    route("grad", grad_route)
    route("jacfwd", lambda: _close(jacfwd(f)(x.copy()), jac, FIRST))
    route("jacrev", lambda: _close(jacrev(f)(x.copy()), jac, FIRST))
    hess = numerical_jacobian(jacfwd(g), x)  # forward mode never refuses: checked by jacfwd
    route("hessian", lambda: _close(hessian(g)(x.copy()), hess, SECOND))
    route("jacfwd(jacrev)", lambda: _close(jacfwd(jacrev(g))(x.copy()), hess, SECOND))
    route("jacrev(jacrev)", lambda: _close(jacrev(jacrev(g))(x.copy()), hess, SECOND))
    route("vmap(grad)", lambda: _close(vmap(grad(g))(xs.copy()),
                                       np.stack([grad(g)(e.copy()) for e in xs]), VALUE))
    route("vmap(jacfwd)", lambda: _close(vmap(jacfwd(f))(xs.copy()),
                                         np.stack([jacfwd(f)(e.copy()) for e in xs]), VALUE))
    return failures


def describe(steps: list, out: int) -> str:
    return "; ".join(map(repr, steps)) + f" -> values[{out}]"


@settings(max_examples=EXAMPLES, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(program=programs())
def test_transformed_numpy_programs_with_views_and_in_place_ops(program: tuple) -> None:
    steps, out, xs = program
    failures = check(steps, out, xs)
    assert not failures, describe(steps, out) + "\n" + "\n".join(f"{r}: {m}" for r, m in failures)


def test_the_fuzzer_is_not_vacuous() -> None:
    """A program that changes a base through a view, reads a stale view, gathers and reduces."""
    steps = [("view", "split", 0, 0), ("slice_imul", 1, 1.5), ("view", "col", 1, 1),
             ("setitem", 0, 0, 2), ("where", 2, 2, 0.3), ("reduce", "max", 1, 0),
             ("binary", "mul", 4, 2)]
    xs = np.array([[0.3, -0.7, 1.1, 0.2], [1.2, 0.45, -0.9, -0.1]])
    assert check(steps, -1, xs) == []


# --- an item is a copy, as numpy's scalars (found by the fuzzer above) -------------------------

def _item_changed_in_place(v):
    y = v * 1.0
    s = y[0]  # numpy: a scalar, a copy of y[0]
    s *= 2.0  # rebinds s; y is unchanged
    return y


def _item_read_after_its_base_changed(v):
    y = v * 1.0
    s = y[0]
    y[0] = 5.0  # numpy: s is still v[0]
    return s * 1.0


ITEM_ROUTES = {
    "grad": lambda f, x: grad(lambda v: np.sum(f(v)))(x).sum(),
    "jvp": lambda f, x: jvp(f, (x,), (np.ones(2),))[0],
    "vmap": lambda f, x: vmap(f)(np.stack([x, x]))[0],
    "jacrev": lambda f, x: jacrev(f)(x) @ np.ones(2),
    "jacfwd": lambda f, x: jacfwd(f)(x) @ np.ones(2),
}


@pytest.mark.parametrize("route", sorted(ITEM_ROUTES))
def test_an_item_changed_in_place_leaves_its_vector_alone(route) -> None:
    x = np.array([1.0, 2.0])
    want = {"jvp": x, "vmap": x, "jacrev": np.ones(2), "jacfwd": np.ones(2), "grad": 2.0}[route]
    _close(ITEM_ROUTES[route](_item_changed_in_place, x), want, VALUE)


@pytest.mark.parametrize("route", sorted(ITEM_ROUTES))
def test_an_item_keeps_its_value_when_its_vector_changes(route) -> None:
    x = np.array([1.0, 2.0])
    want = {"jvp": 1.0, "vmap": 1.0, "jacrev": 1.0, "jacfwd": 1.0, "grad": 1.0}[route]
    _close(ITEM_ROUTES[route](_item_read_after_its_base_changed, x), want, VALUE)
