"""Layers: Linear, activations, LayerNorm, Embedding, Flatten, Dropout (and its channel-wise and
alpha variants), Identity and the Sequential container."""
from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Iterator
from typing import Any

import numpy as np

from nn import functional as F
from nn import init, rng
from nn.module import Module, Parameter, check_input_dtype


class Linear(Module):
    """y = x @ weight^T + bias, with ``weight`` of shape (out_features, in_features).

    Initialised as PyTorch does: weight and bias uniform in +-1/sqrt(in_features).
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True,
                 dtype: Any = np.float32) -> None:
        super().__init__()
        for what, size in (("in_features", in_features), ("out_features", out_features)):
            if isinstance(size, (bool, np.bool_)) or not isinstance(size, (int, np.integer)):
                raise TypeError(f"Linear: {what} must be an int (a number of features), got "
                                f"{size!r} ({type(size).__name__}); e.g. Linear(784, 10)")
            if size < 0:
                raise ValueError(f"Linear: {what} must be >= 0, got {what}={size}; it is the "
                                 f"number of features, e.g. Linear(784, 10)")
        self.in_features = int(in_features)
        self.out_features = int(out_features)
        self.weight = Parameter(np.empty((out_features, in_features), dtype))
        if bias:
            self.bias = Parameter(np.empty((out_features,), dtype))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """PyTorch's default: kaiming_uniform_(a=sqrt(5)), which is uniform in
        +-1/sqrt(in_features), and the same bound for the bias."""
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            bound = 1.0 / math.sqrt(self.in_features) if self.in_features > 0 else 0.0
            init.uniform_(self.bias, -bound, bound)

    def forward(self, x: Any) -> Any:
        check_input_dtype(self, x, self.weight)
        return F.linear(x, self.weight, self.bias)

    def extra_repr(self) -> str:
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"bias={self.bias is not None}")


class ReLU(Module):
    """max(x, 0), elementwise."""

    def forward(self, x: Any) -> Any:
        return F.relu(x)


class Sigmoid(Module):
    """1 / (1 + exp(-x)), elementwise."""

    def forward(self, x: Any) -> Any:
        return F.sigmoid(x)


class Tanh(Module):
    """tanh(x), elementwise."""

    def forward(self, x: Any) -> Any:
        return F.tanh(x)


class Softmax(Module):
    """softmax along ``dim``."""

    def __init__(self, dim: int = -1) -> None:
        super().__init__()
        self.dim = dim

    def forward(self, x: Any) -> Any:
        return F.softmax(x, self.dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class LogSoftmax(Softmax):
    """log(softmax) along ``dim``, without cancellation."""

    def forward(self, x: Any) -> Any:
        return F.log_softmax(x, self.dim)


class Flatten(Module):
    """Merge the axes from start_dim (1: keep the batch axis) to end_dim into one."""

    def __init__(self, start_dim: int = 1, end_dim: int = -1) -> None:
        super().__init__()
        self.start_dim, self.end_dim = start_dim, end_dim

    def forward(self, x: Any) -> Any:
        return F.flatten(x, self.start_dim, self.end_dim)

    def extra_repr(self) -> str:
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class Unflatten(Module):
    """Axis ``dim`` split into ``unflattened_size`` (the inverse of Flatten)."""

    def __init__(self, dim: int, unflattened_size: Any) -> None:
        super().__init__()
        self.dim = int(dim)
        self.unflattened_size = tuple(int(n) for n in unflattened_size)

    def forward(self, x: Any) -> Any:
        shape = tuple(np.shape(x))
        d = self.dim % len(shape) if shape else 0
        size = self.unflattened_size
        known = math.prod(n for n in size if n != -1)
        if (-1 not in size and known != shape[d]) or (-1 in size and shape[d] % max(known, 1)):
            raise ValueError(f"Unflatten: axis {self.dim} of the input (shape {shape}) has "
                             f"{shape[d]} entries, which do not split into {size}")
        return x.reshape(shape[:d] + size + shape[d + 1:])

    def extra_repr(self) -> str:
        return f"dim={self.dim}, unflattened_size={self.unflattened_size}"


class Dropout(Module):
    """In training mode, zero each element with probability p and scale the rest by 1 / (1 - p);
    in evaluation mode (``model.eval()``), the identity.

    ``generator`` (a numpy Generator) is where the masks come from; by default nn's generator,
    which ``nn.manual_seed`` seeds.
    """

    def __init__(self, p: float = 0.5, generator: np.random.Generator | None = None) -> None:
        super().__init__()
        name = type(self).__name__
        if isinstance(p, (bool, np.bool_)) or not isinstance(p, (int, float, np.integer,
                                                                  np.floating)):
            raise TypeError(f"{name}: p must be a number (the probability of zeroing an "
                            f"element), got {p!r} ({type(p).__name__}); e.g. {name}(0.5)")
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"{name}: p must be a probability in [0, 1], got {p}")
        self.p = p
        self.generator = rng.resolve(generator, name) if generator is not None else None

    def forward(self, x: Any) -> Any:
        return F.dropout(x, self.p, self.training, self.generator)

    def extra_repr(self) -> str:
        return f"p={self.p}"


class Dropout1d(Dropout):
    """Channel-wise dropout of (N, C, L) or (C, L) inputs: in training mode each channel x[n, c]
    is zeroed with probability p and the others scaled by 1 / (1 - p); in evaluation mode, the
    identity (F.dropout1d)."""

    def forward(self, x: Any) -> Any:
        return F.dropout1d(x, self.p, self.training, self.generator)


class Dropout2d(Dropout):
    """Channel-wise dropout of (N, C, H, W) inputs (a 3-axis input is read as (N, C, L), as in
    PyTorch): each channel x[n, c] zeroed with probability p in training mode (F.dropout2d)."""

    def forward(self, x: Any) -> Any:
        return F.dropout2d(x, self.p, self.training, self.generator)


class Dropout3d(Dropout):
    """Channel-wise dropout of (N, C, D, H, W) or (C, D, H, W) inputs: each channel zeroed with
    probability p in training mode (F.dropout3d)."""

    def forward(self, x: Any) -> Any:
        return F.dropout3d(x, self.p, self.training, self.generator)


class AlphaDropout(Dropout):
    """Dropout that keeps the mean and variance of SELU activations (F.alpha_dropout): in
    training mode a dropped element becomes SELU's negative saturation and the result is shifted
    and scaled back to mean 0, variance 1; in evaluation mode, the identity."""

    def forward(self, x: Any) -> Any:
        return F.alpha_dropout(x, self.p, self.training, self.generator)


class GELU(Module):
    """x Phi(x) (approximate='none', with erf) or its tanh approximation."""

    def __init__(self, approximate: str = "none") -> None:
        super().__init__()
        if approximate not in ("none", "tanh"):
            raise ValueError(f"GELU: approximate must be 'none' or 'tanh', got {approximate!r}")
        self.approximate = approximate

    def forward(self, x: Any) -> Any:
        return F.gelu(x, self.approximate)

    def extra_repr(self) -> str:
        return f"approximate={self.approximate!r}"


class SiLU(Module):
    """x sigmoid(x)."""

    def forward(self, x: Any) -> Any:
        return F.silu(x)


class LeakyReLU(Module):
    """x for x > 0, negative_slope x otherwise."""

    def __init__(self, negative_slope: float = 0.01) -> None:
        super().__init__()
        self.negative_slope = float(negative_slope)

    def forward(self, x: Any) -> Any:
        return F.leaky_relu(x, self.negative_slope)

    def extra_repr(self) -> str:
        return f"negative_slope={self.negative_slope}"


class ELU(Module):
    """x for x > 0, alpha (exp(x) - 1) otherwise."""

    def __init__(self, alpha: float = 1.0) -> None:
        super().__init__()
        self.alpha = float(alpha)

    def forward(self, x: Any) -> Any:
        return F.elu(x, self.alpha)

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}"


class Softplus(Module):
    """log(1 + exp(beta x)) / beta, and x where beta x > threshold."""

    def __init__(self, beta: float = 1.0, threshold: float = 20.0) -> None:
        super().__init__()
        self.beta, self.threshold = float(beta), float(threshold)

    def forward(self, x: Any) -> Any:
        return F.softplus(x, self.beta, self.threshold)

    def extra_repr(self) -> str:
        return f"beta={self.beta}, threshold={self.threshold}"


class Hardtanh(Module):
    """x clipped to [min_val, max_val]."""

    def __init__(self, min_val: float = -1.0, max_val: float = 1.0) -> None:
        super().__init__()
        if min_val > max_val:
            raise ValueError(f"Hardtanh: min_val {min_val} is greater than max_val {max_val}")
        self.min_val, self.max_val = float(min_val), float(max_val)

    def forward(self, x: Any) -> Any:
        return F.hardtanh(x, self.min_val, self.max_val)

    def extra_repr(self) -> str:
        return f"min_val={self.min_val}, max_val={self.max_val}"


class LayerNorm(Module):
    """(x - mean) / sqrt(var + eps) over the last axes ``normalized_shape``, then an elementwise
    affine map (``weight`` ones and ``bias`` zeros at first), as torch.nn.LayerNorm."""

    def __init__(self, normalized_shape: Any, eps: float = 1e-5,
                 elementwise_affine: bool = True, bias: bool = True,
                 dtype: Any = np.float32) -> None:
        super().__init__()
        shape = ((int(normalized_shape),) if isinstance(normalized_shape, (int, np.integer))
                 else tuple(int(n) for n in normalized_shape))
        self.normalized_shape = shape
        self.eps = float(eps)
        self.elementwise_affine = elementwise_affine
        if elementwise_affine:
            self.weight = Parameter(np.ones(shape, dtype))
            if bias:
                self.bias = Parameter(np.zeros(shape, dtype))
            else:
                self.register_parameter("bias", None)
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)

    def forward(self, x: Any) -> Any:
        got = np.shape(x)
        n = len(self.normalized_shape)
        if tuple(got[len(got) - n:]) != self.normalized_shape:
            raise ValueError(f"LayerNorm: expected an input whose last axes are "
                             f"{self.normalized_shape}, got shape {got}")
        return F.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return (f"{self.normalized_shape}, eps={self.eps}, "
                f"elementwise_affine={self.elementwise_affine}")


class Embedding(Module):
    """A table of ``num_embeddings`` vectors of size ``embedding_dim``, looked up by integer
    index; initialised N(0, 1) as PyTorch does, with the ``padding_idx`` row zero and kept out of
    the gradient."""

    def __init__(self, num_embeddings: int, embedding_dim: int, padding_idx: int | None = None,
                 dtype: Any = np.float32) -> None:
        super().__init__()
        self.num_embeddings, self.embedding_dim = int(num_embeddings), int(embedding_dim)
        if padding_idx is not None:
            if not -self.num_embeddings <= padding_idx < self.num_embeddings:
                raise ValueError(f"Embedding: padding_idx {padding_idx} must be within "
                                 f"num_embeddings={self.num_embeddings}")
            padding_idx %= self.num_embeddings
        self.padding_idx = padding_idx
        self.weight = Parameter(np.empty((self.num_embeddings, self.embedding_dim), dtype))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        init.normal_(self.weight)
        if self.padding_idx is not None:
            self.weight.data[self.padding_idx] = 0

    def forward(self, indices: Any) -> Any:
        return F.embedding(indices, self.weight, self.padding_idx)

    def extra_repr(self) -> str:
        extra = f", padding_idx={self.padding_idx}" if self.padding_idx is not None else ""
        return f"{self.num_embeddings}, {self.embedding_dim}{extra}"


class Identity(Module):
    """Returns its input."""

    def forward(self, x: Any) -> Any:
        return x


class Sequential(Module):
    """Modules applied in order: Sequential(Linear(784, 128), ReLU(), Linear(128, 10)).

    Also takes an OrderedDict of named modules; supports indexing, slicing, len and iteration.
    """

    def __init__(self, *modules: Any) -> None:
        super().__init__()
        if len(modules) == 1 and isinstance(modules[0], OrderedDict):
            for name, module in modules[0].items():
                if not isinstance(module, Module):
                    raise TypeError(f"Sequential: the entry {name!r} is a "
                                    f"{type(module).__name__}, not a Module (functions go inside "
                                    f"a Module's forward)")
                self.add_module(name, module)
        else:
            for i, module in enumerate(modules):
                if not isinstance(module, Module):
                    raise TypeError(f"Sequential: item {i} is a {type(module).__name__}, not a "
                                    f"Module (functions go inside a Module's forward)")
                self.add_module(str(i), module)

    def forward(self, x: Any) -> Any:
        for module in self._registry("_modules").values():
            x = module(x)
        return x

    def __len__(self) -> int:
        return len(self._registry("_modules"))

    def __iter__(self) -> Iterator[Module]:
        return iter(self._registry("_modules").values())

    def __getitem__(self, index: int | slice) -> Any:
        items = list(self._registry("_modules").items())
        if isinstance(index, slice):
            return Sequential(OrderedDict(items[index]))
        try:
            return items[index][1]
        except IndexError:
            raise IndexError(f"Sequential: index {index} is out of range for {len(items)} "
                             f"modules") from None

    def _name_at(self, index: int) -> str:
        names = list(self._registry("_modules"))
        try:
            return names[index]
        except (IndexError, TypeError):
            raise IndexError(f"Sequential: index {index!r} is out of range for {len(names)} "
                             f"modules") from None

    def __setitem__(self, index: int, module: Module) -> None:
        """Replace the module at ``index`` (its name is kept), as PyTorch's Sequential does."""
        if not isinstance(module, Module):
            raise TypeError(f"Sequential: cannot put a {type(module).__name__} at index {index}; "
                            f"expected a Module")
        self._registry("_modules")[self._name_at(index)] = module

    def __delitem__(self, index: int | slice) -> None:
        """Remove the module(s) at ``index``; the rest are then numbered anew (as PyTorch)."""
        names = list(self._registry("_modules"))
        gone = set(names[index] if isinstance(index, slice) else [self._name_at(index)])
        self._renumber([m for name, m in self._registry("_modules").items() if name not in gone])

    def _renumber(self, modules: list) -> None:
        self._registry("_modules").clear()
        for i, m in enumerate(modules):
            self.add_module(str(i), m)

    def append(self, module: Module) -> Sequential:
        if not isinstance(module, Module):
            raise TypeError(f"Sequential.append: expected a Module, got {type(module).__name__}")
        self.add_module(str(len(self)), module)
        return self

    def extend(self, modules: Any) -> Sequential:
        for module in modules:
            self.append(module)
        return self

    def insert(self, index: int, module: Module) -> Sequential:
        """Insert ``module`` before position ``index``; the modules are then numbered anew."""
        if not isinstance(module, Module):
            raise TypeError(f"Sequential.insert: expected a Module, got {type(module).__name__}")
        items = list(self._registry("_modules").values())
        items.insert(index, module)
        self._renumber(items)
        return self
