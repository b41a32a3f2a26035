"""Numerical checks: central finite differences, and gradcheck across both engines."""
from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from adcore.levels import raw, transforms


class GradcheckError(AssertionError):
    """Two ways of computing a Jacobian disagree (forward mode, reverse mode, finite
    differences)."""


def _as_tuple(out: Any) -> tuple:
    return tuple(out) if isinstance(out, (tuple, list)) else (out,)


def numerical_jacobian(f: Callable[..., Any], x: Any, eps: float = 1e-6) -> np.ndarray:
    """The Jacobian of ``f`` at ``x`` by central differences in float64, shape f(x).shape + x.shape.

    J[..., i] = (f(x + eps e_i) - f(x - eps e_i)) / (2 eps). ``f`` must return one array.

    >>> numerical_jacobian(lambda x: x ** 2, np.array([1.0, 3.0])).round(6)
    array([[2., 0.],
           [0., 6.]])
    """
    x = np.array(x, dtype=np.float64, order="C")  # C order: ``flat`` below is a view of x
    out_shape = np.shape(f(x.copy()))
    jac = np.zeros(out_shape + (x.size,))
    flat = x.reshape(-1)
    for i in range(x.size):
        saved = flat[i]
        flat[i] = saved + eps
        plus = np.asarray(f(x.copy()), dtype=np.float64)
        flat[i] = saved - eps
        minus = np.asarray(f(x.copy()), dtype=np.float64)
        flat[i] = saved
        jac[..., i] = (plus - minus) / (2 * eps)
    return jac.reshape(out_shape + x.shape)


def _engine(name: str) -> Callable[..., Any]:
    if name not in transforms:
        engine = "forward" if name == "jvp" else "reverse"
        raise RuntimeError(f"gradcheck needs the {engine} engine: `import forward, reverse` "
                           f"before calling it")
    return transforms[name]


def _is_float(x: Any) -> bool:
    return np.issubdtype(np.result_type(x), np.floating)


def jacobians(f: Callable[..., Any], inputs: Sequence[Any], eps: float = 1e-6
              ) -> dict[str, list[list[np.ndarray]]]:
    """The Jacobians of f at ``inputs`` by forward mode, reverse mode and finite differences.

    Each entry is indexed [output][input] (floating inputs only), with shape out.shape + in.shape.
    Forward mode pushes the identity through one batched JVP per input; reverse mode pulls it back
    through one batched VJP per output.
    """
    args = [np.array(x, dtype=np.float64) if _is_float(x) else x for x in inputs]
    wrt = [i for i, x in enumerate(args) if _is_float(x)]

    def g(*diff: Any) -> tuple:
        full = list(args)
        for i, v in zip(wrt, diff):
            full[i] = v
        return _as_tuple(f(*full))

    primals = [args[i] for i in wrt]
    outs = [np.asarray(o) for o in g(*primals)]
    fd = [[numerical_jacobian(lambda v, j=j, k=k: g(*_replace(primals, k, v))[j], primals[k], eps)
           for k in range(len(primals))] for j in range(len(outs))]

    jvp = _engine("jvp")
    fwd: list[list[np.ndarray]] = [[None] * len(primals) for _ in outs]  # type: ignore[list-item]
    for k, x in enumerate(primals):
        n = x.size
        tangents = [np.zeros((n,) + p.shape) for p in primals]
        tangents[k] = np.eye(n).reshape((n,) + x.shape)
        _, out_dots = jvp(g, primals, tangents)
        for j, (o, t) in enumerate(zip(outs, _as_tuple(out_dots))):
            t = np.asarray(t).reshape((n,) + o.shape)
            fwd[j][k] = np.moveaxis(t, 0, -1).reshape(o.shape + x.shape)

    vjp = _engine("vjp")
    rev: list[list[np.ndarray]] = [[None] * len(primals) for _ in outs]  # type: ignore[list-item]
    _, pullback = vjp(g, *primals)
    for j, o in enumerate(outs):
        m = o.size
        cts = [np.zeros((m,) + q.shape) for q in outs]
        cts[j] = np.eye(m).reshape((m,) + o.shape)
        x_bars = _as_tuple(pullback(tuple(cts)))
        for k, x in enumerate(primals):
            rev[j][k] = np.asarray(x_bars[k]).reshape(o.shape + x.shape)
    return {"forward": fwd, "reverse": rev, "finite differences": fd}


def _replace(seq: Sequence[Any], k: int, v: Any) -> list:
    out = list(seq)
    out[k] = v
    return out


def _worst(a: np.ndarray, b: np.ndarray, atol: float, rtol: float) -> tuple[float, tuple] | None:
    """The largest violation of |a - b| <= atol + rtol |b| (and where), or None when there is
    none."""
    excess = np.abs(a - b) - (atol + rtol * np.abs(b))
    excess = np.where(np.isnan(a) != np.isnan(b), np.inf, np.nan_to_num(excess, nan=-1.0))
    if excess.size == 0 or excess.max() <= 0:
        return None
    at = np.unravel_index(int(np.argmax(excess)), excess.shape)
    return float(np.abs(a - b)[at]), tuple(int(i) for i in at)


def gradcheck(f: Callable[..., Any], *inputs: Any, eps: float = 1e-6, atol: float = 1e-6,
              rtol: float = 1e-5, mode_rtol: float = 1e-9) -> bool:
    """Check f's derivatives three ways: forward mode, reverse mode and finite differences
    (float64).

    Raises ``GradcheckError`` naming the function, the output and input, the two methods that
    disagree and the worst entry. Finite differences are compared with ``atol + rtol * |fd|``;
    forward and reverse mode, both exact, with ``atol * 1e-3 + mode_rtol * |reverse|``. Non-floating
    inputs (masks, indices) are held constant. Returns True when everything agrees.

    >>> import forward, reverse  # the engines register themselves with adcore
    >>> from adcore import ops
    >>> gradcheck(lambda x, y: ops.sin(x) * y, np.array([0.5, 1.0]), np.array([2.0, -1.0]))
    True

    PyTorch's signature, ``gradcheck(f, (x, y))`` with the inputs in one tuple, means the same;
    Tensors among the inputs give their values.
    """
    if len(inputs) == 1 and type(inputs[0]) is tuple:
        inputs = inputs[0]
    inputs = tuple(raw(x) for x in inputs)
    name = getattr(f, "__name__", repr(f))
    jac = jacobians(f, inputs, eps)
    wrt = [i for i, x in enumerate(inputs) if _is_float(x)]
    pairs = [("forward", "finite differences", atol, rtol),
             ("reverse", "finite differences", atol, rtol),
             ("forward", "reverse", atol * 1e-3, mode_rtol)]
    for a_name, b_name, a_tol, r_tol in pairs:
        for j, row in enumerate(jac[a_name]):
            for k, a in enumerate(row):
                b = jac[b_name][j][k]
                found = _worst(a, b, a_tol, r_tol)
                if found is None:
                    continue
                diff, at = found
                raise GradcheckError(
                    f"gradcheck({name}): d output {j} / d input {wrt[k]}: {a_name} mode disagrees "
                    f"with {b_name}; worst entry at Jacobian index {at} (output index, then input "
                    f"index): {a_name} = {a[at]:.10g}, {b_name} = {b[at]:.10g} "
                    f"(|diff| = {diff:.3g}, allowed {a_tol:.1g} + {r_tol:.1g} * |{b_name}|)")
    return True
