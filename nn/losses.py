"""Losses as modules: MSELoss, L1Loss, SmoothL1Loss, HuberLoss, CrossEntropyLoss, NLLLoss, BCELoss,
BCEWithLogitsLoss, KLDivLoss.

``loss_fn = CrossEntropyLoss(); loss = loss_fn(logits, target)``, as in PyTorch; each calls its
function in nn.functional.
"""
from __future__ import annotations

from typing import Any

from nn import functional as F
from nn.module import Module
from reverse import Tensor


class _Loss(Module):
    def __init__(self, reduction: str = "mean") -> None:
        super().__init__()
        F._check_reduction(type(self).__name__, reduction)
        self.reduction = reduction

    def extra_repr(self) -> str:
        return f"reduction={self.reduction!r}" if self.reduction != "mean" else ""


def _as_buffer(owner: str, name: str, value: Any) -> Tensor | None:
    """A weight as a Tensor to register as a buffer (saved in state_dict and converted by
    ``.to()``, as PyTorch's loss weights are): a Tensor as it is, an array or list copied."""
    if value is None or isinstance(value, Tensor):
        return value
    if isinstance(value, str):
        raise TypeError(f"{owner}: {name} must be None or a tensor of weights, got the str "
                        f"{value!r}; pass the reduction by keyword, reduction={value!r} (the "
                        f"arguments are (weight, ...), as in PyTorch)")
    return Tensor(value)


class _WeightedLoss(_Loss):
    def __init__(self, weight: Any = None, reduction: str = "mean") -> None:
        super().__init__(reduction)
        self.register_buffer("weight", _as_buffer(type(self).__name__, "weight", weight))


class MSELoss(_Loss):
    """The mean (or sum) of squared differences between input and target."""

    def forward(self, input: Any, target: Any) -> Any:
        return F.mse_loss(input, target, self.reduction)


class CrossEntropyLoss(_WeightedLoss):
    """Cross-entropy of logits (C,), (N, C) or (N, C, d1, ...) against integer class targets
    ((), (N,) or (N, d1, ...)) or class probabilities (the logits' shape), as
    torch.nn.CrossEntropyLoss: ``weight`` (one per class, a buffer), ``ignore_index``,
    ``label_smoothing``; finite and exact for logits of any size (F.cross_entropy).

    The options after ``weight`` are keyword-only (PyTorch's deprecated ``size_average`` and
    ``reduce`` are not taken).
    """

    def __init__(self, weight: Any = None, *, ignore_index: int = -100, reduction: str = "mean",
                 label_smoothing: float = 0.0) -> None:
        super().__init__(weight, reduction)
        self.ignore_index = int(ignore_index)
        self.label_smoothing = F._check_smoothing("CrossEntropyLoss", label_smoothing)

    def forward(self, input: Any, target: Any) -> Any:
        return F.cross_entropy(input, target, self.weight, ignore_index=self.ignore_index,
                               reduction=self.reduction, label_smoothing=self.label_smoothing)

    def extra_repr(self) -> str:
        parts = [super().extra_repr()]
        if self.ignore_index != -100:
            parts.append(f"ignore_index={self.ignore_index}")
        if self.label_smoothing:
            parts.append(f"label_smoothing={self.label_smoothing}")
        return ", ".join(p for p in parts if p)


class NLLLoss(_WeightedLoss):
    """Negative log-likelihood of log-probabilities (after LogSoftmax) against class targets,
    with ``weight`` (one per class, a buffer) and ``ignore_index`` (F.nll_loss)."""

    def __init__(self, weight: Any = None, *, ignore_index: int = -100,
                 reduction: str = "mean") -> None:
        super().__init__(weight, reduction)
        self.ignore_index = int(ignore_index)

    def forward(self, input: Any, target: Any) -> Any:
        return F.nll_loss(input, target, self.weight, ignore_index=self.ignore_index,
                          reduction=self.reduction)

    def extra_repr(self) -> str:
        parts = [super().extra_repr()]
        if self.ignore_index != -100:
            parts.append(f"ignore_index={self.ignore_index}")
        return ", ".join(p for p in parts if p)


class BCEWithLogitsLoss(_WeightedLoss):
    """Binary cross-entropy of logits against targets in [0, 1], without overflow; ``weight``
    rescales each element, ``pos_weight`` the positive term (one per class along the last axis);
    both are buffers (F.binary_cross_entropy_with_logits)."""

    def __init__(self, weight: Any = None, *, reduction: str = "mean",
                 pos_weight: Any = None) -> None:
        super().__init__(weight, reduction)
        self.register_buffer("pos_weight", _as_buffer("BCEWithLogitsLoss", "pos_weight",
                                                      pos_weight))

    def forward(self, input: Any, target: Any) -> Any:
        return F.binary_cross_entropy_with_logits(input, target, self.weight,
                                                  reduction=self.reduction,
                                                  pos_weight=self.pos_weight)


class L1Loss(_Loss):
    """The mean (or sum) of absolute differences between input and target."""

    def forward(self, input: Any, target: Any) -> Any:
        return F.l1_loss(input, target, self.reduction)


class SmoothL1Loss(_Loss):
    """Quadratic below beta, linear above (F.smooth_l1_loss)."""

    def __init__(self, reduction: str = "mean", beta: float = 1.0) -> None:
        super().__init__(reduction)
        self.beta = float(beta)

    def forward(self, input: Any, target: Any) -> Any:
        return F.smooth_l1_loss(input, target, self.reduction, self.beta)


class HuberLoss(_Loss):
    """Quadratic below delta, linear (with slope delta) above (F.huber_loss)."""

    def __init__(self, reduction: str = "mean", delta: float = 1.0) -> None:
        super().__init__(reduction)
        self.delta = float(delta)

    def forward(self, input: Any, target: Any) -> Any:
        return F.huber_loss(input, target, self.reduction, self.delta)


class BCELoss(_WeightedLoss):
    """Binary cross-entropy of probabilities against targets in [0, 1] (logs floored at -100);
    ``weight`` (a buffer) rescales each element."""

    def forward(self, input: Any, target: Any) -> Any:
        return F.binary_cross_entropy(input, target, self.weight, self.reduction)


class KLDivLoss(Module):
    """KL divergence of log-probabilities ``input`` from ``target`` (F.kl_div)."""

    def __init__(self, reduction: str = "mean", log_target: bool = False) -> None:
        super().__init__()
        self.reduction, self.log_target = reduction, log_target

    def forward(self, input: Any, target: Any) -> Any:
        return F.kl_div(input, target, self.reduction, self.log_target)
