"""optim: optimizers that update parameters in place from their ``.grad`` (torch.optim).

``SGD`` (momentum, dampening, Nesterov, weight decay), ``Adam`` and ``AdamW`` (with AMSGrad), with
PyTorch's update rules; ``lr_scheduler.StepLR`` and ``lr_scheduler.CosineAnnealingLR``.
"""
from optim import lr_scheduler
from optim.adam import Adam, AdamW
from optim.optimizer import Optimizer
from optim.sgd import SGD

__all__ = ["SGD", "Adam", "AdamW", "Optimizer", "lr_scheduler"]
