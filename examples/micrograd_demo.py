"""A 2-16-16-1 MLP built from scalar Values, trained on two moons (micrograd's demo).

Every number is a ``reverse.Value``; every derivative comes from the same registry rules that drive
the Tensor engine. Run:

    python examples/micrograd_demo.py                 # trains to 100% training accuracy
    python examples/micrograd_demo.py --draw graph.svg  # also draws a small Value graph (Graphviz)
"""
from __future__ import annotations

import argparse
import random
import shutil
import time

import numpy as np

from reverse import Value, draw
from reverse.draw import INSTALL_DOT


class Neuron:
    """sum_i w_i x_i + b, then ReLU unless it is an output neuron."""

    def __init__(self, nin: int, nonlin: bool = True) -> None:
        self.w = [Value(random.uniform(-1, 1)) for _ in range(nin)]
        self.b = Value(0.0)
        self.nonlin = nonlin

    def __call__(self, x: list) -> Value:
        act = sum((wi * xi for wi, xi in zip(self.w, x)), self.b)
        return act.relu() if self.nonlin else act

    def parameters(self) -> list[Value]:
        return self.w + [self.b]


class Layer:
    def __init__(self, nin: int, nout: int, nonlin: bool = True) -> None:
        self.neurons = [Neuron(nin, nonlin) for _ in range(nout)]

    def __call__(self, x: list) -> list[Value]:
        return [n(x) for n in self.neurons]

    def parameters(self) -> list[Value]:
        return [p for n in self.neurons for p in n.parameters()]


class MLP:
    def __init__(self, nin: int, nouts: list[int]) -> None:
        sizes = [nin] + nouts
        self.layers = [Layer(sizes[i], sizes[i + 1], nonlin=i != len(nouts) - 1)
                       for i in range(len(nouts))]

    def __call__(self, x: list) -> Value:
        for layer in self.layers:
            x = layer(x)
        return x[0]

    def parameters(self) -> list[Value]:
        return [p for layer in self.layers for p in layer.parameters()]


def make_moons(n: int = 100, noise: float = 0.1, seed: int = 1337) -> tuple[np.ndarray, np.ndarray]:
    """Two interleaving half circles; labels -1 and +1 (as scikit-learn's make_moons, rescaled)."""
    rng = np.random.default_rng(seed)
    t = rng.uniform(0, np.pi, n)
    upper = rng.random(n) < 0.5
    x = np.where(upper, np.cos(t), 1 - np.cos(t))
    y = np.where(upper, np.sin(t), 0.5 - np.sin(t))
    points = np.stack([x, y], axis=1) + rng.normal(0, noise, (n, 2))
    return points, np.where(upper, -1.0, 1.0)


def loss_and_accuracy(model: MLP, X: np.ndarray, y: np.ndarray, alpha: float = 1e-4
                      ) -> tuple[Value, float]:
    """Max-margin loss sum(relu(1 - y_i * score_i)) / n plus alpha * |params|^2, and accuracy."""
    scores = [model([Value(a), Value(b)]) for a, b in X]
    losses = [(1 + -yi * si).relu() for yi, si in zip(y, scores)]
    data_loss = sum(losses) * (1.0 / len(losses))
    reg_loss = alpha * sum(p * p for p in model.parameters())
    accuracy = float(np.mean([(yi > 0) == (si.data > 0) for yi, si in zip(y, scores)]))
    return data_loss + reg_loss, accuracy


def train_step(model: MLP, X: np.ndarray, y: np.ndarray, lr: float) -> tuple[float, float]:
    """One step of gradient descent on the whole data set: forward, backward, update."""
    loss, accuracy = loss_and_accuracy(model, X, y)
    for p in model.parameters():
        p.grad = 0.0
    loss.backward()
    for p in model.parameters():
        p.data -= lr * p.grad
    return loss.data, accuracy


def curriculum_graph() -> Value:
    """The curriculum's picture: output = x * a + y * b, with gradients filled in."""
    x, a = Value(2.0, label="x"), Value(-3.0, label="a")
    y, b = Value(0.5, label="y"), Value(4.0, label="b")
    xa, yb = x * a, y * b
    xa.label, yb.label = "x*a", "y*b"
    out = xa + yb
    out.label = "output"
    out.backward()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description="Train a Value MLP on two moons")
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--draw", metavar="PATH",
                        help="draw a small Value graph to PATH (.svg/.png)")
    args = parser.parse_args()
    if args.draw and shutil.which("dot") is None:  # say so now, not after training
        parser.error(INSTALL_DOT.removeprefix("draw: "))

    random.seed(1337)
    X, y = make_moons()
    model = MLP(2, [16, 16, 1])
    print(f"MLP 2-16-16-1 with {len(model.parameters())} parameters, {len(X)} points")
    start = time.perf_counter()
    for k in range(args.steps):
        loss, accuracy = train_step(model, X, y, lr=1.0 - 0.9 * k / args.steps)
        if k % 10 == 0 or k == args.steps - 1:
            print(f"step {k:3d}  loss {loss:.4f}  accuracy {accuracy:.0%}")
    print(f"{(time.perf_counter() - start) / args.steps:.3f} s per step")
    _, accuracy = loss_and_accuracy(model, X, y)
    print(f"final training accuracy: {accuracy:.0%}")
    if args.draw:
        print("drew", draw(curriculum_graph(), args.draw))


if __name__ == "__main__":
    main()
