"""What the library does, in one screen: both modes of AD from one registry of ops.

Run: python examples/quickstart.py
"""
import numpy as np

import adcore
from adcore import ops
from forward import Dual, jacfwd, jvp
from reverse import Tensor, grad, hessian, jacrev

# Reverse mode, PyTorch style: record on a tape, then backward().
x = Tensor([[1, 2], [3, 4]], requires_grad=True)
y = Tensor([[5, 6], [7, 8]], requires_grad=True)
loss = (x @ y).sum()
print("loss =", loss.item(), " made by", loss.grad_fn)
loss.backward()
print("x.grad =\n", x.grad.data)

# Forward mode with dual numbers: a + b*eps pushes a derivative along with the value.
d = Dual(2.0, 1.0) ** 3 + Dual(2.0, 1.0).sin()
print(f"f(2) = {d.primal:.4f}, f'(2) = {d.tangent:.4f}   (f = x**3 + sin x)")


def f(v):
    return ops.tanh(v[:, None] * v).sum(axis=0) * ops.exp(-v)


v = np.array([0.5, -1.0, 2.0])
out, out_dot = jvp(f, (v,), (np.array([1.0, 0.0, 0.0]),))
print("J @ e0 by jvp      :", np.round(out_dot, 6))
print("J by jacfwd (1 pass):\n", np.round(jacfwd(f)(v), 6))
print("J by jacrev (1 pass):\n", np.round(jacrev(f)(v), 6))


def energy(v):
    return (ops.sin(v) * v ** 2).sum()


print("grad of energy:", np.round(grad(energy)(v), 6))
print("Hessian (forward over reverse):\n", np.round(hessian(energy)(v), 6))
print("second derivative of sin at 1:", grad(grad(ops.sin))(1.0), "= -sin(1) =", -np.sin(1.0))

# Every op is one registry entry; gradcheck compares both modes with finite differences.
print(len(adcore.registry), "registered ops:", ", ".join(sorted(adcore.registry)))
print("gradcheck(f):", adcore.gradcheck(f, v))
