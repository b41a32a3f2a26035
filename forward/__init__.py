"""Forward-mode automatic differentiation with dual numbers.

- ``Dual(primal, tangent)``: a + b·ε for Python floats and ndarrays, with the usual operators and a
  method per registry op (``.exp()``, ``.sum(axis=0)``, ...).
- ``jvp(f, primals, tangents)``: f's value and its directional derivative, in one pass.
- ``jacfwd(f, argnums=0)``: the whole Jacobian in one vectorised pass.
- ``vmap(f)``: f of one example applied to a batch (adcore's batching level, re-exported);
  ``jit(f)`` and ``make_program(f)``: f traced into a program of registry ops (adcore's jit).

Every derivative comes from adcore's registry; nothing here knows the rule of any op.
"""
from adcore.batching import vmap
from adcore.jit import jit, make_program
from forward.api import jacfwd, jvp
from forward.dual import Dual, JVPLevel

__all__ = ["Dual", "JVPLevel", "jacfwd", "jit", "jvp", "make_program", "vmap"]
