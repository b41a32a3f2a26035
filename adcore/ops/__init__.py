"""adcore's op functions: one per registry entry, plus compositions and non-differentiable
functions.

On plain numbers and ndarrays each function computes at once; on engine values (``Dual``,
``Tensor``) it is recorded or pushed forward by the engine of the deepest level. Derivative rules
are written with these same functions, so that derivatives can themselves be differentiated.
"""
from adcore import derive
from adcore.ops import (
    arrays,
    compare,
    construct,
    contraction,
    convolution,
    decompositions,
    elementwise,
    linalg,
    nn,
    reduce,
    shape,
    statistics,
    ufuncs,
)
from adcore.ops.arrays import *  # noqa: F403
from adcore.ops.compare import *  # noqa: F403
from adcore.ops.construct import *  # noqa: F403
from adcore.ops.contraction import *  # noqa: F403
from adcore.ops.convolution import *  # noqa: F403
from adcore.ops.decompositions import *  # noqa: F403
from adcore.ops.elementwise import *  # noqa: F403
from adcore.ops.linalg import *  # noqa: F403
from adcore.ops.nn import *  # noqa: F403
from adcore.ops.reduce import *  # noqa: F403
from adcore.ops.shape import *  # noqa: F403
from adcore.ops.statistics import *  # noqa: F403
from adcore.ops.ufuncs import *  # noqa: F403

# Every module lists its public functions in its __all__; these are the package's.
__all__: list[str] = []
__all__ += arrays.__all__
__all__ += compare.__all__
__all__ += construct.__all__
__all__ += contraction.__all__
__all__ += convolution.__all__
__all__ += decompositions.__all__
__all__ += elementwise.__all__
__all__ += linalg.__all__
__all__ += nn.__all__
__all__ += reduce.__all__
__all__ += shape.__all__
__all__ += statistics.__all__
__all__ += ufuncs.__all__

# The derived rules (adcore/derive.py) are written with these ops, declared above with defop.
derive.hand_over(add_fn=elementwise.add, mul_fn=elementwise.mul, neg_fn=elementwise.neg,
                 where_fn=elementwise.where,
                 reshape=shape.reshape_op, broadcast_to=shape.broadcast_to_op,
                 sum_to=shape.sum_to_op)
