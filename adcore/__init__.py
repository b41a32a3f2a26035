"""adcore: the operator registry that both differentiation engines interpret.

- ``adcore.registry``: name -> ``Op`` (forward rule, JVP, VJP, test domain, public function).
- ``adcore.ops``: the op functions (``ops.exp(x)``, ``ops.sum(x, axis=0)``, ...).
- ``adcore.bind``: apply an op, dispatching to the engine of the deepest level among its arguments.
- ``adcore.numerical_jacobian`` and ``adcore.gradcheck``: finite-difference checks.
- ``adcore.vmap``: a function of one example applied to a batch (a level of its own, so it nests
  with both engines' transformations); ``adcore.pytree``: the tuples, lists and dicts they accept.
- ``adcore.jit`` and ``adcore.make_program``: a function traced once into a program of registry ops
  and compiled to straight-line Python (a level beside vmap's; see adcore/jit.py).

adcore imports neither engine; ``forward`` and ``reverse`` register themselves with it on import.
"""
import warnings
from pathlib import Path

from adcore import shadowing

shadowing.check(Path(__file__).resolve().parent.parent)

# numpy's floating-point warnings raised inside adcore's forward rules and derivative rules (log(0),
# 1/0, 0 * inf) are silenced, as PyTorch is silent: the values are inf and nan either way. The
# filter names adcore's modules only; numpy's warnings in the user's own code are untouched, and an
# error setting (np.errstate(all="raise"), or detect_anomaly) still stops at the first such value.
warnings.filterwarnings("ignore", category=RuntimeWarning, module=r"adcore(\.|$)")

# The registry must load before the op modules (their declarations call defop, and the rules that
# defop derives are written with ops declared in those modules).
from adcore.registry import Op, defop, public, registry  # noqa: I001
from adcore import ops
from adcore.levels import Level, bind, new_level, raw, register_value_type
from adcore.numeric import GradcheckError, gradcheck, numerical_jacobian
from adcore.batching import vmap
from adcore.jit import jit, make_program

__all__ = ["GradcheckError", "Level", "Op", "bind", "defop", "gradcheck", "jit", "make_program",
           "new_level", "numerical_jacobian", "ops", "public", "raw", "register_value_type",
           "registry", "vmap"]
