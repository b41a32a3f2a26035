"""Tensor semantics that nn and the optimizers stand on: subclasses, copies, dtypes, owned
gradients, in-place operations with version counters, views, and the conversions that would drop a
derivative.

Expected gradients are written out from the formulas (or, where noted, PyTorch's numbers for the
same program).
"""
from __future__ import annotations

import math
import weakref

import numpy as np
import pytest

from adcore import ops
from adcore.levels import raw
from forward import Dual, jacfwd, jvp
from reverse import Tensor, grad, jacrev, no_grad


def close(a, b, tol=1e-6):
    np.testing.assert_allclose(np.asarray(raw(a), dtype=np.float64),
                               np.asarray(raw(b), dtype=np.float64),
                               rtol=tol, atol=tol)


# --- subclasses, copies, weak references, lists ----------------------------------------------

class P(Tensor):
    """A subclass, as nn.Parameter is."""


def test_a_subclass_dispatches_like_its_base() -> None:
    p = P([1.0, 2.0], requires_grad=True)
    y = p * 2
    assert type(y) is Tensor and y.requires_grad
    (y * p).sum().backward()
    close(p.grad, [4.0, 8.0])
    assert isinstance(p, Tensor) and type(p) is P


def test_a_subclass_of_dual_dispatches_like_its_base() -> None:
    class D(Dual):
        pass

    d = D(np.array([1.0, 2.0]), np.array([1.0, 0.0]))
    out = d * d
    close(out.primal, [1.0, 4.0])
    close(out.tangent, [2.0, 0.0])


def test_tensor_copies_an_ndarray_and_from_numpy_shares_it() -> None:
    a = np.ones(3, np.float32)
    t = Tensor(a)
    a[0] = 5
    close(t, [1.0, 1.0, 1.0])
    shared = Tensor.from_numpy(a)
    a[1] = 7
    close(shared, [5.0, 7.0, 1.0])
    shared.data[2] = 9  # and the other way round
    assert a[2] == 9
    assert Tensor.from_numpy(np.arange(3)).dtype == np.int64  # the dtype is kept


def test_array_protocol_honours_copy() -> None:
    t = Tensor([1.0, 2.0])
    c = np.array(t, copy=True)
    c[0] = 100
    close(t, [1.0, 2.0])
    assert np.asarray(t) is t.data or np.shares_memory(np.asarray(t), t.data)
    assert np.array(t, dtype=np.float64).dtype == np.float64


def test_tensors_and_duals_support_weak_references() -> None:
    t = Tensor([1.0])
    ref = weakref.ref(t)
    assert ref() is t
    del t
    assert ref() is None
    d = Dual(1.0, 1.0)
    assert weakref.ref(d)() is d


def test_plain_fast_path_treats_lists_like_numpy() -> None:
    close(ops.mul([1, 2], 3), [3, 6])
    close(ops.add([1], [2]), [3])
    close(ops.matmul([1.0, 2.0], [3.0, 4.0]), 11.0)
    close(ops.sub(3, [1, 2]), [2, 1])


# --- dtypes ------------------------------------------------------------------------------------

def test_a_zero_dim_value_does_not_promote_a_tensor_with_dimensions() -> None:
    x = Tensor(np.ones(3, np.float32), requires_grad=True)
    assert (x * np.array(2.0)).dtype == np.float32  # 0-d float64 array
    assert (x * np.float64(2)).dtype == np.float32  # numpy scalar
    assert (x * Tensor(np.array(2.0, np.float64))).dtype == np.float32  # 0-d float64 tensor
    assert (x * Tensor(np.ones(3, np.float64))).dtype == np.float64  # dimensioned: promotes
    assert (Tensor(np.float32(1.0)) * Tensor(np.float64(2.0))).dtype == np.float64  # both 0-d
    (x * np.array(2.0)).sum().backward()
    assert x.grad.dtype == np.float32


def test_forward_and_reverse_mode_agree_on_dtypes() -> None:
    # A function of numpy arrays promotes as numpy does (float32 times np.float64 is float64)...
    x32, t32 = np.ones(3, np.float32), np.ones(3, np.float32)
    out, out_dot = jvp(lambda a: a * np.float64(2), (x32,), (t32,))
    assert out.dtype == np.float64 and out_dot.dtype == np.float64
    assert jacrev(lambda a: a * np.float64(2))(x32).dtype == np.float64
    assert jacfwd(lambda a: a * np.float64(2))(x32).dtype == np.float64
    # ... and a function of tensors as PyTorch does (a 0-d value never promotes)
    t = Tensor(x32)
    out, out_dot = jvp(lambda a: a * np.float64(2), (t,), (Tensor(t32),))
    assert out.dtype == np.float32 and out_dot.dtype == np.float32
    assert jacrev(lambda a: a * np.float64(2))(t).dtype == np.float32


def test_floating_arrays_of_any_library_keep_their_dtype() -> None:
    class Foreign:  # what a torch tensor or any array-like offers
        def __array__(self, dtype=None, copy=None):
            return np.array([1.0, 2.0], dtype=np.float64)

    t = Tensor(Foreign())
    assert t.dtype == np.float64
    assert "dtype=float64" in repr(t)
    assert "dtype" not in repr(Tensor([1.0, 2.0]))  # the default float32 is not shown
    torch = pytest.importorskip("torch")
    assert Tensor(torch.ones(2, dtype=torch.float64)).dtype == np.float64


# --- gradients own their memory ------------------------------------------------------------

def test_each_leaf_owns_its_gradient() -> None:
    a = Tensor([1.0, 2.0], requires_grad=True)
    b = Tensor([3.0, 4.0], requires_grad=True)
    (a + b).mean().backward()
    a.grad.data *= 10
    close(b.grad, [0.5, 0.5])  # PyTorch: [0.5, 0.5]
    close(a.grad, [5.0, 5.0])


def test_grad_does_not_alias_the_gradient_argument() -> None:
    x = Tensor([1.0, 2.0], requires_grad=True)
    g = np.array([1.0, 1.0], np.float32)
    (x * 1).backward(gradient=g)
    x.grad.data[0] = 7
    close(g, [1.0, 1.0])
    y = Tensor([1.0, 2.0], requires_grad=True)
    y.backward(gradient=g)  # the output is the leaf itself
    y.grad.data[0] = 7
    close(g, [1.0, 1.0])


def test_grad_is_writable_contiguous_and_of_the_leaf_shape_and_dtype() -> None:
    x = Tensor(np.ones((2, 3), np.float64), requires_grad=True)
    x.sum().backward()  # the cotangent is a broadcast view
    x.grad.data[:] = 0
    assert x.grad.data.flags.writeable and x.grad.data.flags.c_contiguous
    assert x.grad.shape == (2, 3) and x.grad.dtype == np.float64
    x.sum().backward()  # accumulates in place into the owned array
    close(x.grad, np.ones((2, 3)))


# --- clip with tensor bounds (PyTorch's numbers for the same programs) -------------------------

def test_clip_sends_gradients_to_tensor_bounds() -> None:
    x = Tensor([0.5, -2.0, 3.0], requires_grad=True)
    lo = Tensor([0.0, 0.0, 0.0], requires_grad=True)
    ops.clip(x, lo, None).sum().backward()
    close(x.grad, [1.0, 0.0, 1.0])
    close(lo.grad, [0.0, 1.0, 0.0])


def test_clip_ties_go_to_x_and_an_inverted_range_gives_max() -> None:
    x = Tensor([0.5, 0.0, 3.0], requires_grad=True)
    lo = Tensor([0.0, 0.0, 1.0], requires_grad=True)
    hi = Tensor([1.0, 0.0, 2.0], requires_grad=True)
    ops.clip(x, lo, hi).sum().backward()
    close(x.grad, [1.0, 1.0, 0.0])
    close(lo.grad, [0.0, 0.0, 0.0])
    close(hi.grad, [0.0, 0.0, 1.0])
    x = Tensor([0.5, 0.0, 3.0], requires_grad=True)
    lo = Tensor([2.0, 2.0, 2.0], requires_grad=True)
    hi = Tensor([1.0, 1.0, 1.0], requires_grad=True)
    out = x.clamp(lo, hi)
    close(out, [1.0, 1.0, 1.0])
    out.sum().backward()
    close(x.grad, [0.0, 0.0, 0.0])
    close(lo.grad, [0.0, 0.0, 0.0])
    close(hi.grad, [1.0, 1.0, 1.0])


# --- numbers inside transformations ------------------------------------------------------------

@pytest.mark.parametrize("convert", [float, int, math.exp, lambda t: t.item(), complex])
def test_a_traced_value_refuses_to_become_a_number(convert) -> None:
    with pytest.raises(TypeError, match="derivative would be lost"):
        grad(lambda t: convert(t))(1.0)
    with pytest.raises(TypeError, match="derivative would be lost"):
        jvp(lambda t: convert(t), (1.0,), (1.0,))


def test_an_eager_tensor_still_becomes_a_number() -> None:
    x = Tensor([2.5], requires_grad=True)
    assert float(x) == 2.5 and int(x) == 2 and math.exp(x) == pytest.approx(math.exp(2.5))
    assert f"{x.sum():.2f}" == "2.50"


# --- augmented assignment and in-place updates -------------------------------------------------

def test_augmented_assignment_under_no_grad_updates_in_place() -> None:
    w = Tensor([1.0, 2.0], requires_grad=True)
    (w * w).sum().backward()
    before = w
    with no_grad():
        w -= 0.1 * w.grad
    assert w is before and w.requires_grad and w.is_leaf
    close(w, [0.8, 1.6])
    w.grad = None
    (w * w).sum().backward()  # the next step works
    close(w.grad, [1.6, 3.2])


def test_in_place_on_a_leaf_that_requires_grad_is_refused_with_grad_mode_on() -> None:
    w = Tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError,
                       match=r"add_: this tensor is a leaf that requires grad.*no_grad"):
        w.add_(1.0)
    with pytest.raises(RuntimeError, match="leaf that requires grad"):
        w[0] = 3.0
    with pytest.raises(RuntimeError, match="view of"):
        w[0].mul_(2)
    with no_grad():
        w[0] = 3.0
    close(w, [3.0, 2.0])


def test_no_grad_in_place_records_nothing() -> None:
    x = Tensor([1.0, 2.0], requires_grad=True)
    h = x * 2
    node = h.grad_fn
    with no_grad():
        h.add_(1.0)
    assert h.grad_fn is node
    close(h, [3.0, 5.0])


def test_writing_into_data_is_the_unchecked_escape_hatch_and_in_place_ops_are_checked() -> None:
    x = Tensor([1.0, 2.0], requires_grad=True)
    h = x * 1
    y = (h * h).sum()
    h.add_(1.0)  # mul saved h: backward must refuse rather than use the new values
    with pytest.raises(RuntimeError, match=r"mul \(shape \(2,\), dtype float32\).*modified by an "
                                           r"in-place operation.*version 1.*saved version 0"):
        y.backward()


@pytest.mark.parametrize("name, apply, expected", [
    ("add_", lambda h, v: h.add_(v), [2.0, 2.0]),
    ("sub_", lambda h, v: h.sub_(v), [2.0, 2.0]),
    ("mul_", lambda h, v: h.mul_(v), [6.0, 6.0]),
    ("div_", lambda h, v: h.div_(v), [2 / 3, 2 / 3]),
    ("pow_", lambda h, v: h.pow_(2), [4.0, 8.0]),
    ("clamp_", lambda h, v: h.clamp_(0.0, 1.5), [2.0, 0.0]),
    ("+=", lambda h, v: h.__iadd__(v), [2.0, 2.0]),
    ("-=", lambda h, v: h.__isub__(v), [2.0, 2.0]),
    ("*=", lambda h, v: h.__imul__(v), [6.0, 6.0]),
    ("/=", lambda h, v: h.__itruediv__(v), [2 / 3, 2 / 3]),
    ("zero_", lambda h, v: h.zero_(), [0.0, 0.0]),
    ("fill_", lambda h, v: h.fill_(5.0), [0.0, 0.0]),
    ("copy_", lambda h, v: h.copy_(Tensor([7.0, 8.0])), [0.0, 0.0]),
])
def test_in_place_ops_give_the_out_of_place_gradient(name, apply, expected) -> None:
    # h = 2x at x = (0.5, 1), so h = (1, 2); then h op= 3; d sum(h) / dx by the formula per op
    # (2 for a sum, 2 * 3 for a product, 2 / 3 for a quotient, 2 * 2h for h ** 2, 0 where set)
    x = Tensor([0.5, 1.0], requires_grad=True)
    h = x * 2
    out = apply(h, 3.0)
    assert out is h
    h.sum().backward()
    close(x.grad, expected)


def test_in_place_ops_send_gradients_to_the_other_operand() -> None:
    x = Tensor([1.0, 2.0], requires_grad=True)
    v = Tensor([3.0, 5.0], requires_grad=True)
    h = x * 1
    before = h
    h *= v  # h = x * v: d/dx = v, d/dv = x (the value of h before the change)
    assert h is before
    h.sum().backward()
    close(x.grad, [3.0, 5.0])
    close(v.grad, [1.0, 2.0])


def test_item_assignment_sends_gradients_to_the_old_value_and_to_the_new() -> None:
    x = Tensor([1.0, 2.0, 3.0], requires_grad=True)
    v = Tensor(10.0, requires_grad=True)
    y = x * 2
    y[1] = v * v
    close(y, [2.0, 100.0, 6.0])
    (y * Tensor([1.0, 2.0, 3.0])).sum().backward()
    close(x.grad, [2.0, 0.0, 6.0])  # zero at the written place
    close(v.grad, 2.0 * 10.0 * 2.0)
    assert "Setitem" in repr(y.grad_fn)


def test_item_assignment_into_a_constant_tensor_makes_it_part_of_the_graph() -> None:
    buf = Tensor(np.zeros(3))
    v = Tensor([1.0, 2.0], requires_grad=True, dtype=np.float64)
    buf[1:] = v * 3
    assert buf.requires_grad and not buf.is_leaf
    buf.sum().backward()
    close(v.grad, [3.0, 3.0])


def test_in_place_through_a_view_rewrites_the_base_history() -> None:
    x = Tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = x * 1
    y[0:2].mul_(2)  # y = (2x0, 2x1, x2)
    close(y, [2.0, 4.0, 3.0])
    y.sum().backward()
    close(x.grad, [2.0, 2.0, 1.0])


def test_augmented_item_assignment() -> None:
    x = Tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = x * 1
    y[1] += y[0] * 5  # y = (x0, x1 + 5 x0, x2)
    close(y, [1.0, 7.0, 3.0])
    (y * y).sum().backward()  # d/dx0 = 2 x0 + 2 y1 * 5, d/dx1 = 2 y1, d/dx2 = 2 x2
    close(x.grad, [2.0 + 70.0, 14.0, 6.0])


def test_another_view_of_changed_memory_rebuilds_its_history() -> None:
    x = Tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = x * 1
    b = y[1:3]  # made before the change
    y[1] = 0.0  # b now holds (0, x2)
    close(b, [0.0, 3.0])
    b.sum().backward()
    close(x.grad, [0.0, 0.0, 1.0])


def test_views_share_the_version_counter() -> None:
    x = Tensor(np.arange(6.0).reshape(2, 3))
    views = [x.reshape(3, 2), x.T, x[0], x[:, 1:], x.detach(), x.reshape(6)[2:]]
    for v in views:
        before = x._version
        v.add_(1.0)
        assert x._version == before + 1
        assert all(w._version == x._version for w in views)
    copy = x[np.array([0, 1])]  # advanced indexing copies: its own counter
    copy.add_(1.0)
    assert copy._version == 1 and x._version == len(views)


def test_an_in_place_change_after_use_raises_naming_the_op_the_shape_and_versions() -> None:
    x = Tensor([1.0, 2.0], requires_grad=True)
    y = x.tanh()  # tanh saves its output
    z = y.sum()
    y[0] = 0.0
    with pytest.raises(RuntimeError, match=r"the output of tanh \(shape \(2,\).*version 1.*saved "
                                           r"version 0.*clone\(\)"):
        z.backward()


def test_an_in_place_change_of_a_value_no_rule_reads_is_allowed() -> None:
    x = Tensor([1.0, 2.0], requires_grad=True)
    h = x * 1
    y = (h + 1.0).sum()  # add reads nothing: h may change (as in PyTorch)
    h.mul_(3.0)
    y.backward()
    close(x.grad, [1.0, 1.0])


def test_dual_in_place_updates_primal_and_tangent_together() -> None:
    def f(x):
        y = x * 1.0
        y += x * x  # y = x + x^2
        y[0] = y[0] * 3.0
        return y

    out, out_dot = jvp(f, (np.array([1.0, 2.0]),), (np.array([1.0, 1.0]),))
    close(out, [6.0, 6.0])
    close(out_dot, [9.0, 5.0])
    close(jacfwd(f)(np.array([1.0, 2.0])), jacrev(f)(np.array([1.0, 2.0])))


def test_writing_a_traced_value_into_an_outer_tensor_is_refused() -> None:
    buf = Tensor(np.zeros(2))

    def f(x):
        buf[0] = x  # would lose the derivative
        return x

    with pytest.raises(RuntimeError, match="inner transformation"):
        grad(lambda x: f(x).sum())(np.ones(()))


def test_in_place_errors_name_the_op_and_the_fix() -> None:
    x = Tensor([1.0, 2.0])
    with pytest.raises(ValueError, match=r"add_: .*keeps the tensor's shape \(2,\)"):
        x.add_(np.ones((3, 2)))
    e = Tensor([1.0]).expand(3)
    with pytest.raises(ValueError, match=r"read-only.*clone"):
        e.add_(1.0)
    i = Tensor(np.arange(3), dtype=np.int64)
    with pytest.raises(TypeError, match=r"add_: .*dtype int64"):
        i.add_(0.5)


def test_retain_grad_keeps_a_non_leaf_gradient() -> None:
    x = Tensor([1.0, 2.0], requires_grad=True)
    h = x * 3
    h.retain_grad()
    (h * h).sum().backward()
    close(h.grad, [6.0, 12.0])
    assert h.retains_grad and x.grad is not None
    u = x * 2
    (u * u).sum().backward()
    assert u.grad is None


def test_no_grad_is_a_bare_decorator_and_reentrant() -> None:
    @no_grad
    def double(t):
        return t * 2

    x = Tensor([1.0], requires_grad=True)
    assert not double(x).requires_grad
    ctx = no_grad()
    with ctx:
        with ctx:
            assert not (x * 1).requires_grad
        assert not (x * 1).requires_grad
    assert (x * 1).requires_grad
