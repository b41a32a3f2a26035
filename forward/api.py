"""Forward mode, functional: jvp and jacfwd.

They take and return plain ndarrays and numbers, or tuples, lists and dicts of them (pytrees);
inside, ``f`` sees Duals. Both nest with every other transformation.
"""
from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from adcore import ops, views
from adcore.arguments import Inputs, as_input, check_tree_match, normalize_argnums, plain, split_aux
from adcore.levels import is_engine_value, new_level, raw, register_transform, speaks_numpy
from adcore.pytree import flatten, leaf_paths, tree_map, unflatten
from adcore.shapes import dtype_of, shape_of
from forward.dual import Dual, JVPLevel, _check_tangent_shape, make_dual


def _split(out: Any, level: JVPLevel) -> tuple[Any, Any]:
    """(primal, tangent) of one output, a None tangent when it does not depend on this level."""
    if isinstance(out, Dual) and out._level is level:
        if out._link is not None:
            views.fresh(out)  # a view whose base changed since it was made
        return out.primal, out._tangent
    return out, None


def _zeros_tangent(primal: Any, batch: tuple) -> Any:
    return np.zeros(batch + shape_of(primal), dtype=np.result_type(dtype_of(raw(primal)),
                                                                    np.float32))


def _like_primal(t: Any, p: Any) -> Any:
    """A tangent in its primal's dtype, whatever route made it (the cast is an op)."""
    dtype = dtype_of(raw(p))
    if dtype.kind == "f" and dtype_of(raw(t)) != dtype:
        return ops.astype(t, dtype)
    return t


_FLOAT32 = np.dtype(np.float32)


def jacobian_dtype(out: Any, leaf: Any) -> np.dtype:
    """The dtype of a Jacobian block d out / d leaf, the same in every mode: both primals'."""
    return np.promote_types(np.promote_types(dtype_of(raw(out)), dtype_of(raw(leaf))), _FLOAT32)


def _push(f: Callable[..., Any], inputs: Inputs, tangents: Sequence[Any], kwargs: dict,
          has_aux: bool, fn: str) -> tuple[Any, list, list, Any, tuple]:
    """Push ``tangents`` (one per input leaf, possibly with leading batch axes) through f at a
    fresh level. Returns (output spec, output primals, output tangents, aux, batch shape)."""
    batch = None
    for p, t in zip(inputs.leaves, tangents):
        _check_tangent_shape(p, t)
        ts = shape_of(t)
        b = ts[:len(ts) - len(shape_of(p))]
        if batch is not None and b != batch:
            raise ValueError(f"{fn}: the tangents carry different batch shapes {batch} and {b}; "
                             f"give every tangent the same leading batch axes")
        batch = b
    batch = batch or ()
    with new_level(JVPLevel) as level:
        level.numpy = speaks_numpy(inputs.leaves)
        duals = [make_dual(p, t, level) for p, t in zip(inputs.leaves, tangents)]
        result = f(*inputs.rebuild(duals), **kwargs)
        aux = None
        if has_aux:
            result, aux = split_aux(result, fn)
            aux = tree_map(lambda v: _split(v, level)[0], aux)
        leaves, spec = flatten(result)
        for path, leaf in zip(leaf_paths(result), leaves):
            if not is_engine_value(leaf):
                as_input(leaf, fn, f"the output{path}")  # a number or an array, or say so
        pairs = [_split(o, level) for o in leaves]
    outs = [p for p, _ in pairs]
    dots = [_zeros_tangent(p, batch) if t is None else _like_primal(t, p) for p, t in pairs]
    return spec, outs, dots, aux, batch


def jvp(f: Callable[..., Any], primals: Sequence[Any], tangents: Sequence[Any], *,
        has_aux: bool = False) -> tuple[Any, ...]:
    """(f(*primals), J_f(primals) @ tangents): one forward pass with dual numbers.

    ``primals`` and ``tangents`` are tuples (or lists) with one entry per positional argument of f,
    each an array, a number, or a tuple, list or dict of them; f may return any such tree. A
    tangent may carry extra leading axes: then it is a batch of directions, all pushed forward in
    the same pass, and the output tangent carries the same leading axes. With ``has_aux`` f returns
    (output, aux) and jvp returns (output, output tangent, aux).

    >>> out, out_dot = jvp(lambda x: x.sin() * 2, (0.0,), (1.0,))
    >>> float(out), float(out_dot)
    (0.0, 2.0)
    """
    for name, value in (("primals", primals), ("tangents", tangents)):
        if not isinstance(value, (tuple, list)):
            raise TypeError(f"jvp: {name} must be a tuple or list with one entry per positional "
                            f"argument of f, got {type(value).__name__}; for one argument x write "
                            f"jvp(f, (x,), (t,))")
    if len(primals) != len(tangents):
        raise ValueError(f"jvp: got {len(primals)} primals but {len(tangents)} tangents; "
                         f"give one tangent per primal")
    for i, (p, t) in enumerate(zip(primals, tangents)):
        check_tree_match(p, t, "jvp", f"tangents of argument {i}")
    inputs = Inputs(primals, range(len(primals)), "jvp")
    tangent_leaves = []
    for i, t in enumerate(tangents):
        leaves, _ = flatten(t)
        tangent_leaves += [as_input(leaf, "jvp", f"tangent {i}{path}")
                           for leaf, path in zip(leaves, leaf_paths(t))]
    spec, outs, dots, aux, _ = _push(f, inputs, tangent_leaves, {}, has_aux, "jvp")
    out = unflatten(spec, [plain(o) for o in outs])
    out_dot = unflatten(spec, [plain(d) for d in dots])
    return (out, out_dot, plain(aux)) if has_aux else (out, out_dot)


def jacfwd(f: Callable[..., Any], argnums: int | Sequence[int] = 0, *, has_aux: bool = False,
           chunk_size: int | None = None) -> Callable[..., Any]:
    """The Jacobian of f by forward mode: the identity pushed forward as ONE batch of tangents
    (or in chunks of ``chunk_size`` columns, to bound memory).

    Returns a function with f's arguments (keyword arguments pass through to f) whose result has
    shape out.shape + in.shape, arranged as f's outputs (a tree of them when f returns a tuple,
    list or dict) and, inside, as the differentiated arguments (a tuple when ``argnums`` is a
    tuple; the argument's own tree when it is a tree). With ``has_aux`` it returns (jacobian, aux).

    >>> jacfwd(lambda x: x ** 2)(np.array([1.0, 2.0]))
    array([[2., 0.],
           [0., 4.]])
    """
    @functools.wraps(f)
    def jac(*args: Any, **kwargs: Any) -> Any:
        inputs = Inputs(args, normalize_argnums(argnums, len(args), "jacfwd"), "jacfwd")
        sizes = [int(np.prod(shape_of(leaf))) for leaf in inputs.leaves]
        total = sum(sizes)
        step = max(1, chunk_size or total)
        chunks: list[list] = []
        spec = aux = None
        outs: list = []
        for start in range(0, total, step) if total else [0]:
            rows = min(step, total - start)
            eye = np.eye(total, dtype=np.float64)[start:start + rows]
            tangents, offset = [], 0
            for leaf, n in zip(inputs.leaves, sizes):
                block = eye[:, offset:offset + n].astype(np.result_type(dtype_of(raw(leaf)),
                                                                       np.float32))
                tangents.append(block.reshape((rows,) + shape_of(leaf)))
                offset += n
            spec, outs, dots, aux, _ = _push(f, inputs, tangents, kwargs, has_aux, "jacfwd")
            chunks.append(dots)
        per_out = []
        for j, out in enumerate(outs):
            whole = chunks[0][j] if len(chunks) == 1 else ops.concatenate(
                [c[j] for c in chunks], axis=0)  # (total, *out_shape)
            per_leaf, offset = [], 0
            for leaf, n in zip(inputs.leaves, sizes):
                block = ops.getitem(whole, slice(offset, offset + n)) if len(sizes) > 1 else whole
                block = _batch_last(block, shape_of(out), shape_of(leaf))
                per_leaf.append(plain(_as_dtype(block, jacobian_dtype(out, leaf))))
                offset += n
            per_out.append(inputs.arrange(per_leaf, isinstance(argnums, int)))
        result = unflatten(spec, per_out)
        return (result, plain(aux)) if has_aux else result
    return jac


def _as_dtype(x: Any, dtype: np.dtype) -> Any:
    return x if dtype_of(raw(x)) == dtype else ops.astype(x, dtype)


def _batch_last(t: Any, out_shape: tuple, in_shape: tuple) -> Any:
    """(n, *out_shape) -> out_shape + in_shape, with ops so that it can be differentiated again."""
    k = len(out_shape)
    moved = ops.transpose(t, tuple(range(1, k + 1)) + (0,))
    return ops.reshape(moved, out_shape + in_shape)


def _jvp_transform(f: Callable[..., Any], primals: Sequence[Any], tangents: Sequence[Any]
                   ) -> tuple[Any, Any]:
    """jvp on flat primals for adcore's numerical checks (outputs as a tuple when f's is)."""
    return jvp(f, tuple(primals), tuple(tangents))


register_transform("jvp", _jvp_transform)
