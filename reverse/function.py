"""Custom ops: subclass ``Function`` with static ``forward(ctx, ...)`` and ``backward(ctx, y_bar)``.

Each subclass becomes an adcore ``Op`` whose forward rule calls ``forward`` and whose VJP calls
``backward``; ``apply`` binds it like any registry op, so a custom op is recorded by the same tape
(and works in forward mode too when the class also defines ``jvp(ctx, *tangents)``).

``forward`` receives the inputs' values one level down (numpy arrays, for tensors made by hand) and
returns one array; ``backward`` receives the output's cotangent and returns one gradient per input
(None where there is none). Inside ``backward``, saved inputs and the saved output are the values of
the level being differentiated: a backward written with operators and ``adcore.ops`` (rather than
numpy functions) can be differentiated again (double backward, ``grad(grad(...))``, Hessians).
"""
from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

from adcore.levels import bind, is_engine_value
from adcore.ops.shape import sum_to_op
from adcore.registry import Op
from adcore.shapes import shape_of
from reverse.tensor import Tensor


class FunctionCtx:
    """What ``forward`` leaves for ``backward``: saved values and any attributes it sets."""

    def __init__(self) -> None:
        self.saved_tensors: tuple = ()
        self.needs_input_grad: tuple[bool, ...] = ()
        self._inputs: tuple = ()
        self._output: Any = None

    def save_for_backward(self, *values: Any) -> None:
        """Keep values (inputs, outputs or intermediates) for backward, as ``ctx.saved_tensors``."""
        self.saved_tensors = values

    def reads(self, n: int) -> tuple[tuple[int, ...], tuple[int, ...], bool]:
        """What backward reads, for the tape (see ``Op.keep``): the inputs and the output that
        forward saved, as PyTorch checks only saved tensors for in-place changes."""
        saved = [i for i, x in enumerate(self._inputs)
                 if any(v is x for v in self.saved_tensors)]
        return (tuple(saved), tuple(i for i in range(n) if i not in saved),
                any(v is self._output for v in self.saved_tensors))

    def _at_level(self, primals: Sequence[Any], out: Any) -> FunctionCtx:
        """This ctx as a rule sees it: saved inputs and output replaced by the values of the level
        the rule runs at, so that a backward written with tensor operations differentiates again
        (saved intermediates stay constants, as in PyTorch)."""
        view = copy.copy(self)
        view.saved_tensors = tuple(_substitute(v, self._inputs, primals, self._output, out)
                                   for v in self.saved_tensors)
        return view


def _substitute(v: Any, inputs: tuple, primals: Sequence[Any], output: Any, out: Any) -> Any:
    for x, p in zip(inputs, primals):
        if v is x:
            return p
    return out if v is output else v


class Function:
    """Base class for custom differentiable ops (torch.autograd.Function).

    >>> import numpy as np
    >>> from reverse import Tensor
    >>> class Cube(Function):
    ...     @staticmethod
    ...     def forward(ctx, x):
    ...         ctx.save_for_backward(x)
    ...         return x ** 3
    ...     @staticmethod
    ...     def backward(ctx, y_bar):
    ...         (x,) = ctx.saved_tensors
    ...         return 3 * x ** 2 * y_bar
    >>> x = Tensor([2.0], requires_grad=True)
    >>> Cube.apply(x).backward()
    >>> x.grad
    Tensor([12.])
    """

    _op: Op

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls._op = Op(cls.__name__, _forward_rule(cls), _jvp_rule(cls), _vjp_rule(cls),
                     kind="custom", doc=cls.__doc__ or "")

    @staticmethod
    def forward(ctx: FunctionCtx, *args: Any) -> Any:
        raise NotImplementedError("Function subclasses define a static forward(ctx, *inputs)")

    @staticmethod
    def backward(ctx: FunctionCtx, y_bar: Any) -> Any:
        raise NotImplementedError("Function subclasses define a static backward(ctx, y_bar)")

    @classmethod
    def apply(cls, *args: Any) -> Any:
        """Run the op on tensors (or any values), recording it for backward."""
        ctx = FunctionCtx()
        ctx.needs_input_grad = tuple(
            a.requires_grad if isinstance(a, Tensor) else is_engine_value(a) for a in args)
        return bind(cls._op, *args, ctx=ctx)


def _forward_rule(cls: type[Function]) -> Any:
    def impl(*args: Any, ctx: FunctionCtx) -> Any:
        ctx._inputs = args
        ctx._output = cls.forward(ctx, *args)
        return ctx._output
    return impl


def _vjp_rule(cls: type[Function]) -> Any:
    def vjp(y_bar: Any, primals: Sequence[Any], out: Any, params: dict,
            needs: Sequence[bool]) -> list:
        ctx = params["ctx"]._at_level(primals, out)
        ctx.needs_input_grad = tuple(needs)
        grads = cls.backward(ctx, y_bar)
        grads = list(grads) if isinstance(grads, (tuple, list)) else [grads]
        if len(grads) != len(primals):
            raise ValueError(f"{cls.__name__}.backward returned {len(grads)} gradient(s) for "
                             f"{len(primals)} input(s) of forward; return one per input (None for "
                             f"inputs without a gradient)")
        ys = shape_of(y_bar)
        batch = ys[:len(ys) - len(shape_of(out))]
        return [_sum_back(cls.__name__, i, g, p, batch) if need and g is not None else None
                for i, (g, p, need) in enumerate(zip(grads, primals, needs))]
    return vjp


def _sum_back(name: str, i: int, g: Any, primal: Any, batch: tuple) -> Any:
    """A gradient returned by backward, summed back to its input's shape where it was broadcast
    (as PyTorch does); any other shape is an error."""
    gs, ps = shape_of(g), shape_of(primal)
    core = gs[len(batch):] if gs[:len(batch)] == batch else None
    fits = core is not None and len(core) >= len(ps) and all(
        c == p or p == 1 for c, p in zip(core[len(core) - len(ps):], ps))
    if not fits:
        raise ValueError(f"{name}.backward: the gradient for input {i} has shape {gs}, but the "
                         f"input has shape {ps}; return a gradient of the input's shape")
    return g if core == ps else bind(sum_to_op, g, shape=ps, in_shape=core)


def _jvp_rule(cls: type) -> Any:
    def jvp(tangents: Sequence[Any], primals: Sequence[Any], out: Any, params: dict) -> Any:
        rule = getattr(cls, "jvp", None)
        if rule is None:
            raise NotImplementedError(
                f"{cls.__name__}: forward mode needs a static jvp(ctx, *tangents) that returns the "
                f"output tangent; define it on the Function subclass")
        return rule(params["ctx"]._at_level(primals, out), *tangents)
    return jvp
