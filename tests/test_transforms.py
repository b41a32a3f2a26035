"""The functional transformations: pytrees, has_aux, keyword arguments, jacobian's mode choice,
chunked Jacobians, Hessian-vector products, and vmap with its nesting rules."""
from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from strategies import HypothesisDraw, arrays_in, arrays_out, other_values

import nn
from adcore import numerical_jacobian, ops, registry
from adcore.levels import raw
from forward import jacfwd, jvp
from reverse import Tensor, grad, hessian, hvp, jacobian, jacrev, value_and_grad, vhp, vjp, vmap

RNG = np.random.default_rng(0)
W = RNG.normal(size=(3, 4))


def close(a, b, tol=1e-10):
    np.testing.assert_allclose(np.asarray(raw(a), dtype=np.float64),
                               np.asarray(raw(b), dtype=np.float64),
                               rtol=tol, atol=tol)


def model(params, x):
    """A tiny network of a dict of parameters: tanh(x W^T + b) summed with a list-held scale."""
    return (ops.tanh(x @ params["w"].T + params["b"]) * params["scale"][0]).sum()


PARAMS = {"w": W, "b": np.array([0.1, -0.2, 0.3]), "scale": [np.array(1.5)]}
X = RNG.normal(size=(5, 4))


# --- pytrees ---------------------------------------------------------------------------------

def test_grad_of_a_dict_has_the_dict_structure() -> None:
    g = grad(model)(PARAMS, X)
    assert set(g) == {"w", "b", "scale"} and isinstance(g["scale"], list)
    for key in ("w", "b"):
        def part(v, key=key):
            return model({**PARAMS, key: v}, X)
        close(g[key], numerical_jacobian(part, PARAMS[key]), 1e-6)


def test_tuples_of_equal_and_unequal_shapes_stay_apart() -> None:
    f = lambda pair: (pair[0] * pair[1]).sum() + (pair[0] ** 2).sum()
    a, b = np.array([1.0, 2.0]), np.array([3.0, 4.0])
    ga, gb = grad(f)((a, b))
    close(ga, b + 2 * a)
    close(gb, a)
    g = grad(lambda t: (t[0] ** 2).sum() + t[1].sum())((np.ones(3), np.ones((2, 2))))
    assert g[0].shape == (3,) and g[1].shape == (2, 2)


def test_jvp_vjp_and_jacobians_take_and_give_trees() -> None:
    def f(p):
        return {"sum": p["x"] + p["y"], "prod": (p["x"] * p["y"],)}

    p = {"x": np.array([1.0, 2.0]), "y": np.array([3.0, 5.0])}
    t = {"x": np.array([1.0, 0.0]), "y": np.array([0.0, 1.0])}
    out, out_dot = jvp(f, (p,), (t,))
    close(out["prod"][0], [3.0, 10.0])
    close(out_dot["sum"], [1.0, 1.0])
    close(out_dot["prod"][0], [3.0, 2.0])
    _, pullback = vjp(f, p)
    (p_bar,) = pullback({"sum": np.ones(2), "prod": (np.ones(2),)})
    close(p_bar["x"], 1 + p["y"])
    close(p_bar["y"], 1 + p["x"])
    for jac in (jacfwd(f), jacrev(f), jacobian(f)):
        j = jac(p)
        close(j["prod"][0]["x"], np.diag(p["y"]))
        close(j["sum"]["y"], np.eye(2))


def test_errors_name_the_path_of_a_bad_leaf() -> None:
    with pytest.raises(TypeError, match=r"argument 0\['name'\] is a str"):
        grad(lambda p: p["w"].sum())({"w": np.ones(2), "name": "layer"})
    with pytest.raises(TypeError, match=r"primals must be a tuple or list.*jvp\(f, \(x,\), "
                                        r"\(t,\)\)"):
        jvp(ops.sin, 1.0, 1.0)
    with pytest.raises(ValueError, match="tangents of argument 0 must have the same structure"):
        jvp(lambda p: p[0], ((np.ones(2), np.ones(2)),), ((np.ones(2),),))


def test_has_aux_everywhere() -> None:
    def f(x):
        y = (x ** 2).sum()
        return y, {"y": y, "note": "seen"}

    x = np.array([1.0, 2.0])
    g, aux = grad(f, has_aux=True)(x)
    close(g, 2 * x)
    assert aux["note"] == "seen" and float(aux["y"]) == 5.0 and not isinstance(aux["y"], Tensor)
    (value, aux2), g2 = value_and_grad(f, has_aux=True)(x)
    assert float(value) == 5.0 and aux2["note"] == "seen"
    close(g2, 2 * x)
    out, out_dot, aux3 = jvp(f, (x,), (np.ones(2),), has_aux=True)
    assert float(out) == 5.0 and float(out_dot) == 6.0 and float(aux3["y"]) == 5.0
    _, pullback, aux4 = vjp(f, x, has_aux=True)
    close(pullback(1.0)[0], 2 * x)
    assert aux4["note"] == "seen" and float(aux4["y"]) == 5.0
    for jac in (jacfwd, jacrev, jacobian):
        j, aux5 = jac(f, has_aux=True)(x)
        close(j, 2 * x)
        assert aux5["note"] == "seen"


def test_keyword_arguments_pass_through() -> None:
    def f(x, scale=1.0, shift=0.0):
        return ((x * scale + shift) ** 2).sum()

    x = np.array([1.0, -1.0])
    close(grad(f)(x, scale=2.0), 8 * x)
    close(grad(f)(x, scale=2.0, shift=1.0), 2 * (2 * x + 1) * 2)
    close(jacrev(lambda v, k=1: v ** k)(x, k=3), np.diag(3 * x ** 2))
    close(jacfwd(lambda v, k=1: v ** k)(x, k=3), np.diag(3 * x ** 2))
    close(hessian(f)(x, scale=2.0), 8 * np.eye(2))


# --- jacobian: one function, the cheaper mode ---------------------------------------------------

@pytest.mark.parametrize("n, m, calls", [(6, 2, 1), (2, 6, 2)])
def test_jacobian_picks_the_cheaper_mode(n: int, m: int, calls: int) -> None:
    a = RNG.normal(size=(m, n))
    seen = []

    def f(x):
        seen.append(type(x).__name__)
        return ops.tanh(a @ x)

    x = RNG.normal(size=n)
    j = jacobian(f)(x)
    close(j, jacfwd(f)(x))
    close(j, jacrev(f)(x))
    assert len(seen) - 2 == calls  # jacfwd and jacrev ran once each above
    assert seen[0] == "Tensor"  # the first trace is in reverse mode, which learns the output size
    if calls == 2:
        assert seen[1] == "Dual"  # reverse was recorded, then forward mode won


@pytest.mark.parametrize("chunk", [1, 2, 5, None])
def test_chunked_jacobians_agree(chunk) -> None:
    def f(x, y):
        return {"a": ops.sin(x)[:, None] * y, "b": (x ** 2).sum()}

    x, y = RNG.normal(size=3), RNG.normal(size=(2,))
    full = jacrev(f, argnums=(0, 1))(x, y)
    for jac in (jacfwd, jacrev, jacobian):
        part = jac(f, argnums=(0, 1), chunk_size=chunk)(x, y)
        for key in ("a", "b"):
            for k in range(2):
                close(part[key][k], full[key][k])


# --- Hessians and Hessian-vector products ------------------------------------------------------

def f_scalar(x):
    return (ops.tanh(W @ x) ** 2).sum() + (x ** 4).sum()


def test_hvp_and_vhp_equal_the_hessian_times_v() -> None:
    x, v = RNG.normal(size=4), RNG.normal(size=4)
    h = hessian(f_scalar)(x)
    close(h, h.T)
    close(h, numerical_jacobian(grad(f_scalar), x), 1e-6)
    close(hvp(f_scalar, x, v), h @ v)
    close(vhp(f_scalar, x, v), v @ h)
    vs = RNG.normal(size=(3, 4))  # three products in one pass
    close(hvp(f_scalar, x, vs), vs @ h.T)


def test_hvp_of_a_tree_and_hessian_with_argnums() -> None:
    def f(p):
        return (p["a"] ** 3).sum() * (p["b"] ** 2).sum()

    p = {"a": np.array([1.0, 2.0]), "b": np.array([0.5])}
    v = {"a": np.array([1.0, 0.0]), "b": np.array([1.0])}
    out = hvp(f, p, v)
    sa, sb = (p["a"] ** 3).sum(), (p["b"] ** 2).sum()
    # H v: d/da (3a^2 sb) . (1, 0, | 1) = 6 a sb e0 + 3 a^2 2 b;
    #      d/db (2 b sa) = 3 a^2 2 b . e0 + 2 sa
    close(out["a"], 6 * p["a"] * sb * np.array([1.0, 0.0]) + 3 * p["a"] ** 2 * 2 * p["b"])
    close(out["b"], 3 * p["a"][0] ** 2 * 2 * p["b"] + 2 * sa)
    h = hessian(lambda a, b: (a ** 3).sum() * (b ** 2).sum(), argnums=(0, 1))(p["a"], p["b"])
    close(h[0][1], (3 * p["a"] ** 2)[:, None] * (2 * p["b"])[None, :])
    close(h[1][0], h[0][1].T)


# --- vmap --------------------------------------------------------------------------------------

def test_vmap_of_the_ops_that_care_about_shapes() -> None:
    xs = RNG.normal(size=(4, 3, 2))
    for f in (lambda x: x @ np.ones(2), lambda x: np.ones(3) @ x, lambda x: x.T @ x,
              lambda x: x.sum(axis=0), lambda x: ops.logsumexp(x, axis=-1),
              lambda x: x.reshape(6)[1:4], lambda x: x[np.array([2, 0])], lambda x: x[:, 1],
              lambda x: ops.softmax(x, axis=0), lambda x: ops.concatenate([x, x * 2], axis=1),
              lambda x: ops.where(x > 0, x, -x), lambda x: x.max(axis=1),
              lambda x: ops.linear(x, W[:, :2], np.ones(3)), lambda x: ops.norm(x),
              lambda x: ops.argmax(x, axis=1), lambda x: ops.cumsum(x, axis=0)):
        close(vmap(f)(xs), np.stack([f(x) for x in xs]))


def test_vmap_in_axes_out_axes_and_trees() -> None:
    xs, y = RNG.normal(size=(3, 5)), RNG.normal(size=3)
    close(vmap(lambda a, b: a * b, in_axes=(1, None))(xs, y), (xs * y[:, None]).T)
    close(vmap(lambda a: a * 2, out_axes=1)(xs), (xs * 2).T)
    out = vmap(lambda p: {"s": p["a"] + p["b"], "k": 1.0})({"a": xs, "b": xs})
    close(out["s"], 2 * xs)
    close(out["k"], np.ones(3))  # the same for every example: repeated along the batch
    close(vmap(lambda a, b: a["u"] + b, in_axes=({"u": 0}, None))({"u": xs}, xs[0]), xs + xs[0])
    with pytest.raises(ValueError, match="has 5 examples along axis 0, but another argument has 3"):
        vmap(lambda a, b: a + b)(xs, xs.T)
    with pytest.raises(ValueError, match="no argument is mapped"):
        vmap(lambda a: a, in_axes=None)(xs)
    with pytest.raises(TypeError, match="truth value of a batched value"):
        vmap(lambda a: a if a.sum() > 0 else -a)(xs)
    idx = np.array([[0], [1], [2]])  # an index that differs from example to example
    close(vmap(lambda a, i: a[i])(xs, idx), [x[i] for x, i in zip(xs, idx)])


def loss(params, x, y):
    logits = ops.linear(x[None], params["w"], params["b"])
    return nn.cross_entropy(logits, y[None])


PER_EXAMPLE = {"w": RNG.normal(size=(3, 4)), "b": RNG.normal(size=3)}
XS, YS = RNG.normal(size=(6, 4)), np.array([0, 2, 1, 1, 0, 2])


def test_per_example_gradients_match_a_python_loop() -> None:
    batched = vmap(grad(loss), in_axes=(None, 0, 0))(PER_EXAMPLE, XS, YS)
    for key in ("w", "b"):
        loop = np.stack([grad(loss)(PER_EXAMPLE, x, y)[key] for x, y in zip(XS, YS)])
        close(batched[key], loop, 1e-12)


def test_per_example_gradients_match_torch_func() -> None:
    torch = pytest.importorskip("torch")
    from torch.func import grad as tgrad
    from torch.func import vmap as tvmap

    def tloss(params, x, y):
        logits = torch.nn.functional.linear(x[None], params["w"], params["b"])
        return torch.nn.functional.cross_entropy(logits, y[None])

    theirs = tvmap(tgrad(tloss), in_dims=(None, 0, 0))(
        {k: torch.tensor(v) for k, v in PER_EXAMPLE.items()}, torch.tensor(XS), torch.tensor(YS))
    ours = vmap(grad(loss), in_axes=(None, 0, 0))(PER_EXAMPLE, XS, YS)
    for key in ("w", "b"):
        close(ours[key], theirs[key].numpy(), 1e-12)


def test_grad_of_vmap_vmap_of_vmap_and_vmap_inside_jacfwd() -> None:
    xs = RNG.normal(size=(5, 4))
    w = RNG.normal(size=4)
    g = grad(lambda v: vmap(lambda x: ops.tanh(x @ v))(xs).sum())(w)
    close(g, sum((1 - np.tanh(x @ w) ** 2) * x for x in xs))
    cube = RNG.normal(size=(2, 3, 4))
    close(vmap(vmap(lambda r: (r ** 2).sum()))(cube), (cube ** 2).sum(axis=2))
    close(vmap(vmap(lambda a, b: a * b, in_axes=(0, None)), in_axes=(0, None))(cube, w),
          cube * w)
    jac = jacfwd(lambda v: vmap(lambda x: ops.sin(x * v).sum())(xs))(w)
    close(jac, np.stack([np.cos(x * w) * x for x in xs]))
    close(jacrev(lambda v: vmap(lambda x: ops.sin(x * v).sum())(xs))(w), jac)
    hess = vmap(hessian(lambda x: (x ** 3).sum()))(xs)
    close(hess, np.stack([np.diag(6 * x) for x in xs]))


def test_vmap_keeps_perturbations_apart() -> None:
    # d/dx [x * vmap(lambda y: d/dy (x + y))(ys)] = sum over ys of 1, not 2 (confusion gives more)
    ys = np.array([1.0, 2.0, 3.0])

    def f(x):
        inner = vmap(lambda y: grad(lambda z: x * z + z)(y))(ys)  # d/dz (x z + z) = x + 1
        return (x * inner).sum()  # x (x + 1) per example

    close(grad(f)(1.0), 3 * (2 * 1.0 + 1))


def test_vmap_of_masked_fill_with_a_mask_per_example() -> None:
    # The mask was taken as a whole (every example's mask at once) and broadcast against each
    # example: the result had an extra axis, silently.
    xs = np.arange(6.0).reshape(2, 3)
    masks = np.array([[True, False, False], [False, False, True]])
    want = np.where(masks, 0.0, xs)
    np.testing.assert_array_equal(vmap(lambda x, m: ops.masked_fill(x, m, 0.0))(xs, masks), want)
    np.testing.assert_array_equal(
        vmap(lambda m: ops.masked_fill(np.arange(3.0), m, 0.0))(masks),
        np.where(masks, 0.0, np.arange(3.0)))
    grads = vmap(grad(lambda x, m: ops.sum(ops.masked_fill(x, m, 0.0) * x)))(xs, masks)
    np.testing.assert_array_equal(grads, np.where(masks, 0.0, 2 * xs))


@pytest.mark.parametrize("name", sorted(registry))
@settings(max_examples=3)
@given(data=st.data())
def test_vmap_over_every_array_argument_equals_a_loop(name: str, data: Any) -> None:
    """vmap of each registry op over all of its arrays at once (indices and masks included, each
    example with other values) equals the op applied example by example: no argument's batch may
    be taken as one example's value."""
    op = registry[name]
    args, params = op.domain(HypothesisDraw(data))
    first: list = []
    template = arrays_out((tuple(args), params), first)
    if not first:
        return
    second = [other_values(a) for a in first]

    def f(*arrays: Any) -> Any:
        call_args, call_params = arrays_in(template, arrays)
        return op(*call_args, **call_params)

    with np.errstate(all="ignore"):
        try:
            loop = [f(*first), f(*second)]
        except (ValueError, IndexError, np.linalg.LinAlgError):
            return  # the other values are outside the op's domain
        batched = vmap(f)(*[np.stack([a, b]) for a, b in zip(first, second)])
    outs = batched if isinstance(batched, tuple) else (batched,)
    for k, out in enumerate(outs):
        for i, example in enumerate(loop):
            want = np.asarray(example[k] if isinstance(example, tuple) else example)
            got = np.asarray(out)[i]
            assert got.shape == want.shape, (got.shape, want.shape)
            np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-12, equal_nan=True)
