"""numpy's array functions written as compositions of registry ops (adcore/ops/arrays.py) and its
other elementwise functions (adcore/ops/ufuncs.py), called as a numpy user calls them: the value
is numpy's own, and grad, jacfwd, jacrev, vmap and a Tensor's backward agree with finite
differences."""
from __future__ import annotations

import numpy as np
import pytest

from adcore import numerical_jacobian, vmap
from forward import jacfwd
from reverse import Tensor, grad, jacrev

RNG = np.random.default_rng(7)


def _draw(*shapes: tuple) -> list[np.ndarray]:
    return [RNG.uniform(0.2, 1.5, s) for s in shapes]


# (name, the numpy call on its differentiable arguments, their shapes)
CASES = [
    ("outer", lambda a, b: np.outer(a, b), [(3,), (2, 2)]),
    ("inner vectors", lambda a, b: np.inner(a, b), [(4,), (4,)]),
    ("inner stacks", lambda a, b: np.inner(a, b), [(2, 3), (4, 3)]),
    ("dot matrix", lambda a, b: np.dot(a, b), [(2, 3), (3, 4)]),
    ("dot 3-d", lambda a, b: np.dot(a, b), [(2, 2, 3), (4, 3, 2)]),
    ("dot scalar", lambda a, b: np.dot(a, b), [(), (3,)]),
    ("vdot", lambda a, b: np.vdot(a, b), [(2, 3), (6,)]),
    ("tensordot 2", lambda a, b: np.tensordot(a, b), [(2, 3, 4), (3, 4, 2)]),
    ("tensordot pairs", lambda a, b: np.tensordot(a, b, axes=([0, 2], [2, 0])),
     [(2, 3, 4), (4, 5, 2)]),
    ("kron", lambda a, b: np.kron(a, b), [(2, 3), (2, 2)]),
    ("kron mixed", lambda a, b: np.kron(a, b), [(3,), (2, 2)]),
    ("diagonal", lambda a: np.diagonal(a, 1), [(3, 4)]),
    ("diagonal axes", lambda a: np.diagonal(a, -1, 2, 0), [(3, 2, 4)]),
    ("trace", lambda a: np.trace(a), [(3, 3)]),
    ("diag of vector", lambda v: np.diag(v, -1), [(3,)]),
    ("diag of matrix", lambda a: np.diag(a, 1), [(3, 3)]),
    ("tril", lambda a: np.tril(a, -1), [(2, 3, 3)]),
    ("triu", lambda a: np.triu(a), [(3, 4)]),
    ("flip", lambda a: np.flip(a, 1), [(2, 3)]),
    ("flip all", lambda a: np.flip(a), [(2, 3)]),
    ("fliplr", lambda a: np.fliplr(a), [(2, 3)]),
    ("flipud", lambda a: np.flipud(a), [(2, 3)]),
    ("roll", lambda a: np.roll(a, 2, axis=1), [(2, 5)]),
    ("roll flat", lambda a: np.roll(a, -1), [(2, 3)]),
    ("roll axes", lambda a: np.roll(a, (1, 2), axis=(0, 1)), [(3, 4)]),
    ("moveaxis", lambda a: np.moveaxis(a, 0, -1), [(2, 3, 4)]),
    ("moveaxis several", lambda a: np.moveaxis(a, [0, 1], [-1, 0]), [(2, 3, 4)]),
    ("atleast_3d", lambda a: np.atleast_3d(a), [(3,)]),
    ("vstack", lambda a, b: np.vstack([a, b]), [(3,), (2, 3)]),
    ("hstack", lambda a, b: np.hstack([a, b]), [(2, 1), (2, 3)]),
    ("dstack", lambda a, b: np.dstack([a, b]), [(2, 3), (2, 3)]),
    ("column_stack", lambda a, b: np.column_stack([a, b]), [(3,), (3, 2)]),
    ("diff", lambda a: np.diff(a, 2, axis=0), [(4, 3)]),
    ("take", lambda a: np.take(a, np.array([2, 0, 2]), axis=1), [(2, 3)]),
    ("take flat", lambda a: np.take(a, np.array([[5, 1]])), [(2, 3)]),
    ("take_along_axis", lambda a: np.take_along_axis(a, np.array([[2, 0], [1, 1]]), axis=1),
     [(2, 3)]),
    ("sort", lambda a: np.sort(a, axis=0), [(4, 3)]),
    ("sort flat", lambda a: np.sort(a, axis=None), [(2, 3)]),
    ("ptp", lambda a: np.ptp(a, axis=1), [(3, 4)]),
    ("average", lambda a, w: np.average(a, axis=1, weights=w), [(2, 3), (3,)]),
    ("average plain", lambda a: np.average(a), [(2, 3)]),
    ("median odd", lambda a: np.median(a, axis=1), [(2, 5)]),
    ("median even", lambda a: np.median(a), [(2, 3)]),
    ("repeat", lambda a: np.repeat(a, 2, axis=0), [(2, 3)]),
    ("repeat counts", lambda a: np.repeat(a, [1, 0, 2]), [(3,)]),
    ("tile", lambda a: np.tile(a, (2, 1, 2)), [(2, 3)]),
    ("split", lambda a: np.split(a, 2, axis=1)[1], [(2, 4)]),
    ("array_split", lambda a: np.array_split(a, 3)[0] * 2, [(7,)]),
    ("split at", lambda a: np.concatenate(np.split(a, [1, 3]))[::-1], [(5,)]),
    ("hsplit vsplit", lambda a: np.hsplit(a, 2)[0][:2] + np.vsplit(a, 2)[1][:, :2], [(4, 4)]),
    ("append", lambda a, b: np.append(a, b, axis=0), [(2, 3), (1, 3)]),
    ("append flat", lambda a, b: np.append(a, b), [(2, 2), (3,)]),
    ("tan and arctan2", lambda a, b: np.tan(a) * np.arctan2(b, a), [(3,), (3,)]),
    ("hyperbolic", lambda a: np.arcsinh(np.sinh(a)) + np.cosh(a) * np.arctanh(a / 2),
     [(2, 2)]),
    ("logs", lambda a, b: np.log2(a) + np.log10(b) + np.logaddexp(a, b)
     + np.logaddexp2(a, b), [(3,), (3,)]),
    ("powers", lambda a: np.square(a) + np.reciprocal(a) + np.cbrt(a) + np.exp2(a), [(4,)]),
    ("angles", lambda a, b: np.hypot(a, b) + np.deg2rad(np.rad2deg(a)) + np.radians(b),
     [(3,), (3,)]),
    ("inverse trig", lambda a: np.arcsin(a / 2) + np.arccos(a / 2) * np.arctan(a)
     + np.arccosh(a + 1), [(3,)]),
    ("pad constant", lambda a: np.pad(a, ((1, 0), (2, 1)), constant_values=0.5), [(2, 3)]),
    ("pad edge", lambda a: np.pad(a, 2, mode="edge"), [(2, 3)]),
    ("pad reflect", lambda a: np.pad(a, (2, 3), mode="reflect"), [(3, 3)]),
    ("pad symmetric wrap", lambda a: np.pad(a, 1, mode="symmetric") + np.pad(a, 1, "wrap"),
     [(3,)]),
    ("rot90", lambda a: np.rot90(a) * 2 + np.rot90(a, 3), [(2, 3)]),
    ("rot90 axes", lambda a: np.rot90(a, 2, axes=(2, 0)), [(2, 3, 4)]),
    ("rollaxis", lambda a: np.rollaxis(a, 2, 1), [(2, 3, 4)]),
    ("dsplit", lambda a: np.dsplit(a, 2)[1], [(2, 3, 4)]),
    ("select", lambda a, b: np.select([a > 0.8, b < 0.6], [a * b, b ** 2], -a), [(4,), (4,)]),
    ("cross", lambda a, b: np.cross(a, b), [(2, 3), (3,)]),
    ("linspace", lambda a, b: np.linspace(a, b, 5), [(), (2,)]),
    ("meshgrid", lambda a, b: np.meshgrid(a, b)[0] * np.meshgrid(a, b, indexing="ij")[1].T,
     [(3,), (2,)]),
    ("broadcast_arrays", lambda a, b: np.broadcast_arrays(a, b)[0], [(3, 1), (2,)]),
    ("gradient", lambda a: np.gradient(a, 0.5, axis=1), [(2, 4)]),
    ("gradient all axes", lambda a: np.gradient(a)[0] + 2 * np.gradient(a)[1], [(3, 2)]),
    ("partition", lambda a: np.partition(a, 2, axis=0), [(5, 2)]),
    ("interp", lambda x, fp: np.interp(x * 2 - 0.5, [0.0, 0.5, 1.2, 2.0], fp), [(6,), (4,)]),
    ("cumprod", lambda a: np.cumprod(a, axis=1), [(2, 4)]),
    ("cumprod flat", lambda a: np.cumprod(a), [(2, 3)]),
    ("nansum nanmean", lambda a: np.nansum(np.where(a > 0.5, a, np.nan), axis=0)
     + np.nanmean(np.where(a > 0.5, a, np.nan), axis=0), [(4, 3)]),
    ("nanmax nanmin", lambda a: np.nanmax(a, axis=1) - np.nanmin(a, axis=1), [(3, 4)]),
    ("nanvar nanstd", lambda a: np.nanvar(a, axis=1, ddof=1) + np.nanstd(a), [(3, 4)]),
    ("nanprod nancumsum", lambda a: np.nanprod(a, axis=0) + np.nancumsum(a, axis=0)[-1],
     [(3, 2)]),
    ("quantile", lambda a: np.quantile(a, [0.1, 0.5, 0.95], axis=1), [(2, 7)]),
    ("quantile methods", lambda a: np.quantile(a, 0.3, method="lower")
     + np.quantile(a, 0.3, method="higher") + np.quantile(a, 0.4, method="midpoint")
     + np.quantile(a, 0.6, method="nearest"), [(6,)]),
    ("percentile", lambda a: np.percentile(a, 35, axis=0, keepdims=True), [(5, 2)]),
    ("sinc fmod", lambda a: np.sinc(a - 0.7) + np.fmod(a, 0.45), [(5,)]),
    ("float_power ldexp", lambda a: np.float_power(a, 2.5) + np.ldexp(a, 3), [(3,)]),
    ("nan_to_num modf", lambda a: np.nan_to_num(np.where(a > 0.6, a, np.inf), posinf=2.0)
     + np.nan_to_num(np.where(a > 1.2, np.nan, a)) + np.modf(a * 3)[0], [(4,)]),
    ("real conj positive", lambda a: np.real(a) * np.conj(a) + np.positive(a)
     + np.imag(a) + np.zeros_like(a) + np.ones_like(a) * np.full_like(a, 2.0), [(3,)]),
]
IDS = [c[0] for c in CASES]


def _scalar(f):
    weights: dict = {}

    def g(*args):
        out = f(*args)
        w = weights.setdefault("w", RNG.uniform(-1, 1, np.shape(out)))
        return np.sum(out * w)
    return g


@pytest.mark.parametrize("name, f, shapes", CASES, ids=IDS)
def test_gradients_match_finite_differences(name, f, shapes) -> None:
    args = _draw(*shapes)
    g = _scalar(f)
    g(*args)  # draws the weights
    for i in range(len(args)):
        def gi(x, i=i):
            full = list(args)
            full[i] = x
            return g(*full)
        want = numerical_jacobian(gi, args[i])
        np.testing.assert_allclose(grad(gi)(args[i]), want, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("name, f, shapes", CASES, ids=IDS)
def test_values_and_both_jacobians(name, f, shapes) -> None:
    args = _draw(*shapes)
    want = f(*args)
    tensors = [Tensor(a, requires_grad=True) for a in args]
    got = f(*tensors)
    np.testing.assert_allclose(got.detach().numpy(), want, rtol=1e-12)
    assert np.shape(got.data) == np.shape(want)
    x = args[0]
    rest = args[1:]
    np.testing.assert_allclose(jacfwd(lambda v: f(v, *rest))(x), jacrev(lambda v: f(v, *rest))(x),
                               rtol=1e-10, atol=1e-12)
    got.sum().backward()  # a Tensor user's route: the same gradient as grad of the sum
    np.testing.assert_allclose(tensors[0].grad.data, grad(lambda v: np.sum(f(v, *rest)))(x),
                               rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("name, f, shapes", CASES, ids=IDS)
def test_vmap_matches_a_loop(name, f, shapes) -> None:
    batch = [RNG.uniform(0.2, 1.5, (3,) + s) for s in shapes]
    got = vmap(f)(*batch)
    want = np.stack([f(*[b[k] for b in batch]) for k in range(3)])
    np.testing.assert_allclose(got, want, rtol=1e-12)


def test_tensordot_refuses_axes_that_do_not_pair_up() -> None:
    with pytest.raises(ValueError, match="tensordot: the axes"):
        np.tensordot(Tensor(np.ones((2, 3))), Tensor(np.ones((2, 3))), axes=([1], [1, 0]))


def test_where_selects_derivatives_instead_of_multiplying_them() -> None:
    """An unselected branch whose derivative is nan or inf leaves no trace in forward mode
    (0 * inf would be nan), and an infinite cotangent none in reverse mode, as PyTorch's and JAX's
    selections give. (Reverse mode still multiplies sqrt's own nan partial by the 0 cotangent the
    selection sends it, as JAX and PyTorch do: the double-where habit avoids it.)"""
    x = np.array([0.5, 0.6, 0.7])
    with np.errstate(divide="ignore", invalid="ignore"):
        def f(v):
            return np.where(v > 0.55, np.sqrt(v - 0.55), 0.0)  # sqrt'(0.5 - 0.55) is nan
        want = np.diag([0.0, 0.5 / np.sqrt(0.05), 0.5 / np.sqrt(0.15)])
        np.testing.assert_allclose(jacfwd(f)(x), want)
        np.testing.assert_allclose(jacrev(f)(x)[:, 1:], want[:, 1:])
    t = Tensor([-1.0, 2.0], requires_grad=True)
    t.relu().backward(gradient=np.array([np.inf, 1.0]))
    np.testing.assert_array_equal(t.grad.data, [0.0, 1.0])


MASK = np.array([[True, False, True], [True, True, False]])
KEYWORD_FORMS = [
    ("sum dtype positional", lambda x: np.sum(x, 0, np.float32)),
    ("sum where", lambda x: np.sum(x, axis=1, where=MASK)),
    ("sum initial", lambda x: np.sum(x, initial=2.0)),
    ("prod where", lambda x: np.prod(x, where=MASK)),
    ("max where initial", lambda x: np.max(x, axis=0, where=MASK, initial=-5.0)),
    ("mean where", lambda x: np.mean(x, axis=1, where=MASK)),
    ("var where ddof", lambda x: np.var(x, where=MASK, ddof=1)),
    ("std where keepdims", lambda x: np.std(x, axis=1, where=MASK, keepdims=True)),
    ("clip a_min a_max", lambda x: np.clip(x, a_min=0.6, a_max=1.0)),
    ("concatenate axis None", lambda x: np.concatenate([x, x[:1]], axis=None)),
    ("vstack dtype", lambda x: np.vstack([x, x], dtype=np.float32)),
    ("cumsum dtype", lambda x: np.cumsum(x, 1, np.float32)),
    ("mean dtype", lambda x: np.mean(x, dtype=np.float32)),
    ("trace dtype", lambda x: np.trace(x, 1, dtype=np.float64)),
]


@pytest.mark.parametrize("name, f", KEYWORD_FORMS, ids=[k[0] for k in KEYWORD_FORMS])
def test_numpy_keyword_forms(name, f) -> None:
    x = RNG.uniform(0.2, 1.5, (2, 3))
    want = f(x)
    got = vmap(f)(x[None])[0]
    if "where" in name:  # numpy's masked loop adds in its own order: the last bit may differ
        np.testing.assert_allclose(got, want, rtol=4e-16)
    else:
        np.testing.assert_array_equal(got, want)  # numpy's value and dtype, bit for bit
    assert got.dtype == np.asarray(want).dtype
    if np.asarray(want).dtype == np.float64:
        np.testing.assert_allclose(jacrev(f)(x), numerical_jacobian(f, x), atol=1e-8)


def test_out_and_unsupported_keywords_are_refused_by_name() -> None:
    x = np.ones(3)
    with pytest.raises(TypeError, match=r"np.sum: out= is not supported .* assign the result"):
        grad(lambda v: np.sum(v, out=np.zeros(())))(x)
    with pytest.raises(ValueError, match=r"np.max: where= needs initial="):
        grad(lambda v: np.max(v, where=np.array([True, False, True])))(x)


def test_erf_logit_and_log_sigmoid_under_the_transformations() -> None:
    import math

    from adcore import ops

    x = np.array([-2.5, -0.3, 0.0, 0.7, 4.0])
    np.testing.assert_array_equal(ops.erf(x), [math.erf(v) for v in x])
    for f in (ops.erf, ops.erfc, ops.log_sigmoid, lambda v: ops.logit(1 / (1 + np.exp(-v)))):
        np.testing.assert_allclose(jacfwd(f)(x), numerical_jacobian(f, x), rtol=1e-6,
                                   atol=1e-8)
        np.testing.assert_allclose(jacrev(f)(x), jacfwd(f)(x), rtol=1e-12, atol=1e-15)
    t = Tensor(x, requires_grad=True)
    t.erf().sum().backward()
    np.testing.assert_allclose(t.grad.data, 2 / np.sqrt(np.pi) * np.exp(-x * x), rtol=1e-15)


@pytest.mark.parametrize("name, f, shapes", CASES, ids=IDS)
def test_float32_values_are_numpys(name, f, shapes) -> None:
    """In float32 too, a transformed function computes numpy's values and dtypes, bit for bit."""
    args = [a.astype(np.float32) for a in _draw(*shapes)]
    want = f(*args)
    got = vmap(f)(*[a[None] for a in args])[0]
    assert got.dtype == np.asarray(want).dtype, (got.dtype, np.asarray(want).dtype)
    if name in ("dot 3-d",):  # numpy's own loop for more than two axes; here a matrix product
        np.testing.assert_allclose(got, want, rtol=3e-7)
    else:
        np.testing.assert_array_equal(got, want)
