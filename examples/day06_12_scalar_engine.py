"""Days 6-12, the scalar autograd engine: ``reverse.Value``, micrograd's API.

A Value holds one float (``data``), its gradient (``grad``), the Values it was made from
(``_prev``), the op that made it (``_op``) and a ``_backward`` that applies one step of the chain
rule.
Every claim is checked with ``assert`` against closed forms or finite differences.
Run: python examples/day06_12_scalar_engine.py
"""
import math

from reverse import Value


def close(a, b, tol=1e-6):
    return math.isclose(a, b, rel_tol=tol, abs_tol=tol)


def numerical_grad(f, *xs, h=1e-6):
    """Central differences of a function of floats, one partial per argument."""
    grads = []
    for i in range(len(xs)):
        up = list(xs)
        down = list(xs)
        up[i] += h
        down[i] -= h
        grads.append((f(*up) - f(*down)) / (2 * h))
    return grads


# --- Day 6: the Value class --------------------------------------------------------------------
print("Day 6: Value")
a = Value(2.0, label="a")
print(f"  {a!r}: data is a float, grad starts at 0 (nothing depends on it yet)")
assert a.data == 2.0 and a.grad == 0.0 and type(a.data) is float

# --- Day 7: parent tracking --------------------------------------------------------------------
# Each result remembers its inputs (_prev) and its op (_op): that IS the graph.
print("\nDay 7: parent tracking")
b = Value(-3.0, label="b")
c = a * b
d = c + a
print(f"  c = a * b -> c._op = {c._op!r}, c._prev = {sorted(v.label for v in c._prev)}")
print(f"  d = c + a -> d._op = {d._op!r}, d._prev has {len(d._prev)} Values (c and a)")
assert c._op == "*" and c._prev == {a, b}
assert d._op == "+" and d._prev == {c, a}
assert a._prev == set() and a._op == ""  # a leaf
# Walking _prev from d reaches every Value d depends on.
seen, stack = set(), [d]
while stack:
    v = stack.pop()
    if v not in seen:
        seen.add(v)
        stack.extend(v._prev)
assert seen == {a, b, c, d}

# --- Day 8: addition and subtraction -----------------------------------------------------------
# d(x + y)/dx = 1, d(x + y)/dy = 1; d(x - y)/dy = -1: the gradient is passed through (or negated).
print("\nDay 8: + and -")
x, y = Value(3.0), Value(5.0)
(x + y - 2.0).backward()
print(f"  (x + y - 2): x.grad = {x.grad}, y.grad = {y.grad}")
assert (x.grad, y.grad) == (1.0, 1.0)
x, y = Value(3.0), Value(5.0)
(x - y).backward()
assert (x.grad, y.grad) == (1.0, -1.0)
x = Value(3.0)
(10 - x).backward()  # a number on the left works too (__rsub__)
assert x.grad == -1.0

# --- Day 9: multiplication and division --------------------------------------------------------
# d(xy)/dx = y; d(x/y)/dx = 1/y, d(x/y)/dy = -x/y**2.
print("\nDay 9: * and /")
x, y = Value(3.0), Value(5.0)
(x * y).backward()
print(f"  x * y: x.grad = {x.grad} (= y), y.grad = {y.grad} (= x)")
assert (x.grad, y.grad) == (5.0, 3.0)
x, y = Value(3.0), Value(5.0)
(x / y).backward()
print(f"  x / y: x.grad = {x.grad:.4f} (= 1/y), y.grad = {y.grad:.4f} (= -x/y**2)")
assert close(x.grad, 1 / 5) and close(y.grad, -3 / 25)

# --- Day 10: power and negation ----------------------------------------------------------------
# d(x**n)/dx = n x**(n-1); d(-x)/dx = -1; with a Value exponent, d(a**b)/db = a**b ln a.
print("\nDay 10: ** and negation")
x = Value(2.0)
(x ** 3).backward()
print(f"  x ** 3 at 2: grad {x.grad} (= 3 x**2)")
assert x.grad == 12.0
x = Value(4.0)
(x ** -0.5).backward()
assert close(x.grad, -0.5 * 4.0 ** -1.5)
x = Value(2.0)
(-x).backward()
assert x.grad == -1.0
base, exponent = Value(2.0), Value(3.0)
(base ** exponent).backward()
print(f"  a ** b at (2, 3): d/da = {base.grad} (= b a**(b-1)), d/db = {exponent.grad:.4f} "
      f"(= a**b ln a)")
assert close(base.grad, 12.0) and close(exponent.grad, 8 * math.log(2.0))

# --- Day 11: the backward pass -----------------------------------------------------------------
# backward() sorts the graph topologically, sets out.grad = 1 and calls each node's _backward
# from the output back to the leaves. A Value used twice gets BOTH contributions (+=, not =).
print("\nDay 11: backward")


def expression(a, b, c):
    """Works on floats and on Values alike."""
    e = a * b + c
    return e * e / (a - c) + b ** 2


vals = (1.5, -2.0, 0.5)
leaves = [Value(v) for v in vals]
out = expression(*leaves)
out.backward()
fd = numerical_grad(expression, *vals)
print("  e = a*b + c; out = e*e/(a - c) + b**2")
for name, v, g in zip("abc", leaves, fd):
    print(f"    {name} = {v.data:5.2f}   d out/d{name} = {v.grad:11.6f}   finite differences "
          f"{g:11.6f}")
assert all(close(v.grad, g, 1e-5) for v, g in zip(leaves, fd))
assert out.grad == 1.0

x = Value(3.0)
(x + x).backward()  # micrograd's classic bug, if _backward used = instead of +=
print(f"  x + x: x.grad = {x.grad} (both paths add up)")
assert x.grad == 2.0
# Gradients accumulate across backward() calls as well: zero them between steps.
x = Value(3.0)
y = x * x
y.backward()
y.backward()
assert x.grad == 12.0  # 6 + 6
x.grad = 0.0

# --- Day 12: activation functions --------------------------------------------------------------
# relu' = 1 if x > 0 else 0; sigmoid' = s (1 - s); tanh' = 1 - tanh**2.
print("\nDay 12: ReLU, sigmoid, tanh")
for x0 in (-1.5, 0.3, 2.0):
    for name, f, df in [
        ("relu", lambda v: v.relu(), lambda t: 1.0 if t > 0 else 0.0),
        ("sigmoid", lambda v: v.sigmoid(),
         lambda t: (1 / (1 + math.exp(-t))) * (1 - 1 / (1 + math.exp(-t)))),
        ("tanh", lambda v: v.tanh(), lambda t: 1 - math.tanh(t) ** 2),
    ]:
        x = Value(x0)
        f(x).backward()
        assert close(x.grad, df(x0)), (name, x0)
print("  relu, sigmoid, tanh: gradients match their closed forms at -1.5, 0.3 and 2.0")

# A neuron, as in micrograd's lecture: o = tanh(x1 w1 + x2 w2 + b).
x1, x2 = Value(2.0, label="x1"), Value(0.0, label="x2")
w1, w2 = Value(-3.0, label="w1"), Value(1.0, label="w2")
bias = Value(6.8813735870195432, label="b")
o = (x1 * w1 + x2 * w2 + bias).tanh()
o.backward()
print(f"  neuron o = {o.data:.4f}: x1.grad {x1.grad:.4f}, w1.grad {w1.grad:.4f}, "
      f"x2.grad {x2.grad:.4f}, w2.grad {w2.grad:.4f}")
# 1 - o**2 = 0.5 at this bias, so each grad is 0.5 times the other factor of its product.
assert close(o.data, math.sqrt(0.5))
assert close(x1.grad, 0.5 * -3.0) and close(w1.grad, 0.5 * 2.0)
assert close(x2.grad, 0.5 * 1.0) and close(w2.grad, 0.0)

# A hand-written op, micrograd style: make the output with its children and op name, and set
# _backward to a closure that adds the local derivative times out.grad to each child.


def softplus(v):
    """log(1 + e**v), d/dv = sigmoid(v)."""
    out = Value(math.log1p(math.exp(v.data)), (v,), "softplus")

    def _backward():
        v.grad += (1 / (1 + math.exp(-v.data))) * out.grad
    out._backward = _backward
    return out


x = Value(0.7)
y = softplus(x * 2) * x        # the hand-written op composes with the built-in ones
y.backward()
expected = numerical_grad(lambda t: math.log1p(math.exp(2 * t)) * t, 0.7)[0]
print(f"  hand-written softplus: d/dx [softplus(2x) x] at 0.7 = {x.grad:.6f} "
      f"(finite differences {expected:.6f})")
assert sorted(v._op for v in y._prev) == ["", "softplus"]  # y = softplus(...) * x
assert close(x.grad, expected, 1e-5)
