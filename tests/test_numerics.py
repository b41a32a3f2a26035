"""Numerics: finite and warning-free at large inputs, PyTorch's rule at kinks and ties, the
Python-float fast paths identical to numpy, empty reductions, and no warnings from the library.

The suite runs with numpy's floating-point errors raising (tests/conftest.py), so an overflow or
an invalid operation anywhere inside a computation fails the test that caused it.
"""
from __future__ import annotations

import math
import subprocess
import sys
import warnings

import numpy as np
import pytest

from adcore import ops, registry
from adcore.levels import raw
from reverse import Tensor, Value, grad

BIG = [-1e4, -30.0, 0.0, 30.0, 1e4]


def close(a, b, tol=1e-6):
    np.testing.assert_allclose(np.asarray(raw(a), dtype=np.float64),
                               np.asarray(raw(b), dtype=np.float64),
                               rtol=tol, atol=tol)


# --- large inputs ------------------------------------------------------------------------------

FINITE_EVERYWHERE = {
    "sigmoid": ops.sigmoid, "tanh": ops.tanh, "softplus": ops.softplus,
    "log_softmax": lambda x: ops.log_softmax(x, axis=-1), "softmax": lambda x: ops.softmax(x),
    "logsumexp": lambda x: ops.logsumexp(x), "log1p_of_abs": lambda x: ops.log1p(ops.abs(x)),
    "expm1_of_neg_abs": lambda x: ops.expm1(-ops.abs(x)),
    "cross_entropy": lambda x: ops.cross_entropy(ops.reshape(x, (1, -1)), np.array([1])),
}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", sorted(FINITE_EVERYWHERE))
def test_finite_and_warning_free_at_large_inputs(name: str, dtype) -> None:
    f = FINITE_EVERYWHERE[name]
    x = Tensor(np.array(BIG, dtype), requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        y = f(x)
        assert np.all(np.isfinite(y.data)) and y.dtype == dtype
        y.sum().backward()
    assert np.all(np.isfinite(x.grad.data)) and x.grad.dtype == dtype


def test_log_softmax_does_not_cancel() -> None:
    # PyTorch: [-0.31326, -1.31326]; x - logsumexp(x) gave [-0.3125, -1.3125] in float32
    x = Tensor(np.array([1e6, 1e6 - 1], np.float32), requires_grad=True)
    y = ops.log_softmax(x)
    close(y, [-0.31326169, -1.31326169], 1e-6)
    y[0].backward()
    close(x.grad, [1 - 0.73105858, -0.26894142], 1e-6)
    assert abs(float(x.grad.data.sum())) < 1e-7  # a gradient of log_softmax sums to 0


def test_logsumexp_gradient_is_exact_at_large_values() -> None:
    x = np.array([1e4, 1e4 - 1], np.float32)
    close(grad(lambda v: ops.logsumexp(v))(x), [0.73105858, 0.26894142], 1e-7)


def test_empty_reductions_follow_numpy() -> None:
    with np.errstate(all="warn"):  # numpy's default setting (the suite raises)
        close(ops.logsumexp(np.zeros((2, 0)), axis=1), [-np.inf, -np.inf])
        assert np.all(np.isnan(ops.mean(np.zeros((0, 3)), axis=0)))
        assert np.isnan(float(ops.mean(Tensor(np.zeros(0)))))


LOUD = """
import numpy as np
from adcore import ops
from reverse import Tensor, Value
ops.log(np.array(0.0)); ops.div(1.0, np.array(0.0)); ops.div(0.0, np.array(0.0))
x = Tensor([0.0], requires_grad=True)
ops.log(x).backward()
Value(10.0) ** 400.0
ops.mean(np.zeros((0, 2)), axis=0)
print("done")
"""


def test_the_library_prints_no_numpy_warnings() -> None:
    # In a fresh interpreter with Python's default warning filters (pytest replaces them):
    # log(0), 1/0, 0/0, overflow and empty means give inf and nan silently, as in PyTorch.
    run = subprocess.run([sys.executable, "-c", LOUD], capture_output=True, text=True,
                         check=True)
    assert run.stdout.strip() == "done" and run.stderr == ""
    user = subprocess.run([sys.executable, "-c", "import adcore, numpy as np; np.log(0.0)"],
                          capture_output=True, text=True, check=True)
    assert "RuntimeWarning" in user.stderr  # the user's own numpy calls still warn


# --- kinks and ties: PyTorch's choice, written out --------------------------------------------

@pytest.mark.parametrize("f, x, want", [
    (ops.relu, [-1.0, 0.0, 2.0], [0.0, 0.0, 1.0]),  # relu'(0) = 0
    (ops.abs, [-1.0, 0.0, 2.0], [-1.0, 0.0, 1.0]),  # abs'(0) = 0
    (lambda v: ops.max(v), [1.0, 3.0, 3.0], [0.0, 0.5, 0.5]),  # amax: ties share
    (lambda v: ops.min(v), [2.0, 2.0, 5.0], [0.5, 0.5, 0.0]),
    (lambda v: v.max(dim=0).values, [1.0, 3.0, 3.0], [0.0, 1.0, 0.0]),  # max(dim): the index
    (lambda v: v.min(dim=0).values, [2.0, 2.0, 5.0], [1.0, 0.0, 0.0]),
    (lambda v: ops.maximum(v, Tensor([1.0, 3.0, 0.0])), [1.0, 2.0, 3.0], [0.5, 0.0, 1.0]),
    (lambda v: ops.minimum(v, Tensor([1.0, 3.0, 0.0])), [1.0, 2.0, 3.0], [0.5, 1.0, 0.0]),
    (lambda v: ops.clip(v, -1.0, 1.0), [-1.0, 0.0, 1.0, 2.0], [1.0, 1.0, 1.0, 0.0]),  # inclusive
])
def test_kinks_and_ties_follow_pytorch(f, x, want) -> None:
    t = Tensor(x, requires_grad=True)
    f(t).sum().backward()
    close(t.grad, want)


# --- NaN and infinite inputs: PyTorch's derivative, in every mode -----------------------------
# Each case: the function of x (and of a second operand c), x, c, d/dx and d/dc, as PyTorch 2.13
# computes them (checked against torch below when it is installed). A NaN input reaches the
# gradient where PyTorch lets it: relu, maximum and minimum pass it on; abs, fmax and fmin do not.

NAN, INF = math.nan, math.inf
SPECIAL = {
    "relu": (lambda x, c: ops.relu(x), "relu",
             [NAN, INF, -INF, 0.0, 2.0], None, [1, 1, 0, 0, 1], None),
    "abs": (lambda x, c: ops.abs(x), "abs",
            [NAN, INF, -INF, 0.0, -2.0], None, [0, 1, -1, 0, -1], None),
    "maximum": (lambda x, c: ops.maximum(x, c), "maximum",
                [NAN, 1.0, NAN, 1.0, 2.0], [1.0, NAN, NAN, 1.0, 1.0],
                [1, 1, 1, 0.5, 1], [1, 1, 1, 0.5, 0]),
    "minimum": (lambda x, c: ops.minimum(x, c), "minimum",
                [NAN, 1.0, NAN, 1.0, 2.0], [1.0, NAN, NAN, 1.0, 1.0],
                [1, 1, 1, 0.5, 0], [1, 1, 1, 0.5, 1]),
    "fmax": (lambda x, c: ops.fmax(x, c), "fmax",
             [NAN, 1.0, NAN, 1.0, 2.0, 0.0], [1.0, NAN, NAN, 1.0, 1.0, 3.0],
             [0, 1, 1, 1, 1, 0], [1, 0, 0, 0, 0, 1]),
    "fmin": (lambda x, c: ops.fmin(x, c), "fmin",
             [NAN, 1.0, NAN, 1.0, 2.0, 0.0], [1.0, NAN, NAN, 1.0, 1.0, 3.0],
             [0, 1, 1, 1, 0, 1], [1, 0, 0, 0, 1, 0]),
    "logaddexp": (lambda x, c: ops.logaddexp(x, c), "logaddexp",
                  [INF, -INF, 0.0], [0.0, INF, 0.0], [1, 0, 0.5], [0, 1, 0.5]),
    "pow at exponent 0": (lambda x, c: ops.pow(x, c), "pow", [NAN, 0.0, 2.0], [0.0, 0.0, 0.0],
                          [0, 0, 0], None),
    "max": (lambda x, c: ops.max(x), "max", [NAN, 1.0, NAN], None, [0.5, 0, 0.5], None),
    "elu": (lambda x, c: nn_functional().elu(x), "elu", [NAN, 0.0, -1.0], None,
            [1, 1, math.exp(-1)], None),
    "hardtanh": (lambda x, c: nn_functional().hardtanh(x), "hardtanh",
                 [NAN, -1.0, 1.0, 0.5, 2.0], None, [1, 0, 0, 1, 0], None),
    "leaky_relu": (lambda x, c: nn_functional().leaky_relu(x), "leaky_relu",
                   [NAN, 0.0, 2.0, -1.0], None, [0.01, 0.01, 1, 0.01], None),
    "clip": (lambda x, c: ops.clip(x, 0.0, 1.0), "clamp", [NAN, 0.0, 1.0, 2.0], None,
             [0, 1, 1, 0], None),
}


def nn_functional():
    import nn.functional

    return nn.functional


def _gradients_by_reverse(f, x, c):
    xt = Tensor(np.array(x), requires_grad=True)
    ct = None if c is None else Tensor(np.array(c), requires_grad=True)
    with np.errstate(all="ignore"):
        f(xt, ct).sum().backward()
    return xt.grad.data, None if ct is None else ct.grad.data


def _gradients_by_forward(f, x, c):
    from forward import jacfwd

    # One operand at a time: a tangent of 0 for c times a NaN partial would be NaN (0 * nan).
    x, c = np.array(x), None if c is None else np.array(c)
    with np.errstate(all="ignore"):
        dx = jacfwd(lambda v: f(v, c).sum())(x)
        return dx, None if c is None else jacfwd(lambda w: f(x, w).sum())(c)


@pytest.mark.parametrize("mode", ["reverse", "forward"])
@pytest.mark.parametrize("name", list(SPECIAL))
def test_nan_and_inf_follow_pytorch(name: str, mode: str) -> None:
    f, _, x, c, want_x, want_c = SPECIAL[name]
    got = (_gradients_by_reverse if mode == "reverse" else _gradients_by_forward)(f, x, c)
    np.testing.assert_array_equal(np.asarray(got[0], np.float64), np.array(want_x, np.float64))
    if want_c is not None:
        np.testing.assert_array_equal(np.asarray(got[1], np.float64),
                                      np.array(want_c, np.float64))


@pytest.mark.parametrize("name", ["relu", "abs", "maximum", "minimum", "fmax", "fmin"])
def test_nan_and_inf_follow_pytorch_in_the_scalar_engine(name: str) -> None:
    _, method, x, c, want_x, want_c = SPECIAL[name]
    for i, xi in enumerate(x):
        a = Value(xi)
        b = None if c is None else Value(c[i])
        with np.errstate(all="ignore"):
            out = getattr(a, method)() if b is None else getattr(a, method)(b)
            out.backward()
        assert a.grad == want_x[i], (name, xi, a.grad)
        if b is not None:
            assert b.grad == want_c[i], (name, xi, c[i], b.grad)


@pytest.mark.parametrize("name", list(SPECIAL))
def test_the_special_values_are_pytorchs(name: str) -> None:
    torch = pytest.importorskip("torch")
    _, torch_name, x, c, want_x, want_c = SPECIAL[name]
    fn = getattr(torch, torch_name, None) or getattr(torch.nn.functional, torch_name)
    xt = torch.tensor(x, dtype=torch.float64, requires_grad=True)
    ct = None if c is None else torch.tensor(c, dtype=torch.float64, requires_grad=True)
    if torch_name == "clamp":
        out = fn(xt, 0.0, 1.0)
    elif torch_name == "max":  # x.max(): NaN entries share the gradient (amax gives NaN)
        out = xt.max()
    else:
        out = fn(xt) if ct is None else fn(xt, ct)
    out.sum().backward()
    np.testing.assert_array_equal(xt.grad.numpy(), np.array(want_x, np.float64))
    if want_c is not None:
        np.testing.assert_array_equal(ct.grad.numpy(), np.array(want_c, np.float64))


def test_where_zeroes_the_unselected_branch_and_the_double_where_fix() -> None:
    x = Tensor([-1.0, 4.0], requires_grad=True)
    ops.where(x > 0, x * 3, x * 5).sum().backward()
    close(x.grad, [5.0, 3.0])
    # where(x > 0, sqrt(x), 0) at x = 0: sqrt'(0) = inf times a zero gives nan, as in PyTorch and
    # JAX; the double where keeps the unselected branch's input away from 0.
    with np.errstate(all="ignore"):
        x = Tensor([0.0, 4.0], requires_grad=True)
        ops.where(x > 0, ops.sqrt(x), 0.0).sum().backward()
    assert np.isnan(x.grad.data[0]) and x.grad.data[1] == 0.25
    x = Tensor([0.0, 4.0], requires_grad=True)
    safe = ops.where(x > 0, x, 1.0)
    ops.where(x > 0, ops.sqrt(safe), 0.0).sum().backward()
    close(x.grad, [0.0, 0.25])


# --- the Python-float fast paths are numpy ----------------------------------------------------

VALUES = [-1e4, -2.5, -1.0, -0.0, 0.0, 0.5, 1.0, 3.0, 1e4, 1e300, math.nan, math.inf, -math.inf]
ELEMENTWISE = sorted(name for name, op in registry.items() if op.kind == "elementwise"
                     and name not in ("where", "masked_fill"))


def _same(a, b) -> bool:
    """Equal, with nan equal to nan, and 0.0 apart from -0.0."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if np.isnan(a) or np.isnan(b):
        return bool(np.isnan(a) and np.isnan(b))
    return bool(a == b and np.signbit(a) == np.signbit(b))


@pytest.mark.parametrize("name", ELEMENTWISE)
def test_floats_and_zero_dim_arrays_give_identical_results(name: str) -> None:
    op = registry[name]
    n = len(op.partials)
    with np.errstate(all="ignore"):
        if name == "clip":
            cases = [(v, lo, hi) for v in VALUES for lo, hi in ((-1.0, 1.0), (-1.0, None),
                                                              (None, 0.5))]
        elif n == 1:
            cases = [(v,) for v in VALUES]
        else:
            cases = [(a, b) for a in VALUES for b in VALUES]
        for args in cases:
            scalar = op.impl(*args)
            array = op.impl(*[None if a is None else np.array(a) for a in args])
            assert _same(scalar, array), f"{name}{args}: float {scalar!r}, array {array!r}"


def test_value_follows_numpy_at_overflow() -> None:
    with np.errstate(all="warn"):
        assert (Value(10.0) ** 400.0).data == math.inf
        assert float(ops.pow(2.5, 1e4)) == math.inf
    assert math.isnan(ops.relu(math.nan)) and math.isnan(ops.clip(math.nan, -1.0, 1.0))
    assert math.isnan(ops.clip(math.nan, -1.0, None))


def test_finite_differences_of_a_transposed_input() -> None:
    """A Fortran-ordered input (a transpose) is perturbed entry by entry too, not a copy of it."""
    from adcore import numerical_jacobian

    x = np.arange(6.0).reshape(2, 3).T
    np.testing.assert_allclose(numerical_jacobian(lambda v: v * v, x),
                               np.diag(2 * x.ravel()).reshape(3, 2, 3, 2), atol=1e-6)
