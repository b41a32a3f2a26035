"""numpy's promotion for the values of a transformation handed numpy arrays.

Under numpy's personality (see ``Level.numpy``) a function computes the dtypes it computes without
the transformation: a float32 array times a float64 0-d array or ``np.float64(2)`` is float64, as
numpy 2 (NEP 50) makes it, where PyTorch's rule (adcore/dtypes.py, which the ops' forward rules
apply) keeps float32. Before an op that combines operands elementwise, such a level casts them to
numpy's result type with the differentiable ``astype`` op, so that the op's own rule has nothing
left to promote and the derivative follows the cast (a tangent takes its primal's dtype).
"""
from __future__ import annotations

import numpy as np

from adcore.levels import raw, value_types
from adcore.ops.elementwise import astype

PROMOTING_KINDS = frozenset({"elementwise", "bilinear"})
_NUMBERS = (int, float, bool)


def numpy_operands(args: tuple) -> tuple:
    """``args`` cast to numpy's result dtype where an array's dtype differs from it."""
    dtypes: list = []
    arrays = 0
    mixed = False  # whether numpy's result type may differ from the first array's dtype
    for a in args:
        if type(a) in _NUMBERS:
            dtypes.append(a)  # weak: never promotes a float array (an integer one, it may)
            mixed = True
            continue
        while type(a) in value_types:  # the innermost array (levels.raw, inlined)
            a = a._unwrap()
        dtype = getattr(a, "dtype", None)
        if isinstance(dtype, np.dtype) and dtype.kind != "b":
            # (None, a missing bound of clip, takes no part; nor does a boolean array, which
            # never promotes a float one: where's condition stays a condition)
            if dtypes and dtype != dtypes[0]:
                mixed = True
            dtypes.append(dtype)
            arrays += 1
    if arrays < 2 or not mixed:
        return args
    target = np.result_type(*dtypes)
    if target.kind != "f":
        return args
    return tuple(a if type(a) in _NUMBERS or getattr(raw(a), "dtype", target) in (target, np.bool_)
                 else astype(a, target) for a in args)
