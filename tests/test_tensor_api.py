"""The Tensor API a PyTorch user reaches for, and the tables generated from the registry.

Expected values are written out from the definitions (PyTorch's semantics where the names are
PyTorch's: ``x.var()`` divides by n - 1, ``x.max(dim)`` returns values and indices).
"""
from __future__ import annotations

import numpy as np
import pytest

from adcore import bind, defop, gradcheck, ops
from adcore import domains as D
from adcore.levels import raw
from adcore.methods import FUNCTIONS, UFUNCS, ArrayMethods
from adcore.registry import register, registry, unregister
from forward import Dual, jvp
from reverse import Tensor, Value, no_grad

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
