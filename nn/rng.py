"""The random generator behind initialisation, shuffling and dropout.

``manual_seed(n)`` makes a whole run reproducible bit for bit: every draw in ``nn`` (``nn.init``,
``DataLoader(shuffle=True)`` without its own generator, ``Dropout``) comes from the generator it
installs. Without a call, the generator is seeded from the operating system.
"""
from __future__ import annotations

import numpy as np

_generator = np.random.default_rng()


def manual_seed(seed: int) -> np.random.Generator:
    """Reseed the generator that nn draws from (torch.manual_seed); returns it."""
    global _generator
    _generator = np.random.default_rng(seed)
    return _generator


def generator() -> np.random.Generator:
    """The generator that nn draws from now."""
    return _generator
