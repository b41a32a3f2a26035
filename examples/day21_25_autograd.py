"""Days 21-25, autograd architecture: custom ``Function``s with ``forward``/``backward`` and a
context, the topological order of the backward pass, gradients accumulating over several paths,
and ``detach``, ``requires_grad`` and ``no_grad``.

Every claim is checked with ``assert`` against closed forms or ``adcore.numerical_jacobian``.
Run: python examples/day21_25_autograd.py
"""
import sys

import numpy as np

from adcore import numerical_jacobian, ops
from adcore.levels import raw
from reverse import Function, Tensor, enable_grad, grad, is_grad_enabled, no_grad
from reverse.graph import Node, toposort


def close(a, b, tol=1e-6):
    return np.allclose(np.asarray(raw(a), dtype=float), np.asarray(raw(b), dtype=float),
                       rtol=tol, atol=tol)


# --- Day 21: the Function base class -----------------------------------------------------------
# A differentiable op is a pair: forward computes the output, backward maps the output's gradient
# (y_bar) to one gradient per input. Subclass Function and call it with .apply.
print("Day 21: Function")


class Cube(Function):
    """y = x ** 3, dy/dx = 3 x ** 2."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x ** 3

    @staticmethod
    def backward(ctx, y_bar):
        (x,) = ctx.saved_tensors
        return 3 * x ** 2 * y_bar


x0 = np.array([1.0, -2.0, 0.5])
x = Tensor(x0, requires_grad=True)
y = Cube.apply(x)
print(f"  Cube.apply(x) = {y.detach().numpy()}, recorded as {y.grad_fn}")
y.sum().backward()
print(f"  x.grad = {x.grad.numpy()} (= 3 x**2)")
assert y.grad_fn is not None and close(y.detach().numpy(), x0 ** 3)
assert close(x.grad.numpy(), 3 * x0 ** 2)
# backward was written with operators, not numpy functions, so it differentiates again.
assert close(grad(grad(lambda t: Cube.apply(t)))(2.0), 6 * 2.0)

# --- Day 22: context saving --------------------------------------------------------------------
# forward runs once, backward later: whatever backward needs must be kept on ctx. Save inputs or
# the output with ctx.save_for_backward (read back as ctx.saved_tensors); anything else (an axis,
# a flag) can be set as an attribute. ctx.needs_input_grad says which gradients are wanted.
print("\nDay 22: context saving")


class Sigmoid(Function):
    """s = 1 / (1 + exp(-x)); ds/dx = s (1 - s): saving the OUTPUT avoids recomputing exp."""

    @staticmethod
    def forward(ctx, x):
        out = 1 / (1 + np.exp(-x))
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, y_bar):
        (s,) = ctx.saved_tensors
        return y_bar * s * (1 - s)


seen = []  # what ScaledSum.backward was told about its inputs, to print below


class ScaledSum(Function):
    """y = sum(x * w, axis) with a weight w and an axis kept on ctx."""

    @staticmethod
    def forward(ctx, x, w, axis):
        ctx.save_for_backward(x, w)
        ctx.axis = axis
        return np.sum(x * w, axis=axis)

    @staticmethod
    def backward(ctx, y_bar):
        x, w = ctx.saved_tensors
        seen.append(ctx.needs_input_grad)
        y_bar = ops.expand_dims(y_bar, ctx.axis)   # put back the summed axis, then broadcast
        x_bar = y_bar * w if ctx.needs_input_grad[0] else None
        w_bar = y_bar * x if ctx.needs_input_grad[1] else None
        return x_bar, w_bar, None                 # no gradient for the axis argument


x = Tensor(x0, requires_grad=True)
Sigmoid.apply(x).sum().backward()
s0 = 1 / (1 + np.exp(-x0))
print(f"  Sigmoid saved its output: grad {np.round(x.grad.numpy(), 6)} = s (1 - s)")
assert close(x.grad.numpy(), s0 * (1 - s0))
assert close(x.grad.numpy(), np.diag(numerical_jacobian(lambda v: 1 / (1 + np.exp(-v)), x0)))

rng = np.random.default_rng(0)
m0, w0 = rng.normal(size=(3, 4)), rng.normal(size=(3, 4))
m = Tensor(m0, requires_grad=True)
w = Tensor(w0)                                     # a constant: no gradient wanted
(ScaledSum.apply(m, w, 1) ** 2).sum().backward()
print(f"  ScaledSum kept ctx.axis = 1; ctx.needs_input_grad = {seen[0]}; w.grad = {w.grad}")
print("  (w was made without requires_grad=True: it is a constant, so backward computes no "
      "gradient for it and w.grad stays None; needs_input_grad told backward to skip it)")
assert seen == [(True, False, False)] and w.grad is None
want = numerical_jacobian(lambda v: np.sum(np.sum(v * w0, axis=1) ** 2), m0)
assert close(m.grad.numpy(), want)

# --- Day 23: graph traversal -------------------------------------------------------------------
# backward must visit a node only after every node that USES its output has sent its gradient:
# reverse topological order. reverse.graph.toposort lists the nodes inputs-first.
print("\nDay 23: graph traversal")
a = Tensor([0.5, 1.5], requires_grad=True)
h = a * a
loss = (ops.sin(h) + h * a).sum()
order = toposort([loss.grad_fn])
print(f"  forward (topological) order: {[node.name for node in order]}")
print(f"  backward visits:             {[node.name for node in reversed(order)]}")
position = {node: i for i, node in enumerate(order)}
for node in order:
    for parent in node.parents:
        if type(parent) is Node:
            assert position[parent] < position[node], "a node comes after its inputs"
assert order[-1] is loss.grad_fn and [n.name for n in order].count("mul") == 2
loss.backward()
a0 = np.array([0.5, 1.5])
assert close(a.grad.numpy(), np.cos(a0 ** 2) * 2 * a0 + 3 * a0 ** 2)

# The traversal is iterative, not recursive: a chain far deeper than Python's recursion limit.
depth = 10 * sys.getrecursionlimit()
x = Tensor(1.0, requires_grad=True, dtype=np.float64)
y = x
for _ in range(depth):
    y = y * 1.0001
y.backward()
print(f"  a chain of {depth} multiplications: d/dx = {x.grad.item():.6f} = 1.0001**{depth}")
assert close(x.grad.item(), 1.0001 ** depth)

# --- Day 24: multiple paths --------------------------------------------------------------------
# When a value feeds several ops, each path sends back its own gradient and they ADD UP
# (the multivariable chain rule). The engine accumulates before moving on to the inputs.
print("\nDay 24: multiple paths")
x = Tensor(3.0, requires_grad=True, dtype=np.float64)
y = x * x + x          # x reaches y by three edges
y.backward()
print(f"  y = x*x + x at 3: x.grad = {x.grad.item()} (= 2x + 1)")
assert x.grad.item() == 7.0

x = Tensor(2.0, requires_grad=True, dtype=np.float64)
left, right = x * 2, x * 3   # a diamond: x -> left, right -> out
out = left * right           # = 6 x**2
out.backward()
print(f"  diamond out = (2x)(3x) at 2: x.grad = {x.grad.item()} (= 12x)")
assert x.grad.item() == 24.0

# .grad of a leaf accumulates across backward calls too (as in PyTorch): reset it between steps.
x = Tensor(2.0, requires_grad=True, dtype=np.float64)
y = x * x
y.backward(retain_graph=True)   # keep the graph to go through it a second time
y.backward()
print(f"  two backward calls through x*x: x.grad = {x.grad.item()} (4 + 4); set x.grad = None "
      f"to reset")
print("  (the first call passes retain_graph=True because backward frees the graph's saved "
      "values as it goes; without it the second call would find them gone and raise)")
assert x.grad.item() == 8.0
x.grad = None

# --- Day 25: detach, requires_grad, no_grad ----------------------------------------------------
print("\nDay 25: detach, requires_grad, no_grad")
# requires_grad marks the leaves we want gradients for; results of recorded ops inherit it.
p = Tensor([1.0, 2.0], requires_grad=True)
c = Tensor([3.0, 4.0])                      # a constant
q = p * c
assert p.requires_grad and not c.requires_grad and q.requires_grad and not q.is_leaf
q.sum().backward()
print(f"  p.grad = {p.grad.numpy()}, c.grad = {c.grad} (c does not require grad)")
assert close(p.grad.numpy(), [3.0, 4.0]) and c.grad is None
c.requires_grad_()                          # switch it on for a leaf, in place
(p * c).sum().backward()
assert close(c.grad.numpy(), [1.0, 2.0])

# detach: the same numbers, cut off from the graph (a "stop gradient").
x = Tensor([3.0], requires_grad=True)
(x * x.detach()).sum().backward()
print(f"  d/dx [x * x.detach()] at 3 = {x.grad.item()} (only the undetached factor counts; "
      f"x * x would give 6)")
assert x.grad.item() == 3.0
d = x.detach()
assert d.is_leaf and not d.requires_grad and np.shares_memory(d.numpy(), x.data)

# no_grad: nothing is recorded inside (evaluation, parameter updates). enable_grad re-enables.
with no_grad():
    z = x * 2
    assert not is_grad_enabled()
    with enable_grad():
        assert (x * 2).requires_grad
print(f"  under no_grad: z.requires_grad = {z.requires_grad}, z.grad_fn = {z.grad_fn}")
assert not z.requires_grad and z.grad_fn is None and is_grad_enabled()
try:
    z.backward()
    raise AssertionError("backward through an unrecorded result should fail")
except RuntimeError as err:
    print(f"  z.backward() -> RuntimeError: {str(err)[:60]}...")


@no_grad
def sgd_step(param, lr):
    """An in-place update must not be recorded: no_grad works as a decorator too. `-=` updates
    the tensor in place (it stays the same leaf), and bumps its version counter."""
    param -= lr * param.grad
    return param * 1


w = Tensor([1.0, -1.0], requires_grad=True, dtype=np.float64)
(w * w).sum().backward()
after = sgd_step(w, 0.25)
print(f"  an SGD step under @no_grad: w = {w.detach().numpy()} (w - 0.25 * 2w), result recorded: "
      f"{after.requires_grad}")
assert close(w.detach().numpy(), [0.5, -0.5]) and not after.requires_grad and w.is_leaf
