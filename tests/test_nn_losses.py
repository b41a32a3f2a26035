"""Cross-entropy, NLL and BCE with logits with PyTorch's options: class weights, ignore_index,
label smoothing, (N, C, d1, ...) logits, class probabilities, pos_weight. Each against its formula
(no torch needed), through both modes and to second order, with the errors it gives; against
PyTorch in float64 when it is installed (optional)."""
from __future__ import annotations

import math

import numpy as np
import pytest

import nn
from adcore import numerical_jacobian
from forward import jacfwd
from nn import functional as F
from reverse import Tensor, grad, hessian, jacrev, vmap

RNG = np.random.default_rng(11)
W = np.array([0.2, 1.5, 3.0])


def _log_softmax(x: np.ndarray, axis: int) -> np.ndarray:
    z = x - x.max(axis=axis, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=axis, keepdims=True))


def reference(x, t, w=None, ignore_index=-100, reduction="mean", eps=0.0):
    """PyTorch's cross_entropy with class indices, written out in numpy with the classes moved
    last: (1 - eps) w[t] (-logp[t]) + eps / C sum_c w_c (-logp[c]), 0 at ignored targets; the mean
    divides by the sum of w[t] over the targets kept."""
    axis = 0 if x.ndim == 1 else 1
    logp = np.moveaxis(_log_softmax(x, axis), axis, -1)
    classes = logp.shape[-1]
    w = np.ones(classes) if w is None else w
    keep = t != ignore_index
    safe = np.where(keep, t, 0)
    picked = np.take_along_axis(logp, safe[..., None], -1)[..., 0]
    nll = np.where(keep, -w[safe] * picked, 0.0)
    smooth = np.where(keep, -(logp * w).sum(-1), 0.0)
    losses = (1 - eps) * nll + eps / classes * smooth
    if reduction == "none":
        return losses
    return losses.sum() if reduction == "sum" else losses.sum() / np.where(keep, w[safe], 0).sum()


# --- values against the formulas ---------------------------------------------------------------

def test_weighted_mean_by_hand() -> None:
    logits = np.array([[0.0, 0.0], [2.0, 0.0]])
    want = (3 * math.log(2) + math.log1p(math.exp(2))) / 4  # sum of w[t] loss over sum of w[t]
    assert float(F.cross_entropy(logits, np.array([0, 1]), np.array([3.0, 1.0]))) == (
        pytest.approx(want, rel=1e-15))
    assert float(F.cross_entropy(logits, np.array([0, -100]))) == pytest.approx(math.log(2),
                                                                                rel=1e-15)
    assert float(F.cross_entropy(logits, np.array([1, 1]), ignore_index=1,
                                 reduction="sum")) == 0.0
    # the probability target (1/2, 1/2) at logits (2, 0): log(1 + e^2) - 1
    soft = F.cross_entropy(np.array([2.0, 0.0]), np.array([0.5, 0.5]))
    assert float(soft) == pytest.approx(math.log1p(math.exp(2)) - 1, rel=1e-15)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("smoothing", [0.0, 0.25])
@pytest.mark.parametrize("weighted", [False, True])
def test_class_indices_with_every_option(reduction, smoothing, weighted) -> None:
    x = RNG.normal(size=(3, 3, 2, 4)) * 2
    t = RNG.integers(0, 3, size=(3, 2, 4))
    t[0, 1, :2] = -100
    w = W if weighted else None
    got = F.cross_entropy(x, t, w, reduction=reduction, label_smoothing=smoothing)
    np.testing.assert_allclose(got, reference(x, t, w, -100, reduction, smoothing), rtol=1e-13)
    t2 = np.where(t < 0, 2, t)  # an ignore_index that is a class
    got = F.cross_entropy(x, t2, w, ignore_index=2, reduction=reduction,
                          label_smoothing=smoothing)
    np.testing.assert_allclose(got, reference(x, t2, w, 2, reduction, smoothing), rtol=1e-13)
    logp = _log_softmax(x, 1)
    np.testing.assert_allclose(F.nll_loss(logp, t, w, reduction=reduction),
                               reference(x, t, w, -100, reduction), rtol=1e-13)


def test_the_gradient_of_the_weighted_mean() -> None:
    x = RNG.normal(size=(5, 3))
    t = np.array([0, 2, -100, 1, 2])
    g = grad(lambda v: F.cross_entropy(v, t, W))(x)
    p = np.exp(_log_softmax(x, 1))
    onehot = np.eye(3)[np.where(t < 0, 0, t)] * (t >= 0)[:, None]
    wt = np.where(t >= 0, W[np.where(t < 0, 0, t)], 0.0)
    want = wt[:, None] * (p * (t >= 0)[:, None] - onehot) / wt.sum()
    np.testing.assert_allclose(g, want, rtol=1e-13, atol=1e-16)
    assert np.all(g[2] == 0)  # the ignored row


def test_probability_targets() -> None:
    x = RNG.normal(size=(4, 3, 5))
    q = RNG.dirichlet(np.ones(3), size=(4, 5)).transpose(0, 2, 1)
    logp = _log_softmax(x, 1)
    for eps in (0.0, 0.3):
        qs = (1 - eps) * q + eps / 3
        per = -(qs * logp * W[:, None]).sum(1)
        np.testing.assert_allclose(F.cross_entropy(x, q, W, label_smoothing=eps, reduction="none"),
                                   per, rtol=1e-13)
        # the mean divides by the number of rows, N d1, not by the weights
        np.testing.assert_allclose(F.cross_entropy(x, q, W, label_smoothing=eps),
                                   per.sum() / 20, rtol=1e-13)
    # one-hot probabilities give what the class indices give (without weights)
    t = RNG.integers(0, 3, size=(4, 5))
    onehot = np.moveaxis(np.eye(3)[t], -1, 1)
    np.testing.assert_allclose(F.cross_entropy(x, onehot), F.cross_entropy(x, t), rtol=1e-14)


def test_the_fused_op_is_the_plain_path_and_agrees_with_the_composition() -> None:
    x = Tensor(RNG.normal(size=(6, 4)), requires_grad=True)
    t = np.array([0, 3, 1, 1, 2, 0])
    plain = F.cross_entropy(x, t, label_smoothing=0.1)
    assert type(plain.grad_fn).__name__ == "Node" and "CrossEntropy" in repr(plain.grad_fn)
    composed = F.cross_entropy(x, t, np.ones(4), label_smoothing=0.1)
    assert "CrossEntropy" not in repr(composed.grad_fn)
    np.testing.assert_allclose(composed.data, plain.data, rtol=1e-15)
    g_plain = grad(lambda v: F.cross_entropy(v, t, label_smoothing=0.1))(x.data)
    g_comp = grad(lambda v: F.cross_entropy(v, t, np.ones(4), label_smoothing=0.1))(x.data)
    np.testing.assert_allclose(g_comp, g_plain, rtol=1e-14, atol=1e-17)


def test_every_target_ignored_gives_nan_with_a_zero_gradient() -> None:
    x = Tensor(RNG.normal(size=(3, 4)), requires_grad=True)
    loss = F.cross_entropy(x, np.full(3, -100), W[:1].repeat(4))
    assert math.isnan(float(loss))
    loss.backward()
    assert np.all(x.grad.data == 0)
    assert float(F.cross_entropy(x, np.full(3, -100), reduction="sum")) == 0.0


def test_float32_logits_stay_float32_with_float64_weights() -> None:
    x = Tensor(RNG.normal(size=(3, 3)).astype(np.float32), requires_grad=True)
    loss = F.cross_entropy(x, np.array([0, 1, 2]), W, label_smoothing=0.1)
    assert loss.dtype == np.float32
    loss.backward()
    assert x.grad.dtype == np.float32
    assert F.binary_cross_entropy_with_logits(x, x.detach() * 0, pos_weight=W).dtype == np.float32


def test_bce_with_logits_weight_and_pos_weight() -> None:
    z = RNG.normal(size=(4, 3)) * 3
    y = RNG.uniform(size=(4, 3))
    w, pw = RNG.uniform(0.5, 2, size=(4, 1)), np.array([0.5, 1.0, 4.0])
    s = 1 / (1 + np.exp(-z))
    formula = -w * (pw * y * np.log(s) + (1 - y) * np.log(1 - s))
    for reduction, reduce in (("none", lambda a: a), ("sum", np.sum), ("mean", np.mean)):
        got = F.binary_cross_entropy_with_logits(z, y, w, reduction=reduction, pos_weight=pw)
        np.testing.assert_allclose(got, reduce(formula), rtol=1e-12)
    g = grad(lambda v: F.binary_cross_entropy_with_logits(v, y, w, pos_weight=pw,
                                                          reduction="sum"))(z)
    np.testing.assert_allclose(g, w * ((1 - y) * s - pw * y * (1 - s)), rtol=1e-12)


@pytest.mark.parametrize("pos_weight", [None, np.array([2.0, 2.0])])
def test_bce_with_logits_is_finite_and_exact_at_large_logits(pos_weight) -> None:
    z = Tensor(np.array([[1e4, -1e4], [1e4, -1e4]]), requires_grad=True)
    y = np.array([[1.0, 1.0], [0.0, 0.0]])
    loss = F.binary_cross_entropy_with_logits(z, y, reduction="none", pos_weight=pos_weight)
    pw = 1.0 if pos_weight is None else 2.0
    np.testing.assert_array_equal(loss.data, [[0.0, pw * 1e4], [1e4, 0.0]])
    loss.sum().backward()
    np.testing.assert_array_equal(z.grad.data, [[0.0, -pw], [1.0, 0.0]])


# --- derivatives: both modes against finite differences, and second order -----------------------

def _checks(f, x, rtol=1e-6, atol=1e-8) -> None:
    j = numerical_jacobian(f, x)
    np.testing.assert_allclose(jacrev(f)(x), j, rtol=rtol, atol=atol)
    np.testing.assert_allclose(jacfwd(f)(x), j, rtol=rtol, atol=atol)


X3 = RNG.normal(size=(2, 3, 2))
T3 = np.array([[0, 2], [-100, 1]])
Q3 = RNG.dirichlet(np.ones(3), size=(2, 2)).transpose(0, 2, 1).copy()
CASES = [
    ("indices none", lambda v: F.cross_entropy(v, T3, W, reduction="none", label_smoothing=0.2)),
    ("indices mean", lambda v: F.cross_entropy(v, T3, W, label_smoothing=0.2)),
    ("ignore a class", lambda v: F.cross_entropy(v, np.array([[0, 2], [1, 1]]), W,
                                                 ignore_index=1)),
    ("probabilities", lambda v: F.cross_entropy(v, Q3, W, reduction="none", label_smoothing=0.1)),
    ("nll", lambda v: F.nll_loss(v, T3, W)),
    ("bce logits", lambda v: F.binary_cross_entropy_with_logits(
        v, Q3, reduction="none", pos_weight=np.array([[1.0], [2.0], [0.5]]))),
]


@pytest.mark.parametrize("name, f", CASES, ids=[c[0] for c in CASES])
def test_derivatives_in_both_modes_and_to_second_order(name, f) -> None:
    _checks(f, X3)
    scalar = lambda v: (f(v) * np.arange(1.0, 1.0 + np.size(f(X3))).reshape(np.shape(f(X3)))).sum()
    np.testing.assert_allclose(hessian(scalar)(X3), numerical_jacobian(grad(scalar), X3),
                               rtol=1e-5, atol=1e-7)


def test_derivatives_with_respect_to_the_targets() -> None:
    _checks(lambda q: F.cross_entropy(X3, q, W, label_smoothing=0.2), Q3)
    _checks(lambda y: F.binary_cross_entropy_with_logits(X3, y, pos_weight=2.0,
                                                         reduction="none"), Q3)


def test_per_example_gradients_under_vmap() -> None:
    xs = RNG.normal(size=(5, 3, 2))  # five examples of (C, d) = (3, 2) logits
    ts = np.array([[0, 1], [2, -100], [1, 1], [-100, -100], [0, 2]])

    def loss(x, t):
        return F.cross_entropy(x[None], t[None], W, label_smoothing=0.1, reduction="sum")

    batched = vmap(grad(loss))(xs, ts)
    loop = np.stack([grad(loss)(x, t) for x, t in zip(xs, ts)])
    np.testing.assert_allclose(batched, loop, rtol=1e-14, atol=1e-17)


# --- the modules --------------------------------------------------------------------------------

def test_loss_modules_take_the_options_and_keep_weights_as_buffers() -> None:
    x = RNG.normal(size=(3, 3, 2))
    t = np.array([[0, 2], [1, 1], [2, 2]])
    ce = nn.CrossEntropyLoss(W, ignore_index=2, label_smoothing=0.1, reduction="sum")
    np.testing.assert_allclose(ce(x, t), reference(x, t, W, 2, "sum", 0.1), rtol=1e-13)
    assert list(ce.state_dict()) == ["weight"] and list(ce.parameters()) == []
    assert repr(ce) == "CrossEntropyLoss(reduction='sum', ignore_index=2, label_smoothing=0.1)"
    nll = nn.NLLLoss(weight=W, ignore_index=0)
    np.testing.assert_allclose(nll(_log_softmax(x, 1), t), reference(x, t, W, 0), rtol=1e-13)
    bce = nn.BCEWithLogitsLoss(pos_weight=[2.0, 3.0])
    assert list(bce.state_dict()) == ["pos_weight"]
    z, y = RNG.normal(size=(4, 2)), RNG.uniform(size=(4, 2))
    np.testing.assert_allclose(
        bce(z, y), F.binary_cross_entropy_with_logits(z, y, pos_weight=np.array([2.0, 3.0])),
        rtol=1e-15)  # (the list became a float32 buffer, cast to the logits' float64)
    assert nn.CrossEntropyLoss().double().weight is None


# --- errors: the function, what it got, what it expects ------------------------------------------

ERRORS = [
    (lambda: F.cross_entropy(np.zeros((2, 3)), np.array([0, 3])), IndexError,
     r"cross_entropy: target holds the class index 3, but the logits have 3 classes \(indices 0 "
     r"to 2; ignore_index=-100 marks a target to skip\)"),
    (lambda: F.cross_entropy(np.zeros((2, 3, 4)), np.array([[0, 1, 2, -1]] * 2)), IndexError,
     r"class index -1"),
    (lambda: F.nll_loss(np.zeros((2, 3)), np.array([5, 0])), IndexError,
     r"nll_loss: target holds the class index 5"),
    (lambda: F.cross_entropy(np.zeros((2, 3)), np.array([0, 1]), np.ones(4)), ValueError,
     r"cross_entropy: weight must hold one weight per class, shape \(3,\) for input of shape "
     r"\(2, 3\), got shape \(4,\)"),
    (lambda: F.nll_loss(np.zeros((2, 3)), np.array([0, 1]), np.ones((3, 1))), ValueError,
     r"nll_loss: weight must hold one weight per class, shape \(3,\)"),
    (lambda: F.cross_entropy(np.zeros((2, 3, 4)), np.zeros((2, 3), np.int64)), ValueError,
     r"cross_entropy: target has shape \(2, 3\) but the logits have shape \(2, 3, 4\): give one "
     r"class index per row, shape \(2, 4\)"),
    (lambda: F.cross_entropy(np.zeros((2, 3)), np.array([0.0, 1.0])), TypeError,
     r"target has dtype float64; it must hold integer class indices .* or class probabilities "
     r"of the logits' shape \(2, 3\)"),
    (lambda: F.cross_entropy(np.zeros((2, 3)), np.zeros((2, 3), np.int64)), TypeError,
     r"target has the logits' shape \(2, 3\), so it is read as class probabilities, which must be "
     r"floating-point; got dtype int64 \(class indices have shape \(2,\)\)"),
    (lambda: F.cross_entropy(np.zeros((2, 3)), np.zeros((2, 3)), ignore_index=0), ValueError,
     r"ignore_index=0 is not supported with class-probability targets"),
    (lambda: F.cross_entropy(np.zeros((2, 3)), np.array([0, 1]), "sum"), TypeError,
     r"cross_entropy: weight must be None or a tensor of weights, got the str 'sum'; pass the "
     r"reduction by keyword, reduction='sum'"),
    (lambda: F.cross_entropy(np.zeros((2, 3)), np.array([0, 1]), label_smoothing=1.5),
     ValueError, r"cross_entropy: label_smoothing must be in \[0, 1\], got 1.5"),
    (lambda: F.cross_entropy(np.zeros((2, 3)), np.array([0, 1]), reduction="avg"), ValueError,
     r"cross_entropy: reduction must be one of \('mean', 'sum', 'none'\), got 'avg'"),
    (lambda: F.cross_entropy(np.float64(1.0), np.array(0)), ValueError,
     r"cross_entropy: input must have shape \(C,\), \(N, C\) or \(N, C, d1, ...\) .* got a scalar"),
    (lambda: F.binary_cross_entropy_with_logits(np.zeros((2, 3)), np.zeros((2, 3)),
                                                pos_weight=np.ones(2)), ValueError,
     r"binary_cross_entropy_with_logits: pos_weight of shape \(2,\) does not broadcast to the "
     r"input's shape \(2, 3\); .* shape \(3,\)"),
    (lambda: F.binary_cross_entropy_with_logits(np.zeros((2, 3)), np.zeros((2, 3)),
                                                np.ones((4, 1))), ValueError,
     r"binary_cross_entropy_with_logits: weight of shape \(4, 1\) does not broadcast"),
    (lambda: F.binary_cross_entropy_with_logits(np.zeros((2, 3)), np.zeros(3)), ValueError,
     r"binary_cross_entropy_with_logits: input has shape \(2, 3\) but target has shape \(3,\)"),
    (lambda: F.binary_cross_entropy(np.full(3, 0.5), np.zeros(3), np.ones(2)), ValueError,
     r"binary_cross_entropy: weight of shape \(2,\) does not broadcast"),
    (lambda: nn.CrossEntropyLoss("mean"), TypeError,
     r"CrossEntropyLoss: weight must be None or a tensor of weights, got the str 'mean'"),
    (lambda: nn.CrossEntropyLoss(label_smoothing=-0.1), ValueError,
     r"CrossEntropyLoss: label_smoothing must be in \[0, 1\]"),
]


@pytest.mark.parametrize("call, error, message", ERRORS, ids=[e[2][:40] for e in ERRORS])
def test_wrong_inputs_are_named(call, error, message) -> None:
    with pytest.raises(error, match=message):
        call()


# --- against PyTorch (optional), float64 --------------------------------------------------------

def _against_torch(torch, ours, theirs, *arrays, grads=(0,)) -> None:
    """Forward values, and the gradients of sum(loss * c) (c fixed), of ours and PyTorch's."""
    ts = [Tensor(a, requires_grad=i in grads) for i, a in enumerate(arrays)]
    tt = [torch.tensor(a, requires_grad=i in grads) for i, a in enumerate(arrays)]
    a, b = ours(*ts), theirs(*tt)
    np.testing.assert_allclose(a.data, b.detach().numpy(), rtol=1e-10, atol=1e-12)
    c = RNG.normal(size=np.shape(a.data))
    (a * c).sum().backward()
    (b * torch.tensor(c)).sum().backward()
    for i in grads:
        np.testing.assert_allclose(ts[i].grad.data, tt[i].grad.numpy(), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_against_pytorch_in_float64(reduction) -> None:
    torch = pytest.importorskip("torch")
    tf = torch.nn.functional
    x = RNG.normal(size=(4, 3, 2, 5)) * 3
    t = RNG.integers(0, 3, size=(4, 2, 5))
    t[1, 0, :3] = -100
    tt, tw = torch.tensor(t), torch.tensor(W)
    for eps in (0.0, 0.2):
        for w, w_t in ((None, None), (W, tw)):
            _against_torch(
                torch, lambda v, w=w, e=eps: F.cross_entropy(v, t, w, reduction=reduction,
                                                             label_smoothing=e),
                lambda v, w=w_t, e=eps: tf.cross_entropy(v, tt, w, reduction=reduction,
                                                         label_smoothing=e), x)
    t1 = np.where(t < 0, 1, t)
    _against_torch(torch, lambda v: F.cross_entropy(v, t1, W, ignore_index=1, reduction=reduction,
                                                    label_smoothing=0.1),
                   lambda v: tf.cross_entropy(v, torch.tensor(t1), tw, ignore_index=1,
                                              reduction=reduction, label_smoothing=0.1), x)
    _against_torch(torch, lambda v: F.nll_loss(v, t, W, reduction=reduction),
                   lambda v: tf.nll_loss(v, tt, tw, reduction=reduction), x)
    q = RNG.dirichlet(np.ones(3), size=(4, 2, 5)).transpose(0, 3, 1, 2).copy()
    _against_torch(torch, lambda v, p: F.cross_entropy(v, p, W, reduction=reduction,
                                                       label_smoothing=0.3),
                   lambda v, p: tf.cross_entropy(v, p, tw, reduction=reduction,
                                                 label_smoothing=0.3), x, q, grads=(0, 1))
    x2, t2 = RNG.normal(size=(6, 4)) * 5, RNG.integers(0, 4, size=6)  # the fused path
    _against_torch(torch, lambda v: F.cross_entropy(v, t2, reduction=reduction,
                                                    label_smoothing=0.1),
                   lambda v: tf.cross_entropy(v, torch.tensor(t2), reduction=reduction,
                                              label_smoothing=0.1), x2)
    _against_torch(torch, lambda v: F.cross_entropy(v, np.array(2), W[:1].repeat(5) + 1),
                   lambda v: tf.cross_entropy(v, torch.tensor(2), tw[:1].repeat(5) + 1),
                   RNG.normal(size=5))
    z, y = RNG.normal(size=(3, 4)) * 10, RNG.uniform(size=(3, 4))
    w, pw = RNG.uniform(size=(3, 1)), RNG.uniform(0.5, 3, size=4)
    _against_torch(torch, lambda v, p: F.binary_cross_entropy_with_logits(
                       v, p, w, reduction=reduction, pos_weight=pw),
                   lambda v, p: tf.binary_cross_entropy_with_logits(
                       v, p, torch.tensor(w), reduction=reduction, pos_weight=torch.tensor(pw)),
                   z, y, grads=(0, 1))


def test_every_target_ignored_against_pytorch() -> None:
    torch = pytest.importorskip("torch")
    x = RNG.normal(size=(3, 4))
    ours = Tensor(x, requires_grad=True)
    theirs = torch.tensor(x, requires_grad=True)
    a = F.cross_entropy(ours, np.full(3, -100), W[:1].repeat(4), label_smoothing=0.1)
    b = torch.nn.functional.cross_entropy(theirs, torch.full((3,), -100),
                                          torch.tensor(W[:1].repeat(4)), label_smoothing=0.1)
    assert math.isnan(float(a)) and math.isnan(float(b.detach()))
    a.backward()
    b.backward()
    np.testing.assert_array_equal(ours.grad.data, theirs.grad.numpy())
