"""Saving and loading state dicts: ``nn.save(model.state_dict(), "model.npz")``, ``nn.load(path)``.

The file is a numpy ``.npz`` archive: one array per tensor, and the nesting (dicts with string or
integer keys, lists, tuples, numbers, strings, None) described in a JSON entry. Loading reads it
with ``allow_pickle=False``, so a file can never make Python execute code. Writing is atomic: the
archive is written under a temporary name in the same folder, flushed to disk and then renamed, so a
crash never leaves a half-written file under the final name.
"""
from __future__ import annotations

import contextlib
import json
import os
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from reverse import Tensor

_STRUCTURE = "__structure__"


def _encode(obj: Any, arrays: dict, where: str) -> Any:
    """A JSON description of ``obj``; its arrays are moved into ``arrays``."""
    if isinstance(obj, Tensor):
        obj = obj.data
    if isinstance(obj, (np.ndarray, np.generic)):
        if obj.dtype.kind not in "biuf":
            raise TypeError(f"save: {where} is an array of dtype {obj.dtype}; only numeric arrays "
                            f"can be saved")
        name = f"a{len(arrays)}"
        arrays[name] = np.asarray(obj)
        return {"array": name}
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return {"value": obj}
    if isinstance(obj, dict):
        items = []
        for key, value in obj.items():
            if not isinstance(key, (str, int)) or isinstance(key, bool):
                raise TypeError(f"save: {where} has a key {key!r} of type {type(key).__name__}; "
                                f"keys must be strings or ints")
            items.append([key, _encode(value, arrays, f"{where}[{key!r}]")])
        return {"dict": items}
    if isinstance(obj, (list, tuple)):
        kind = "list" if isinstance(obj, list) else "tuple"
        return {kind: [_encode(v, arrays, f"{where}[{i}]") for i, v in enumerate(obj)]}
    raise TypeError(f"save: {where} is a {type(obj).__name__}; a state dict holds tensors, arrays, "
                    f"numbers, strings, None, and dicts, lists or tuples of them")


def _decode(spec: Any, archive: Any) -> Any:
    if "array" in spec:
        return archive[spec["array"]]
    if "value" in spec:
        return spec["value"]
    if "dict" in spec:
        return {key: _decode(value, archive) for key, value in spec["dict"]}
    if "list" in spec:
        return [_decode(v, archive) for v in spec["list"]]
    return tuple(_decode(v, archive) for v in spec["tuple"])


def save(obj: Any, path: str | os.PathLike) -> Path:
    """Write a state dict (nested dicts of tensors and arrays, with numbers and strings) to
    ``path`` atomically; returns the path. Read it back with ``load``."""
    path = Path(path)
    arrays: dict = {}
    structure = json.dumps(_encode(obj, arrays, "obj"))
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **{_STRUCTURE: np.array(structure)}, **arrays)  # type: ignore[arg-type]
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    return path


def load(path: str | os.PathLike) -> Any:
    """Read what ``save`` wrote. The file is read without pickle; a file that is not such an
    archive, or that is truncated or corrupt, raises ValueError naming it."""
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as archive:
            if _STRUCTURE not in archive.files:
                raise ValueError(f"it has no {_STRUCTURE} entry")
            structure = json.loads(str(archive[_STRUCTURE]))
            return _decode(structure, archive)
    except FileNotFoundError:
        raise
    except (ValueError, OSError, EOFError, KeyError, TypeError, zipfile.BadZipFile,
            json.JSONDecodeError) as exc:
        raise ValueError(f"load: {path} is not a state dict written by nn.save, or it is "
                         f"truncated or corrupt ({type(exc).__name__}: {exc}); write it again with "
                         f"nn.save") from exc
