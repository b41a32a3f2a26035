"""The stable composite functions under a strict numpy error state (issue 17).

softmax, log_softmax, logsumexp, cross_entropy, sigmoid, softplus, log_sigmoid and the two BCE
losses take e ** -gap on purpose: past a logit gap of about 87 (float32) or 708 (float64) that
underflows, benignly. Under ``np.errstate(all="raise")`` they, their gradients (reverse.grad,
jacrev) and their forward-mode Jacobians (jacfwd) must give exactly what they give with every error
ignored. Single-ufunc ops (exp itself) keep numpy's behaviour, and an overflow still raises.
"""
from __future__ import annotations

import numpy as np
import pytest

import nn.functional as F
from adcore import ops
from adcore.levels import raw
from adcore.ops.nn import log_sigmoid
from forward import jacfwd
from reverse import grad, jacrev, vjp

GAPS = [104.0, 200.0, 1000.0]
DTYPES = [np.float32, np.float64]


def _logits(gap, dtype, kind):
    """Rows of logits with gaps of ``gap`` (and about gap / 2) between entries: "mixed" has
    ordinary and tiny probabilities in each row; "confident" puts one logit far above the rest, so
    that the losses of the right targets are tiny too."""
    if kind == "mixed":
        x = [[0.0, -gap, 1.0, -gap / 2], [gap / 2, 0.5, -gap, 2.0]]
    else:
        x = [[gap, 0.0, -gap / 2, 1.0], [-1.0, gap, 0.0, -gap]]
    return np.array(x, dtype=dtype)


_TARGET = np.array([2, 1])  # classes: ordinary losses on "mixed", tiny ones on "confident"


def _labels(x):
    """0/1 labels: on "confident" logits, those of each logit's sign (tiny BCE losses)."""
    return np.where(np.asarray(raw(x)) > 0, 1.0, 0.0).astype(raw(x).dtype)


FUNCTIONS = {
    "softmax": lambda x: ops.softmax(x, axis=-1),
    "log_softmax": lambda x: ops.log_softmax(x, axis=-1),
    "logsumexp": lambda x: ops.logsumexp(x, axis=-1),
    "cross_entropy": lambda x: ops.cross_entropy(x, _TARGET),
    "cross_entropy_smoothed": lambda x: ops.cross_entropy(x, _TARGET, reduction="none",
                                                          label_smoothing=0.1),
    "F.cross_entropy": lambda x: F.cross_entropy(x, _TARGET),
    "sigmoid": ops.sigmoid,
    "softplus": ops.softplus,
    "log_sigmoid": log_sigmoid,
    "bce_with_logits": lambda x: F.binary_cross_entropy_with_logits(x, _labels(x)),
    "bce_with_logits_weighted": lambda x: F.binary_cross_entropy_with_logits(
        x, _labels(x), np.full(4, 0.3, raw(x).dtype), pos_weight=np.full(4, 0.7, raw(x).dtype)),
    "bce": lambda x: F.binary_cross_entropy(ops.sigmoid(x), _labels(x)),
    "bce_weighted": lambda x: F.binary_cross_entropy(ops.sigmoid(x), _labels(x),
                                                     np.full(4, 0.3, raw(x).dtype)),
}


def _summed(f):
    """A scalar of f for reverse.grad: the loss itself, or the sum of f's entries."""
    def scalar(x):
        y = f(x)
        return ops.sum(y) if np.ndim(raw(y)) else y
    return scalar


def _pulled_back(f):
    """vjp_fn of a cotangent of 0.3s: not a power of two, so that cotangent * tiny is inexact and
    underflows inside the rule."""
    def pull(x):
        out, vjp_fn = vjp(f, x)
        return vjp_fn(np.full(np.shape(out), 0.3, np.asarray(out).dtype))[0]
    return pull


TRANSFORMS = {
    "value": lambda f: f,
    "grad": lambda f: grad(_summed(f)),
    "vjp": _pulled_back,
    "jacrev": jacrev,
    "jacfwd": jacfwd,
}


def _data(a):
    return np.asarray(raw(a))


@pytest.mark.parametrize("kind", ["mixed", "confident"])
@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: d.__name__)
@pytest.mark.parametrize("gap", GAPS)
@pytest.mark.parametrize("transform", list(TRANSFORMS))
@pytest.mark.parametrize("name", list(FUNCTIONS))
def test_strict_errstate_matches_ignored(name, transform, gap, dtype, kind):
    fn = TRANSFORMS[transform](FUNCTIONS[name])
    x = _logits(gap, dtype, kind)
    with np.errstate(all="ignore"):
        expected = _data(fn(x))
    with np.errstate(all="raise"):
        got = _data(fn(x))
    assert got.dtype == expected.dtype
    np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: d.__name__)
def test_strict_errstate_under_only(dtype):
    """Underflow alone set to raise (the rest as the suite sets it): the same results."""
    x = _logits(1000.0, dtype, "mixed")
    for name, f in FUNCTIONS.items():
        with np.errstate(all="ignore"):
            expected = _data(jacrev(f)(x))
        with np.errstate(under="raise"):
            np.testing.assert_array_equal(_data(jacrev(f)(x)), expected, err_msg=name)


def test_strict_errstate_python_floats():
    """The Python-float fast path (the scalar Value engine) of sigmoid and softplus."""
    with np.errstate(all="ignore"):
        expected = [ops.sigmoid(-1000.0), ops.softplus(-1000.0)]
    with np.errstate(all="raise"):
        assert [ops.sigmoid(-1000.0), ops.softplus(-1000.0)] == expected == [0.0, 0.0]


def test_strict_errstate_single_ufunc_ops_keep_numpy_behaviour():
    """exp is a single ufunc: its underflow and overflow raise as numpy's do, in the forward
    computation and in a gradient."""
    with np.errstate(all="raise"):
        with pytest.raises(FloatingPointError, match="underflow"):
            ops.exp(np.array([-104.0], np.float32))
        with pytest.raises(FloatingPointError, match="overflow"):
            ops.exp(np.array([100.0], np.float32))
        with pytest.raises(FloatingPointError, match="overflow"):
            grad(lambda x: ops.sum(ops.exp(x)))(np.array([100.0], np.float32))


def test_strict_errstate_overflow_still_raises_in_composites():
    """Only underflow is forgiven: an overflow inside a stable function (x - max beyond float32's
    range) raises as numpy would, and the retry with underflow ignored does not loop."""
    x = np.array([3e38, -3e38, -104.0], np.float32)
    with np.errstate(all="raise"):
        for f in (lambda x: ops.softmax(x), lambda x: ops.logsumexp(x),
                  lambda x: ops.log_softmax(x)):
            with pytest.raises(FloatingPointError, match="overflow"):
                f(x)
    with np.errstate(all="ignore"):
        assert np.isfinite(_data(ops.softmax(x))).all()
