"""The Tensor API a PyTorch user reaches for, and the tables generated from the registry.

Expected values are written out from the definitions (PyTorch's semantics where the names are
PyTorch's: ``x.var()`` divides by n - 1, ``x.max(dim)`` returns values and indices).
"""
from __future__ import annotations

import numpy as np
import pytest

from adcore import bind, defop, gradcheck, numerical_jacobian, ops
from adcore import domains as D
from adcore.levels import raw
from adcore.methods import FUNCTIONS, UFUNCS, ArrayMethods
from adcore.registry import register, registry, unregister
from forward import Dual, jvp
from reverse import Tensor, Value, grad, jacrev, no_grad

A = np.array([[1.0, 5.0, 2.0], [3.0, -2.0, 4.0]])


def close(a, b, tol=1e-6):
    np.testing.assert_allclose(np.asarray(raw(a), dtype=np.float64),
                               np.asarray(raw(b), dtype=np.float64),
                               rtol=tol, atol=tol)


def test_dim_and_keepdim_beside_axis_and_keepdims() -> None:
    t = Tensor(A)
    for name in ("sum", "mean", "logsumexp", "prod", "amax", "amin"):
        by_dim = getattr(t, name)(dim=1, keepdim=True)
        by_axis = getattr(ops, {"amax": "max", "amin": "min"}.get(name, name))(t, axis=1,
                                                                            keepdims=True)
        assert by_dim.shape == (2, 1)
        close(by_dim, by_axis)
    close(t.softmax(dim=0), ops.softmax(t, axis=0))
    close(t.log_softmax(dim=0), ops.log_softmax(t, 0))
    with pytest.raises(TypeError, match="both axis=0 and dim=1"):
        ops.sum(t, axis=0, dim=1)


def test_max_and_min_with_dim_return_values_and_indices() -> None:
    t = Tensor(A, requires_grad=True)
    values, indices = t.max(1)
    close(values, [5.0, 4.0])
    np.testing.assert_array_equal(indices.data, [1, 2])
    assert indices.dtype == np.int64 and not indices.requires_grad
    values.sum().backward()
    close(t.grad, [[0, 1, 0], [0, 0, 1]])
    result = t.min(dim=0, keepdim=True)
    close(result.values, [[1.0, -2.0, 2.0]])
    np.testing.assert_array_equal(result.indices.data, [[0, 1, 0]])
    close(t.max(), 5.0)
    close(t.max(axis=0), [3.0, 5.0, 4.0])  # numpy's keyword: values only
    close(t.max(Tensor(np.full((2, 3), 3.0))), np.maximum(A, 3.0))  # x.max(other)
    assert int(t.argmax()) == 1 and int(t.argmin()) == 4
    np.testing.assert_array_equal(t.argmax(dim=1).data, [1, 2])


def test_sizes_and_conversions() -> None:
    t = Tensor(A)
    assert t.size() == (2, 3) and t.size(1) == 3 and t.dim() == 2 and t.numel() == 6
    assert t.tolist() == A.tolist()
    c = t.clone()
    c.add_(1.0)
    close(t, A)
    assert t.to(np.float64).dtype == np.float64 and t.double().float().dtype == np.float32
    assert f"{Tensor([3.14159]):.2f}" == "3.14" and f"{Tensor(2.5):.1f}" == "2.5"
    close(round(Tensor([1.26, -2.5]), 1), [1.3, -2.5])
    close(round(Tensor([0.5, 1.5, 2.5])), [0.0, 2.0, 2.0])  # half to even, as PyTorch


def test_var_std_prod_norm_cumsum_follow_pytorch_and_numpy() -> None:
    t = Tensor(A)
    close(t.var(), np.var(A, ddof=1))  # PyTorch: unbiased by default
    close(t.var(dim=1, correction=0), np.var(A, axis=1))
    close(ops.var(t), np.var(A))  # the function follows numpy
    close(np.var(t, axis=0), np.var(A, axis=0))
    close(t.std(dim=0), np.std(A, axis=0, ddof=1))
    close(t.prod(dim=1), np.prod(A, axis=1))
    close(t.norm(), np.linalg.norm(A))
    close(t.norm(1, dim=1), np.abs(A).sum(axis=1))
    close(t.norm(float("inf")), 5.0)
    close(t.norm(3), np.sum(np.abs(A) ** 3) ** (1 / 3))
    close(t.cumsum(dim=1), np.cumsum(A, axis=1))
    close(np.cumsum(t), np.cumsum(A))


@pytest.mark.parametrize("f", [
    lambda x: ops.var(x, dim=1, correction=1).sum(), lambda x: ops.std(x),
    lambda x: ops.prod(x, dim=0).sum(), lambda x: ops.norm(x, 3), lambda x: ops.norm(x),
    lambda x: (ops.cumsum(x, dim=0) * x).sum(),
    lambda x: ops.masked_fill(x, A > 2, -1.0).sum(),
])
def test_new_differentiable_functions_pass_gradcheck(f) -> None:
    assert gradcheck(f, A + 0.1)


def test_prod_gradient_is_exact_where_entries_are_zero() -> None:
    # PyTorch: d prod / dx_i = the product of the others, also at zeros
    x = Tensor([2.0, 0.0, 3.0], requires_grad=True)
    x.prod().backward()
    close(x.grad, [0.0, 6.0, 0.0])
    y = Tensor([0.0, 0.0, 3.0], requires_grad=True)
    y.prod().backward()
    close(y.grad, [0.0, 0.0, 0.0])


def test_masked_fill_in_both_forms() -> None:
    x = Tensor([1.0, 2.0, 3.0], requires_grad=True)
    v = Tensor(9.0, requires_grad=True)
    mask = Tensor([True, False, True], dtype=bool)
    out = x.masked_fill(mask, v)
    close(out, [9.0, 2.0, 9.0])
    out.sum().backward()
    close(x.grad, [0.0, 1.0, 0.0])
    close(v.grad, 2.0)
    h = x * 1
    h.masked_fill_(mask, 0.0)
    close(h, [0.0, 2.0, 0.0])
    with pytest.raises(ValueError, match="masked_fill: mask of shape"):
        x.masked_fill(Tensor([True, False], dtype=bool), 0.0)


def test_non_differentiable_functions_return_the_engine_type() -> None:
    t = Tensor([-1.5, 0.0, 2.5], requires_grad=True)
    for out in (ops.sign(t), ops.where(t > 1, 1.0, 0.0), t > 1, t == 0, ops.argmax(t),
                t.any(), t.all(), ~(t > 0), (t > 0) & (t < 2), (t > 0) | (t < -1), t // 2,
                ops.floor(t), ops.isfinite(t)):
        assert type(out) is Tensor and not out.requires_grad
    close(t // 2, [-1.0, 0.0, 1.0])
    close(t % 2, [0.5, 0.0, 0.5])  # differentiable: d/dx = 1 (tests/test_exactness_ops.py)
    assert (t % 2).requires_grad
    close(ops.sign(t), [-1.0, 0.0, 1.0])
    assert bool((t > -2).all()) and not bool((t > 0).all()) and bool(t.any())
    d = Dual(np.array([1.0, -1.0]), np.array([1.0, 1.0]))
    assert type(ops.sign(d)) is Dual and type(d < 0) is Dual


def test_bare_no_grad_decorator() -> None:
    @no_grad
    def step(w):
        w -= 1.0
        return w

    w = Tensor([1.0], requires_grad=True)
    step(w)
    close(w, [0.0])


# --- tables generated from the registry --------------------------------------------------------

def test_every_registered_op_reaches_its_declared_methods_and_numpy_routes() -> None:
    for op in registry.values():
        for name in op.methods:
            assert hasattr(Tensor, name) and hasattr(Dual, name), (op.name, name)
        for fn in op.numpy:
            assert (UFUNCS if isinstance(fn, np.ufunc) else FUNCTIONS).get(fn) is not None, fn
        if op.kind == "elementwise":
            for name in op.methods:
                assert hasattr(Value, name), (op.name, name)


def test_a_new_op_is_one_stanza_and_appears_everywhere() -> None:
    op = defop("cube", lambda x: x ** 3, partials=(lambda x, out: ops.mul(3.0, ops.mul(x, x)),),
               domain=D.unary(), method="cube", numpy=np.cbrt, register=False,
               doc="cube(x) = x ** 3 (answering to np.cbrt only for this test).")
    assert not hasattr(ArrayMethods, "cube")
    register(op)
    try:
        t = Tensor([2.0], requires_grad=True)
        t.cube().backward()
        close(t.grad, [12.0])
        via_numpy = np.cbrt(Tensor([2.0], requires_grad=True))  # routed to the op
        assert type(via_numpy) is Tensor and float(via_numpy) == 8.0
        _, tangent = jvp(lambda x: x.cube(), (2.0,), (1.0,))
        assert float(tangent) == 12.0
        v = Value(2.0)
        c = v.cube()
        c.backward()
        assert c.data == 8.0 and v.grad == 12.0 and c._op == "cube"
        assert gradcheck(lambda x: bind(op, x), np.array([0.5, -1.0]))
    finally:
        unregister(op)
    assert not hasattr(Tensor, "cube") and not hasattr(Value, "cube")
    assert np.cbrt not in UFUNCS


def test_the_type_checking_block_is_what_the_tables_install() -> None:
    """adcore/methods.py's TYPE_CHECKING block (what editors and mypy see) is generated from the
    run-time class: a method installed but not named, or named but not installed, fails here.
    Regenerate it with ``python -m adcore.methods``."""
    import inspect

    import adcore.methods

    source = inspect.getsource(adcore.methods)
    start = source.index("    if TYPE_CHECKING:\n")
    assert source[start:source.index("\n\n", start) + 1] == adcore.methods.type_checking_block()


def test_methods_named_for_type_checkers_exist_on_tensor_and_dual() -> None:
    """The generated methods that adcore/methods.py names under TYPE_CHECKING (what editors and
    mypy see) are methods of Tensor and Dual at run time, so the names cannot drift."""
    import ast
    import inspect

    import adcore.methods

    tree = ast.parse(inspect.getsource(adcore.methods))
    cls = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "ArrayMethods")
    block = next(n for n in cls.body if isinstance(n, ast.If)
                 and getattr(n.test, "id", None) == "TYPE_CHECKING")
    named = [s.target.id for s in block.body if isinstance(s, ast.AnnAssign)]
    assert len(named) > 50
    x = Tensor([1.0, 2.0])
    for name in named:
        assert callable(getattr(x, name)), name
        assert callable(getattr(Dual(np.ones(2), np.ones(2)), name)), name


# --- PyTorch's conversions, products, selections, random fills and hooks -----------------------

def check_jacobian(g, x: np.ndarray) -> None:
    """jacrev of g (on a tensor, PyTorch's personality) against central differences."""
    jac = np.asarray(raw(jacrev(g)(Tensor(x))))
    np.testing.assert_allclose(jac, numerical_jacobian(lambda v: g(Tensor(v)), x),
                               rtol=1e-6, atol=1e-6)


def test_conversions_follow_pytorch() -> None:
    x = Tensor([[1.7, -2.2], [0.0, 3.5]], requires_grad=True)
    for method, dtype in (("long", np.int64), ("int", np.int32), ("bool", np.bool_)):
        out = getattr(x, method)()
        assert type(out) is Tensor and out.dtype == dtype and not out.requires_grad
    np.testing.assert_array_equal(x.long().data, [[1, -2], [0, 3]])  # towards 0, as PyTorch
    np.testing.assert_array_equal(x.bool().data, [[True, True], [False, True]])
    assert x.to(np.int64).dtype == np.int64 and not x.to(np.int64).requires_grad
    assert x.double().requires_grad and x.double().float().dtype == np.float32
    assert (x.element_size(), x.double().element_size(), x.long().element_size(),
            x.bool().element_size()) == (4, 8, 8, 1)
    assert x.numel() == 4
    ints = Tensor(np.arange(3), dtype=np.int64)
    assert ints.float().dtype == np.float32 and ints.double().dtype == np.float64
    d = Dual(np.array([1.5, -0.5]), np.array([1.0, 1.0]))
    assert type(d.long()) is Dual and d.long().dtype == np.int64
    torch = pytest.importorskip("torch")
    t = torch.tensor([[1.7, -2.2], [0.0, 3.5]])
    for method in ("long", "int", "bool"):
        np.testing.assert_array_equal(getattr(x, method)().data, getattr(t, method)().numpy())
        assert getattr(x, method)().element_size() == getattr(t, method)().element_size()


def test_t_mm_bmm() -> None:
    x = Tensor(A, requires_grad=True)
    close(x.t(), A.T)
    close(Tensor([1.0, 2.0]).t(), [1.0, 2.0])  # 0-d and 1-d: as they are
    close(x.mm(x.t()), A @ A.T)
    s = np.stack([A, 2 * A])
    close(Tensor(s).bmm(Tensor(s).mT), s @ s.transpose(0, 2, 1))
    x.mm(x.t()).sum().backward()
    close(x.grad, np.ones((2, 2)) @ A + (np.ones((2, 2)) @ A))
    check_jacobian(lambda t: t.mm(t.t()), A)
    check_jacobian(lambda t: t.reshape(1, 2, 3).bmm(t.t().reshape(1, 3, 2)), A)
    with pytest.raises(ValueError, match=r"t: expects at most 2 dimensions, got shape "
                                         r"\(2, 2, 3\); use x.transpose"):
        Tensor(s).t()
    with pytest.raises(ValueError, match=r"mm: expects matrices of shapes \(n, k\) and \(k, m\), "
                                         r"got \(2, 3\) and \(2, 3\); use matmul"):
        x.mm(x)
    with pytest.raises(ValueError, match=r"bmm: .* got \(2, 3\) and \(3, 2\)"):
        x.bmm(x.t())


IDX = np.array([[2, 0, 2], [1, 1, 0]])  # along dim 1 (repeats included)
IDX0 = np.array([[1, 0, 1], [1, 0, 0]])  # along dim 0


def test_gather_scatter_values_match_pytorch() -> None:
    x = Tensor(A)
    index = Tensor(IDX, dtype=np.int64)
    close(x.gather(1, index), [[2.0, 1.0, 2.0], [-2.0, -2.0, 3.0]])
    close(x.gather(0, Tensor([[1, 0]], dtype=np.int64)), [[3.0, 5.0]])  # a smaller index
    close(x.scatter(1, Tensor([[2], [0]], dtype=np.int64), Tensor([[9.0], [8.0]])),
          [[1.0, 5.0, 9.0], [8.0, -2.0, 4.0]])
    close(x.scatter(0, Tensor([[1, 0, 1]], dtype=np.int64), -1.0), [[1, -1, 2], [-1, -2, -1]])
    close(x.scatter_add(1, index, Tensor(np.ones((2, 3)))), [[2.0, 5.0, 4.0], [4.0, 0.0, 4.0]])
    close(ops.gather(A, 1, IDX), x.gather(1, IDX))  # the function, on plain arrays too
    torch = pytest.importorskip("torch")
    t, ti, src = torch.tensor(A), torch.tensor(IDX), torch.tensor(A * 10)
    close(x.gather(1, index), t.gather(1, ti).numpy())
    close(x.gather(0, IDX0), t.gather(0, torch.tensor(IDX0)).numpy())
    close(x.scatter(1, Tensor([[2, 0]], dtype=np.int64), Tensor(A * 10)),
          t.scatter(1, torch.tensor([[2, 0]]), src).numpy())
    close(x.scatter_add(1, index, Tensor(A * 10)), t.scatter_add(1, ti, src).numpy())
    close(x.scatter_add(0, IDX0, Tensor(A * 10)),
          t.scatter_add(0, torch.tensor(IDX0), src).numpy())


@pytest.mark.parametrize("g", [
    lambda t: t.gather(1, Tensor(IDX, dtype=np.int64)),  # repeated indices accumulate
    lambda t: t.gather(0, Tensor(IDX0[:1, :2], dtype=np.int64)) * t[:1, :2],
    lambda t: t.scatter(1, Tensor([[2], [0]], dtype=np.int64), t[:, :1] * 3),
    lambda t: t.scatter(0, Tensor([[1, 0, 1]], dtype=np.int64), 0.5).exp(),
    lambda t: t.scatter_add(1, Tensor(IDX, dtype=np.int64), t * t),
    lambda t: ops.scatter(t, 0, IDX0, t.sin(), reduce="add"),
])
def test_gather_scatter_gradients(g) -> None:
    check_jacobian(g, A)


def test_sort_and_topk_return_values_and_indices() -> None:
    x = Tensor([[3.0, 1.0, 2.0, 1.0], [0.0, 5.0, -1.0, 4.0]], requires_grad=True)
    values, indices = x.sort()
    close(values, [[1.0, 1.0, 2.0, 3.0], [-1.0, 0.0, 4.0, 5.0]])
    np.testing.assert_array_equal(indices.data, [[1, 3, 2, 0], [2, 0, 3, 1]])  # ties in order
    assert indices.dtype == np.int64 and not indices.requires_grad
    result = x.sort(dim=0, descending=True)
    close(result.values, [[3.0, 5.0, 2.0, 4.0], [0.0, 1.0, -1.0, 1.0]])
    top = x.topk(2)
    close(top.values, [[3.0, 2.0], [5.0, 4.0]])
    np.testing.assert_array_equal(top.indices.data, [[0, 2], [1, 3]])
    low = x.topk(1, dim=1, largest=False)
    close(low.values, [[1.0], [-1.0]])
    np.testing.assert_array_equal(low.indices.data, [[1], [2]])
    top.values.sum().backward()
    close(x.grad, [[1, 0, 1, 0], [0, 1, 0, 1]])
    torch = pytest.importorskip("torch")
    t = torch.tensor(raw(x))
    for dim, descending in ((0, False), (1, True), (-1, False)):
        ours = x.sort(dim, descending=descending)
        theirs = t.sort(dim=dim, descending=descending, stable=True)
        close(ours.values, theirs.values.numpy())
        np.testing.assert_array_equal(ours.indices.data, theirs.indices.numpy())
    close(x.topk(3, dim=1).values, t.topk(3, dim=1).values.numpy())
    close(x.topk(1, dim=0, largest=False).values, t.topk(1, dim=0, largest=False).values.numpy())


@pytest.mark.parametrize("g", [
    lambda t: t.sort(dim=1).values * t,
    lambda t: t.sort(dim=0, descending=True).values.exp(),
    lambda t: t.topk(2).values,
    lambda t: t.topk(1, dim=0, largest=False).values * 3,
])
def test_sort_and_topk_gradients(g) -> None:
    check_jacobian(g, A)


def test_repeat_chunk_split_follow_pytorch() -> None:
    x = Tensor(A)
    close(x.repeat(2, 1), np.tile(A, (2, 1)))
    assert x.repeat(2, 1, 2).shape == (2, 2, 6) and x.repeat((1, 1)).shape == (2, 3)
    assert [p.shape for p in x.chunk(2, dim=1)] == [(2, 2), (2, 1)]
    assert [p.shape for p in x.split(1)] == [(1, 3), (1, 3)]
    assert [p.shape for p in x.split([1, 2], dim=-1)] == [(2, 1), (2, 2)]
    close(x.split([1, 2], dim=1)[1], A[:, 1:])
    with pytest.raises(ValueError, match=r"repeat: 1 repeat count\(s\) \(2,\) for a value with "
                                         r"2 dimensions .* give at least one count per"):
        x.repeat(2)
    torch = pytest.importorskip("torch")
    close(x.repeat(2, 1, 3), torch.tensor(A).repeat(2, 1, 3).numpy())


@pytest.mark.parametrize("g", [
    lambda t: t.repeat(2, 3),
    lambda t: t.repeat(2, 1, 1) * 2,
    lambda t: t.chunk(2, dim=1)[0] * t.chunk(3, dim=1)[1],
    lambda t: t.split(2, dim=1)[1].exp(),
    lambda t: t.split([1, 1])[0] - t.split([1, 1])[1] ** 2,
])
def test_repeat_chunk_split_gradients(g) -> None:
    check_jacobian(g, A)


def test_in_place_fills_copies_clamp_where() -> None:
    x = Tensor(A, requires_grad=True)
    h = x * 1
    h.fill_(2.0)
    close(h, np.full((2, 3), 2.0))
    h.copy_(Tensor([1.0, 2.0, 3.0]))  # broadcast
    close(h, [[1, 2, 3], [1, 2, 3]])
    h.sum().backward()
    close(x.grad, np.zeros((2, 3)))  # overwritten: nothing reaches x
    x.grad = None
    y = x.clamp(min=0.0, max=3.0) + x.where(x > 2, Tensor(0.0))
    close(y, np.clip(A, 0, 3) + np.where(A > 2, A, 0))
    y.sum().backward()
    close(x.grad, ((A >= 0) & (A <= 3)).astype(float) + (A > 2))  # bounds included


def test_normal_and_uniform_fill_in_place_from_a_generator() -> None:
    w = Tensor(np.zeros((3, 4)), requires_grad=True)
    with no_grad():
        assert w.normal_(1.0, 2.0, generator=np.random.default_rng(3)) is w
    close(w, np.random.default_rng(3).normal(1.0, 2.0, (3, 4)))
    assert w.is_leaf and w.requires_grad
    with no_grad():
        w.uniform_(-1.0, 1.0, generator=np.random.default_rng(4))
    close(w, np.random.default_rng(4).uniform(-1.0, 1.0, (3, 4)))
    from reverse import manual_seed

    manual_seed(11)
    a = Tensor(np.zeros(5, np.float32)).uniform_()
    manual_seed(11)
    b = Tensor(np.zeros(5, np.float32)).uniform_()
    close(a, b)
    assert a.dtype == np.float32 and bool(((a >= 0) & (a < 1)).all())
    with pytest.raises(RuntimeError, match=r"normal_: this tensor is a leaf that requires grad; "
                                           r".* under `with no_grad\(\):`"):
        w.normal_()
    with pytest.raises(TypeError, match=r"uniform_: fills floating-point tensors only, this one "
                                        r"has dtype int64; convert it first"):
        Tensor(np.zeros(2), dtype=np.int64).uniform_()
    with pytest.raises(ValueError, match="normal_: std must be >= 0, got std=-1"):
        Tensor([0.0]).normal_(0, -1)
    with pytest.raises(ValueError, match="uniform_: expects from_ <= to, got from_=2 > to=1"):
        Tensor([0.0]).uniform_(2, 1)
    with pytest.raises(TypeError, match=r"normal_: generator must be a numpy\.random\.Generator"):
        Tensor([0.0]).normal_(generator=0)


def test_hooks_on_a_leaf_replace_the_gradient_before_it_is_accumulated() -> None:
    x = Tensor([1.0, 2.0], requires_grad=True)
    seen = []
    first = x.register_hook(lambda g: seen.append(g.tolist()))
    second = x.register_hook(lambda g: g * 10)
    third = x.register_hook(lambda g: seen.append(g.tolist()))  # after the replacement
    (x * x).sum().backward()
    assert seen == [[2.0, 4.0], [20.0, 40.0]]
    close(x.grad, [20.0, 40.0])
    second.remove()
    second.remove()  # twice is fine
    (x * 3).sum().backward()
    close(x.grad, [23.0, 43.0])  # accumulated: the hook no longer replaces
    first.remove()
    third.remove()
    with x.register_hook(lambda g: g * 0):
        (x * x).sum().backward()
    close(x.grad, [23.0, 43.0])
    (x * x).sum().backward()  # removed on leaving the block
    close(x.grad, [25.0, 47.0])


def test_hooks_on_a_non_leaf_change_what_flows_to_its_inputs() -> None:
    x = Tensor([1.0, 2.0], requires_grad=True)
    y = x * 3
    seen = []
    y.register_hook(lambda g: seen.append(g.tolist()))
    handle = y.register_hook(lambda g: g + 1)
    y.retain_grad()
    (y * y).sum().backward()
    assert seen == [[6.0, 12.0]]
    close(y.grad, [7.0, 13.0])  # retain_grad sees the replacement, as in PyTorch
    close(x.grad, [21.0, 39.0])
    handle.remove()
    x.grad = None
    z = x * 3
    z.register_hook(lambda g: g * 0)
    (z + x).sum().backward()
    close(x.grad, [1.0, 1.0])  # only the direct path
    torch = pytest.importorskip("torch")
    tx = torch.tensor([1.0, 2.0], requires_grad=True)
    ty = tx * 3
    ty.register_hook(lambda g: g + 1)
    ty.retain_grad()
    (ty * ty).sum().backward()
    close(y.grad, ty.grad.numpy())


def test_hooks_stay_with_the_value_they_were_registered_on() -> None:
    """As PyTorch: after an in-place change a hook registered before it sees the gradient with
    respect to the old value; retain_grad moves to the new one."""
    x = Tensor([1.0, 2.0], requires_grad=True)
    a = x * 1
    seen = []
    a.register_hook(lambda g: seen.append(("old", g.tolist())))
    a.retain_grad()
    a.mul_(2.0)
    a.register_hook(lambda g: seen.append(("new", g.tolist())))
    (a * a).sum().backward()
    assert seen == [("new", [4.0, 8.0]), ("old", [8.0, 16.0])]
    close(a.grad, [4.0, 8.0])
    close(x.grad, [8.0, 16.0])


def test_hooks_under_create_graph_and_inside_transformations() -> None:
    x = Tensor([1.0, 2.0], requires_grad=True)
    y = x ** 2
    y.register_hook(lambda g: g * 3)
    y.sum().backward(create_graph=True)
    close(x.grad, [6.0, 12.0])
    assert x.grad.requires_grad
    g = x.grad
    x.grad = None
    g.sum().backward()
    close(x.grad, [6.0, 6.0])

    def f(v):
        h = v * v
        h.register_hook(lambda g: g * 2)
        v.register_hook(lambda g: g + 1)  # a leaf of the transformation
        return h.sum()
    close(grad(f)(Tensor([1.0, 3.0])), [5.0, 13.0])


def test_a_gradient_kept_by_a_hook_is_not_written_into_later() -> None:
    x = Tensor([1.0, 2.0], requires_grad=True)
    kept = []
    x.register_hook(kept.append)
    for _ in range(2):
        (x * 2).sum().backward()
    assert [k.tolist() for k in kept] == [[2.0, 2.0], [2.0, 2.0]]
    close(x.grad, [4.0, 4.0])
    y = Tensor([1.0, 2.0], requires_grad=True)
    out = y * 1
    out.register_hook(lambda g: g.mul_(2))  # the pass's array: refused, with the fix
    with pytest.raises(ValueError, match=r"mul_: this tensor's data is read-only .* clone\(\) "
                                         r"it before changing it in place"):
        out.backward(np.ones(2))


@pytest.mark.parametrize(("hook", "kind", "message"), [
    (lambda g: g[:1], ValueError, r"register_hook: the hook '<lambda>' returned shape \(1,\) for "
                                  r"a gradient of shape \(2,\); return a tensor of the gradient's "
                                  r"shape, or None"),
    (lambda g: g.double(), TypeError, r"register_hook: the hook '<lambda>' returned dtype float64 "
                                      r"for a gradient of dtype float32; convert it"),
    (lambda g: "no", TypeError, r"register_hook: the hook '<lambda>' returned a str; return a "
                                r"tensor"),
])
def test_a_hook_returning_the_wrong_thing_is_named(hook, kind, message) -> None:
    x = Tensor([1.0, 2.0], requires_grad=True)
    x.register_hook(hook)
    with pytest.raises(kind, match=message):
        (x * x).sum().backward()


def test_register_hook_refuses_what_cannot_have_a_gradient() -> None:
    with pytest.raises(RuntimeError, match=r"register_hook: cannot register a hook on a tensor "
                                           r"that does not require grad .* requires_grad_\(\)"):
        Tensor([1.0]).register_hook(lambda g: g)
    with pytest.raises(TypeError, match=r"register_hook: the hook must be callable .* got int"):
        Tensor([1.0], requires_grad=True).register_hook(3)


@pytest.mark.parametrize(("call", "kind", "message"), [
    (lambda x: x.gather(1, Tensor([[0.0]])), TypeError,
     r"gather: the index must hold integers, got dtype float32; convert it with .long\(\)"),
    (lambda x: x.gather(1, np.array([0, 1])), ValueError,
     r"gather: the index has shape \(2,\) but the input has shape \(2, 3\); they must have the "
     r"same number of dimensions"),
    (lambda x: x.gather(1, np.zeros((3, 1), np.int64)), ValueError,
     r"gather: the index \(shape \(3, 1\)\) is longer than the input \(shape \(2, 3\)\) along "
     r"dimension 0; only along dim=1"),
    (lambda x: x.gather(1, np.array([[3]])), IndexError,
     r"gather: index 3 is out of bounds for dimension 1 with size 3; indices along dim must be "
     r"in \[0, 2\]"),
    (lambda x: x.scatter(1, np.array([[0, 1]]), Tensor([[1.0]])), ValueError,
     r"scatter: src has shape \(1, 1\) but the index has shape \(1, 2\); src must have"),
    (lambda x: ops.scatter(x, 1, np.array([[0]]), 1.0, reduce="mean"), ValueError,
     r"scatter: reduce='mean' is not supported; use reduce=None \(write\) or reduce='add'"),
    (lambda x: x.scatter_add(1, np.array([[-1]]), Tensor([[1.0]])), IndexError,
     r"scatter_add: index -1 is out of bounds for dimension 1"),
    (lambda x: x.topk(4), ValueError, r"topk: k=4 is out of range for dimension 1 of size 3 "
                                      r"\(shape \(2, 3\)\); give an int k with 0 <= k <= 3"),
    (lambda x: x.chunk(0), ValueError, "chunk: chunks must be a positive int, got 0"),
    (lambda x: x.split([1, 1], dim=1), ValueError,
     r"split: the sizes \[1, 1\] must be non-negative and add up to 3, the length of dimension 1"),
    (lambda x: x.sort(dim=2), ValueError, r"argsort: axis 2 is out of range"),
])
def test_errors_of_the_pytorch_methods_name_the_method_and_the_fix(call, kind, message) -> None:
    with pytest.raises(kind, match=message):
        call(Tensor(A))
