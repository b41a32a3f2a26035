"""Datasets and batches: Dataset, TensorDataset, DataLoader (torch.utils.data).

``for x, y in DataLoader(TensorDataset(images, labels), batch_size=64, shuffle=True):`` yields
Tensors. A TensorDataset gathers a whole batch with one numpy fancy-indexing call per tensor; any
other Dataset is read item by item and its items are stacked.
"""
from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from nn import rng
from reverse import Tensor


class Dataset:
    """A sequence of examples: define ``__getitem__(i)`` and ``__len__``."""

    def __getitem__(self, index: int) -> Any:
        raise NotImplementedError(f"{type(self).__name__} does not define __getitem__")

    def __len__(self) -> int:
        raise NotImplementedError(f"{type(self).__name__} does not define __len__")


class TensorDataset(Dataset):
    """Examples made of the rows of equally long tensors (or arrays): item i is
    (t[i] for t in tensors)."""

    def __init__(self, *tensors: Any) -> None:
        if not tensors:
            raise ValueError("TensorDataset: give at least one tensor")
        self.arrays = [np.asarray(t.data if isinstance(t, Tensor) else t) for t in tensors]
        for i, (t, a) in enumerate(zip(tensors, self.arrays)):
            if a.dtype.kind not in "biufc":
                shown = repr(t) if len(repr(t)) <= 60 else repr(t)[:57] + "..."
                raise TypeError(f"TensorDataset: tensor {i} is not numeric: {shown} gives an "
                                f"array of dtype {a.dtype}; give numbers (for labels given as "
                                f"text, integer class indices: np.unique(labels, "
                                f"return_inverse=True)[1])")
        lengths = {len(a) if a.ndim else -1 for a in self.arrays}
        if len(lengths) != 1 or -1 in lengths:
            shapes = [a.shape for a in self.arrays]
            raise ValueError(f"TensorDataset: the tensors must have the same length along their "
                             f"first axis, got shapes {shapes}")

    def __len__(self) -> int:
        return len(self.arrays[0])

    def __getitem__(self, index: Any) -> tuple:
        return tuple(Tensor.from_numpy(np.asarray(a[index])) for a in self.arrays)

    def batch(self, indices: np.ndarray) -> tuple:
        """The examples at ``indices``, gathered with one fancy-indexing call per tensor."""
        return tuple(Tensor.from_numpy(a[indices]) for a in self.arrays)


def _stack(items: Sequence[Any]) -> Any:
    first = items[0]
    if isinstance(first, (tuple, list)):
        return tuple(_stack([item[i] for item in items]) for i in range(len(first)))
    arrays = [np.asarray(item.data if isinstance(item, Tensor) else item) for item in items]
    return Tensor.from_numpy(np.stack(arrays))


class DataLoader:
    """Batches of a dataset: ``for x, y in DataLoader(dataset, batch_size=64, shuffle=True)``.

    ``shuffle`` draws a new order each epoch from ``generator`` (a numpy Generator; by default nn's
    generator, which ``nn.manual_seed`` seeds); ``drop_last`` drops a final incomplete batch.
    """

    def __init__(self, dataset: Any, batch_size: int = 1, shuffle: bool = False,
                 drop_last: bool = False, generator: np.random.Generator | None = None) -> None:
        if (isinstance(batch_size, (bool, np.bool_))
                or not isinstance(batch_size, (int, np.integer)) or batch_size < 1):
            raise ValueError(f"DataLoader: batch_size must be a positive int, got {batch_size!r} "
                             f"({type(batch_size).__name__}); e.g. batch_size=64")
        self.dataset = dataset
        self.batch_size = int(batch_size)
        self.shuffle = shuffle
        self.drop_last = drop_last
        self.generator = generator

    def __len__(self) -> int:
        n = len(self.dataset)
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)

    def __iter__(self) -> Iterator[Any]:
        n = len(self.dataset)
        if self.shuffle:
            order = (self.generator or rng.generator()).permutation(n)
        else:
            order = np.arange(n)
        gather = getattr(self.dataset, "batch", None)
        for start in range(0, len(self) * self.batch_size, self.batch_size):
            indices = order[start:start + self.batch_size]
            if gather is not None:
                yield gather(indices)
            else:
                yield _stack([self.dataset[int(i)] for i in indices])
