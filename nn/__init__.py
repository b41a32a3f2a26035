"""nn: neural networks on reverse mode (torch.nn).

- ``Module`` and ``Parameter``; layers ``Linear``, ``LayerNorm``, ``Embedding``, the activations
  ``ReLU``, ``Sigmoid``, ``Tanh``, ``GELU``, ``SiLU``, ``LeakyReLU``, ``ELU``, ``Softplus``,
  ``Hardtanh``, ``Softmax``, ``LogSoftmax``, and ``Flatten``, ``Dropout``, ``Identity``; the
  containers ``Sequential``, ``ModuleList``, ``ModuleDict``, ``ParameterList``,
  ``ParameterDict`` (a plain list or dict of modules assigned to a Module is refused).
- ``nn.utils``: ``clip_grad_norm_``, ``clip_grad_value_``, ``parameters_to_vector``,
  ``vector_to_parameters``.
- Losses ``MSELoss``, ``L1Loss``, ``SmoothL1Loss``, ``HuberLoss``, ``CrossEntropyLoss``,
  ``NLLLoss``, ``BCELoss``, ``BCEWithLogitsLoss``, ``KLDivLoss``, and the functional
  API (``nn.functional``, also importable from ``nn`` itself: ``from nn import relu,
  cross_entropy``).
- ``nn.init`` (in-place initialisation) and ``manual_seed`` (one seed for init, shuffling, dropout).
- ``Dataset``, ``TensorDataset``, ``DataLoader``; ``save`` / ``load`` for state dicts (.npz, no
  pickle).
- ``nn.mnist``: the MNIST files, found or downloaded and checked.

Layers call registry ops (``linear`` and ``cross_entropy`` are fused ops of adcore); no derivative
is written here.
"""
from nn import functional, init, utils
from nn.containers import ModuleDict, ModuleList, ParameterDict, ParameterList
from nn.data import DataLoader, Dataset, TensorDataset
from nn.functional import (
    binary_cross_entropy_with_logits,
    cross_entropy,
    dropout,
    elu,
    embedding,
    flatten,
    gelu,
    hardtanh,
    layer_norm,
    leaky_relu,
    linear,
    log_softmax,
    mse_loss,
    nll_loss,
    relu,
    sigmoid,
    silu,
    softmax,
    softplus,
    tanh,
)
from nn.io import load, save
from nn.layers import (
    ELU,
    GELU,
    Dropout,
    Embedding,
    Flatten,
    Hardtanh,
    Identity,
    LayerNorm,
    LeakyReLU,
    Linear,
    LogSoftmax,
    ReLU,
    Sequential,
    Sigmoid,
    SiLU,
    Softmax,
    Softplus,
    Tanh,
    Unflatten,
)
from nn.losses import (
    BCELoss,
    BCEWithLogitsLoss,
    CrossEntropyLoss,
    HuberLoss,
    KLDivLoss,
    L1Loss,
    MSELoss,
    NLLLoss,
    SmoothL1Loss,
)
from nn.module import Module, Parameter
from nn.rng import manual_seed

__all__ = [
    "ELU",
    "GELU",
    "BCELoss",
    "BCEWithLogitsLoss",
    "CrossEntropyLoss",
    "DataLoader",
    "Dataset",
    "Dropout",
    "Embedding",
    "Flatten",
    "Hardtanh",
    "HuberLoss",
    "Identity",
    "KLDivLoss",
    "L1Loss",
    "LayerNorm",
    "LeakyReLU",
    "Linear",
    "LogSoftmax",
    "MSELoss",
    "Module",
    "ModuleDict",
    "ModuleList",
    "NLLLoss",
    "Parameter",
    "ParameterDict",
    "ParameterList",
    "ReLU",
    "Sequential",
    "SiLU",
    "Sigmoid",
    "SmoothL1Loss",
    "Softmax",
    "Softplus",
    "Tanh",
    "TensorDataset",
    "Unflatten",
    "binary_cross_entropy_with_logits",
    "cross_entropy",
    "dropout",
    "elu",
    "embedding",
    "flatten",
    "functional",
    "gelu",
    "hardtanh",
    "init",
    "layer_norm",
    "leaky_relu",
    "linear",
    "load",
    "log_softmax",
    "manual_seed",
    "mse_loss",
    "nll_loss",
    "relu",
    "save",
    "sigmoid",
    "silu",
    "softmax",
    "softplus",
    "tanh",
    "utils",
]
