"""A CNN training step and Conv2d alone: this library, numpy by hand (the floor), PyTorch.

1. One training step of the MNIST CNN of examples/cnn_mnist.py (conv 1 -> 32, batch norm, ReLU,
   2x2 max pooling; conv 32 -> 64, batch norm, ReLU, pooling; flatten, dropout 0.25, Linear 3136
   -> 128, ReLU, Linear 128 -> 10; softmax cross-entropy, Adam lr 1e-3) on a batch of 64 float32
   images of 1 x 28 x 28: forward, backward, the optimizer's step and zero_grad. Random images
   (seeded) by default; the first 64 MNIST training images when --data-dir or $MNIST_DIR names
   a folder with the files (nothing is downloaded).
2. Conv2d alone (3x3, padding 1, with bias): the forward pass, and the forward and backward
   passes (the gradients of the input, the weight and the bias, for a fixed random cotangent), at
   an MNIST size (64 x 32 -> 64 channels, 14 x 14: the network's second convolution) and two
   CIFAR-like layers (64 x 3 -> 64 at 32 x 32, the stem; 64 x 64 -> 64 at 32 x 32, a body layer).

    python benchmarks/cnn.py                    # 40 steps, 9 calls per case: 1.5 to 2 min here
    python benchmarks/cnn.py --quick            # 7 steps, 3 calls per case: about 30 s
    python benchmarks/cnn.py --profile          # also cProfile 10 of the library's steps
    python benchmarks/cnn.py --no-torch         # without PyTorch (also when it is not installed)
    python benchmarks/cnn.py --blas-threads 0   # numpy's OpenBLAS as it comes (default 1)
    python benchmarks/cnn.py --tune-malloc      # glibc keeps freed memory (see common.py)

The implementations:

- this library: the network built from nn layers (nn.Conv2d, nn.BatchNorm2d, F.max_pool2d, ...),
  nn.functional.cross_entropy and optim.Adam, as a user writes the loop;
- the numpy floor: the same network and update written by hand, float32 throughout, on buffers
  allocated once and reused, with in-place updates. Convolution by im2col: the input copied into
  a zero-bordered buffer, one strided copy per kernel offset into an (N, C k k, H W) array, one
  matmul with the (C_out, C k k) weight; backward, a matmul for the weight's gradient, one for the
  columns' gradient and one strided add per kernel offset back into the input's. Batch norm in
  training mode (batch mean, biased variance, running statistics updated, the usual hand-derived
  backward). ReLU and 2x2 max pooling, stride 2, the gradient to the first largest entry of each
  window in row-major order (as PyTorch). Dropout (mask / (1 - p)), the two Linear layers, softmax
  cross-entropy (mean), and Adam with PyTorch's formula on all parameters at once (they live in
  one flat array, as do their gradients). Shortcuts that are exact in arithmetic (the float64
  check below holds): per-channel sums are products with a vector of ones (BLAS); ReLU is applied
  to the pooled values, as max and ReLU commute and a window whose maximum is not positive gets no
  gradient either way; the pooling first copies each window offset's entries into a contiguous
  block (numpy's stride-2 loops are several times slower than contiguous ones);
- PyTorch CPU eager (torch.nn, torch.optim.Adam), the same network, when installed.

All three start from the same weights (this library's initialisation). Before any timing the
floor is checked against the library in float64 on the same weights and batch: the loss, every
gradient, the parameters after one Adam step and the running statistics agree to 1e-8 (relative
to the largest entry), with dropout off (p = 0) and with p = 0.25 and the library's mask (its
documented draw, ``generator.random(shape) >= p``); PyTorch, with dropout off, is checked the
same way; the convolution cases likewise, with a batch of 2. A mismatch stops the run.

Timed: medians over repeats in which the implementations take turns (floor, library, PyTorch),
in ms; ratios are the median over repeats of each repeat's time over the floor's time in that
repeat. numpy's OpenBLAS and PyTorch run on one thread each (--blas-threads, --torch-threads).
"""
from __future__ import annotations

import argparse
import cProfile
import math
import os
import pstats
import statistics
import sys
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from common import (
    add_blas_option,
    add_malloc_option,
    blas_threads,
    header,
    import_torch,
    paired_ratio,
    tune_malloc,
    turns,
)

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import nn
from nn import functional as F
from nn.mnist import load_mnist
from optim import Adam
from reverse import Tensor, no_grad

MEAN, STD = 0.1307, 0.3081  # of MNIST's training pixels, scaled to [0, 1]
BATCH, P_DROP, LR = 64, 0.25, 1e-3
BETAS, ADAM_EPS, BN_EPS, BN_MOMENTUM = (0.9, 0.999), 1e-8, 1e-5, 0.1
TOL = 1e-8  # the float64 check: max |difference| / max(1, max |reference|)
# this library's parameter names and shapes, in its (and PyTorch's) order
SHAPES = {
    "conv1.weight": (32, 1, 3, 3), "conv1.bias": (32,), "bn1.weight": (32,), "bn1.bias": (32,),
    "conv2.weight": (64, 32, 3, 3), "conv2.bias": (64,), "bn2.weight": (64,), "bn2.bias": (64,),
    "fc1.weight": (128, 64 * 7 * 7), "fc1.bias": (128,), "fc2.weight": (10, 128), "fc2.bias": (10,),
}
BUFFERS = ("bn1.running_mean", "bn1.running_var", "bn2.running_mean", "bn2.running_var")
# (name, N, C_in, C_out, H = W) of the Conv2d cases: 3x3 kernels, padding 1, stride 1
CONV_CASES = (
    ("MNIST conv2: 64 x 32->64, 14x14", 64, 32, 64, 14),
    ("CIFAR stem: 64 x 3->64, 32x32", 64, 3, 64, 32),
    ("CIFAR body: 64 x 64->64, 32x32", 64, 64, 64, 32),
)


# --- the network, as examples/cnn_mnist.py defines it ------------------------------------------
class CNN(nn.Module):
    """conv, batch norm, max pooling and ReLU twice, then dropout and two linear layers
    (28x28 -> 14x14 -> 7x7).
    ``dtype``, ``p`` and ``generator`` exist for the float64 check."""

    def __init__(self, dtype: Any = np.float32, p: float = P_DROP,
                 generator: np.random.Generator | None = None) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, 3, padding=1, dtype=dtype)
        self.bn1 = nn.BatchNorm2d(32, dtype=dtype)
        self.conv2 = nn.Conv2d(32, 64, 3, padding=1, dtype=dtype)
        self.bn2 = nn.BatchNorm2d(64, dtype=dtype)
        self.dropout = nn.Dropout(p, generator=generator)
        self.fc1 = nn.Linear(64 * 7 * 7, 128, dtype=dtype)
        self.fc2 = nn.Linear(128, 10, dtype=dtype)

    def forward(self, x: Any) -> Any:
        # pooling before the ReLU: the same values and gradients (ReLU is monotonic), on a
        # quarter of the entries
        x = F.relu(F.max_pool2d(self.bn1(self.conv1(x)), 2))
        x = F.relu(F.max_pool2d(self.bn2(self.conv2(x)), 2))
        x = self.dropout(F.flatten(x, 1))
        return self.fc2(F.relu(self.fc1(x)))


def initial_weights(seed: int) -> dict[str, np.ndarray]:
    """This library's default initialisation (PyTorch's), drawn once: BN weights 1, biases 0."""
    nn.manual_seed(seed)
    return {name: p.detach().numpy().copy() for name, p in CNN().named_parameters()}


# --- the numpy floor ----------------------------------------------------------------------------
class FloorConv:
    """A k x k convolution, stride 1, zero padding ``pad``, by im2col, for a fixed input shape
    (n, c_in, h, w). Buffers are allocated once; results are views of them (valid until the next
    call)."""

    def __init__(self, n: int, c_in: int, c_out: int, h: int, w: int, k: int, pad: int,
                 dtype: Any, input_grad: bool = True) -> None:
        self.k, self.pad, self.h, self.w = k, pad, h, w
        self.ho, self.wo = h + 2 * pad - k + 1, w + 2 * pad - k + 1
        positions = self.ho * self.wo
        self.xp = np.zeros((n, c_in, h + 2 * pad, w + 2 * pad), dtype)  # the border stays zero
        self.cols = np.empty((n, c_in, k, k, self.ho, self.wo), dtype)
        self.cols2d = self.cols.reshape(n, c_in * k * k, positions)
        self.out = np.empty((n, c_out, positions), dtype)
        self.ones = np.ones(positions, dtype)
        self.dw_each = np.empty((n, c_out, c_in * k * k), dtype)
        self.dcols = np.empty_like(self.cols) if input_grad else None
        self.dxp = np.empty_like(self.xp) if input_grad else None

    def forward(self, x: np.ndarray, w2d: np.ndarray, b: np.ndarray) -> np.ndarray:
        """(n, c_in, h, w) -> (n, c_out, ho * wo), with w2d (c_out, c_in k k) and b (c_out,)."""
        pad, h, w = self.pad, self.h, self.w
        self.xp[:, :, pad:pad + h, pad:pad + w] = x
        for i in range(self.k):  # one strided copy per kernel offset
            for j in range(self.k):
                self.cols[:, :, i, j] = self.xp[:, :, i:i + self.ho, j:j + self.wo]
        np.matmul(w2d, self.cols2d, out=self.out)
        self.out += b[:, None]
        return self.out

    def backward(self, dy: np.ndarray, w2d: np.ndarray, dw2d: np.ndarray,
                 db: np.ndarray) -> np.ndarray | None:
        """Writes the weight's and bias's gradients into dw2d and db; returns the input's
        gradient (n, c_in, h, w) (a view), or None without input_grad. dy: (n, c_out, ho wo)."""
        np.add.reduce(dy @ self.ones, axis=0, out=db)
        np.matmul(dy, self.cols2d.transpose(0, 2, 1), out=self.dw_each)
        np.add.reduce(self.dw_each, axis=0, out=dw2d)
        if self.dcols is None or self.dxp is None:
            return None
        np.matmul(w2d.T, dy, out=self.dcols.reshape(self.cols2d.shape))
        self.dxp.fill(0)
        for i in range(self.k):  # one strided add per kernel offset (col2im)
            for j in range(self.k):
                self.dxp[:, :, i:i + self.ho, j:j + self.wo] += self.dcols[:, :, i, j]
        pad, h, w = self.pad, self.h, self.w
        return self.dxp[:, :, pad:pad + h, pad:pad + w]


class FloorBatchNormReLUPool:
    """Batch norm (training mode) of (n, c, h * w), ReLU and 2x2 max pooling, stride 2, the
    gradient to the first largest entry of each window (row-major order, as PyTorch); and the
    backward pass of all three.

    The normalised values are written straight into ``phases`` (2, 2, n, c, h/2, w/2), where
    [i, j] holds every window's entry at offset (i, j) as one contiguous block, so that pooling
    runs on contiguous arrays. ReLU is applied to the pooled values: max and ReLU commute, and a
    window whose maximum is not positive gets no gradient either way."""

    def __init__(self, n: int, c: int, h: int, w: int, dtype: Any) -> None:
        self.n, self.c, self.h, self.w = n, c, h, w
        self.count = n * h * w
        self.ones = np.ones(h * w, dtype)
        self.dz = np.empty((n, c, h * w), dtype)
        self.tmp = np.empty((n, c, h * w), dtype)
        self.phases = np.empty((2, 2, n, c, h // 2, w // 2), dtype)
        pooled = (n, c, h // 2, w // 2)
        self.out = np.empty(pooled, dtype)
        self.top_max = np.empty(pooled, dtype)  # max of the window's top row, then the bottom's
        self.bottom_max = np.empty(pooled, dtype)
        self.left_top = np.empty(pooled, bool)  # top row: the left entry is the first largest
        self.left_bottom = np.empty(pooled, bool)
        self.top = np.empty(pooled, bool)  # the first largest entry is in the top row
        self.positive = np.empty(pooled, bool)
        self.g = np.empty(pooled, dtype)
        self.g_top = np.empty(pooled, dtype)
        self.g_bottom = np.empty(pooled, dtype)

    def _phase_view(self, a: np.ndarray) -> np.ndarray:
        """(n, c, h * w) seen as (2, 2, n, c, h/2, w/2): [i, j] holds the window offset i, j."""
        n, c, h, w = self.n, self.c, self.h, self.w
        return a.reshape(n, c, h // 2, 2, w // 2, 2).transpose(3, 5, 0, 1, 2, 4)

    def forward(self, z: np.ndarray, gamma: np.ndarray, beta: np.ndarray,
                running_mean: np.ndarray, running_var: np.ndarray) -> np.ndarray:
        """z (n, c, h * w), centred in place (kept for the backward pass); returns the pooled
        (n, c, h/2, w/2)."""
        per_channel = (slice(None), None, None)  # (c,) against (2, 2, n, c, h/2, w/2)
        mean = np.add.reduce(z @ self.ones, axis=0) / self.count
        z -= mean[:, None]
        var = np.einsum("ncp,ncp->c", z, z) / self.count
        self.inv_std = 1.0 / np.sqrt(var + BN_EPS)
        self.centred, self.gamma = z, gamma
        running_mean *= 1.0 - BN_MOMENTUM
        running_mean += BN_MOMENTUM * mean
        running_var *= 1.0 - BN_MOMENTUM
        running_var += BN_MOMENTUM * self.count / (self.count - 1) * var
        # y = x_hat gamma + beta = z (gamma inv_std) + beta, window offsets apart (a strided
        # copy first: numpy's copy of this view is several times faster than a ufunc writing it)
        np.copyto(self.phases, self._phase_view(z))
        self.phases *= (gamma * self.inv_std)[per_channel]
        self.phases += beta[per_channel]
        # pooling: the first largest entry in row-major window order (a, b / c, d)
        (a, b), (c, d) = self.phases
        np.greater_equal(a, b, out=self.left_top)
        np.maximum(a, b, out=self.top_max)
        np.greater_equal(c, d, out=self.left_bottom)
        np.maximum(c, d, out=self.bottom_max)
        np.greater_equal(self.top_max, self.bottom_max, out=self.top)
        np.maximum(self.top_max, self.bottom_max, out=self.out)
        np.maximum(self.out, 0, out=self.out)
        return self.out

    def backward(self, d_out: np.ndarray, dgamma: np.ndarray, dbeta: np.ndarray) -> np.ndarray:
        """The gradient of the pooled output -> that of z (n, c, h * w); writes dgamma, dbeta."""
        np.greater(self.out, 0, out=self.positive)  # ReLU's
        np.multiply(d_out, self.positive, out=self.g)
        np.multiply(self.g, self.top, out=self.g_top)
        np.subtract(self.g, self.g_top, out=self.g_bottom)
        (a, b), (c, d) = self.phases  # reused for the gradient
        np.multiply(self.g_top, self.left_top, out=a)
        np.subtract(self.g_top, a, out=b)
        np.multiply(self.g_bottom, self.left_bottom, out=c)
        np.subtract(self.g_bottom, c, out=d)
        dy = self.dz
        windows = dy.reshape(self.n, self.c, self.h // 2, 2, self.w // 2, 2)
        for i in range(2):  # four copies: one copyto of the whole view is some 4x slower
            for j in range(2):
                np.copyto(windows[:, :, :, i, :, j], self.phases[i, j])
        # batch norm, with x_hat = z inv_std:
        #   dz = gamma inv_std (dy - mean(dy) - x_hat mean(dy x_hat))
        z, inv_std, m = self.centred, self.inv_std, self.count
        np.add.reduce(dy @ self.ones, axis=0, out=dbeta)
        np.multiply(np.einsum("ncp,ncp->c", dy, z), inv_std, out=dgamma)
        scale = self.gamma * inv_std
        np.multiply(z, (scale * inv_std * dgamma / m)[:, None], out=self.tmp)
        dy *= scale[:, None]
        dy -= self.tmp
        dy -= (scale * dbeta / m)[:, None]
        return dy


class NumpyFloor:
    """The CNN by hand in numpy: forward, backward and Adam, on buffers allocated once."""

    name = "numpy floor (by hand)"

    def __init__(self, weights: dict[str, np.ndarray], n: int = BATCH, dtype: Any = np.float32,
                 p: float = P_DROP, seed: int = 0) -> None:
        self.dtype, self.p, self.n = dtype, p, n
        self.generator = np.random.default_rng(seed)
        sizes = [math.prod(s) for s in SHAPES.values()]
        self.flat = np.empty(sum(sizes), dtype)  # every parameter, one after the other
        self.flat_grad = np.zeros_like(self.flat)
        self.params: dict[str, np.ndarray] = {}
        self.grads: dict[str, np.ndarray] = {}
        start = 0
        for (name, shape), size in zip(SHAPES.items(), sizes):
            self.params[name] = self.flat[start:start + size].reshape(shape)
            self.grads[name] = self.flat_grad[start:start + size].reshape(shape)
            self.params[name][...] = weights[name]
            start += size
        self.exp_avg = np.zeros_like(self.flat)
        self.exp_avg_sq = np.zeros_like(self.flat)
        self.scratch = np.empty_like(self.flat)
        self.steps = 0
        self.buffers = {name: (np.zeros if name.endswith("mean") else np.ones)(c, dtype)
                        for name, c in zip(BUFFERS, (32, 32, 64, 64))}
        self.conv1 = FloorConv(n, 1, 32, 28, 28, 3, 1, dtype, input_grad=False)
        self.block1 = FloorBatchNormReLUPool(n, 32, 28, 28, dtype)
        self.conv2 = FloorConv(n, 32, 64, 14, 14, 3, 1, dtype)
        self.block2 = FloorBatchNormReLUPool(n, 64, 14, 14, dtype)
        self.mask = np.empty((n, 64 * 7 * 7), dtype)
        self.keep = np.empty((n, 64 * 7 * 7), bool)
        self.rows = np.arange(n)

    def forward_backward(self, x: np.ndarray, labels: np.ndarray,
                         keep: np.ndarray | None = None) -> float:
        """The loss; the gradients written into self.grads. ``keep``: dropout's mask (drawn from
        the floor's generator when None)."""
        P, G, B = self.params, self.grads, self.buffers
        n = self.n
        w1, w2 = P["conv1.weight"].reshape(32, -1), P["conv2.weight"].reshape(64, -1)
        # forward
        z = self.conv1.forward(x, w1, P["conv1.bias"])
        h = self.block1.forward(z, P["bn1.weight"], P["bn1.bias"], B["bn1.running_mean"],
                                B["bn1.running_var"])
        z = self.conv2.forward(h, w2, P["conv2.bias"])
        h = self.block2.forward(z, P["bn2.weight"], P["bn2.bias"], B["bn2.running_mean"],
                                B["bn2.running_var"])
        flat = h.reshape(n, -1)
        if self.p > 0:
            if keep is None:
                keep = np.greater_equal(self.generator.random(flat.shape, dtype=self.dtype),
                                        self.p, out=self.keep)
            np.multiply(keep, self.dtype(1.0 / (1.0 - self.p)), out=self.mask)
            flat = flat * self.mask
        a1 = flat @ P["fc1.weight"].T
        a1 += P["fc1.bias"]
        np.maximum(a1, 0, out=a1)
        logits = a1 @ P["fc2.weight"].T
        logits += P["fc2.bias"]
        logits -= logits.max(axis=1, keepdims=True)
        probs = np.exp(logits)
        total = probs.sum(axis=1, keepdims=True)
        loss = float(np.log(total).mean() - logits[self.rows, labels].mean())
        # backward: dL/dlogits = (softmax - onehot) / n
        probs /= total
        probs[self.rows, labels] -= 1
        probs /= n
        np.matmul(probs.T, a1, out=G["fc2.weight"])
        np.add.reduce(probs, axis=0, out=G["fc2.bias"])
        da1 = probs @ P["fc2.weight"]
        da1 *= a1 > 0
        np.matmul(da1.T, flat, out=G["fc1.weight"])
        np.add.reduce(da1, axis=0, out=G["fc1.bias"])
        dflat = da1 @ P["fc1.weight"]
        if self.p > 0:
            dflat *= self.mask
        dz = self.block2.backward(dflat.reshape(h.shape), G["bn2.weight"], G["bn2.bias"])
        dh = self.conv2.backward(dz, w2, G["conv2.weight"].reshape(64, -1), G["conv2.bias"])
        assert dh is not None, "conv2 computes its input's gradient"
        dz = self.block1.backward(dh, G["bn1.weight"], G["bn1.bias"])
        self.conv1.backward(dz, w1, G["conv1.weight"].reshape(32, -1), G["conv1.bias"])
        return loss

    def adam(self) -> None:
        """PyTorch's Adam on all parameters at once, in place."""
        (beta1, beta2), t = BETAS, self.scratch
        self.steps += 1
        g, m, v = self.flat_grad, self.exp_avg, self.exp_avg_sq
        np.subtract(g, m, out=t)  # m = m + (1 - beta1) (g - m)
        t *= 1.0 - beta1
        m += t
        v *= beta2  # v = beta2 v + (1 - beta2) g g
        np.multiply(g, g, out=t)
        t *= 1.0 - beta2
        v += t
        np.sqrt(v, out=t)  # p = p - lr / (1 - beta1^t) m / (sqrt(v) / sqrt(1 - beta2^t) + eps)
        t /= math.sqrt(1.0 - beta2 ** self.steps)
        t += ADAM_EPS
        np.divide(m, t, out=t)
        t *= LR / (1.0 - beta1 ** self.steps)
        self.flat -= t

    def step(self, x: np.ndarray, labels: np.ndarray) -> float:
        loss = self.forward_backward(x, labels)
        self.adam()  # every gradient is overwritten by the next step: no zero_grad
        return loss


# --- this library and PyTorch --------------------------------------------------------------------
class Library:
    """This library's public API, as a user writes the training step."""

    name = "this library (nn, optim)"

    def __init__(self, weights: dict[str, np.ndarray], dtype: Any = np.float32,
                 p: float = P_DROP, generator: np.random.Generator | None = None) -> None:
        self.model = CNN(dtype, p, generator)
        with no_grad():
            for name, param in self.model.named_parameters():
                param.copy_(weights[name].astype(dtype))
        self.optimizer = Adam(self.model.parameters(), lr=LR, betas=BETAS, eps=ADAM_EPS)

    def step(self, x: Tensor, labels: Tensor) -> float:
        loss = F.cross_entropy(self.model(x), labels)
        loss.backward()
        self.optimizer.step()
        self.optimizer.zero_grad()
        return float(loss)


def torch_cnn(torch: Any, weights: dict[str, np.ndarray], dtype: Any, p: float) -> Any:
    """The same network in torch.nn (ReLU then pooling, as modules), with the given weights and
    this library's parameter names."""
    tnn = torch.nn
    layers = [("conv1", tnn.Conv2d(1, 32, 3, padding=1)), ("bn1", tnn.BatchNorm2d(32)),
              ("pool1", tnn.MaxPool2d(2)), ("relu1", tnn.ReLU()),
              ("conv2", tnn.Conv2d(32, 64, 3, padding=1)), ("bn2", tnn.BatchNorm2d(64)),
              ("pool2", tnn.MaxPool2d(2)), ("relu2", tnn.ReLU()),
              ("flatten", tnn.Flatten()), ("dropout", tnn.Dropout(p)),
              ("fc1", tnn.Linear(64 * 7 * 7, 128)), ("relu3", tnn.ReLU()),
              ("fc2", tnn.Linear(128, 10))]
    model = tnn.Sequential(OrderedDict(layers)).to(dtype)
    with torch.no_grad():
        for name, param in model.named_parameters():
            param.copy_(torch.from_numpy(weights[name]))
    return model


class Torch:
    """PyTorch on the CPU: torch.nn and torch.optim.Adam."""

    name = "PyTorch CPU (torch.nn)"

    def __init__(self, torch: Any, weights: dict[str, np.ndarray], dtype: Any = None,
                 p: float = P_DROP) -> None:
        self.torch = torch
        self.model = torch_cnn(torch, weights, dtype or torch.float32, p)
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=LR, betas=BETAS,
                                          eps=ADAM_EPS)

    def step(self, x: Any, labels: Any) -> float:
        loss = self.torch.nn.functional.cross_entropy(self.model(x), labels)
        loss.backward()
        self.optimizer.step()
        self.optimizer.zero_grad()
        return loss.item()


# --- the float64 checks --------------------------------------------------------------------------
def _grad(t: Any) -> np.ndarray:
    """A leaf's gradient as a numpy array (this library's Tensor or PyTorch's)."""
    assert t.grad is not None, "backward reached every leaf that is compared"
    return t.grad.numpy()


def _compare(what: str, got: Any, ref: Any) -> float:
    """The largest difference relative to max(1, the reference's largest entry); fails the run
    above TOL."""
    got, ref = np.asarray(got, np.float64), np.asarray(ref, np.float64)
    if got.shape != ref.shape:
        raise SystemExit(f"check: {what}: shape {got.shape}, the floor's {ref.shape}")
    err = float(np.max(np.abs(got - ref))) / max(1.0, float(np.max(np.abs(ref))))
    if not err <= TOL:
        raise SystemExit(f"check: {what} differs from the floor's by {err:.2e} (> {TOL:g})")
    return err


def check_step(weights: dict[str, np.ndarray], x: np.ndarray, labels: np.ndarray,
               torch: Any) -> str:
    """The library's (and PyTorch's) loss, gradients, parameters after one Adam step and running
    statistics against the floor's, in float64; dropout off, and (library) with p = 0.25 and the
    library's mask. Returns a summary line."""
    x64 = x.astype(np.float64)
    worst: dict[str, float] = {}
    for p in (0.0, P_DROP):
        seed = 12345
        floor = NumpyFloor(weights, len(x), np.float64, p)
        lib = Library(weights, np.float64, p, np.random.default_rng(seed))
        keep = np.random.default_rng(seed).random((len(x), 64 * 7 * 7)) >= p  # F.dropout's draw
        ref_loss = floor.forward_backward(x64, labels, keep if p > 0 else None)
        loss = F.cross_entropy(lib.model(Tensor.from_numpy(x64)), Tensor.from_numpy(labels))
        loss.backward()
        errs = [_compare(f"library loss (p={p})", float(loss), ref_loss)]
        params = dict(lib.model.named_parameters())
        errs += [_compare(f"library {k}.grad (p={p})", _grad(params[k]), floor.grads[k])
                 for k in SHAPES]
        lib.optimizer.step()
        floor.adam()
        errs += [_compare(f"library {k} after Adam (p={p})", params[k].detach().numpy(),
                          floor.params[k]) for k in SHAPES]
        buffers = dict(lib.model.named_buffers())
        errs += [_compare(f"library {k} (p={p})", buffers[k].numpy(), floor.buffers[k])
                 for k in BUFFERS]
        worst[f"library (dropout p={p})"] = max(errs)
        if torch is not None and p == 0.0:
            floor = NumpyFloor(weights, len(x), np.float64, p)
            ref_loss = floor.forward_backward(x64, labels)
            impl = Torch(torch, weights, torch.float64, p)
            loss = torch.nn.functional.cross_entropy(impl.model(torch.from_numpy(x64)),
                                                     torch.from_numpy(labels))
            loss.backward()
            errs = [_compare("torch loss", loss.item(), ref_loss)]
            params = dict(impl.model.named_parameters())
            errs += [_compare(f"torch {k}.grad", _grad(params[k]), floor.grads[k])
                     for k in SHAPES]
            impl.optimizer.step()
            floor.adam()
            errs += [_compare(f"torch {k} after Adam", params[k].detach().numpy(),
                              floor.params[k]) for k in SHAPES]
            buffers = dict(impl.model.named_buffers())
            errs += [_compare(f"torch {k}", buffers[k].numpy(), floor.buffers[k])
                     for k in BUFFERS]
            worst["PyTorch (dropout off)"] = max(errs)
    return ", ".join(f"{k} {v:.1e}" for k, v in worst.items())


# --- the Conv2d cases ----------------------------------------------------------------------------
class ConvContenders:
    """One Conv2d case in each implementation: forward, and forward + backward with a fixed
    cotangent (the gradients of input, weight and bias)."""

    def __init__(self, n: int, c_in: int, c_out: int, size: int, dtype: Any, torch: Any,
                 seed: int) -> None:
        rng = np.random.default_rng(seed)
        x = rng.standard_normal((n, c_in, size, size)).astype(dtype)
        g = rng.standard_normal((n, c_out, size, size)).astype(dtype)
        nn.manual_seed(seed)
        self.layer = nn.Conv2d(c_in, c_out, 3, padding=1, dtype=dtype)
        self.w = self.layer.weight.detach().numpy()
        self.b = self.layer.bias.detach().numpy()
        # the floor
        self.floor = FloorConv(n, c_in, c_out, size, size, 3, 1, dtype)
        self.x, self.g3 = x, g.reshape(n, c_out, -1)
        self.w2d = self.w.reshape(c_out, -1)
        self.dw, self.db = np.empty_like(self.w), np.empty_like(self.b)
        # this library
        self.x_lib, self.g_lib = Tensor(x, requires_grad=True), Tensor(g)
        # PyTorch
        self.torch = torch
        if torch is not None:
            self.tlayer = torch.nn.Conv2d(c_in, c_out, 3, padding=1).to(
                torch.float64 if dtype == np.float64 else torch.float32)
            with torch.no_grad():
                self.tlayer.weight.copy_(torch.from_numpy(self.w))
                self.tlayer.bias.copy_(torch.from_numpy(self.b))
            self.x_t = torch.from_numpy(x).requires_grad_()
            self.g_t = torch.from_numpy(g)

    def floor_forward(self) -> np.ndarray:
        return self.floor.forward(self.x, self.w2d, self.b)

    def floor_both(self) -> np.ndarray | None:
        self.floor.forward(self.x, self.w2d, self.b)
        return self.floor.backward(self.g3, self.w2d, self.dw.reshape(self.w2d.shape), self.db)

    def library_forward(self) -> Any:
        return self.layer(self.x_lib)

    def library_both(self) -> None:
        self.x_lib.grad = None
        self.layer.zero_grad()
        self.layer(self.x_lib).backward(self.g_lib)

    def torch_forward(self) -> Any:
        return self.tlayer(self.x_t)

    def torch_both(self) -> None:
        self.x_t.grad = None
        self.tlayer.zero_grad(set_to_none=True)
        self.tlayer(self.x_t).backward(self.g_t)

    def check(self) -> float:
        """The library's and PyTorch's output and gradients against the floor's."""
        out = self.floor_forward().reshape(self.g_lib.shape).copy()
        dx = self.floor_both()
        errs = [_compare("conv output", self.library_forward().detach().numpy(), out)]
        self.library_both()
        errs += [_compare("conv input grad", _grad(self.x_lib), dx),
                 _compare("conv weight grad", _grad(self.layer.weight), self.dw),
                 _compare("conv bias grad", _grad(self.layer.bias), self.db)]
        if self.torch is not None:
            errs.append(_compare("torch conv output", self.torch_forward().detach().numpy(), out))
            self.torch_both()
            errs += [_compare("torch conv input grad", _grad(self.x_t), dx),
                     _compare("torch conv weight grad", _grad(self.tlayer.weight), self.dw),
                     _compare("torch conv bias grad", _grad(self.tlayer.bias), self.db)]
        return max(errs)


# --- the run ------------------------------------------------------------------------------------
def batch(data_dir: str | None, seed: int) -> tuple[np.ndarray, np.ndarray, str]:
    """(images (64, 1, 28, 28) float32, labels (64,) int64, where they came from)."""
    if data_dir:
        images, labels = load_mnist(data_dir, train=True, download=False)
        x = (images[:BATCH, None].astype(np.float32) / 255.0 - MEAN) / STD
        return x, labels[:BATCH].astype(np.int64), f"the first {BATCH} MNIST training images"
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((BATCH, 1, 28, 28)).astype(np.float32)
    return x, rng.integers(0, 10, BATCH), f"random N(0, 1) images and labels (seed {seed})"


def report(names: list[str], times: list[list[float]], floor: int = 0, indent: str = "  ") -> None:
    """Median ms per implementation and the median of its ratios to the floor's runs."""
    for name, runs in zip(names, times):
        ratio = paired_ratio(runs, times[floor])
        spread = f"{min(runs) * 1e3:.1f} to {max(runs) * 1e3:.1f}"
        print(f"{indent}{name:28s} {statistics.median(runs) * 1e3:9.2f} ms  "
              f"{ratio:7.2f}x floor   (runs {spread} ms)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=os.environ.get("MNIST_DIR"),
                        help="folder with the MNIST files (default $MNIST_DIR); random images "
                        "without one")
    parser.add_argument("--repeats", type=int, default=40, help="timed steps of each (median)")
    parser.add_argument("--conv-repeats", type=int, default=9,
                        help="timed calls of each Conv2d case (median)")
    parser.add_argument("--quick", action="store_true", help="7 steps and 3 Conv2d calls")
    parser.add_argument("--no-torch", action="store_true", help="leave PyTorch out")
    parser.add_argument("--torch-threads", type=int, default=1, help="torch.set_num_threads")
    parser.add_argument("--profile", action="store_true",
                        help="cProfile 10 of the library's steps (top 15 by tottime)")
    add_blas_option(parser)
    add_malloc_option(parser)
    parser.add_argument("--seed", type=int, default=0, help="seeds the weights and the data")
    args = parser.parse_args()
    repeats = 7 if args.quick else args.repeats
    conv_repeats = 3 if args.quick else args.conv_repeats

    torch = None if args.no_torch else import_torch()
    if torch is not None:
        torch.set_num_threads(args.torch_threads)
        torch.manual_seed(args.seed)
    print(header(blas_threads(args.blas_threads), peers=("torch",),
                 malloc=tune_malloc(args.tune_malloc)))
    x, labels, source = batch(args.data_dir, args.seed)
    weights = initial_weights(args.seed)

    print(f"\n1. CNN training step, batch {BATCH} x 1 x 28 x 28 float32, {source}:\n"
          f"   conv 1->32, BN, ReLU, pool; conv 32->64, BN, ReLU, pool; dropout {P_DROP}; Linear "
          f"3136->128, ReLU, Linear 128->10;\n   cross-entropy, Adam lr {LR}; forward, backward, "
          f"step, zero_grad. Same initial weights for all.")
    print(f"   check against the floor (float64; loss, gradients, parameters after one Adam "
          f"step, running statistics;\n   largest difference relative to the floor's largest "
          f"entry): {check_step(weights, x, labels, torch)}", flush=True)

    impls: list[tuple[str, Callable[[], Any]]] = []
    floor = NumpyFloor(weights, seed=args.seed)
    impls.append((floor.name, lambda: floor.step(x, labels)))
    nn.manual_seed(args.seed)
    lib = Library(weights)
    x_lib, labels_lib = Tensor.from_numpy(x), Tensor.from_numpy(labels)
    impls.append((lib.name, lambda: lib.step(x_lib, labels_lib)))
    if torch is not None:
        impl_t = Torch(torch, weights)
        x_t, labels_t = torch.from_numpy(x), torch.from_numpy(labels)
        impls.append((impl_t.name, lambda: impl_t.step(x_t, labels_t)))
    times = turns([run for _, run in impls], repeats, warmup=2)
    print(f"   ms per step, median of {repeats} steps taking turns; ratio: the median over "
          f"turns of the step's time over the floor's")
    report([name for name, _ in impls], times)

    print(f"\n2. Conv2d, 3x3, padding 1, with bias, float32: forward (recording, as in "
          f"training), and forward + backward\n   (input, weight and bias gradients of a fixed "
          f"cotangent); ms, median of {conv_repeats} calls taking turns; ratio to the floor's "
          f"same pass")
    names = ["numpy im2col floor", "this library (nn.Conv2d)", "PyTorch CPU (nn.Conv2d)"]
    if torch is None:
        names = names[:2]
    for title, n, c_in, c_out, size in CONV_CASES:
        err = ConvContenders(2, c_in, c_out, size, np.float64, torch, args.seed).check()
        case = ConvContenders(n, c_in, c_out, size, np.float32, torch, args.seed)
        forward: list[Callable[[], Any]] = [case.floor_forward, case.library_forward]
        both: list[Callable[[], Any]] = [case.floor_both, case.library_both]
        if torch is not None:
            forward.append(case.torch_forward)
            both.append(case.torch_both)
        t = turns(forward + both, conv_repeats, warmup=1)
        print(f"  {title} (check, float64, batch 2: {err:.1e})")
        print("   forward:")
        report(names, t[:len(forward)], indent="    ")
        print("   forward + backward:")
        report(names, t[len(forward):], indent="    ")
        del case
    if args.profile:
        print("\ncProfile of 10 library steps, top 15 by tottime:")
        profiler = cProfile.Profile()
        profiler.enable()
        for _ in range(10):
            lib.step(x_lib, labels_lib)
        profiler.disable()
        pstats.Stats(profiler, stream=sys.stdout).sort_stats("tottime").print_stats(15)


if __name__ == "__main__":
    main()
