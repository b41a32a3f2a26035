"""The default random generator: what every random function draws from without ``generator=``.

Randomness is explicit: the random factories (``rand``, ``randn``, ``randint``, ``rand_like``,
``randn_like``), ``Tensor.normal_`` / ``uniform_``, and nn's random functions (``nn.init``,
dropout, ``DataLoader(shuffle=True)``) take ``generator=`` (a ``numpy.random.Generator``, PyTorch's
keyword), so that code that must replay a computation can hand it the same stream. Without one they
draw from the default generator here. ``manual_seed(n)`` reseeds that default generator in place
(as ``torch.manual_seed`` reseeds ``torch.default_generator``): the stream is then that of
``np.random.default_rng(n)``, and a reference to the default generator taken earlier follows.
Without a call, the default generator is seeded from the operating system. ``nn.manual_seed`` is
this function, and ``nn.rng`` re-exports this module's three functions: one stream for all.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from adcore.jit import refuse_random_draws

_generator = np.random.default_rng()


def manual_seed(seed: int) -> np.random.Generator:
    """Reseed the default generator in place (torch.manual_seed); returns it.

    >>> g = manual_seed(0)
    >>> float(g.random()) == float(np.random.default_rng(0).random())
    True
    """
    _generator.bit_generator.state = np.random.default_rng(seed).bit_generator.state
    return _generator


def generator() -> np.random.Generator:
    """The default generator: what random functions draw from when no ``generator=`` is given."""
    return _generator


def resolve(generator: Any, fn: str) -> np.random.Generator:
    """``generator`` if given, else the default one; anything but a numpy Generator is refused,
    and so is any draw inside a jit trace."""
    refuse_random_draws(fn)
    if generator is None:
        return _generator
    if not isinstance(generator, np.random.Generator):
        raise TypeError(f"{fn}: generator must be a numpy.random.Generator (for example "
                        f"np.random.default_rng(0)) or None, got {type(generator).__name__}")
    return generator


__all__ = ["generator", "manual_seed", "resolve"]
