"""Forward mode, functional: jvp and jacfwd. Take and return plain ndarrays and floats."""
from __future__ import annotations

import functools
from typing import Any, Callable, Sequence

import numpy as np

from adcore import ops
from adcore.arguments import as_input, normalize_argnums, plain, select_inputs
from adcore.levels import new_level, raw, register_transform
from adcore.shapes import shape_of
from forward.dual import Dual, JVPLevel, _check_tangent_shape, _make


def _split(out: Any, level: JVPLevel) -> tuple[Any, Any]:
    """(primal, tangent) of one output, a zero tangent when it does not depend on this level."""
    if isinstance(out, Dual) and out._level is level:
        if out._tangent is not None:
            return out.primal, out._tangent
        out = out.primal
    return out, None


def _zeros_tangent(primal: Any, batch: tuple) -> Any:
    return np.zeros(batch + shape_of(primal), dtype=np.result_type(raw(primal), np.float32))


def _jvp(f: Callable[..., Any], primals: Sequence[Any], tangents: Sequence[Any]
         ) -> tuple[Any, Any, tuple]:
    """Push tangents (possibly batched) through f at a fresh level; returns (outs, out_tangents,
    batch) with the tuple structure of f's result preserved."""
    tangents = [None if t is None else as_input(t, "jvp") for t in tangents]
    primals = [p if t is None else as_input(p, "jvp") for p, t in zip(primals, tangents)]
    batch = None
    for p, t in zip(primals, tangents):
        if t is not None:
            _check_tangent_shape(p, t)
            ts = shape_of(t)
            b = ts[:len(ts) - len(shape_of(p))]
            if batch is not None and b != batch:
                raise ValueError(f"jvp: the tangents carry different batch shapes {batch} and {b}; "
                                 f"give every tangent the same leading batch axes")
            batch = b
    batch = batch or ()
    with new_level(JVPLevel) as level:
        duals = [_make(p, t, level) for p, t in zip(primals, tangents)]
        result = f(*duals)
        is_tuple = isinstance(result, (tuple, list))
        pairs = [_split(o, level) for o in (result if is_tuple else (result,))]
    outs = tuple(p for p, _ in pairs)
    dots = tuple(_zeros_tangent(p, batch) if t is None else t for p, t in pairs)
    if is_tuple:
        return outs, dots, batch
    return outs[0], dots[0], batch


def jvp(f: Callable[..., Any], primals: Sequence[Any], tangents: Sequence[Any]) -> tuple[Any, Any]:
    """(f(*primals), J_f(primals) @ tangents): one forward pass with dual numbers.

    ``primals`` and ``tangents`` are sequences of equal length; f may return one array or a tuple.
    A tangent may carry extra leading axes: then it is a batch of directions, all pushed forward in
    the same pass, and the output tangent carries the same leading axes.

    >>> out, out_dot = jvp(lambda x: x.sin() * 2, (0.0,), (1.0,))
    >>> float(out), float(out_dot)
    (0.0, 2.0)
    """
    if len(primals) != len(tangents):
        raise ValueError(f"jvp: got {len(primals)} primals but {len(tangents)} tangents; "
                         f"give one tangent per primal")
    out, out_dot, _ = _jvp(f, primals, tangents)
    return plain(out), plain(out_dot)


def jacfwd(f: Callable[..., Any], argnums: int | Sequence[int] = 0) -> Callable[..., Any]:
    """The Jacobian of f by forward mode: ONE forward pass that carries the identity as a batch.

    Returns a function with f's arguments whose result has shape out.shape + in.shape (a tuple over
    f's outputs when f returns a tuple, and over ``argnums`` when it is a tuple).

    >>> jacfwd(lambda x: x ** 2)(np.array([1.0, 2.0]))
    array([[2., 0.],
           [0., 4.]])
    """
    @functools.wraps(f)
    def jac(*args: Any) -> Any:
        nums = normalize_argnums(argnums, len(args), "jacfwd")
        args = select_inputs(args, nums, "jacfwd")
        sizes = [int(np.prod(shape_of(args[i]))) for i in nums]
        total = sum(sizes)
        tangents: list[Any] = [None] * len(args)
        start = 0
        for i, n in zip(nums, sizes):  # the identity, split over the inputs we differentiate
            eye = np.zeros((total, n), dtype=np.result_type(raw(args[i]), np.float32))
            eye[start:start + n] = np.eye(n)
            tangents[i] = eye.reshape((total,) + shape_of(args[i]))
            start += n
        outs, dots, _ = _jvp(f, args, tangents)
        is_tuple = isinstance(outs, tuple)
        per_out = []
        for o, t in zip(outs if is_tuple else (outs,), dots if is_tuple else (dots,)):
            per_arg = []
            start = 0
            for i, n in zip(nums, sizes):
                block = ops.getitem(t, slice(start, start + n)) if len(nums) > 1 else t
                per_arg.append(plain(_batch_last(block, shape_of(o), shape_of(args[i]))))
                start += n
            per_out.append(per_arg[0] if isinstance(argnums, int) else tuple(per_arg))
        return tuple(per_out) if is_tuple else per_out[0]
    return jac


def _batch_last(t: Any, out_shape: tuple, in_shape: tuple) -> Any:
    """(n, *out_shape) -> out_shape + in_shape, with ops so that it can be differentiated again."""
    k = len(out_shape)
    moved = ops.transpose(t, tuple(range(1, k + 1)) + (0,))
    return ops.reshape(moved, out_shape + in_shape)


register_transform("jvp", lambda f, primals, tangents: _jvp(f, primals, tangents)[:2])
