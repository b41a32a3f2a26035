"""Days 1-5, mathematical foundations: derivatives, the chain rule, partial derivatives,
computational graphs, and forward vs backward mode.

Every claim printed here is also checked with ``assert`` against a closed form or finite
differences, so running the script is a test. Run: python examples/day01_05_foundations.py
"""
import math
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from adcore import numerical_jacobian, ops
from adcore.levels import raw
from forward import Dual, jacfwd, jvp
from reverse import Tensor, Value, draw, grad, jacrev, to_dot, vjp


def close(a, b, tol=1e-6):
    return np.allclose(np.asarray(raw(a), dtype=float), np.asarray(raw(b), dtype=float),
                       rtol=tol, atol=tol)


# --- Day 1: derivatives ------------------------------------------------------------------------
# f'(x) is the slope of f at x: lim (f(x + h) - f(x - h)) / 2h. Autodiff computes it exactly,
# with no h, in either mode.
print("Day 1: derivatives")


def cube(x):
    return x ** 3


x0 = 2.0
by_dual = (Dual(x0, 1.0) ** 3).tangent     # forward mode: carry dx/dx = 1 along with x
by_grad = grad(cube)(x0)                    # reverse mode: pull df/df = 1 back to x
by_fd = (cube(x0 + 1e-6) - cube(x0 - 1e-6)) / 2e-6
print(f"  f(x) = x**3 at x = 2: forward {by_dual}, reverse {by_grad}, finite difference "
      f"{by_fd:.6f}, closed form 3x**2 = {3 * x0 ** 2}")
assert by_dual == 12.0 and close(by_grad, 12.0) and close(by_fd, 12.0)

for name, f, df in [("sin", ops.sin, math.cos), ("exp", ops.exp, math.exp),
                    ("log", ops.log, lambda x: 1 / x)]:
    assert close(grad(f)(1.5), df(1.5)), name
print("  d/dx sin = cos, d/dx exp = exp, d/dx log = 1/x: checked at x = 1.5")

# --- Day 2: the chain rule -------------------------------------------------------------------
# For f(g(x)): df/dx = df/dg * dg/dx. The curriculum's example: g = x * 2, f = g + 3.
print("\nDay 2: chain rule")
x = Value(5.0, label="x")
g = x * 2
g.label = "g"
f = g + 3
f.label = "f"
f.backward()
print(f"  g = x * 2, f = g + 3: df/dg = {g.grad} (f = g + 3), dg/dx = 2, so df/dx = {x.grad}")
assert g.grad == 1.0 and x.grad == 2.0

# A longer chain: h(x) = sin(x ** 2), h'(x) = cos(x ** 2) * 2x.
h_prime = grad(lambda x: ops.sin(x ** 2))(1.3)
print(f"  d/dx sin(x**2) at 1.3 = {h_prime:.6f} = cos(1.69) * 2.6 = {math.cos(1.69) * 2.6:.6f}")
assert close(h_prime, math.cos(1.3 ** 2) * 2 * 1.3)

# --- Day 3: partial derivatives ---------------------------------------------------------------
# df/dx holds y fixed; df/dy holds x fixed. One reverse pass gives all partials at once.
print("\nDay 3: partial derivatives")


def surface(x, y):
    return x * y + ops.sin(x) * y ** 2


df_dx, df_dy = grad(surface, argnums=(0, 1))(1.0, 2.0)
print(f"  f(x, y) = x*y + sin(x)*y**2 at (1, 2): df/dx = {df_dx:.6f}, df/dy = {df_dy:.6f}")
assert close(df_dx, 2.0 + math.cos(1.0) * 4.0)          # y + cos(x) y**2
assert close(df_dy, 1.0 + 2 * math.sin(1.0) * 2.0)       # x + 2 sin(x) y
# The gradient is the vector of partials; finite differences agree.
fd = numerical_jacobian(lambda v: surface(v[0], v[1]), np.array([1.0, 2.0]))
assert close(fd, [df_dx, df_dy])

# --- Day 4: computational graphs ---------------------------------------------------------------
# Each operation is a node; edges run from inputs to the op that used them (a DAG). The
# curriculum's picture: output = x*a + y*b.
print("\nDay 4: computational graphs")
xv, av = Value(2.0, label="x"), Value(-3.0, label="a")
yv, bv = Value(0.5, label="y"), Value(4.0, label="b")
xa, yb = xv * av, yv * bv
xa.label, yb.label = "x*a", "y*b"
output = xa + yb
output.label = "output"
output.backward()
print(f"  output = {output.data}: its op is {output._op!r}, its inputs "
      f"{sorted(v.label for v in output._prev)}")
print(f"  gradients: d/dx = a = {xv.grad}, d/da = x = {av.grad}, d/dy = b = {yv.grad}, "
      f"d/db = y = {bv.grad}")
assert (xv.grad, av.grad, yv.grad, bv.grad) == (-3.0, 2.0, 4.0, 0.5)

dot_source = to_dot(output)
ops_in_graph = dot_source.count("shape=ellipse")
values_in_graph = dot_source.count("shape=record")
print(f"  to_dot: {values_in_graph} value nodes, {ops_in_graph} op nodes "
      f"({len(dot_source.splitlines())} lines of Graphviz DOT; paste into any viewer)")
assert (values_in_graph, ops_in_graph) == (7, 3)  # x a y b, x*a y*b output; * * +

# The Tensor engine's graph has the same shape, with tensors for values.
tx = Tensor([1.0, 2.0], requires_grad=True)
tensor_dot = to_dot((tx * tx + tx).sum())
assert tensor_dot.count("shape=ellipse") == 3  # mul, add, sum
if shutil.which("dot"):
    path = draw(output, Path(tempfile.gettempdir()) / "day04_graph.svg")
    print(f"  drew the graph to {path}")
else:
    print("  (Graphviz's `dot` is not installed: skipping reverse.draw; to_dot works without it)")

# --- Day 5: forward vs backward mode -----------------------------------------------------------
# Forward mode pushes a tangent (a direction in input space) through f: one pass gives J @ v,
# one COLUMN of the Jacobian. Reverse mode pulls a cotangent (a weighting of the outputs) back:
# one pass gives u^T @ J, one ROW. So n inputs cost n forward passes, m outputs m backward ones.
print("\nDay 5: forward vs backward mode")


def small(v):
    """R^3 -> R^2."""
    return ops.stack([v[0] * v[1] + ops.sin(v[2]), ops.exp(v[0]) * v[2]])


v = np.array([0.5, -1.0, 2.0])
J_fd = numerical_jacobian(small, v)
_, column = jvp(small, (v,), (np.array([0.0, 1.0, 0.0]),))
_, pull = vjp(small, v)
(row,) = pull(np.array([1.0, 0.0]))
print(f"  jvp with e1 gives column 1 = {np.round(column, 4)}; vjp with e0 gives row 0 = "
      f"{np.round(row, 4)}")
assert close(column, J_fd[:, 1]) and close(row, J_fd[0, :])

# jacfwd sends all n basis vectors as ONE batch of tangents: the work of n forward passes in
# one vectorised pass. jacrev sends all m basis cotangents as one batch backward.
J_fwd, J_rev = jacfwd(small)(v), jacrev(small)(v)
print("  the same 2x3 Jacobian by jacfwd, jacrev and finite differences:\n",
      np.round(J_fwd, 4))
assert close(J_fwd, J_fd) and close(J_rev, J_fd) and close(J_fwd, J_rev, 1e-12)


def median_time(fn, repeats=5):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def wide(x):
    """Many inputs, one output (a loss): R^n -> R."""
    return (ops.sin(x) * x ** 2 + ops.exp(-x)).sum()


def make_tall(m):
    """One input, many outputs (a trajectory): R -> R^m."""
    w = np.linspace(-1.0, 1.0, m)

    def tall(t):
        return ops.sin(t * w) * ops.exp(-t * w ** 2) + t ** 2
    return tall


rng = np.random.default_rng(0)
rows = []
for size in (100, 1000):
    x = rng.normal(size=size)
    tall = make_tall(size)
    t = np.array(0.7)
    # Check once that both modes agree before timing them.
    assert close(jacfwd(wide)(x), jacrev(wide)(x), 1e-10)
    assert close(jacfwd(tall)(t), jacrev(tall)(t), 1e-10)
    # Each lambda is timed at once, inside this iteration (so B023 does not apply).
    rows.append((f"wide  R^{size} -> R", median_time(lambda: jacfwd(wide)(x)),  # noqa: B023
                 median_time(lambda: jacrev(wide)(x))))  # noqa: B023
    rows.append((f"tall  R -> R^{size}", median_time(lambda: jacfwd(tall)(t)),  # noqa: B023
                 median_time(lambda: jacrev(tall)(t))))  # noqa: B023
assert close(jacrev(wide)(x), numerical_jacobian(wide, x), 1e-5)

print(f"\n  {'function':<20} {'jacfwd':>10} {'jacrev':>10}   faster (median of 5)")
for label, t_fwd, t_rev in rows:
    winner = "jacrev" if t_rev < t_fwd else "jacfwd"
    ratio = max(t_fwd, t_rev) / min(t_fwd, t_rev)
    print(f"  {label:<20} {t_fwd * 1e3:8.2f}ms {t_rev * 1e3:8.2f}ms   {winner}, {ratio:.1f}x")

# What "one batched pass" saves: the same Jacobian column by column, with n separate jvp calls.
x = rng.normal(size=100)
eye = np.eye(x.size)
columns = [jvp(wide, (x,), (eye[i],))[1] for i in range(x.size)]
assert close(columns, jacfwd(wide)(x), 1e-10)
t_loop = median_time(lambda: [jvp(wide, (x,), (eye[i],)) for i in range(x.size)], repeats=3)
t_batch = median_time(lambda: jacfwd(wide)(x))
print(f"\n  wide R^100 -> R by forward mode: 100 jvp calls {t_loop * 1e3:.2f}ms, one batched "
      f"jacfwd {t_batch * 1e3:.2f}ms\n  (the same arithmetic; batching pays the Python overhead "
      f"per op once)")
print("""
  Why: jacfwd carries one tangent per INPUT through every op (an n x n identity for the wide
  function, a single number for the tall one); jacrev carries one cotangent per OUTPUT back
  (a single number for the wide function, an m x m identity for the tall one). Reverse mode
  wins for losses (many parameters, one scalar): that is why deep learning uses backprop.
  Forward mode wins when outputs outnumber inputs, and it needs no tape.""")
