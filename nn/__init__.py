"""nn: neural networks on reverse mode (torch.nn).

- ``Module`` and ``Parameter``; layers ``Linear``, ``ReLU``, ``Sigmoid``, ``Tanh``, ``Softmax``,
  ``LogSoftmax``, ``Flatten``, ``Dropout``, ``Identity``, ``Sequential``.
- Losses ``MSELoss``, ``CrossEntropyLoss``, ``NLLLoss``, ``BCEWithLogitsLoss``, and the functional
  API (``nn.functional``, also importable from ``nn`` itself: ``from nn import relu,
  cross_entropy``).
- ``nn.init`` (in-place initialisation) and ``manual_seed`` (one seed for init, shuffling, dropout).
- ``Dataset``, ``TensorDataset``, ``DataLoader``; ``save`` / ``load`` for state dicts (.npz, no
  pickle).
- ``nn.mnist``: the MNIST files, found or downloaded and checked.

Layers call registry ops (``linear`` and ``cross_entropy`` are fused ops of adcore); no derivative
is written here.
"""
from nn import functional, init
from nn.data import DataLoader, Dataset, TensorDataset
from nn.functional import (
                           binary_cross_entropy_with_logits,
                           cross_entropy,
                           dropout,
                           flatten,
                           linear,
                           log_softmax,
                           mse_loss,
                           nll_loss,
                           relu,
                           sigmoid,
                           softmax,
                           softplus,
                           tanh,
)
from nn.io import load, save
from nn.layers import (
                           Dropout,
                           Flatten,
                           Identity,
                           Linear,
                           LogSoftmax,
                           ReLU,
                           Sequential,
                           Sigmoid,
                           Softmax,
                           Tanh,
)
from nn.losses import BCEWithLogitsLoss, CrossEntropyLoss, MSELoss, NLLLoss
from nn.module import Module, Parameter
from nn.rng import manual_seed

__all__ = [
    "BCEWithLogitsLoss", "CrossEntropyLoss", "DataLoader", "Dataset", "Dropout", "Flatten",
    "Identity", "Linear", "LogSoftmax", "MSELoss", "Module", "NLLLoss", "Parameter", "ReLU",
    "Sequential", "Sigmoid", "Softmax", "Tanh", "TensorDataset", "binary_cross_entropy_with_logits",
    "cross_entropy", "dropout", "flatten", "functional", "init", "linear", "load", "log_softmax",
    "manual_seed", "mse_loss", "nll_loss", "relu", "save", "sigmoid", "softmax", "softplus", "tanh",
]
