"""Days 13-20, tensor operations: ``reverse.Tensor``, shapes and strides, elementwise ops, matmul,
transpose, reductions, broadcasting and how broadcast gradients are summed back.

Every claim is checked with ``assert`` against closed forms or ``adcore.numerical_jacobian``.
Run: python examples/day13_20_tensors.py
"""
import numpy as np

from adcore import numerical_jacobian, ops
from adcore.levels import raw
from reverse import Tensor


def close(a, b, tol=1e-6):
    return np.allclose(np.asarray(raw(a), dtype=float), np.asarray(raw(b), dtype=float),
                       rtol=tol, atol=tol)


def tensor_grad(f, x):
    """d f(x).sum() / dx by Tensor.backward, as a float64 array."""
    t = Tensor(np.array(x, dtype=np.float64), requires_grad=True)
    f(t).sum().backward()
    return t.grad.numpy()


def fd_grad(f, x):
    """The same gradient by central differences (f runs on plain arrays here)."""
    return numerical_jacobian(lambda v: np.sum(f(v)), np.array(x, dtype=np.float64))


# --- Day 13: Tensor class design ---------------------------------------------------------------
# A Tensor wraps a numpy array (data) and adds what autodiff needs: requires_grad, grad, and the
# recorded op that made it (grad_fn). Python numbers become float32, as in PyTorch.
print("Day 13: Tensor")
x = Tensor([[1, 2, 3], [4, 5, 6]], requires_grad=True)
print(f"  {x!r}\n  data is a {type(x.data).__name__} of {x.dtype}, grad = {x.grad}, "
      f"is_leaf = {x.is_leaf}")
assert isinstance(x.data, np.ndarray) and x.dtype == np.float32 and x.grad is None
y = x * 2
print(f"  y = x * 2 is not a leaf: y.grad_fn = {y.grad_fn}")
assert not y.is_leaf and y.requires_grad and y.grad_fn is not None
assert Tensor(np.zeros(3)).dtype == np.float64  # numpy float arrays keep their dtype

# --- Day 14: shape and strides -----------------------------------------------------------------
# Memory is one flat buffer. strides[k] = bytes to step to the next index along axis k, so
# element [i, j] lives at byte offset i * strides[0] + j * strides[1].
print("\nDay 14: shape and strides")
m = Tensor(np.arange(12, dtype=np.float32).reshape(3, 4))
print(f"  shape {m.shape}, strides {m.strides} (float32: 4 bytes; a row is 4 * 4 = 16 bytes)")
assert m.shape == (3, 4) and m.strides == (16, 4)
flat = m.data.reshape(-1)
itemsize = m.data.itemsize
for i, j in [(0, 0), (1, 2), (2, 3)]:
    assert m.data[i, j] == flat[(i * m.strides[0] + j * m.strides[1]) // itemsize]

# Transposing moves no data: it swaps the strides, so m.T reads the same buffer column-wise.
mt = m.T
print(f"  m.T: shape {mt.shape}, strides {mt.strides} (swapped), shares memory with m: "
      f"{np.shares_memory(mt.data, m.data)}, C-contiguous: {mt.data.flags['C_CONTIGUOUS']}")
assert mt.shape == (4, 3) and mt.strides == (4, 16)
assert np.shares_memory(mt.data, m.data) and not mt.data.flags["C_CONTIGUOUS"]
for i, j in [(0, 0), (2, 1), (3, 2)]:
    assert mt.data[i, j] == flat[(i * mt.strides[0] + j * mt.strides[1]) // itemsize]
# reshape of a contiguous tensor is also just new strides over the same buffer.
r = m.reshape(2, 6)
assert r.strides == (24, 4) and np.shares_memory(r.data, m.data)

# --- Day 15: elementwise ops -------------------------------------------------------------------
# Each output element depends only on the same element of each input, so the gradient is the
# local derivative times the incoming gradient, element by element.
print("\nDay 15: elementwise ops")
a0 = np.array([[0.5, -1.0], [2.0, 0.25]])
b0 = np.array([[1.5, 2.0], [-0.5, 3.0]])
a, b = Tensor(a0, requires_grad=True), Tensor(b0, requires_grad=True)
loss = (a * b + a / b - ops.exp(a) + b ** 2).sum()
loss.backward()
print(f"  a =\n{a0}\n  b =\n{b0}")
print(f"  L = sum(a*b + a/b - exp(a) + b**2)\n  a.grad = b + 1/b - exp(a) =\n{a.grad.numpy()}")
print(f"  b.grad = a - a/b**2 + 2b =\n{b.grad.numpy()}")
assert close(a.grad.numpy(), b0 + 1 / b0 - np.exp(a0))
assert close(b.grad.numpy(), a0 - a0 / b0 ** 2 + 2 * b0)
assert close(tensor_grad(lambda t: ops.tanh(t) * ops.sin(t), a0),
             fd_grad(lambda v: np.tanh(v) * np.sin(v), a0))

# --- Day 16: matrix multiplication -------------------------------------------------------------
# Z = X @ Y, L = sum(Z): dL/dX = G @ Y.T and dL/dY = X.T @ G, with G = dL/dZ (all ones here).
print("\nDay 16: matmul")
x = Tensor([[1, 2], [3, 4]], requires_grad=True)
y = Tensor([[5, 6], [7, 8]], requires_grad=True)
z = x @ y
loss = z.sum()
loss.backward()
print(f"  z = x @ y = {z.tolist()}, loss = {loss.item()}")
print(f"  x.grad = {x.grad.numpy().tolist()} (ones @ y.T), "
      f"y.grad = {y.grad.numpy().tolist()} (x.T @ ones)")
assert x.grad.numpy().tolist() == [[11, 15], [11, 15]]
assert y.grad.numpy().tolist() == [[4, 4], [6, 6]]
ones = np.ones((2, 2))
assert close(x.grad, ones @ y.detach().numpy().T) and close(y.grad, x.detach().numpy().T @ ones)

# Non-square, with a weighting so that G is not all ones: check against finite differences.
rng = np.random.default_rng(0)
A0, B0, W0 = rng.normal(size=(3, 4)), rng.normal(size=(4, 2)), rng.normal(size=(3, 2))
assert close(tensor_grad(lambda t: (t @ B0) * W0, A0), fd_grad(lambda v: (v @ B0) * W0, A0))
assert close(tensor_grad(lambda t: (A0 @ t) * W0, B0), fd_grad(lambda v: (A0 @ v) * W0, B0))
assert close(tensor_grad(lambda t: (A0 @ t) * W0, B0), A0.T @ W0)  # X.T @ G

# --- Day 17: transpose -------------------------------------------------------------------------
# Transposing is linear: its backward transposes the incoming gradient back.
print("\nDay 17: transpose")
x = Tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
w = np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])  # shape of x.T
(x.T * w).sum().backward()
print(f"  L = sum(x.T * w), x.shape (2, 3), w.shape (3, 2): x.grad = w.T =\n{x.grad.numpy()}")
assert close(x.grad.numpy(), w.T)
# permute (any axis order) sends the gradient back through the inverse permutation.
cube0 = rng.normal(size=(2, 3, 4))
weights = rng.normal(size=(4, 2, 3))
assert close(tensor_grad(lambda t: t.permute(2, 0, 1) * weights, cube0),
             weights.transpose(1, 2, 0))

# --- Day 18: reductions with axis ---------------------------------------------------------------
# sum copies the incoming gradient back to every element it summed; mean also divides by the
# count. With axis=k the gradient is broadcast back along axis k only.
print("\nDay 18: reductions")
x = Tensor(np.arange(12.0).reshape(3, 4), requires_grad=True)
col_sums = x.sum(axis=0)                         # shape (4,)
col_sums.backward(gradient=np.array([1.0, 2.0, 3.0, 4.0]))
print(f"  x.sum(axis=0) has shape {col_sums.shape}; backward with [1, 2, 3, 4] gives every row "
      f"{x.grad.numpy()[0].tolist()}")
assert close(x.grad.numpy(), np.tile([1.0, 2.0, 3.0, 4.0], (3, 1)))

x = Tensor(np.arange(12.0).reshape(3, 4), requires_grad=True)
row_means = x.mean(axis=1, keepdims=True)        # shape (3, 1)
row_means.backward(gradient=np.array([[1.0], [2.0], [3.0]]))
print(f"  x.mean(axis=1, keepdims=True) has shape {row_means.shape}; each element of row i gets "
      f"g_i / 4: {x.grad.numpy()[:, 0].tolist()}")
assert close(x.grad.numpy(), np.repeat([[0.25], [0.5], [0.75]], 4, axis=1))

v0 = rng.normal(size=(3, 4))
assert close(tensor_grad(lambda t: t.sum(axis=1) ** 2, v0),
             fd_grad(lambda v: v.sum(axis=1) ** 2, v0))
# max sends the gradient to the largest element of each row only.
assert close(tensor_grad(lambda t: t.max(axis=1), v0), v0 == v0.max(axis=1, keepdims=True))

# --- Day 19: broadcasting ----------------------------------------------------------------------
# Align shapes on the right; each pair of sizes must be equal or one of them 1, and the 1 (or a
# missing axis) is stretched: (3, 1) + (1, 4) -> (3, 4); (2, 3) + (3,) -> (2, 3).
print("\nDay 19: broadcasting")
cases = [((3, 1), (1, 4)), ((2, 3), (3,)), ((5, 1, 4), (3, 1)), ((), (2, 2))]
for s1, s2 in cases:
    out = Tensor(np.ones(s1)) + Tensor(np.ones(s2))
    print(f"  {s1!s:>9} + {s2!s:<7} -> {out.shape}")
    assert out.shape == np.broadcast_shapes(s1, s2)
col = Tensor([[10.0], [20.0], [30.0]])
row = Tensor([1.0, 2.0, 3.0, 4.0])
assert close((col + row).detach().numpy(), np.array([[10.0], [20.0], [30.0]]) + np.arange(1.0, 5.0))

# --- Day 20: broadcasting gradients ------------------------------------------------------------
# An input that was stretched along an axis was USED once per position on that axis, so its
# gradient is the SUM of the incoming gradient over that axis (and over any added leading axes).
print("\nDay 20: broadcasting gradients")
x = Tensor(rng.normal(size=(4, 3)), requires_grad=True)
bias = Tensor(np.zeros(3), requires_grad=True)           # (3,) stretched to (4, 3)
G = rng.normal(size=(4, 3))
((x + bias) * G).sum().backward()
print(f"  bias of shape (3,) added to x of shape (4, 3): bias.grad has shape {bias.grad.shape} "
      f"= G.sum(axis=0)")
assert bias.grad.shape == (3,) and close(bias.grad.numpy(), G.sum(axis=0))
assert close(x.grad.numpy(), G)

scale = Tensor(np.ones((4, 1)), requires_grad=True)      # (4, 1) stretched along axis 1
(x * scale).sum().backward()
assert scale.grad.shape == (4, 1)
assert close(scale.grad.numpy(), x.detach().numpy().sum(axis=1, keepdims=True))

p0, q0 = rng.normal(size=(2, 1, 3)), rng.normal(size=(4, 1))  # p * q has shape (2, 4, 3)
p_grad = tensor_grad(lambda t: ops.sin(t * q0), p0)
q_grad = tensor_grad(lambda t: ops.sin(p0 * t), q0)
assert p_grad.shape == (2, 1, 3) and close(p_grad, fd_grad(lambda v: np.sin(v * q0), p0))
assert q_grad.shape == (4, 1) and close(q_grad, fd_grad(lambda v: np.sin(p0 * v), q0))
print("  sin(p * q) with p (2, 1, 3) and q (4, 1) -> (2, 4, 3): both gradients keep their "
      "input's shape\n  and match finite differences")
