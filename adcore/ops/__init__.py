"""adcore's op functions: one per registry entry, plus compositions and non-differentiable functions.

On plain numbers and ndarrays each function computes at once; on engine values (``Dual``, ``Tensor``)
it is recorded or pushed forward by the engine of the deepest level. Derivative rules are written with
these same functions, so that derivatives can themselves be differentiated.
"""
from adcore.ops.compare import (all, any, argmax, argmin, bitwise_and, bitwise_or, bitwise_xor,
                                ceil, equal, floor, floor_divide, greater, greater_equal, invert,
                                isfinite, isinf, isnan, less, less_equal, logical_and, logical_not,
                                logical_or, logical_xor, not_equal, remainder, round, sign, trunc)
from adcore.ops.elementwise import (abs, add, astype, clip, cos, div, exp, expm1, log, log1p,
                                    masked_fill, maximum, minimum, mul, neg, pow, relu, sigmoid, sin,
                                    sqrt, sub, tanh, where)
from adcore.ops.linalg import matmul
from adcore.ops.nn import cross_entropy, linear, softplus
from adcore.ops.reduce import (cumsum, log_softmax, logsumexp, max, mean, min, norm, prod, softmax,
                               std, sum, var)
from adcore.ops.shape import (broadcast_to, clone, concatenate, expand_dims, flatten, getitem,
                              reshape, scatter_add, setitem, squeeze, stack, sum_to, swapaxes,
                              transpose)

__all__ = [
    "abs", "add", "all", "any", "argmax", "argmin", "astype", "bitwise_and", "bitwise_or",
    "bitwise_xor", "broadcast_to", "ceil", "clip", "clone", "concatenate", "cos",
    "cross_entropy", "cumsum", "div",
    "equal", "exp", "expand_dims", "expm1", "flatten", "floor", "floor_divide", "getitem",
    "greater", "greater_equal", "invert", "isfinite", "isinf", "isnan", "less", "less_equal", "log",
    "linear", "log1p", "log_softmax", "logical_and", "logical_not", "logical_or", "logical_xor", "logsumexp",
    "masked_fill", "matmul", "max", "maximum", "mean", "min", "minimum", "mul", "neg", "norm",
    "not_equal", "pow", "prod", "relu", "remainder", "reshape", "round", "scatter_add", "setitem",
    "sigmoid", "sign", "sin", "softmax", "softplus", "sqrt", "squeeze", "stack", "std", "sub", "sum", "sum_to",
    "swapaxes", "tanh", "transpose", "trunc", "var", "where",
]
