"""One epoch of the MNIST MLP (784-128-10, ReLU, SGD): this library, numpy by hand, PyTorch.

Trains one epoch (60,000 images, batch 64, plain SGD lr 0.1, float32, cross-entropy loss) with a
hand-written numpy floor, with this library's public API (nn.Linear, nn.relu, nn.cross_entropy,
optim.SGD, nn.DataLoader), with the same loop whose forward and backward pass is compiled by
``jit(value_and_grad(...))`` through ``nn.functional_call``, and, when it is installed, with PyTorch
on the CPU. All three start from
the same initial weights and see the same batches in the same order; prints seconds per epoch
(median over repeats, taking turns within each repeat), the ratio to the floor measured in the same
run, the peak memory of an epoch and the test accuracy after it.

    MNIST_DIR=/path/to/mnist python benchmarks/mnist.py   # 3 repeats (--data-dir also works)
    python benchmarks/mnist.py --quick                    # 1 repeat
    python benchmarks/mnist.py --torch-threads 2          # PyTorch on 2 threads (default 1)
    python benchmarks/mnist.py --blas-threads 0           # numpy's OpenBLAS as it comes (default 1)
    python benchmarks/mnist.py --tune-malloc              # glibc keeps freed memory (common.py)

The floor is the same network written as plain numpy calls by hand: the forward pass, the
log-softmax cross-entropy (max-shifted, mean over the batch), the backward pass derived by hand and
the in-place update ``W -= lr * dW``, with no tape, no Tensor objects and no optimizer object. What
is timed is the training loop of one epoch: drawing the epoch's order, fetching each batch from the
prepared arrays (each implementation as its users would), forward, backward and update, for all 938
batches. Reading and normalising the data, building the model and the optimizer, and evaluating
the test accuracy (after each timed epoch) are not timed. Peak memory comes from separate, untimed
epochs: one under tracemalloc, one measuring the resident set. numpy's OpenBLAS runs on one thread
by default, as PyTorch does: a second OpenBLAS thread spins on the other core of a 2-core machine
without making these small products faster, and any other load then makes epochs erratic.
"""
from __future__ import annotations

import argparse
import gc
import statistics
import sys
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
from common import (
    add_blas_option,
    add_malloc_option,
    blas_threads,
    header,
    peak_mib,
    timed,
    tune_malloc,
)

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from nn import DataLoader, Linear, Module, TensorDataset, cross_entropy, functional_call, relu
from nn.mnist import load_mnist
from optim import SGD
from reverse import Tensor, jit, no_grad, value_and_grad

MEAN, STD = 0.1307, 0.3081  # of MNIST's training pixels, scaled to [0, 1]
BATCH, LR = 64, 0.1
SHAPES = {"W1": (128, 784), "b1": (128,), "W2": (10, 128), "b2": (10,)}
LIBRARY_NAMES = {"fc1.weight": "W1", "fc1.bias": "b1", "fc2.weight": "W2", "fc2.bias": "b2"}


class Data(NamedTuple):
    x: np.ndarray  # (60000, 784) float32, normalised
    y: np.ndarray  # (60000,) int64
    x_test: np.ndarray
    y_test: np.ndarray


def prepare(images: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Flattened, normalised float32 images and int64 labels (as examples/mnist.py does)."""
    x = (images.reshape(len(images), -1).astype(np.float32) / 255.0 - MEAN) / STD
    return x, labels.astype(np.int64)


def initial_weights(seed: int) -> dict[str, np.ndarray]:
    """PyTorch's default init for Linear, drawn once with numpy: weights and biases uniform in
    +-1/sqrt(fan_in)."""
    rng = np.random.default_rng(seed)
    weights = {}
    for name, shape in SHAPES.items():
        bound = 1.0 / np.sqrt(784 if name.endswith("1") else 128)
        weights[name] = rng.uniform(-bound, bound, shape).astype(np.float32)
    return weights


class NumpyFloor:
    """The network by hand in numpy: forward, backward, SGD in place."""

    name = "numpy floor (by hand)"

    def __init__(self, data: Data, w0: dict[str, np.ndarray], seed: int) -> None:
        self.data, self.w0, self.seed = data, w0, seed

    def reset(self, n: int) -> None:
        self.n = n
        self.params = [self.w0[k].copy() for k in SHAPES]

    def epoch(self) -> None:
        x, y = self.data.x, self.data.y
        W1, b1, W2, b2 = self.params
        grads = [np.empty_like(p) for p in self.params]
        dW1, db1, dW2, db2 = grads
        all_rows = np.arange(BATCH)
        order = np.random.default_rng(self.seed).permutation(self.n)
        for start in range(0, self.n, BATCH):
            idx = order[start:start + BATCH]
            xb, yb = x[idx], y[idx]
            m = len(idx)
            rows = all_rows[:m]
            # forward
            h = xb @ W1.T
            h += b1
            np.maximum(h, 0, out=h)
            z = h @ W2.T
            z += b2
            z -= z.max(axis=1, keepdims=True)
            p = np.exp(z)
            s = p.sum(axis=1, keepdims=True)
            loss = np.log(s).mean() - z[rows, yb].mean()
            # backward: dL/dz = (softmax - onehot) / m
            p /= s
            p[rows, yb] -= 1
            p /= m
            np.matmul(p.T, h, out=dW2)
            np.sum(p, axis=0, out=db2)
            dh = p @ W2
            dh *= h > 0
            np.matmul(dh.T, xb, out=dW1)
            np.sum(dh, axis=0, out=db1)
            # SGD: W -= lr * dW, in place
            for w, g in zip(self.params, grads):
                g *= LR
                w -= g
        self.loss = float(loss)

    def accuracy(self) -> float:
        W1, b1, W2, b2 = self.params
        h = np.maximum(self.data.x_test @ W1.T + b1, 0)
        return float(np.mean((h @ W2.T + b2).argmax(axis=1) == self.data.y_test))

    def weights(self) -> list[np.ndarray]:
        return self.params


class MLP(Module):
    """The curriculum's network, as examples/mnist.py writes it."""

    def __init__(self):
        self.fc1 = Linear(784, 128)
        self.fc2 = Linear(128, 10)

    def forward(self, x):
        x = relu(self.fc1(x))
        return self.fc2(x)


class Library:
    """This library's public API, as a user writes the training loop."""

    name = "this library (nn, optim)"

    def __init__(self, data: Data, w0: dict[str, np.ndarray], seed: int) -> None:
        self.data, self.w0, self.seed = data, w0, seed

    def reset(self, n: int) -> None:
        self.model = MLP()
        with no_grad():
            for name, param in self.model.named_parameters():
                param.copy_(self.w0[LIBRARY_NAMES[name]])
        self.optimizer = SGD(self.model.parameters(), lr=LR)
        # DataLoader calls generator.permutation(n) once per epoch: the floor's order.
        self.loader = DataLoader(TensorDataset(self.data.x[:n], self.data.y[:n]), batch_size=BATCH,
                                 shuffle=True, generator=np.random.default_rng(self.seed))

    def epoch(self) -> None:
        model, optimizer = self.model, self.optimizer
        for x, y in self.loader:
            pred = model(x)
            loss = cross_entropy(pred, y)
            loss.backward()
            optimizer.step()
            optimizer.zero_grad()
        self.loss = float(loss)

    def accuracy(self) -> float:
        with no_grad():
            pred = self.model(Tensor.from_numpy(self.data.x_test))
            correct = int((pred.argmax(dim=1) == Tensor.from_numpy(self.data.y_test)).sum())
        return correct / len(self.data.y_test)

    def weights(self) -> list[np.ndarray]:
        params = dict(self.model.named_parameters())
        return [params[name].detach().numpy() for name in LIBRARY_NAMES]


class LibraryJit(Library):
    """The same loop with each batch's forward and backward pass compiled: jit of value_and_grad,
    the model called through nn.functional_call; the gradients go to .grad and optim.SGD steps as
    before. The model is built once, so that the program is traced once (in the warm-up)."""

    name = "this library, jit (compiled fwd+bwd)"

    def reset(self, n: int) -> None:
        if not hasattr(self, "step"):
            super().reset(n)
            model = self.model

            def loss_of(values: dict, x: Any, y: Any) -> Any:
                return cross_entropy(functional_call(model, values, (x,)), y)

            self.step = jit(value_and_grad(loss_of))
            self.params = dict(model.named_parameters())
        with no_grad():
            for name, param in self.params.items():
                param.copy_(self.w0[LIBRARY_NAMES[name]])
        self.optimizer = SGD(self.model.parameters(), lr=LR)
        self.loader = DataLoader(TensorDataset(self.data.x[:n], self.data.y[:n]), batch_size=BATCH,
                                 shuffle=True, generator=np.random.default_rng(self.seed))

    def epoch(self) -> None:
        step, params, optimizer = self.step, self.params, self.optimizer
        for x, y in self.loader:
            loss, grads = step({name: p.data for name, p in params.items()}, x.data, y.data)
            for name, p in params.items():
                p.grad = Tensor.from_numpy(grads[name])
            optimizer.step()
            optimizer.zero_grad()
        self.loss = float(loss)


class Torch:
    """PyTorch on the CPU: torch.nn, torch.optim.SGD, batches gathered by indexing."""

    name = "PyTorch CPU (torch.nn)"

    def __init__(self, data: Data, w0: dict[str, np.ndarray], seed: int) -> None:
        import torch
        self.torch, self.w0, self.seed = torch, w0, seed
        self.x, self.y = torch.from_numpy(data.x), torch.from_numpy(data.y)
        self.x_test, self.y_test = torch.from_numpy(data.x_test), torch.from_numpy(data.y_test)

    def reset(self, n: int) -> None:
        torch = self.torch
        self.n = n
        self.model = torch.nn.Sequential(torch.nn.Linear(784, 128), torch.nn.ReLU(),
                                         torch.nn.Linear(128, 10))
        with torch.no_grad():
            for param, key in zip(self.model.parameters(), SHAPES):
                param.copy_(torch.from_numpy(self.w0[key]))
        self.optimizer = torch.optim.SGD(self.model.parameters(), lr=LR)

    def epoch(self) -> None:
        model, optimizer, x, y = self.model, self.optimizer, self.x, self.y
        cross_entropy = self.torch.nn.functional.cross_entropy
        order = self.torch.from_numpy(np.random.default_rng(self.seed).permutation(self.n))
        for start in range(0, self.n, BATCH):
            idx = order[start:start + BATCH]
            pred = model(x[idx])
            loss = cross_entropy(pred, y[idx])
            loss.backward()
            optimizer.step()
            optimizer.zero_grad()
        self.loss = loss.item()

    def accuracy(self) -> float:
        with self.torch.no_grad():
            pred = self.model(self.x_test)
            return float((pred.argmax(dim=1) == self.y_test).double().mean())

    def weights(self) -> list[np.ndarray]:
        return [p.detach().numpy() for p in self.model.parameters()]


# --- memory -----------------------------------------------------------------------------------
def _status_kib(field: str) -> int | None:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def _reset_peak_rss() -> bool:
    """Reset VmHWM (the peak resident set) to the current resident set (Linux >= 4.0)."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def tracemalloc_peak(impl: Any, n: int) -> float:
    """MiB: tracemalloc's peak during one untimed epoch, above what it counted at the start."""
    impl.reset(n)
    return peak_mib(impl.epoch)


def rss_peak_growth(impl: Any, n: int) -> float | None:
    """MiB: the peak resident set during one untimed epoch, above the resident set at its start
    (None when /proc cannot tell)."""
    impl.reset(n)
    gc.collect()
    if not _reset_peak_rss():
        return None
    base = _status_kib("VmRSS")
    impl.epoch()
    peak = _status_kib("VmHWM")
    return None if base is None or peak is None else (peak - base) / 1024


# --- the run ------------------------------------------------------------------------------------
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", help="folder with the four MNIST files (else $MNIST_DIR, "
                        "then the cache folder; downloaded when missing)")
    parser.add_argument("--repeats", type=int, default=3, help="timed epochs of each (median)")
    parser.add_argument("--quick", action="store_true", help="one repeat")
    parser.add_argument("--torch-threads", type=int, default=1, help="torch.set_num_threads")
    add_blas_option(parser)
    add_malloc_option(parser)
    parser.add_argument("--seed", type=int, default=0, help="seeds the weights and the order")
    args = parser.parse_args()
    repeats = 1 if args.quick else args.repeats

    try:
        import torch
        torch.set_num_threads(args.torch_threads)
    except ImportError:
        torch = None
    print(header(blas_threads(args.blas_threads), malloc=tune_malloc(args.tune_malloc)))

    x, y = prepare(*load_mnist(args.data_dir, train=True))
    x_test, y_test = prepare(*load_mnist(args.data_dir, train=False))
    data = Data(x, y, x_test, y_test)
    n = len(x)
    w0 = initial_weights(args.seed)
    impls: list[Any] = [NumpyFloor(data, w0, args.seed), Library(data, w0, args.seed),
                        LibraryJit(data, w0, args.seed)]
    if torch is not None:
        impls.append(Torch(data, w0, args.seed))
    print(f"MLP 784-128-10 (ReLU), cross-entropy, SGD lr {LR}, float32; one epoch = {n:,} images "
          f"in {-(-n // BATCH)} batches of {BATCH}; same initial weights and batch order for all")
    print(f"timed: the training loop of one epoch, median of {repeats} repeat(s) taking turns "
          f"(numpy, library, torch, ...); test accuracy evaluated after each epoch, not timed")
    print("memory: separate untimed epochs. tracemalloc: peak above the start (sees numpy's "
          "allocations, not PyTorch's own allocator); RSS: peak resident set (VmHWM, reset "
          "before the epoch) above the resident set at the start, so memory the process kept "
          "from earlier epochs is reused and not counted", flush=True)

    for impl in impls:  # warm up: 20 batches each
        impl.reset(20 * BATCH)
        impl.epoch()
    traced = {impl.name: tracemalloc_peak(impl, n) for impl in impls}
    rss = {impl.name: rss_peak_growth(impl, n) for impl in impls}

    times: dict[str, list[float]] = {impl.name: [] for impl in impls}
    accuracy: dict[str, list[float]] = {impl.name: [] for impl in impls}
    for _ in range(repeats):
        for impl in impls:
            impl.reset(n)
            times[impl.name].append(timed(impl.epoch, collect=True))
            accuracy[impl.name].append(impl.accuracy())

    floor = impls[0]
    base_time = statistics.median(times[floor.name])
    base_traced, base_rss = traced[floor.name], rss[floor.name]

    def memory(value: float | None, base: float | None, is_floor: bool) -> str:
        """An implementation's own peak and, but for the floor, its difference to the floor's."""
        if value is None:
            return "n/a"
        if is_floor or base is None:
            return f"{value:.1f}"
        return f"{value:.1f} ({value - base:+.1f})"

    print(f"\n  {'implementation':26s} {'s/epoch':>8s} {'x floor':>8s} "
          f"{'tracemalloc MiB':>17s} {'RSS peak MiB':>15s} {'test acc':>9s}")
    for impl in impls:
        name = impl.name
        secs = statistics.median(times[name])
        is_floor = impl is floor
        traced_text = memory(None if isinstance(impl, Torch) else traced[name], base_traced,
                             is_floor)
        print(f"  {name:26s} {secs:8.3f} {secs / base_time:8.2f} {traced_text:>17s} "
              f"{memory(rss[name], base_rss, is_floor):>15s} {accuracy[name][-1]:9.2%}")
    if torch is not None:
        print("  (PyTorch allocates outside tracemalloc: its tracemalloc figure is n/a)")

    print("\n  runs, s/epoch (ratio to the floor's run in the same repeat):")
    for impl in impls:
        runs = ", ".join(f"{t:.3f} ({t / b:.2f})" for t, b in zip(times[impl.name],
                                                                     times[floor.name]))
        paired = statistics.median(t / b for t, b in zip(times[impl.name], times[floor.name]))
        print(f"    {impl.name:26s} {runs}; median of ratios {paired:.2f}")
    same_acc = all(len(set(a)) == 1 for a in accuracy.values())
    print(f"  test accuracy {'identical' if same_acc else 'NOT identical'} across repeats")
    print("  after the last epoch, max |weight - floor's weight| and the last batch's loss:")
    ref = floor.weights()
    for impl in impls:
        diff = max(float(np.max(np.abs(w - r))) for w, r in zip(impl.weights(), ref))
        print(f"    {impl.name:26s} {diff:9.2e}   loss {impl.loss:.6f}")


if __name__ == "__main__":
    main()
