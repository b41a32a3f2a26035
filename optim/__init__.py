"""optim: optimizers that update parameters in place from their ``.grad`` (torch.optim).

``SGD`` (momentum, dampening, Nesterov, weight decay), ``Adam`` and ``AdamW`` (with AMSGrad),
``RMSprop`` (momentum, centered) and ``Adagrad`` (lr decay), with PyTorch's update rules, options,
state names and ``maximize``; parameter groups carry their own options. Each rule is one function
of ``optim.functional`` on numpy arrays (``sgd_update``, ``adam_update``, ``rmsprop_update``,
``adagrad_update``), which the optimizers call and a compiled training step can call directly.

``optim.lr_scheduler``: ``StepLR``, ``MultiStepLR``, ``ExponentialLR``, ``LambdaLR``,
``LinearLR``, ``CosineAnnealingLR``, ``OneCycleLR``, ``SequentialLR`` and ``ReduceLROnPlateau``,
computing the rates as PyTorch does.
"""
from optim import functional, lr_scheduler
from optim.adagrad import Adagrad
from optim.adam import Adam, AdamW
from optim.optimizer import Optimizer
from optim.rmsprop import RMSprop
from optim.sgd import SGD

__all__ = ["SGD", "Adagrad", "Adam", "AdamW", "Optimizer", "RMSprop", "functional",
           "lr_scheduler"]
