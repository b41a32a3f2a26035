"""Custom ops: subclass ``Function`` with static ``forward(ctx, ...)`` and ``backward(ctx, y_bar)``.

Each subclass becomes an adcore ``Op`` whose forward rule calls ``forward`` and whose VJP calls
``backward``; ``apply`` binds it like any registry op, so a custom op is recorded by the same tape
(and works in forward mode too when the class also defines ``jvp(ctx, *tangents)``).

``forward`` receives the inputs' values one level down (numpy arrays, for tensors made by hand) and
returns one array; ``backward`` receives the output's cotangent and returns one gradient per input
(None where there is none).
"""
from __future__ import annotations

from typing import Any, Sequence

from adcore.levels import bind
from adcore.registry import Op
from adcore.shapes import shape_of


class FunctionCtx:
    """What ``forward`` leaves for ``backward``: saved values and any attributes it sets."""

    def __init__(self) -> None:
        self.saved_tensors: tuple = ()
        self.needs_input_grad: tuple[bool, ...] = ()

    def save_for_backward(self, *values: Any) -> None:
        """Keep values (inputs, outputs or intermediates) for backward, as ``ctx.saved_tensors``."""
        self.saved_tensors = values


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
        return bind(cls._op, *args, ctx=FunctionCtx())


def _forward_rule(cls: type) -> Any:
    def impl(*args: Any, ctx: FunctionCtx) -> Any:
        return cls.forward(ctx, *args)
    return impl


def _vjp_rule(cls: type) -> Any:
    def vjp(y_bar: Any, primals: Sequence[Any], out: Any, params: dict,
            needs: Sequence[bool]) -> list:
        ctx = params["ctx"]
        ctx.needs_input_grad = tuple(needs)
        grads = cls.backward(ctx, y_bar)
        grads = list(grads) if isinstance(grads, (tuple, list)) else [grads]
        if len(grads) != len(primals):
            raise ValueError(f"{cls.__name__}.backward returned {len(grads)} gradient(s) for "
                             f"{len(primals)} input(s) of forward; return one per input (None for "
                             f"inputs without a gradient)")
        for i, (g, p) in enumerate(zip(grads, primals)):
            if g is not None and needs[i]:
                gs, ps, ys = shape_of(g), shape_of(p), shape_of(y_bar)
                if gs[len(gs) - len(ps):] != ps:
                    raise ValueError(f"{cls.__name__}.backward: the gradient for input {i} has "
                                     f"shape {gs}, but the input has shape {ps} (output cotangent "
                                     f"{ys}); sum it back to the input's shape")
        return [g if need else None for g, need in zip(grads, needs)]
    return vjp


def _jvp_rule(cls: type) -> Any:
    def jvp(tangents: Sequence[Any], primals: Sequence[Any], out: Any, params: dict) -> Any:
        rule = getattr(cls, "jvp", None)
        if rule is None:
            raise NotImplementedError(
                f"{cls.__name__}: forward mode needs a static jvp(ctx, *tangents) that returns the "
                f"output tangent; define it on the Function subclass")
        return rule(params["ctx"], *tangents)
    return jvp
