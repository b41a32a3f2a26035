"""numpy's keyword forms, as a numpy function called on engine values receives them.

``np.sum(x, 0, np.float64)``, ``np.clip(x, a_min=0)``, ``np.mean(x, where=mask)`` and
``np.concatenate(xs, axis=None)`` reach the library's functions with numpy's own parameters. This
module binds a call to the numpy function's signature and translates what the library's function
does not take itself: ``dtype=`` (the input converted first, as numpy accumulates in that dtype;
or, for the joining functions, the result converted), ``where=`` and ``initial=`` of the
reductions (the masked entries replaced by the reduction's neutral value), numpy's names for
PyTorch-named parameters (``a_min``/``a_max``), and ``out=``, which is refused by name: it would
write around the tape. A call without any of these takes the fast path and is not bound.
"""
from __future__ import annotations

import functools
import inspect
import math
from collections.abc import Callable
from typing import Any

import numpy as np

from adcore import ops
from adcore.shapes import normalize_axes, shape_of

# Parameters only the binding layer understands; a call naming none of them (and passing at most
# two positional arguments) is handed over as it is.
_SPECIAL = frozenset({"out", "dtype", "where", "initial", "casting", "a_min", "a_max"})

_CAST_INPUT = {np.sum, np.prod, np.mean, np.cumsum, np.cumprod, np.var, np.std, np.trace,
               np.nansum, np.nanprod, np.nanmean, np.nanvar, np.nanstd, np.nancumsum,
               np.nancumprod}
_CAST_RESULT = {np.concatenate, np.stack, np.vstack, np.hstack, np.dstack}
if hasattr(np, "row_stack"):
    _CAST_RESULT.add(np.row_stack)
# The reductions that take where= and initial=: (the reduction, how initial joins its result,
# the value that leaves it unchanged).
_MASKABLE = {np.sum: (ops.sum, ops.add, 0.0), np.prod: (ops.prod, ops.mul, 1.0),
             np.max: (ops.max, ops.maximum, -math.inf), np.amax: (ops.max, ops.maximum, -math.inf),
             np.min: (ops.min, ops.minimum, math.inf), np.amin: (ops.min, ops.minimum, math.inf)}


@functools.cache
def _signature(func: Callable[..., Any]) -> inspect.Signature | None:
    try:
        return inspect.signature(func)
    except (TypeError, ValueError):
        return None


def needs_binding(args: tuple, kwargs: dict) -> bool:
    return len(args) > 2 or not _SPECIAL.isdisjoint(kwargs)


def call(func: Any, fn: Callable[..., Any], args: tuple, kwargs: dict, kind: str) -> Any:
    """``fn`` (the library's function for numpy's ``func``) called as numpy's ``func`` was."""
    name = f"np.{func.__name__}"
    out = kwargs.get("out")
    if out is not None:
        raise TypeError(f"{name}: out= is not supported on a {kind} (it would write the result "
                        f"around the tape); assign the result instead: y = {name}(...)")
    sig = _signature(func)
    if sig is None:
        kwargs = {k: v for k, v in kwargs.items() if k != "out"}
        return fn(*args, **kwargs)
    try:
        bound = sig.bind(*args, **kwargs)
    except TypeError as exc:
        raise TypeError(f"{name}: {exc}") from exc
    named = dict(bound.arguments)
    params = list(sig.parameters.values())
    first = params[0]
    named.pop("out", None)
    for p in params:
        if p.kind is p.VAR_KEYWORD and p.name in named:
            named.update(named.pop(p.name))
    casting = named.pop("casting", "same_kind")
    if casting != "same_kind":
        raise TypeError(f"{name}: casting={casting!r} is not supported on a {kind}")
    if first.kind is first.VAR_POSITIONAL:
        leading: tuple = tuple(named.pop(first.name))
    else:
        leading = (named.pop(first.name),)
    if func is np.clip:
        for numpy_name, own in (("a_min", "min"), ("a_max", "max")):
            if numpy_name in named:
                named[own] = named.pop(numpy_name)
    dtype = named.pop("dtype", None) if func in _CAST_INPUT | _CAST_RESULT else None
    if dtype is not None and func in _CAST_INPUT:
        leading = (ops.astype(leading[0], dtype),) + leading[1:]
    where = named.pop("where", True)
    initial = named.pop("initial", np._NoValue)
    if where is not True or initial is not np._NoValue:
        result = _masked(func, name, leading[0], named, where, initial, kind)
    else:
        result = fn(*leading, **named)
    if dtype is not None and func in _CAST_RESULT:
        result = ops.astype(result, dtype)
    return result


def _masked(func: Any, name: str, x: Any, named: dict, where: Any, initial: Any,
            kind: str) -> Any:
    """A reduction with numpy's ``where=`` and ``initial=``: the entries left out are replaced by
    the reduction's neutral value (0 for sum, 1 for prod, -inf for max), then ``initial`` joins.
    A masked sum may differ from numpy's in the last bit: numpy's masked loop adds in another
    order than its pairwise sum of the whole array."""
    axis, keepdims = named.get("axis"), bool(named.get("keepdims", False))
    extra = set(named) - {"axis", "keepdims", "ddof"}
    if func in _MASKABLE and not extra:
        reduce, combine, neutral = _MASKABLE[func]
        if math.isinf(neutral) and initial is np._NoValue and where is not True:
            raise ValueError(f"{name}: where= needs initial= (numpy's rule: an empty selection "
                             f"has no {func.__name__})")
        kept = x if where is True else ops.where(where, x, neutral)
        result = reduce(kept, axis, keepdims)
        return result if initial is np._NoValue else combine(result, initial)
    if func in (np.mean, np.var, np.std) and initial is np._NoValue and \
            not extra:
        mask = np.broadcast_to(np.asarray(where, dtype=bool), shape_of(x))
        axes = normalize_axes(axis, len(shape_of(x)), name)
        count = np.sum(mask, axis=axes, keepdims=True)
        total = ops.sum(ops.where(mask, x, 0.0), axes, True)
        mean = ops.div(total, count)
        if func is np.mean:
            result = mean
        else:
            centred = ops.where(mask, ops.sub(x, mean), 0.0)
            squares = ops.sum(ops.mul(centred, centred), axes, True)
            result = ops.div(squares, count - named.get("ddof", 0))
            if func is np.std:
                result = ops.sqrt(result)
        if keepdims:
            return result
        return ops.reshape(result, tuple(n for k, n in enumerate(shape_of(result))
                                         if k not in [a % len(shape_of(x)) for a in axes]))
    raise TypeError(f"{name}: where=/initial= are not supported on a {kind} for this function; "
                    f"select the entries with np.where first")
