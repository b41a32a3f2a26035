"""nn: neural networks on reverse mode (torch.nn).

- ``Module`` and ``Parameter``; layers ``Linear``, ``LayerNorm``, ``Embedding``, the activations
  ``ReLU``, ``Sigmoid``, ``Tanh``, ``GELU``, ``SiLU``, ``LeakyReLU``, ``ELU``, ``Softplus``,
  ``Hardtanh``, ``Softmax``, ``LogSoftmax``, and ``Flatten``, ``Dropout`` (and the channel-wise
  ``Dropout1d``, ``Dropout2d``, ``Dropout3d``, and ``AlphaDropout``), ``Identity``; the
  containers ``Sequential``, ``ModuleList``, ``ModuleDict``, ``ParameterList``,
  ``ParameterDict`` (a plain list or dict of modules assigned to a Module is refused). Modules
  take forward hooks (``register_forward_pre_hook``, ``register_forward_hook``, each returning a
  handle with ``remove()``).
- Convolutions ``Conv1d``, ``Conv2d``, ``Conv3d``, ``ConvTranspose1d``, ``ConvTranspose2d``;
  pooling ``MaxPool1d``, ``MaxPool2d``, ``AvgPool1d``, ``AvgPool2d``, ``AdaptiveAvgPool1d``,
  ``AdaptiveAvgPool2d``; normalisation ``BatchNorm1d``, ``BatchNorm2d``, ``GroupNorm``;
  ``MultiheadAttention`` (and ``functional.scaled_dot_product_attention``); the recurrent
  ``RNN``, ``LSTM``, ``GRU`` and their cells ``RNNCell``, ``LSTMCell``, ``GRUCell``.
- ``nn.utils``: ``clip_grad_norm_``, ``clip_grad_value_``, ``parameters_to_vector``,
  ``vector_to_parameters``.
- Losses ``MSELoss``, ``L1Loss``, ``SmoothL1Loss``, ``HuberLoss``, ``CrossEntropyLoss``,
  ``NLLLoss``, ``BCELoss``, ``BCEWithLogitsLoss``, ``KLDivLoss`` (cross-entropy and NLL with
  ``weight``, ``ignore_index``, (N, C, d1, ...) logits and, for cross-entropy, class
  probabilities and label smoothing; BCE with logits with ``weight`` and ``pos_weight``), and the
  functional API (``nn.functional``, also importable from ``nn`` itself: ``from nn import relu,
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
from nn.convolution import (
    AdaptiveAvgPool1d,
    AdaptiveAvgPool2d,
    AvgPool1d,
    AvgPool2d,
    Conv1d,
    Conv2d,
    Conv3d,
    ConvTranspose1d,
    ConvTranspose2d,
    MaxPool1d,
    MaxPool2d,
)
from nn.data import DataLoader, Dataset, TensorDataset
from nn.functional import (
    alpha_dropout,
    binary_cross_entropy_with_logits,
    cross_entropy,
    dropout,
    dropout1d,
    dropout2d,
    dropout3d,
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
    AlphaDropout,
    Dropout,
    Dropout1d,
    Dropout2d,
    Dropout3d,
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
from nn.module import Module, Parameter, functional_call
from nn.multihead import MultiheadAttention
from nn.normalization import BatchNorm1d, BatchNorm2d, GroupNorm
from nn.recurrent import GRU, LSTM, RNN, GRUCell, LSTMCell, RNNCell
from nn.rng import manual_seed

__all__ = [
    "ELU",
    "GELU",
    "GRU",
    "LSTM",
    "RNN",
    "AdaptiveAvgPool1d",
    "AdaptiveAvgPool2d",
    "AlphaDropout",
    "AvgPool1d",
    "AvgPool2d",
    "BCELoss",
    "BCEWithLogitsLoss",
    "BatchNorm1d",
    "BatchNorm2d",
    "Conv1d",
    "Conv2d",
    "Conv3d",
    "ConvTranspose1d",
    "ConvTranspose2d",
    "CrossEntropyLoss",
    "DataLoader",
    "Dataset",
    "Dropout",
    "Dropout1d",
    "Dropout2d",
    "Dropout3d",
    "Embedding",
    "Flatten",
    "GRUCell",
    "GroupNorm",
    "Hardtanh",
    "HuberLoss",
    "Identity",
    "KLDivLoss",
    "L1Loss",
    "LSTMCell",
    "LayerNorm",
    "LeakyReLU",
    "Linear",
    "LogSoftmax",
    "MSELoss",
    "MaxPool1d",
    "MaxPool2d",
    "Module",
    "ModuleDict",
    "ModuleList",
    "MultiheadAttention",
    "NLLLoss",
    "Parameter",
    "ParameterDict",
    "ParameterList",
    "RNNCell",
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
    "alpha_dropout",
    "binary_cross_entropy_with_logits",
    "cross_entropy",
    "dropout",
    "dropout1d",
    "dropout2d",
    "dropout3d",
    "elu",
    "embedding",
    "flatten",
    "functional",
    "functional_call",
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
