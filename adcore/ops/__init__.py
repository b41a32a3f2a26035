"""adcore's op functions: one per registry entry, plus non-differentiable comparisons.

On plain numbers and ndarrays each function computes at once; on engine values (``Dual``, ``Tensor``)
it is recorded or pushed forward by the engine of the deepest level. Derivative rules are written with
these same functions, so that derivatives can themselves be differentiated.
"""
from adcore.ops.compare import (equal, greater, greater_equal, less, less_equal, logical_not,
                                not_equal, sign)
from adcore.ops.elementwise import (abs, add, astype, clip, cos, div, exp, log, maximum, minimum,
                                    mul, neg, pow, relu, sigmoid, sin, sqrt, sub, tanh, where)
from adcore.ops.linalg import matmul
from adcore.ops.reduce import log_softmax, logsumexp, max, mean, min, softmax, sum
from adcore.ops.shape import (broadcast_to, concatenate, expand_dims, flatten, getitem, reshape,
                              scatter_add, squeeze, stack, sum_to, swapaxes, transpose)

__all__ = [
    "abs", "add", "astype", "broadcast_to", "clip", "concatenate", "cos", "div", "equal", "exp",
    "expand_dims", "flatten", "getitem", "greater", "greater_equal", "less", "less_equal", "log",
    "log_softmax", "logical_not", "logsumexp", "matmul", "max", "maximum", "mean", "min",
    "minimum", "mul", "neg", "not_equal", "pow", "relu", "reshape", "scatter_add", "sigmoid",
    "sign", "sin", "softmax", "sqrt", "squeeze", "stack", "sub", "sum", "sum_to", "swapaxes",
    "tanh", "transpose", "where",
]
