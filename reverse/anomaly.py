"""Checks made while ``detect_anomaly`` is on: NaN and inf in an op's output or in a gradient.

While it is on, each recorded node keeps the lines of the user's code that recorded it (the
library's own frames left out), so that an anomaly found during backward can point at the forward
line that made the op, as PyTorch prints it.
"""
from __future__ import annotations

import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from adcore.levels import raw

# Frames in these folders are the library's own, not the user's code.
_LIBRARY = tuple(str(Path(__file__).resolve().parents[1] / name) + "/"
                 for name in ("adcore", "forward", "reverse", "nn", "optim"))


def origin() -> list:
    """The innermost frames of the user's code on the current stack (the call that records)."""
    frames = [f for f in traceback.extract_stack()[:-1] if not f.filename.startswith(_LIBRARY)]
    return frames[-5:]


def _bad(value: Any) -> str | None:
    """'nan', 'inf' or '-inf' if the floating value holds one (the first kind found), else None."""
    arr = raw(value)
    if arr is None or not isinstance(arr, (np.ndarray, np.generic, float)):
        return None
    arr = np.asarray(arr)
    if arr.dtype.kind != "f" or np.isfinite(arr).all():
        return None
    if np.isnan(arr).any():
        return "nan"
    return "inf" if np.isposinf(arr).any() else "-inf"


def _where(frames: list | None) -> str:
    if not frames:
        return ("(where it was recorded is unknown: it was recorded before detect_anomaly was "
                "turned on)")
    return "it was recorded at:\n" + "".join(traceback.format_list(frames)).rstrip()


def _shapes(values: Sequence[Any]) -> str:
    return ", ".join(str(np.shape(raw(v))) for v in values)


def check_forward(op: Any, primals: Sequence[Any], out: Any, frames: list | None) -> None:
    """Raise if ``out`` holds NaN or inf."""
    kind = _bad(out)
    if kind is None:
        return
    inputs_bad = [i for i, p in enumerate(primals) if _bad(p) is not None]
    cause = (f" (input {inputs_bad[0]} already held {_bad(primals[inputs_bad[0]])}: look at the "
             f"data or an earlier step)" if inputs_bad else "")
    raise RuntimeError(f"detect_anomaly: the forward of {op.name} (inputs of shape "
                       f"{_shapes(primals)}) produced {kind} in its output of shape "
                       f"{np.shape(raw(out))}{cause}; {_where(frames)}")


def check_backward(node: Any, y_bar: Any, x_bars: Sequence[Any]) -> None:
    """Raise if a cotangent that the node's rule computed holds NaN or inf."""
    for i, x_bar in enumerate(x_bars):
        kind = None if x_bar is None else _bad(x_bar)
        if kind is None:
            continue
        incoming = _bad(y_bar)
        cause = (f" (the gradient coming in already held {incoming})" if incoming else
                 " from a finite incoming gradient")
        raise RuntimeError(
            f"detect_anomaly: the backward of {node.op.name} (inputs of shape "
            f"{_shapes([p for p in node.primals])}) produced {kind} in the gradient for input "
            f"{i}{cause}; {_where(getattr(node, 'origin', None))}")
