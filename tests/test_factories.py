"""PyTorch's factories beside Tensor (``from reverse import zeros, randn, cat``): values, dtypes by
PyTorch's rules, the default generator shared with nn, gradients of joining and splitting, and
errors that name the function and the fix.

Expected values are written out from the definitions; where torch is installed the dtypes and
values are also compared with it.
"""
from __future__ import annotations

import numpy as np
import pytest

import reverse
from adcore import numerical_jacobian
from adcore.levels import raw
from reverse import (
    Tensor,
    arange,
    cat,
    chunk,
    empty,
    empty_like,
    eye,
    full,
    full_like,
    jacrev,
    linspace,
    manual_seed,
    no_grad,
    ones,
    ones_like,
    rand,
    rand_like,
    randint,
    randn,
    randn_like,
    split,
    stack,
    tensor,
    zeros,
    zeros_like,
)

F32, F64, I64 = np.dtype(np.float32), np.dtype(np.float64), np.dtype(np.int64)


def values(t: Tensor) -> np.ndarray:
    assert type(t) is Tensor, type(t)
    return np.asarray(raw(t))


def test_filled_factories_take_a_size_either_way() -> None:
    for make, fill in ((zeros, 0.0), (ones, 1.0), (empty, 0.0)):
        for t in (make(2, 3), make((2, 3)), make([2, 3])):
            assert t.shape == (2, 3) and t.dtype == F32 and t.is_leaf and not t.requires_grad
            np.testing.assert_array_equal(values(t), np.full((2, 3), fill))
        assert make().shape == () and make(()).shape == () and make(0).shape == (0,)
    np.testing.assert_array_equal(values(zeros(2, dtype=np.int64)), [0, 0])
    assert zeros(2, dtype=np.int64).dtype == I64 and ones(1, dtype=float).dtype == F64
    assert ones(3, dtype=bool).dtype == np.bool_
    np.testing.assert_array_equal(values(full((2, 2), 1.5)), np.full((2, 2), 1.5))
    np.testing.assert_array_equal(values(eye(2, 3)), [[1, 0, 0], [0, 1, 0]])
    assert eye(3).shape == (3, 3) and eye(3).dtype == F32


def test_requires_grad_makes_a_leaf_that_collects_a_gradient() -> None:
    w = ones(2, 2, requires_grad=True)
    assert w.is_leaf and w.requires_grad
    (w * w).sum().backward()
    np.testing.assert_array_equal(values(w.grad), np.full((2, 2), 2.0))
    r = randn(3, requires_grad=True, generator=np.random.default_rng(0))
    (r * 3).sum().backward()
    np.testing.assert_array_equal(values(r.grad), [3.0, 3.0, 3.0])


def test_factories_own_their_memory_and_tensor_copies() -> None:
    source = np.array([1, 2, 3])
    t = tensor(source)
    source[0] = 100
    np.testing.assert_array_equal(values(t), [1, 2, 3])
    a, b = zeros(2), zeros(2)
    a.add_(1.0)
    np.testing.assert_array_equal(values(b), [0.0, 0.0])
    x = Tensor([1.0, 2.0], requires_grad=True)
    y = tensor(x * 2)  # torch.tensor(t): a copy without history
    assert y.is_leaf and not y.requires_grad
    np.testing.assert_array_equal(values(y), [2.0, 4.0])


# (the factory call, the dtype PyTorch gives, the same call in torch)
DTYPE_CASES = [
    (lambda: tensor([1, 2]), I64, lambda t: t.tensor([1, 2])),
    (lambda: tensor([1.0, 2.0]), F32, lambda t: t.tensor([1.0, 2.0])),
    (lambda: tensor([1, 2.5]), F32, lambda t: t.tensor([1, 2.5])),
    (lambda: tensor(3), I64, lambda t: t.tensor(3)),
    (lambda: tensor(2.5), F32, lambda t: t.tensor(2.5)),
    (lambda: tensor([True, False]), np.dtype(np.bool_), lambda t: t.tensor([True, False])),
    (lambda: tensor([]), F32, lambda t: t.tensor([])),
    (lambda: tensor(np.array([1, 2], dtype=np.int32)), np.dtype(np.int32),
     lambda t: t.tensor(np.array([1, 2], dtype=np.int32))),
    (lambda: tensor(np.array([1.0, 2.0])), F64, lambda t: t.tensor(np.array([1.0, 2.0]))),
    (lambda: tensor(np.float64(2.0)), F64, lambda t: t.tensor(np.float64(2.0))),
    (lambda: tensor([1, 2], dtype=np.float64), F64,
     lambda t: t.tensor([1, 2], dtype=t.float64)),
    (lambda: full((2,), 3), I64, lambda t: t.full((2,), 3)),
    (lambda: full((2,), 1.5), F32, lambda t: t.full((2,), 1.5)),
    (lambda: full((2,), True), np.dtype(np.bool_), lambda t: t.full((2,), True)),
    (lambda: full((2,), 3, dtype=np.float32), F32, lambda t: t.full((2,), 3, dtype=t.float32)),
    (lambda: arange(5), I64, lambda t: t.arange(5)),
    (lambda: arange(0.0, 5), F32, lambda t: t.arange(0.0, 5)),
    (lambda: arange(0, 1, 0.25), F32, lambda t: t.arange(0, 1, 0.25)),
    (lambda: arange(1, 4, dtype=np.float64), F64, lambda t: t.arange(1, 4, dtype=t.float64)),
    (lambda: linspace(0, 1, 5), F32, lambda t: t.linspace(0, 1, 5)),
    (lambda: eye(2), F32, lambda t: t.eye(2)),
    (lambda: zeros(2), F32, lambda t: t.zeros(2)),
    (lambda: rand(2), F32, lambda t: t.rand(2)),
    (lambda: randn(2, dtype=np.float64), F64, lambda t: t.randn(2, dtype=t.float64)),
    (lambda: randint(10, (3,)), I64, lambda t: t.randint(10, (3,))),
    (lambda: randint(0, 10, (3,), dtype=np.float32), F32,
     lambda t: t.randint(0, 10, (3,), dtype=t.float32)),
    (lambda: zeros_like(arange(3)), I64, lambda t: t.zeros_like(t.arange(3))),
    (lambda: ones_like(zeros(2, dtype=np.float64)), F64,
     lambda t: t.ones_like(t.zeros(2, dtype=t.float64))),
    (lambda: full_like(arange(3), 7), I64, lambda t: t.full_like(t.arange(3), 7)),
    (lambda: rand_like(zeros(2)), F32, lambda t: t.rand_like(t.zeros(2))),
    (lambda: randn_like(zeros(2), dtype=np.float64), F64,
     lambda t: t.randn_like(t.zeros(2), dtype=t.float64)),
]


@pytest.mark.parametrize(("make", "dtype", "_"), DTYPE_CASES)
def test_dtypes_follow_pytorch(make, dtype, _) -> None:
    assert make().dtype == dtype


# Factories whose values are not determined by their arguments.
UNDETERMINED = {"rand", "randn", "randint", "rand_like", "randn_like", "empty", "empty_like"}


@pytest.mark.parametrize(("make", "dtype", "in_torch"), DTYPE_CASES)
def test_dtypes_and_deterministic_values_agree_with_torch(make, dtype, in_torch) -> None:
    torch = pytest.importorskip("torch")
    ours, theirs = make(), in_torch(torch)
    assert str(theirs.dtype) == f"torch.{dtype.name}"
    assert ours.shape == tuple(theirs.shape)
    if not UNDETERMINED & set(make.__code__.co_names):  # (the names the case calls)
        np.testing.assert_allclose(values(ours), theirs.numpy(), rtol=1e-6)


def test_arange_and_linspace_values() -> None:
    np.testing.assert_array_equal(values(arange(4)), [0, 1, 2, 3])
    np.testing.assert_array_equal(values(arange(2, 8, 3)), [2, 5])
    np.testing.assert_array_equal(values(arange(5, 0, -2)), [5, 3, 1])
    np.testing.assert_allclose(values(arange(0, 1, 0.1)), np.arange(10) * 0.1, rtol=1e-6)
    assert arange(0, 1, 0.1).shape == (10,) and arange(3, 3).shape == (0,)
    np.testing.assert_allclose(values(linspace(-1, 1, 5)), [-1, -0.5, 0, 0.5, 1])
    assert linspace(0, 1, 0).shape == (0,) and values(linspace(2, 3, 1)).tolist() == [2.0]
    np.testing.assert_array_equal(values(arange(Tensor(3.0))), [0.0, 1.0, 2.0])  # 0-d tensors


def test_like_factories_take_shape_and_dtype_not_the_graph() -> None:
    x = Tensor(np.ones((2, 3)), requires_grad=True) * 2
    for make in (zeros_like, ones_like, empty_like, rand_like, randn_like):
        t = make(x)
        assert t.shape == (2, 3) and t.dtype == F64 and t.is_leaf and not t.requires_grad
    np.testing.assert_array_equal(values(full_like(x, 4)), np.full((2, 3), 4.0))
    assert zeros_like(np.zeros((4,), np.int32)).dtype == np.int32  # an ndarray too
    assert ones_like(x, dtype=np.float32).dtype == F32
    assert zeros_like(x, requires_grad=True).requires_grad


# --- random ------------------------------------------------------------------------------------

def test_the_default_generator_is_reseeded_by_manual_seed_and_shared_with_nn() -> None:
    import nn
    from nn import rng

    assert nn.manual_seed is manual_seed is reverse.random.manual_seed
    assert rng.generator() is reverse.random.generator()
    manual_seed(5)
    a = randn(4)
    nn.manual_seed(5)  # the same stream
    b = randn(4)
    np.testing.assert_array_equal(values(a), values(b))
    np.testing.assert_array_equal(values(a), np.random.default_rng(5).standard_normal(
        4, dtype=np.float32))
    manual_seed(5)
    with no_grad():  # nn.init draws from it too
        w = nn.init.normal_(Tensor(np.zeros(4)))
    np.testing.assert_array_equal(values(w), np.random.default_rng(5).normal(0.0, 1.0, 4))


def test_a_generator_gives_its_own_stream() -> None:
    g1, g2 = np.random.default_rng(7), np.random.default_rng(7)
    np.testing.assert_array_equal(values(rand(3, 2, generator=g1)),
                                  values(rand(3, 2, generator=g2)))
    np.testing.assert_array_equal(values(randint(0, 5, (6,), generator=g1)),
                                  values(randint(0, 5, (6,), generator=g2)))
    np.testing.assert_array_equal(values(randn_like(zeros(3), generator=g1)),
                                  values(randn_like(zeros(3), generator=g2)))


def test_random_values_lie_where_they_should() -> None:
    g = np.random.default_rng(0)
    u = values(rand(10_000, generator=g))
    assert (u >= 0).all() and (u < 1).all() and abs(u.mean() - 0.5) < 0.02
    u16 = values(rand(1000, dtype=np.float16, generator=g))
    assert u16.dtype == np.float16 and (u16 < 1).all()
    n = values(randn(10_000, generator=g))
    assert abs(n.mean()) < 0.05 and abs(n.std() - 1) < 0.05
    k = values(randint(3, 7, (2, 500), generator=g))
    assert k.shape == (2, 500) and set(np.unique(k)) == {3, 4, 5, 6}
    assert set(np.unique(values(randint(2, size=(100,), generator=g)))) == {0, 1}
    assert set(np.unique(values(randint(high=2, size=(100,), generator=g)))) == {0, 1}


# --- joining and splitting ------------------------------------------------------------------------

A = np.array([[1.0, 5.0, 2.0], [3.0, -2.0, 4.0]])


def test_cat_stack_split_chunk_values() -> None:
    a, b = tensor(A), tensor(A[:1] * 10)
    np.testing.assert_array_equal(values(cat([a, b])), np.concatenate([A, A[:1] * 10]))
    np.testing.assert_array_equal(values(cat((a, a), dim=-1)), np.concatenate([A, A], 1))
    np.testing.assert_array_equal(values(stack([a, a * 2], dim=1)), np.stack([A, A * 2], 1))
    assert stack([a, a], dim=-1).shape == (2, 3, 2)
    pieces = split(a, 2, dim=1)
    assert [p.shape for p in pieces] == [(2, 2), (2, 1)]
    np.testing.assert_array_equal(values(pieces[1]), A[:, 2:])
    assert [p.shape for p in split(a, [1, 0, 2], dim=1)] == [(2, 1), (2, 0), (2, 2)]
    assert [p.shape for p in chunk(arange(5), 3)] == [(2,), (2,), (1,)]
    assert [p.shape for p in chunk(arange(6), 4)] == [(2,), (2,), (2,)]  # fewer, as PyTorch
    assert [p.shape for p in chunk(zeros(0), 3)] == [(0,), (0,), (0,)]
    assert [p.shape for p in split(zeros(0), 2)] == [(0,)]
    mixed = cat([tensor([1.0]), np.array([2.0], dtype=np.float32)])  # an array joins as a constant
    assert type(mixed) is Tensor and values(mixed).tolist() == [1.0, 2.0]


def test_split_and_chunk_are_views_as_in_pytorch() -> None:
    x = arange(6.0)
    first, _ = chunk(x, 2)
    first.mul_(10.0)
    np.testing.assert_array_equal(values(x), [0, 10, 20, 3, 4, 5])


def test_joining_and_splitting_agree_with_torch() -> None:
    torch = pytest.importorskip("torch")
    t = torch.tensor(A)
    for ours, theirs in ((split(tensor(A), 2, dim=1), torch.split(t, 2, dim=1)),
                         (split(tensor(A), [2, 1], 1), torch.split(t, [2, 1], 1)),
                         (chunk(tensor(A), 2, dim=1), torch.chunk(t, 2, dim=1)),
                         (chunk(tensor(A), 5, dim=0), torch.chunk(t, 5, dim=0))):
        assert len(ours) == len(theirs)
        for o, p in zip(ours, theirs):
            np.testing.assert_array_equal(values(o), p.numpy())
    np.testing.assert_array_equal(values(cat([tensor(A), tensor(A)], dim=1)),
                                  torch.cat([t, t], dim=1).numpy())
    np.testing.assert_array_equal(values(stack([tensor(A), tensor(A)], dim=2)),
                                  torch.stack([t, t], dim=2).numpy())


def check_jacobian(g, x: np.ndarray) -> None:
    """jacrev of g (on a tensor, PyTorch's personality) against central differences."""
    jac = np.asarray(raw(jacrev(g)(Tensor(x))))
    np.testing.assert_allclose(jac, numerical_jacobian(lambda v: g(Tensor(v)), x),
                               rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("g", [
    lambda t: cat([t, t * t, t[:1]], dim=0),
    lambda t: cat([t, t[:, :1] * 3], dim=-1),
    lambda t: stack([t, t.exp()], dim=1),
    lambda t: split(t, 2, dim=1)[1] * split(t, [1, 2], dim=1)[0],
    lambda t: chunk(t, 2, dim=1)[0].sin() + chunk(t, 3, dim=1)[2],
    lambda t: stack(chunk(t, 2, dim=0), dim=0).tanh(),
])
def test_gradients_of_joining_and_splitting(g) -> None:
    check_jacobian(g, A)
    x = Tensor(A, requires_grad=True)  # and through the eager tape
    g(x).sum().backward()
    np.testing.assert_allclose(values(x.grad),
                               numerical_jacobian(lambda v: g(Tensor(v)).sum(), A), atol=1e-6)


# --- errors name the function, what was passed and the fix ----------------------------------------

@pytest.mark.parametrize(("call", "kind", "message"), [
    (lambda: zeros(-1), ValueError, r"zeros: sizes must be non-negative, got \(-1,\)"),
    (lambda: ones(2.5), TypeError, r"ones: the size must be ints, as ones\(2, 3\)"),
    (lambda: zeros(2, dtype="complex64"), TypeError, "zeros: dtype complex64 is not supported"),
    (lambda: zeros(2, dtype="nonsense"), TypeError, "zeros: dtype='nonsense' is not a numpy"),
    (lambda: zeros(2, dtype=np.int64, requires_grad=True), TypeError,
     "zeros: only floating-point tensors can require gradients, got dtype int64; pass"),
    (lambda: tensor([1, 2], requires_grad=True), TypeError,
     "tensor: only floating-point tensors can require gradients, got dtype int64"),
    (lambda: tensor([Tensor(1.0)]), TypeError, "tensor"),
    (lambda: zeros(2, device="cuda"), ValueError, r"zeros\('cuda'\): .* use 'cpu'"),
    (lambda: full((2,), "a"), TypeError, "full: fill_value must be a real number"),
    (lambda: eye(-2), ValueError, "eye: n must be a non-negative int, got -2"),
    (lambda: arange(0, 5, 0), ValueError, "arange: step must be nonzero"),
    (lambda: arange(0, 5, -1), ValueError, "arange: the range from start=0 to end=5 goes the "
                                           "other way from step=-1; swap"),
    (lambda: linspace(0, 1, -3), ValueError, "linspace: steps must be a non-negative int"),
    (lambda: rand(2, dtype=np.int64), TypeError, "rand: draws floating-point numbers, not int64"),
    (lambda: randn_like(arange(3)), TypeError, "randn_like: draws floating-point numbers, not "
                                               "int64; pass a floating dtype"),
    (lambda: rand(2, generator=3), TypeError, "rand: generator must be a numpy.random.Generator"),
    (lambda: randint(5, 5, (2,)), ValueError, "randint: expects low < high, got low=5, high=5"),
    (lambda: randint(5), TypeError, r"randint: expects randint\(high, size\) or"),
    (lambda: randint(0.5, (2,)), TypeError, "randint: low and high must be ints"),
    (lambda: zeros_like([1, 2]), TypeError, r"zeros_like: expects a tensor .* got list; use the "
                                            r"factory with a size instead \(zeros\(2, 3\)\)"),
    (lambda: cat(zeros(2)), TypeError, r"cat: expects a list or tuple of tensors, got Tensor; "
                                       r"write cat\(\[a, b\]\)"),
    (lambda: cat([]), ValueError, "cat: expects a non-empty list of tensors"),
    (lambda: cat([zeros(2), [1.0]]), TypeError, r"cat: entry 1 is a list, not a tensor; make it "
                                                r"one with tensor\(...\)"),
    (lambda: cat([zeros(2, 3), zeros(3, 3)], dim=1), ValueError,
     r"cat: tensor 1 has shape \(3, 3\) but tensor 0 has shape \(2, 3\); the sizes must match "
     r"except along dim=1"),
    (lambda: cat([zeros(2), zeros(2)], dim=1), ValueError, r"cat: dim=1 is out of range .* "
                                                           r"use a dim in \[-1, 0\]"),
    (lambda: cat([zeros(()), zeros(())]), ValueError, "cat: the tensors have shapes"),
    (lambda: stack([zeros(2), zeros(3)]), ValueError, r"stack: tensor 1 has shape \(3,\) but "
                                                      r"tensor 0 has shape \(2,\)"),
    (lambda: stack([zeros(2)], dim=3), ValueError, r"stack: dim=3 is out of range"),
    (lambda: split(zeros(5), [2, 2]), ValueError, r"split: the sizes \[2, 2\] must be "
                                                  r"non-negative and add up to 5"),
    (lambda: split(zeros(5), 0), ValueError, "split: split_size must be positive, got 0"),
    (lambda: chunk(zeros(5), 0), ValueError, "chunk: chunks must be a positive int, got 0"),
    (lambda: chunk(zeros(()), 2), ValueError, "chunk: the value is 0-d"),
])
def test_errors_name_the_function_and_the_fix(call, kind, message) -> None:
    with pytest.raises(kind, match=message):
        call()
