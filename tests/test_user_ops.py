"""A user declares an op in one stanza (docs/ops.md) and it works in every mode and order."""
from __future__ import annotations

import numpy as np
import pytest

from adcore import defop, gradcheck, numerical_jacobian, ops, vmap
from adcore.registry import unregister
from forward import Dual, jacfwd
from reverse import Tensor, grad, hessian, jacrev


@pytest.fixture
def softsign():
    op = defop("softsign", lambda x: x / (1 + np.abs(x)),
               partials=(lambda x, out: (1 - ops.abs(out)) ** 2,),
               method="softsign", doc="softsign(x) = x / (1 + |x|).")
    yield op
    unregister(op)


def cube_rule(x):
    return 3 * x ** 2


cube = defop("cube", lambda x: x ** 3, register=False,
             jvp=(lambda x_dot, x, out: cube_rule(x) * x_dot,),
             vjp=(lambda y_bar, x, out: cube_rule(x) * y_bar,))


def test_an_elementwise_op_by_its_partials_works_everywhere(softsign) -> None:
    x = np.array([0.5, -2.0, 3.0])
    f = lambda v: softsign(v).sum()
    np.testing.assert_allclose(grad(f)(x), 1 / (1 + np.abs(x)) ** 2)
    np.testing.assert_allclose(hessian(f)(x), numerical_jacobian(grad(f), x), atol=1e-6)
    np.testing.assert_allclose(jacfwd(softsign)(x), jacrev(softsign)(x))
    np.testing.assert_allclose(vmap(softsign)(np.stack([x, -x])), [softsign(x), softsign(-x)])
    t = Tensor(x, requires_grad=True)
    t.softsign().sum().backward()  # its method, generated from the declaration
    np.testing.assert_allclose(t.grad.data, 1 / (1 + np.abs(x)) ** 2, rtol=1e-6)
    d = Dual(0.5, 1.0).softsign()
    assert abs(d.tangent - 1 / 1.5 ** 2) < 1e-12
    assert gradcheck(softsign, x)


def test_an_op_with_explicit_rules_works_to_second_order() -> None:
    x = np.array([1.0, -2.0])
    np.testing.assert_allclose(grad(lambda v: cube(v).sum())(x), 3 * x ** 2)
    np.testing.assert_allclose(hessian(lambda v: cube(v).sum())(x), np.diag(6 * x))
    np.testing.assert_allclose(jacfwd(jacfwd(lambda v: cube(v).sum()))(x), np.diag(6 * x))
    t = Tensor(x, requires_grad=True)
    cube(t).sum().backward(create_graph=True)
    g = t.grad
    t.grad = None
    g.sum().backward()
    np.testing.assert_allclose(t.grad.data, 6 * x)


def test_an_elementwise_op_added_at_run_time_is_found_everywhere() -> None:
    """One stanza (docs/architecture.md, "Adding an op"): the op is a method of Tensor, Dual and
    Value, numpy's function routes to it (plain, under every transformation and on a Tensor), and
    the generated suite checks its rules like any built-in op's."""
    import test_registry  # the generated suite: its checks take an op's name

    from adcore import domains as D
    from reverse import Value

    op = defop("cube_root", np.cbrt,
               partials=(lambda x, out: 1 / (3 * out * out),),
               domain=D.unary(0.3, 3.0), method="cube_root", numpy=np.cbrt,
               doc="cube_root(x) = x ** (1/3).  d/dx = 1 / (3 cbrt(x)^2).")
    try:
        x = np.array([0.5, 2.0, 8.0])
        want = 1 / (3 * np.cbrt(x) ** 2)
        t = Tensor(x, requires_grad=True)
        t.cube_root().sum().backward()
        np.testing.assert_allclose(t.grad.data, want, rtol=1e-12)
        u = Tensor(x, requires_grad=True)
        np.cbrt(u).sum().backward()  # numpy's function on a Tensor
        np.testing.assert_allclose(u.grad.data, want, rtol=1e-12)
        assert abs(Dual(8.0, 1.0).cube_root().tangent - 1 / 12) < 1e-15
        v = Value(8.0)
        v.cube_root().backward()
        assert abs(v.grad - 1 / 12) < 1e-15
        np.testing.assert_allclose(grad(lambda a: np.cbrt(a).sum())(x), want, rtol=1e-12)
        np.testing.assert_allclose(jacfwd(np.cbrt)(x), np.diag(want), rtol=1e-12)
        np.testing.assert_allclose(vmap(np.cbrt)(np.stack([x, 2 * x])), np.cbrt([x, 2 * x]))
        test_registry.test_forward_reverse_and_finite_differences_agree(name="cube_root")
        test_registry.test_rules_differentiate_again(name="cube_root")
    finally:
        unregister(op)
    with pytest.raises(AttributeError):
        Tensor(x).cube_root()
