"""Train a small convolutional network on real MNIST: convolutions, batch norm, max pooling and
dropout, with this library end to end.

    python examples/cnn_mnist.py                       # 3 epochs of Adam (lr 1e-3, batch 64)
    python examples/cnn_mnist.py --eval mnist_cnn.npz  # test accuracy of saved weights
    python examples/cnn_mnist.py --plot curves.png     # also draw loss and accuracy (matplotlib)

The network is PyTorch's classic MNIST CNN: two 3x3 convolutions (32 and 64 channels, each followed
by batch norm, ReLU and 2x2 max pooling), dropout, and two linear layers. It reaches 99% test
accuracy within 3 epochs (checked at the end; the run fails if it does not). The data, the progress
bar and --plot are those of examples/mnist.py.
"""
from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable
from pathlib import Path

import numpy as np

import nn
from nn import functional as F
from nn.mnist import load_mnist
from optim import Adam
from optim.lr_scheduler import CosineAnnealingLR

sys.path.insert(0, str(Path(__file__).resolve().parent))
from mnist import MEAN, STD, accuracy, plot, train  # the MLP example's loop and plot

TARGET = 0.99


class CNN(nn.Module):
    """conv, batch norm, max pooling and ReLU twice, then dropout and two linear layers
    (28x28 -> 14x14 -> 7x7)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, 3, padding=1)
        self.bn1 = nn.BatchNorm2d(32)
        self.conv2 = nn.Conv2d(32, 64, 3, padding=1)
        self.bn2 = nn.BatchNorm2d(64)
        self.dropout = nn.Dropout(0.25)
        self.fc1 = nn.Linear(64 * 7 * 7, 128)
        self.fc2 = nn.Linear(128, 10)

    def forward(self, x):
        # pooling before the ReLU: the same values and gradients (ReLU is monotonic), on a
        # quarter of the entries
        x = F.relu(F.max_pool2d(self.bn1(self.conv1(x)), 2))
        x = F.relu(F.max_pool2d(self.bn2(self.conv2(x)), 2))
        x = self.dropout(F.flatten(x, 1))
        return self.fc2(F.relu(self.fc1(x)))


def prepare(images: np.ndarray, labels: np.ndarray) -> nn.TensorDataset:
    """Normalised float32 images of shape (N, 1, 28, 28) and int64 labels."""
    x = (images.reshape(len(images), 1, 28, 28).astype(np.float32) / 255.0 - MEAN) / STD
    return nn.TensorDataset(x, labels.astype(np.int64))


def main(argv: Iterable[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", help="folder with the four MNIST files (else $MNIST_DIR, "
                        "then the cache folder; downloaded when missing)")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--seed", type=int, default=0, help="seeds init, shuffling and dropout")
    parser.add_argument("--limit", type=int, default=None,
                        help="train on the first N training images only (no accuracy check)")
    parser.add_argument("--test-limit", type=int, default=None,
                        help="evaluate on the first N test images only (no accuracy check)")
    parser.add_argument("--save", default="mnist_cnn.npz", help="where to save the weights")
    parser.add_argument("--eval", metavar="PATH", help="evaluate saved weights and stop")
    parser.add_argument("--plot", metavar="FILE.png", help="draw loss and accuracy curves")
    parser.add_argument("--quiet", action="store_true", help="no progress output")
    args = parser.parse_args(argv)

    images, labels = load_mnist(args.data_dir, train=False)
    test = prepare(images[:args.test_limit], labels[:args.test_limit])
    if args.eval:
        model = CNN()
        model.load_state_dict(nn.load(args.eval))
        acc = accuracy(model, test)
        print(f"{args.eval}: test accuracy {acc:.2%} on {len(test):,} images")
        return {"test_accuracy": [acc]}

    nn.manual_seed(args.seed)
    images, labels = load_mnist(args.data_dir, train=True)
    train_set = prepare(images[:args.limit], labels[:args.limit])
    loader = nn.DataLoader(train_set, batch_size=args.batch_size, shuffle=True)
    model = CNN()
    optimizer = Adam(model.parameters(), lr=args.lr)
    scheduler = CosineAnnealingLR(optimizer, args.epochs)
    if not args.quiet:
        print(f"{model}\n{len(train_set):,} training images, {len(test):,} test images; adam lr "
              f"{args.lr} (cosine), batch {args.batch_size}")
    history = train(model, optimizer, loader, test, args.epochs, scheduler, args.quiet)
    if args.save:
        nn.save(model.state_dict(), args.save)
        if not args.quiet:
            print(f"saved the weights to {args.save} (evaluate with --eval {args.save})")
    if args.plot:
        plot(history, args.plot)
    final = history["test_accuracy"][-1]
    if args.limit is None and args.test_limit is None and final < TARGET:
        raise SystemExit(f"test accuracy {final:.2%} is below the target {TARGET:.0%}")
    return history


if __name__ == "__main__":
    main(sys.argv[1:])
