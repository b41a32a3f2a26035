"""The default random generator behind initialisation, shuffling and dropout: reverse's.

Every random function of ``nn`` (``nn.init``'s ``uniform_``, ``normal_``, ``xavier_*`` and
``kaiming_*``, ``functional.dropout``, the ``Dropout`` layer, ``DataLoader(shuffle=True)``) takes
``generator=`` (a ``numpy.random.Generator``, PyTorch's keyword); without one it draws from the
default generator, which lives in ``reverse.random`` beside the random factories (``reverse.randn``,
``Tensor.normal_``). These are that module's functions, not copies: ``nn.manual_seed(0)`` and
``reverse.manual_seed(0)`` reseed the one stream that all of them draw from.
"""
from __future__ import annotations

from reverse.random import generator, manual_seed, resolve

__all__ = ["generator", "manual_seed", "resolve"]
