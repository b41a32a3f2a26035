"""Days 26-35, neural networks and the complete library: ``Parameter``, ``Linear``, activation
layers, losses, the ``Module`` base class, the SGD and Adam optimizers, ``Sequential``, a training
loop on a small synthetic data set, and the curriculum's MNIST network.

Every claim is checked with ``assert`` against formulas written out with numpy. The MNIST training
itself is in examples/mnist.py (it needs the data files); here the MLP takes one step on a random
batch. Run: python examples/day26_35_networks.py
"""
import math
import tempfile
from pathlib import Path

import numpy as np

import nn
from adcore.levels import raw
from nn import DataLoader, Linear, Module, Parameter, Sequential, TensorDataset, cross_entropy, relu
from nn.layers import Dropout, ReLU, Sigmoid, Tanh
from nn.losses import CrossEntropyLoss, MSELoss
from optim import SGD, Adam
from reverse import Tensor, no_grad


def close(a, b, tol=1e-6):
    return np.allclose(np.asarray(raw(a), dtype=float), np.asarray(raw(b), dtype=float),
                       rtol=tol, atol=tol)


# --- Day 26: the Parameter class ---------------------------------------------------------------
# A Parameter is a Tensor that says "learn me": a leaf that requires grad by default. It is a
# subclass so that a Module can recognise it when it is assigned as an attribute (Day 30).
print("Day 26: Parameter")
source = np.array([1.0, -2.0, 3.0])
p = Parameter(source)
print(f"  {p!r}")
print(f"  a Tensor: {isinstance(p, Tensor)}, is_leaf = {p.is_leaf}, "
      f"requires_grad = {p.requires_grad}")
assert isinstance(p, Tensor) and p.is_leaf and p.requires_grad and p.grad is None
assert not Parameter(source, requires_grad=False).requires_grad

# The data is copied: changing the array afterwards leaves the parameter alone.
source[0] = 100.0
print(f"  after source[0] = 100: p = {p.detach().numpy()} (its own copy), shares memory: "
      f"{np.shares_memory(p.data, source)}")
assert p.detach().numpy()[0] == 1.0 and not np.shares_memory(p.data, source)

# Results of ops on a Parameter are plain Tensors (not learnable themselves), recorded in the graph.
q = p * 2
print(f"  type(p * 2) = {type(q).__name__}, is_leaf = {q.is_leaf}, grad_fn = {q.grad_fn}")
assert type(q) is Tensor and not q.is_leaf and q.requires_grad
(q * p).sum().backward()                      # d/dp sum(2 p**2) = 4 p
assert close(p.grad.numpy(), 4 * np.array([1.0, -2.0, 3.0]))

# --- Day 27: the Linear layer ------------------------------------------------------------------
# y = x @ W^T + b with W of shape (out_features, in_features) and b of shape (out_features,).
print("\nDay 27: Linear")
nn.manual_seed(0)
layer = Linear(100, 50)
bound = 1 / math.sqrt(layer.in_features)
w_np = layer.weight.detach().numpy()
print(f"  {layer}: weight {layer.weight.shape}, bias {layer.bias.shape}")
print(f"  PyTorch's init: uniform in +-1/sqrt(100) = +-{bound}; largest |w| = "
      f"{np.abs(w_np).max():.5f}, largest |b| = {np.abs(layer.bias.detach().numpy()).max():.5f}")
assert layer.weight.shape == (50, 100) and layer.bias.shape == (50,)
assert np.abs(w_np).max() <= bound and np.abs(layer.bias.detach().numpy()).max() <= bound
assert np.abs(w_np).max() > 0.99 * bound                  # the draws fill the range
assert abs(w_np.std() - bound / math.sqrt(3)) < 0.02 * bound  # std of U(-a, a) = a / sqrt(3)

# Forward and backward on a small float64 example. Take L = sum(Y * G) for a fixed G, so that
# dL/dY = G; then dL/dW = G^T X, dL/db = sum of G over the batch, dL/dX = G W.
layer = Linear(3, 2, dtype=np.float64)
rng = np.random.default_rng(0)
x0, g0 = rng.normal(size=(4, 3)), rng.normal(size=(4, 2))
x = Tensor(x0, requires_grad=True)
y = layer(x)
W, b = layer.weight.detach().numpy(), layer.bias.detach().numpy()
print(f"  layer(x) for x of shape {x.shape}: shape {y.shape}, one fused node {y.grad_fn}")
assert y.shape == (4, 2) and close(y.detach().numpy(), x0 @ W.T + b, 1e-12)
(y * Tensor(g0)).sum().backward()
print(f"  weight.grad = G^T X =\n{np.round(layer.weight.grad.numpy(), 4)}")
assert close(layer.weight.grad.numpy(), g0.T @ x0, 1e-12)
assert close(layer.bias.grad.numpy(), g0.sum(axis=0), 1e-12)
assert close(x.grad.numpy(), g0 @ W, 1e-12)

# --- Day 28: activation layers -----------------------------------------------------------------
# Modules with no parameters, wrapping the elementwise functions of Day 12.
print("\nDay 28: activation layers")
z0 = np.array([-2.0, -0.5, 0.3, 1.5])
sig = 1 / (1 + np.exp(-z0))
cases = [(ReLU(), np.maximum(z0, 0), (z0 > 0).astype(float)),
         (Sigmoid(), sig, sig * (1 - sig)),
         (Tanh(), np.tanh(z0), 1 - np.tanh(z0) ** 2)]
for module, value, slope in cases:
    z = Tensor(z0, requires_grad=True)
    out = module(z)
    out.sum().backward()
    print(f"  {module!r:10} {np.round(out.data, 4)}, gradient {np.round(z.grad.numpy(), 4)}")
    assert close(out.detach().numpy(), value, 1e-12) and close(z.grad.numpy(), slope, 1e-12)
    assert list(module.parameters()) == []
print("  gradients: ReLU 1 where x > 0 else 0; Sigmoid s (1 - s); Tanh 1 - tanh**2")

# --- Day 29: loss functions --------------------------------------------------------------------
print("\nDay 29: losses")
# MSE: mean((x - t)**2), gradient 2 (x - t) / n.
pred0, target0 = np.array([0.5, 2.0, -1.0, 3.0]), np.array([1.0, 1.5, -1.0, 2.0])
pred = Tensor(pred0, requires_grad=True)
loss = MSELoss()(pred, Tensor(target0))
loss.backward()
print(f"  MSELoss = {loss.item():.4f} = mean((x - t)**2); gradient {pred.grad.numpy()}")
assert close(loss.item(), np.mean((pred0 - target0) ** 2), 1e-12)
assert close(pred.grad.numpy(), 2 * (pred0 - target0) / pred0.size, 1e-12)

# Cross-entropy of logits (N, C) against class indices (N,): the log-softmax of each row, the
# entry of the target class picked out, negated, averaged over the batch.
logits0 = rng.normal(size=(4, 3))
labels0 = np.array([0, 2, 1, 2])
N = len(labels0)
shifted = logits0 - logits0.max(axis=1, keepdims=True)
log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
by_hand = -log_probs[np.arange(N), labels0].mean()
logits = Tensor(logits0, requires_grad=True)
loss = CrossEntropyLoss()(logits, labels0)
loss.backward()
print(f"  CrossEntropyLoss = {loss.item():.6f}; by hand -mean(log_softmax[n, t_n]) = "
      f"{by_hand:.6f}")
assert close(loss.item(), by_hand, 1e-12)
onehot = np.eye(3)[labels0]
softmax = np.exp(log_probs)
print(f"  gradient = (softmax - onehot) / N:\n{np.round(logits.grad.numpy(), 4)}")
assert close(logits.grad.numpy(), (softmax - onehot) / N, 1e-12)

# Huge logits: exp(1e4) overflows, so the naive log(sum(exp(x))) is inf. The op subtracts the
# row maximum first (as above), and stays finite and exact.
big0 = np.array([[1e4, -1e4, 0.0], [-1e4, 1e4, 0.0]])
with np.errstate(over="ignore"):
    naive = np.log(np.exp(big0).sum(axis=1)) - big0[[0, 1], [1, 1]]
big = Tensor(big0, requires_grad=True)
loss = cross_entropy(big, np.array([1, 1]))
loss.backward()
print(f"  logits +-1e4: naive log-sum-exp gives {naive}, cross_entropy = {loss.item()} "
      f"((2e4 + 0) / 2), gradient finite: {np.isfinite(big.grad.numpy()).all()}")
assert np.isinf(naive[0]) and loss.item() == 1e4
assert close(big.grad.numpy(), [[0.5, -0.5, 0.0], [0.0, 0.0, 0.0]], 1e-12)

# --- Day 30: the Module base class -------------------------------------------------------------
# Assigning a Parameter or a Module to an attribute registers it, even when __init__ does not call
# super().__init__() (as the curriculum's MLP does not). Calling the module runs forward.
print("\nDay 30: Module")


class Scaled(Module):
    def __init__(self):                       # no super().__init__(), as in the curriculum
        self.fc1 = Linear(3, 4)
        self.act = Tanh()
        self.fc2 = Linear(4, 2)
        self.scale = Parameter(np.ones(2, dtype=np.float32))
        self.note = "not registered"          # anything else is an ordinary attribute
        self.offset = Tensor([1.0, 1.0])      # a plain Tensor is not a parameter

    def forward(self, x):
        return self.fc2(self.act(self.fc1(x))) * self.scale


nn.manual_seed(1)
model = Scaled()
names = [name for name, _ in model.named_parameters()]
print(f"  named_parameters: {names}")
print(f"  children: {[name for name, _ in model.named_children()]}")
assert names == ["scale", "fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"]
assert [name for name, _ in model.named_children()] == ["fc1", "act", "fc2"]
count = sum(param.detach().numpy().size for param in model.parameters())
assert count == 2 + (4 * 3 + 4) + (2 * 4 + 2) == 28
xb = Tensor(rng.normal(size=(5, 3)).astype(np.float32))
assert model(xb).shape == (5, 2)


class Tied(Module):
    """The same layer used twice: its parameters belong to the model once."""

    def __init__(self):
        self.first = Linear(3, 3)
        self.second = self.first

    def forward(self, x):
        return self.second(relu(self.first(x)))


tied = Tied()
print(f"  a layer used twice: {len(list(tied.parameters()))} parameters, not 4: "
      f"{[name for name, _ in tied.named_parameters()]}")
assert len(list(tied.parameters())) == 2

# train() / eval() set the mode of the whole tree; Dropout is the layer that reads it.
net = Sequential(Linear(3, 3), Dropout(0.5))
net.eval()
assert not any(m.training for m in net.modules())
assert close(net(xb), net[0](xb))         # eval: Dropout is the identity
net.train()
assert all(m.training for m in net.modules())
print("  eval(): every module's training = False, Dropout passes x through; train() restores")

# state_dict: every parameter by dotted name; load_state_dict copies values in place.
state = model.state_dict()
print(f"  state_dict keys: {list(state)}")
assert list(state) == names
with tempfile.TemporaryDirectory() as folder:
    path = nn.save(state, Path(folder) / "scaled.npz")
    nn.manual_seed(2)
    other = Scaled()                          # different initial weights
    assert not close(other(xb).detach().numpy(), model(xb).detach().numpy())
    other.load_state_dict(nn.load(path))
    print(f"  saved to {path.name} ({path.stat().st_size} bytes) with nn.save, loaded into a "
          f"fresh Scaled: same outputs")
assert not Path(folder).exists()
assert close(other(xb).detach().numpy(), model(xb).detach().numpy(), 0)
for (name, mine), (_, theirs) in zip(model.named_parameters(), other.named_parameters()):
    assert mine is not theirs and np.array_equal(mine.data, theirs.data), name

# --- Day 31: the SGD optimizer -----------------------------------------------------------------
# Least squares L(w) = 1/2 |A w - c|^2, gradient A^T (A w - c). An optimizer holds the parameters
# and updates them in place from their .grad: p = p - lr * grad.
print("\nDay 31: SGD")
A = rng.normal(size=(6, 3))
c = rng.normal(size=6)
w_start = np.array([0.5, -0.5, 1.0])


def least_squares(w):
    r = Tensor(A) @ w - Tensor(c)
    return 0.5 * (r * r).sum()


def gradient(w):
    return A.T @ (A @ w - c)


def run(optimizer_class, steps, **options):
    """The parameter after each of `steps` optimizer steps, and the losses before each."""
    w = Parameter(w_start)
    optimizer = optimizer_class([w], **options)
    path, losses = [], []
    for _ in range(steps):
        loss = least_squares(w)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        assert w.grad is None and w.is_leaf   # zero_grad clears; the update was not recorded
        path.append(w.detach().numpy().copy())
        losses.append(loss.item())
    return path, losses


lr, mu = 0.05, 0.9
path, losses = run(SGD, 3, lr=lr)
w = w_start.copy()
for step in range(3):
    w = w - lr * gradient(w)
    assert close(path[step], w, 1e-12)
print(f"  3 steps, lr {lr}: w = {np.round(path[-1], 6)} = w - lr * grad, three times; "
      f"loss {losses[0]:.4f} -> {losses[-1]:.4f}")
assert losses[0] > losses[1] > losses[2]

# With momentum mu: buf = grad on the first step, then buf = mu * buf + grad; p = p - lr * buf.
path, _ = run(SGD, 4, lr=lr, momentum=mu)
w, buf = w_start.copy(), None
for step in range(4):
    g = gradient(w)
    buf = g if buf is None else mu * buf + g
    w = w - lr * buf
    assert close(path[step], w, 1e-12)
print(f"  with momentum {mu}: 4 steps match buf = mu * buf + grad, w = w - lr * buf: "
      f"w = {np.round(path[-1], 6)}")

# --- Day 32: the Adam optimizer ----------------------------------------------------------------
# m and v are running averages of the gradient and its square; dividing by sqrt(v) gives every
# coordinate its own step size, and the bias corrections undo the zero start of m and v.
print("\nDay 32: Adam")
lr, beta1, beta2, eps = 0.1, 0.9, 0.999, 1e-8
path, losses = run(Adam, 5, lr=lr, betas=(beta1, beta2), eps=eps)
w, m, v = w_start.copy(), np.zeros(3), np.zeros(3)
for t in range(1, 6):
    g = gradient(w)
    m = beta1 * m + (1 - beta1) * g
    v = beta2 * v + (1 - beta2) * g * g
    m_hat, v_hat = m / (1 - beta1 ** t), v / (1 - beta2 ** t)
    w = w - lr * m_hat / (np.sqrt(v_hat) + eps)
    assert close(path[t - 1], w, 1e-10)
print("  5 steps match m, v, m_hat = m / (1 - b1**t), v_hat = v / (1 - b2**t),\n"
      "  w = w - lr m_hat / (sqrt(v_hat) + eps)")
print(f"  w = {np.round(path[-1], 6)}, loss {losses[0]:.4f} -> {losses[-1]:.4f}")
# On the first step m_hat / sqrt(v_hat) = g / |g|: every coordinate moves by lr, whatever the scale
# of its gradient.
first_move = path[0] - w_start
print(f"  first step: w moved by {np.round(first_move, 6)} = -lr * sign(grad), "
      f"grad = {np.round(gradient(w_start), 3)}")
assert close(first_move, -lr * np.sign(gradient(w_start)), 1e-6)

# --- Day 33: the Sequential container ----------------------------------------------------------
# Modules applied in order; the container is a Module itself, so its parameters are all of theirs.
print("\nDay 33: Sequential")
nn.manual_seed(3)
seq = Sequential(Linear(4, 8), ReLU(), Linear(8, 3))
print(f"  {seq}".replace("\n", "\n  "))
xs = Tensor(rng.normal(size=(5, 4)).astype(np.float32))
by_hand = seq[2](seq[1](seq[0](xs)))
h = xs
for module in seq:                            # iteration goes through the layers in order
    h = module(h)
print(f"  len(seq) = {len(seq)}; seq[0] is a {type(seq[0]).__name__}, seq[1] a "
      f"{type(seq[1]).__name__}; seq[-1] is seq[2]: {seq[-1] is seq[2]}")
print(f"  seq(x) equals calling the layers by hand; seq[:2] is a {type(seq[:2]).__name__} of "
      f"{len(seq[:2])} (Linear, ReLU)")
assert len(seq) == 3 and isinstance(seq[0], Linear) and seq[-1] is seq[2]
assert close(seq(xs), by_hand, 0) and close(h, by_hand, 0)
head = seq[:2]
assert isinstance(head, Sequential) and len(head) == 2 and head[0] is seq[0]
W1, b1 = seq[0].weight.detach().numpy(), seq[0].bias.detach().numpy()
assert close(head(xs).detach().numpy(), np.maximum(xs.detach().numpy() @ W1.T + b1, 0))
assert [name for name, _ in seq.named_parameters()] == ["0.weight", "0.bias", "2.weight", "2.bias"]

# --- Day 34: the training loop -----------------------------------------------------------------
# Three Gaussian blobs in the plane, one per class; a 2-16-3 network trained with the
# curriculum's loop. For equal round blobs the best rule is "nearest centre", our yardstick.
print("\nDay 34: training loop")
data_rng = np.random.default_rng(34)
angles = np.radians([90, 210, 330])
centres = 2.5 * np.stack([np.cos(angles), np.sin(angles)], axis=1)
labels = np.repeat(np.arange(3), 100)
points = (centres[labels] + 0.7 * data_rng.normal(size=(300, 2))).astype(np.float32)
nearest = np.argmin(((points[:, None, :] - centres[None]) ** 2).sum(axis=2), axis=1)
best = np.mean(nearest == labels)

nn.manual_seed(0)                             # the initial weights and the shuffling
model = Sequential(Linear(2, 16), ReLU(), Linear(16, 3))
optimizer = SGD(model.parameters(), lr=0.1)
dataloader = DataLoader(TensorDataset(points, labels), batch_size=32, shuffle=True)
print(f"  {len(points)} points, {len(dataloader)} batches of up to 32 per epoch, SGD lr 0.1")
history = []
for epoch in range(1, 21):
    total = 0.0
    for x, y in dataloader:
        pred = model(x)
        loss = cross_entropy(pred, y)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        total += loss.item() * len(x)
    history.append(total / len(points))
    if epoch in (1, 5, 10, 15, 20):
        print(f"  epoch {epoch:2}: mean training loss {history[-1]:.4f}")

model.eval()
with no_grad():
    guess = model(Tensor(points)).argmax(dim=1).detach().numpy()
accuracy = np.mean(guess == labels)
print(f"  training accuracy {accuracy:.1%} (the nearest-centre rule, best for these blobs: "
      f"{best:.1%})")
assert history[-1] < 0.2 * history[0]
assert accuracy >= 0.95 and accuracy >= best - 0.02

# --- Day 35: the MNIST example -----------------------------------------------------------------
# Training on the real data set is examples/mnist.py; it needs the four MNIST files (--data-dir,
# $MNIST_DIR, or a download into the cache folder). Here: the curriculum's network, one step.
print("\nDay 35: MNIST")
print("  To train the curriculum's MLP on MNIST:  python examples/mnist.py")
print("  (the data: --data-dir, $MNIST_DIR, or a download into the cache folder).")
print("  With its defaults (5 epochs of Adam, lr 1e-3 with cosine annealing, batch 64) it reaches")
print("  97.87-98.02% test accuracy over six seeds, in about 6 s for the 5 epochs on this machine.")


class MLP(Module):
    def __init__(self):
        self.fc1 = Linear(784, 128)
        self.fc2 = Linear(128, 10)

    def forward(self, x):
        x = relu(self.fc1(x))
        return self.fc2(x)


nn.manual_seed(35)
model = MLP()
optimizer = SGD(model.parameters(), lr=0.01)
batch_rng = np.random.default_rng(35)
x = Tensor(batch_rng.normal(size=(64, 784)).astype(np.float32))   # 64 flattened 28 x 28 images
y = Tensor(batch_rng.integers(0, 10, size=64), dtype=np.int64)    # their labels, 0-9

pred = model(x)
loss = cross_entropy(pred, y)
loss.backward()
grads = {name: param.grad.shape for name, param in model.named_parameters()}
optimizer.step()
optimizer.zero_grad()

print(f"  x {x.shape} -> fc1 {model.fc1.weight.shape} -> relu -> fc2 {model.fc2.weight.shape} "
      f"-> logits {pred.shape}")
print(f"  gradients: {grads}")
print(f"  loss at initialisation {loss.item():.4f}, log 10 = {math.log(10):.4f} (small logits: "
      f"every class about 1/10)")
assert pred.shape == (64, 10)
assert grads == {name: param.shape for name, param in model.named_parameters()}
assert abs(loss.item() - math.log(10)) < 0.5
assert all(param.grad is None for param in model.parameters())
with no_grad():
    after = cross_entropy(model(x), y).item()
print(f"  after one SGD step the loss on this batch is {after:.4f} (lower)")
assert after < loss.item()
