"""Reverse mode, functional: grad, value_and_grad, vjp, jacrev, jacobian, hessian, hvp, vhp.

Each call opens a fresh tape level, wraps the leaves of the arguments it differentiates as leaf
tensors of that level, runs ``f`` and pulls cotangents back. They take and return plain ndarrays
and numbers, or tuples, lists and dicts of them (pytrees); inside, ``f`` sees tensors. Keyword
arguments pass through to ``f`` undifferentiated. They nest with each other and with forward mode.
"""
from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from adcore import ops
from adcore.arguments import Inputs, as_input, check_tree_match, normalize_argnums, plain, split_aux
from adcore.levels import new_level, raw, register_transform, speaks_numpy
from adcore.pytree import flatten, leaf_paths, tree_map, unflatten
from adcore.shapes import dtype_of, shape_of
from forward.api import jacfwd, jacobian_dtype, jvp
from reverse import graph
from reverse.held import release
from reverse.tape import TapeLevel, leaf
from reverse.tensor import Tensor, like_leaf, tape_level
from reverse.versions import fresh


class _Recording:
    """f run once at a fresh tape level: its input leaves, and per output leaf where its cotangent
    enters the graph (its node, the leaf itself, or None when it does not depend on the inputs).

    Used as a context: the numpy arrays its nodes read are read-only until it exits (see
    reverse/held.py), unless ``keep``: the recording outlives the call (vjp's vjp_fn), so it takes
    its own copy of the caller's arrays and of every array a node reads, which the caller may
    change before pulling cotangents back."""

    def __init__(self, f: Callable[..., Any], args: Sequence[Any], nums: Sequence[int],
                 kwargs: dict, has_aux: bool, fn: str, keep: bool = False) -> None:
        self.inputs = Inputs(args, nums, fn)
        self.held: list = []
        try:
            self._record(f, kwargs, has_aux, fn, keep)
        except BaseException:
            release(self.held)
            raise

    def __enter__(self) -> _Recording:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()

    def release(self) -> None:
        """Make the arrays its nodes read writeable again: no cotangent will be pulled back."""
        release(self.held)

    def _record(self, f: Callable[..., Any], kwargs: dict, has_aux: bool, fn: str,
                keep: bool) -> None:
        with new_level(tape_level) as level:
            level.numpy = speaks_numpy(self.inputs.leaves)
            level.held = None if keep else self.held
            self.leaves = [leaf(_own_copy(x) if keep else x, level) for x in self.inputs.leaves]
            result = f(*self.inputs.rebuild(self.leaves), **kwargs)
            self.aux = None
            if has_aux:
                result, aux = split_aux(result, fn)
                self.aux = plain(tree_map(lambda v: _value(v, level), aux))
            outs, self.spec = flatten(result)
            for o in outs:  # a view whose memory changed since: its history now
                if isinstance(o, Tensor) and o._level is level and o._view is not None:
                    fresh(o)
        self.keys, self.values = [], []
        for path, o in zip(leaf_paths(result), outs):
            if isinstance(o, Tensor) and o._level is level:
                self.keys.append(o._node if o._node is not None else
                                 o if o._requires_grad else None)
                self.values.append(o.data)
            else:
                self.keys.append(None)
                self.values.append(as_input(o, fn, f"the output{path}"))

    def pull(self, cts: Sequence[Any], batch: tuple, retain: bool) -> list:
        """Cotangents (one per output leaf, with leading ``batch`` axes) pulled back to the input
        leaves, in their dtypes; zeros for leaves the outputs do not depend on."""
        roots = [(key, ct) for key, ct in zip(self.keys, cts) if key is not None]
        got = graph.backward(roots, retain_graph=retain).sums if roots else {}
        return [like_leaf(got[t], t.data) if t in got else
                np.zeros(batch + shape_of(t.data), dtype=np.result_type(dtype_of(raw(t.data)),
                                                                        np.float32))
                for t in self.leaves]

    def sizes(self) -> tuple[int, int]:
        """(elements of the differentiated inputs, elements of the outputs)."""
        return (sum(int(np.prod(shape_of(t.data))) for t in self.leaves),
                sum(int(np.prod(shape_of(v))) for v in self.values))


def _own_copy(x: Any) -> Any:
    return x.copy() if type(x) is np.ndarray else x


def _value(v: Any, level: TapeLevel) -> Any:
    return v.data if isinstance(v, Tensor) and v._level is level else v


def vjp(f: Callable[..., Any], *primals: Any, has_aux: bool = False) -> tuple[Any, ...]:
    """(f(*primals), vjp_fn) where vjp_fn(y_bar) = y_bar^T J: one cotangent per primal, as a tuple.

    Primals and outputs may be arrays, numbers, or tuples, lists and dicts of them; ``y_bar`` has
    the output's structure and shapes, or extra leading axes for a batch of cotangents pulled back
    at once. vjp_fn may be called many times. With ``has_aux`` f returns (output, aux) and vjp
    returns (output, vjp_fn, aux).

    >>> out, vjp_fn = vjp(lambda x: x * x, np.array([1.0, 2.0]))
    >>> vjp_fn(np.array([1.0, 1.0]))
    (array([2., 4.]),)
    """
    rec = _Recording(f, primals, range(len(primals)), {}, has_aux, "vjp", keep=True)
    out = unflatten(rec.spec, [plain(_own_copy(v)) for v in rec.values])

    def vjp_fn(y_bar: Any) -> tuple:
        check_tree_match(out, y_bar, "vjp_fn", "cotangents")
        cts, _ = flatten(y_bar)
        batch = None
        checked = []
        for path, o, ct in zip(leaf_paths(y_bar), rec.values, cts):
            ct = as_input(ct, "vjp_fn", f"cotangent{path}")
            os, cs = shape_of(o), shape_of(ct)
            if cs[len(cs) - len(os):] != os or len(cs) < len(os):
                raise ValueError(f"vjp_fn: cotangent{path} of shape {cs} does not fit the output "
                                 f"of shape {os}; it must have the output's shape, or extra "
                                 f"leading batch axes")
            b = cs[:len(cs) - len(os)]
            if batch is not None and b != batch:
                raise ValueError(f"vjp_fn: cotangents carry different batch shapes {batch} and {b}")
            batch = b
            checked.append(ct)
        grads = [plain(g) for g in rec.pull(checked, batch or (), retain=True)]
        arranged = rec.inputs.arrange(grads, single=False)
        return arranged if isinstance(arranged, tuple) else (arranged,)

    return (out, vjp_fn, rec.aux) if has_aux else (out, vjp_fn)


def value_and_grad(f: Callable[..., Any], argnums: int | Sequence[int] = 0, *,
                   has_aux: bool = False) -> Callable[..., tuple[Any, Any]]:
    """A function returning (f(*args), gradient of f at args); f must return a scalar.

    The gradient has the structure of the differentiated argument (a tuple over ``argnums`` when
    it is a tuple). With ``has_aux`` f returns (value, aux) and the result is ((value, aux), grad).

    >>> value_and_grad(lambda x: (x ** 2).sum())(np.array([1.0, 2.0]))
    (np.float64(5.0), array([2., 4.]))
    """
    @functools.wraps(f)
    def wrapped(*args: Any, **kwargs: Any) -> tuple[Any, Any]:
        nums = normalize_argnums(argnums, len(args), "grad")
        with _Recording(f, args, nums, kwargs, has_aux, "grad") as rec:
            return _value_and_grad(rec, argnums, has_aux)
    return wrapped


def _value_and_grad(rec: _Recording, argnums: Any, has_aux: bool) -> tuple[Any, Any]:
    if len(rec.values) != 1 or math.prod(shape_of(rec.values[0])) != 1:
        got = (f"{len(rec.values)} outputs" if len(rec.values) != 1 else
               f"shape {shape_of(rec.values[0])}")
        raise ValueError(f"grad: f must return a scalar (one element), got {got}; reduce it "
                         f"(for example with .sum()) or use jacrev for non-scalar outputs")
    value = rec.values[0]
    seed = np.ones(shape_of(value), dtype=np.result_type(dtype_of(raw(value)), np.float32))
    grads = [plain(g) for g in rec.pull([seed], (), retain=False)]
    result = rec.inputs.arrange(grads, isinstance(argnums, int))
    return ((plain(value), rec.aux) if has_aux else plain(value)), result


def grad(f: Callable[..., Any], argnums: int | Sequence[int] = 0, *,
         has_aux: bool = False) -> Callable[..., Any]:
    """The gradient of a scalar function, as a function: grad(f)(x) = df/dx (reverse mode).

    ``argnums`` picks the argument(s) to differentiate; a tuple gives a tuple of gradients. An
    argument may be a tuple, list or dict of arrays: its gradient has the same structure. Keyword
    arguments pass through to f. With ``has_aux`` f returns (value, aux) and grad returns
    (gradient, aux). grad composes: grad(grad(f)) is the second derivative.

    >>> grad(lambda x: x.sin())(0.0)
    np.float64(1.0)
    """
    value_and_grad_f = value_and_grad(f, argnums, has_aux=has_aux)

    @functools.wraps(f)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        value, g = value_and_grad_f(*args, **kwargs)
        return (g, value[1]) if has_aux else g
    return wrapped


def _jacobian_rows(rec: _Recording, argnums: Any, chunk_size: int | None) -> Any:
    """The Jacobian from a recording: the identity pulled back as ONE batch of cotangents (or in
    chunks of ``chunk_size`` rows), arranged out-tree of in-trees."""
    sizes = [int(np.prod(shape_of(v))) for v in rec.values]
    total = sum(sizes)
    step = max(1, chunk_size or total)
    blocks = []
    for start in range(0, total, step) if total else [0]:
        rows = min(step, total - start)
        eye = np.eye(total, dtype=np.float64)[start:start + rows]
        cts, offset = [], 0
        for v, n in zip(rec.values, sizes):
            dtype = np.result_type(dtype_of(raw(v)), np.float32)
            cts.append(eye[:, offset:offset + n].astype(dtype).reshape((rows,) + shape_of(v)))
            offset += n
        blocks.append(rec.pull(cts, (rows,), retain=True))
    per_leaf = [blocks[0][k] if len(blocks) == 1 else
                ops.concatenate([b[k] for b in blocks], axis=0) for k in range(len(rec.leaves))]
    per_out, offset = [], 0
    for v, n in zip(rec.values, sizes):
        jac = []
        for t, whole in zip(rec.leaves, per_leaf):
            part = ops.getitem(whole, slice(offset, offset + n)) if len(sizes) > 1 else whole
            block = ops.reshape(part, shape_of(v) + shape_of(t.data))
            dtype = jacobian_dtype(v, t.data)
            if dtype_of(raw(block)) != dtype:
                block = ops.astype(block, dtype)
            jac.append(plain(block))
        per_out.append(rec.inputs.arrange(jac, isinstance(argnums, int)))
        offset += n
    return unflatten(rec.spec, per_out)


def jacrev(f: Callable[..., Any], argnums: int | Sequence[int] = 0, *, has_aux: bool = False,
           chunk_size: int | None = None) -> Callable[..., Any]:
    """The Jacobian of f by reverse mode: one forward pass and ONE backward pass of a batch of
    cotangents (the identity), shape out.shape + in.shape, arranged as jacfwd's. ``chunk_size``
    bounds the batch (and so the memory) by pulling the identity back that many rows at a time.

    >>> jacrev(lambda x: x ** 2)(np.array([1.0, 2.0]))
    array([[2., 0.],
           [0., 4.]])
    """
    @functools.wraps(f)
    def jac(*args: Any, **kwargs: Any) -> Any:
        nums = normalize_argnums(argnums, len(args), "jacrev")
        with _Recording(f, args, nums, kwargs, has_aux, "jacrev") as rec:
            result = _jacobian_rows(rec, argnums, chunk_size)
        return (result, rec.aux) if has_aux else result
    return jac


def jacobian(f: Callable[..., Any], argnums: int | Sequence[int] = 0, *, mode: str = "auto",
             has_aux: bool = False, chunk_size: int | None = None) -> Callable[..., Any]:
    """The Jacobian of f, in the mode that costs less: ``mode="auto"`` (the default) uses reverse
    mode when the outputs have at most as many elements as the differentiated inputs (m <= n: m
    cotangent rows, one backward pass) and forward mode otherwise (n tangent columns, one forward
    pass). "forward" and "reverse" force a mode. The result is arranged as jacfwd's and jacrev's.

    Deciding needs the output's size: auto runs f once on the tape; when forward mode wins, that
    taped pass is dropped and f runs again with the batch of tangents.
    """
    if mode not in ("auto", "forward", "reverse"):
        raise ValueError(f"jacobian: mode must be 'auto', 'forward' or 'reverse', got {mode!r}")
    if mode == "forward":
        return jacfwd(f, argnums, has_aux=has_aux, chunk_size=chunk_size)
    if mode == "reverse":
        return jacrev(f, argnums, has_aux=has_aux, chunk_size=chunk_size)

    @functools.wraps(f)
    def jac(*args: Any, **kwargs: Any) -> Any:
        nums = normalize_argnums(argnums, len(args), "jacobian")
        with _Recording(f, args, nums, kwargs, has_aux, "jacobian") as rec:
            n_in, n_out = rec.sizes()
            if n_in >= n_out:
                result = _jacobian_rows(rec, argnums, chunk_size)
                return (result, rec.aux) if has_aux else result
        del rec  # frees the tape before the forward pass
        return jacfwd(f, argnums, has_aux=has_aux, chunk_size=chunk_size)(*args, **kwargs)
    return jac


def hessian(f: Callable[..., Any], argnums: int | Sequence[int] = 0) -> Callable[..., Any]:
    """The Hessian of a scalar function: jacfwd(jacrev(f)) (forward-over-reverse), arranged
    in-tree of in-trees (a tuple of tuples over ``argnums`` when it is a tuple).

    >>> hessian(lambda x: (x ** 3).sum())(np.array([1.0, 2.0]))
    array([[ 6.,  0.],
           [ 0., 12.]])
    """
    return jacfwd(jacrev(f, argnums), argnums)


def hvp(f: Callable[..., Any], x: Any, v: Any) -> Any:
    """The Hessian-vector product H(x) v of a scalar function f of one argument (an array or a tree
    of them), forward-over-reverse: one forward pass through the gradient, never forming H. ``v``
    has x's structure and shapes, or extra leading axes for several products in the same pass.

    >>> hvp(lambda x: (x ** 3).sum(), np.array([1.0, 2.0]), np.array([1.0, 0.0]))
    array([6., 0.])
    """
    return jvp(grad(f), (x,), (v,))[1]


def vhp(f: Callable[..., Any], x: Any, v: Any) -> Any:
    """The vector-Hessian product v^T H(x) of a scalar function f of one argument, reverse-over-
    reverse (the gradient's vjp). For twice differentiable f it equals hvp(f, x, v)."""
    return vjp(grad(f), x)[1](v)[0]


def _vjp_transform(f: Callable[..., Any], *primals: Any) -> tuple[Any, Callable[..., Any]]:
    """vjp for adcore's numerical checks."""
    return vjp(f, *primals)


register_transform("vjp", _vjp_transform)
