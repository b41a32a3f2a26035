"""Saving and loading state dicts: ``nn.save(model.state_dict(), "model.npz")``, ``nn.load(path)``.

The file is a numpy ``.npz`` archive: one array per tensor, and the nesting (dicts with string or
integer keys, lists, tuples, numbers, strings, None) described in a JSON entry ``__structure__``.
An ``.npz`` without that entry (for example one written by ``np.savez(path, **arrays)``) loads as
a flat dict of its arrays.

Loading never runs code from the file and its memory is bounded before anything is read:

- The archive is read with ``zipfile`` and ``numpy.lib.format`` directly, never with pickle; only
  numeric arrays are accepted.
- Each stored array is read at most once, however often the structure names it (a structure that
  names one array twice gets the same array object twice).
- Before any data is read, the sizes that the arrays' ``.npy`` headers and zip entries declare are
  checked against each other and added up (the structure entry counts 8 times its size, for the
  Python objects that parsing it makes); more than ``max_bytes`` (default 4 GiB) raises ValueError
  naming the file. Pass a larger ``max_bytes=`` to ``nn.load`` for a larger file you trust. Reading
  then allocates each array once, plus buffers of about 1 MiB.
- The nesting is at most ``MAX_DEPTH`` (100) levels deep, in ``save`` as in ``load``.
- Anything wrong with the file (not a zip archive, truncated, corrupt, too large, too deeply nested,
  not numeric) raises ``ValueError`` that names ``nn.load``, the file, what is wrong and what to do.

Converting a PyTorch checkpoint. ``nn.load`` does not read ``.pt`` / ``.pth`` files (they are
pickles, and unpickling can run any code). In PyTorch, where you trust the file, write its tensors
to an ``.npz``, then load that here::

    sd = torch.load("model.pt", map_location="cpu", weights_only=True)   # in PyTorch
    np.savez("model.npz", **{k: v.numpy() for k, v in sd.items()})
    model.load_state_dict(nn.load("model.npz"))                           # here

Saving writes the archive under a temporary name next to the target (``.NAME.PID.TID.nn-save-tmp``),
flushes it to disk and renames it over the target, so the target holds either the old or the new
file, never a partial one, even if the process is killed. A temporary file left by a killed save is
removed by the next ``save`` to the same target (on POSIX, once the process that wrote it is gone).
Saving over an existing file keeps its permission bits; a new file gets the permissions that the
umask gives (as ``np.savez``). Saving to a symbolic link writes through it: the file the link points
to is replaced and the link stays.
"""
from __future__ import annotations

import contextlib
import json
import math
import os
import re
import stat
import threading
import zipfile
import zlib
from pathlib import Path
from typing import Any

import numpy as np
from numpy.lib import format as npy_format

from reverse import Tensor

_STRUCTURE = "__structure__"
MAX_DEPTH = 100  # levels of dicts, lists and tuples, for save and load alike
DEFAULT_MAX_BYTES = 4 << 30
_STRUCTURE_FACTOR = 8  # what parsing the structure allocates, per byte of its entry (measured: ~5)
_CHUNK = 256 << 10
_TMP_SUFFIX = ".nn-save-tmp"

_RECIPE = ("to convert a PyTorch state_dict, in PyTorch run np.savez('model.npz', "
           "**{k: v.numpy() for k, v in state_dict.items()}), then nn.load('model.npz') "
           "(see nn.io's docstring)")


def _size(n: float) -> str:
    for unit in ("bytes", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if n < 1024 or unit == "PiB":
            return f"{n:.0f} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024
    raise AssertionError  # pragma: no cover


# --- save --------------------------------------------------------------------------------------

def _encode(obj: Any, arrays: dict, where: str, depth: int = 0, path_ids: tuple = ()) -> Any:
    """A JSON description of ``obj``; its arrays are moved into ``arrays``."""
    if isinstance(obj, Tensor):
        obj = obj.data
    if isinstance(obj, (np.ndarray, np.generic)):
        if obj.dtype.kind not in "biuf" or obj.dtype.fields is not None:
            raise TypeError(f"nn.save: {where} is an array of dtype {obj.dtype}; only numeric "
                            f"arrays can be saved (convert it, e.g. with .astype(np.float32))")
        name = f"a{len(arrays)}"
        arrays[name] = np.asarray(obj)
        return {"array": name}
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return {"value": obj}
    if isinstance(obj, (dict, list, tuple)):
        if id(obj) in path_ids:
            raise ValueError(f"nn.save: {where} contains itself (a {type(obj).__name__} that holds "
                             f"a reference to itself), which no file can describe; save a copy "
                             f"without the cycle")
        if depth >= MAX_DEPTH:
            raise ValueError(f"nn.save: {where} is nested more than {MAX_DEPTH} levels deep "
                             f"(dicts, lists and tuples); a state dict is a few levels deep, so "
                             f"flatten it, e.g. with keys like 'layer.0.weight'")
        path_ids = path_ids + (id(obj),)
    if isinstance(obj, dict):
        items = []
        for key, value in obj.items():
            if not isinstance(key, (str, int)) or isinstance(key, bool):
                raise TypeError(f"nn.save: {where} has a key {key!r} of type "
                                f"{type(key).__name__}; keys must be strings or ints")
            items.append([key, _encode(value, arrays, f"{where}[{key!r}]", depth + 1, path_ids)])
        return {"dict": items}
    if isinstance(obj, (list, tuple)):
        kind = "list" if isinstance(obj, list) else "tuple"
        return {kind: [_encode(v, arrays, f"{where}[{i}]", depth + 1, path_ids)
                       for i, v in enumerate(obj)]}
    raise TypeError(f"nn.save: {where} is a {type(obj).__name__}; a state dict holds tensors, "
                    f"arrays, numbers, strings, None, and dicts, lists or tuples of them")


def _tmp_pattern(name: str) -> re.Pattern:
    return re.compile(rf"\.{re.escape(name)}\.(\d+)\.(\d+){re.escape(_TMP_SUFFIX)}")


def _remove_stale_temporaries(target: Path) -> None:
    """Remove the temporary files that saves to ``target`` killed mid-way left behind: those
    whose process no longer runs (POSIX only: elsewhere a pid cannot be probed safely)."""
    if os.name != "posix":
        return
    pattern = _tmp_pattern(target.name)
    with contextlib.suppress(OSError):
        for entry in os.scandir(target.parent):
            match = pattern.fullmatch(entry.name)
            if match is None:
                continue
            pid = int(match.group(1))
            if pid == os.getpid():
                continue  # one of our own threads may be writing it
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                with contextlib.suppress(OSError):
                    os.unlink(entry.path)
            except OSError:
                pass  # alive, owned by another user


def save(obj: Any, path: str | os.PathLike) -> Path:
    """Write a state dict (nested dicts of tensors and arrays, with numbers and strings) to
    ``path`` atomically; returns the path. Read it back with ``load``.

    Over an existing file, its permission bits are kept; a symbolic link is written through (the
    file it points to is replaced). A save killed mid-way leaves the old file intact; the temporary
    file it leaves next to the target is removed by the next save to that target."""
    path = Path(path)
    arrays: dict = {}
    structure = json.dumps(_encode(obj, arrays, "obj"))
    target = Path(os.path.realpath(path))  # write through symbolic links
    try:
        mode: int | None = stat.S_IMODE(os.stat(target).st_mode)
    except FileNotFoundError:
        mode = None  # a new file: the umask decides, as for np.savez
    if target.is_dir():
        raise IsADirectoryError(f"nn.save: {path} is a directory; give a file name such as "
                                f"{path / 'model.npz'}")
    _remove_stale_temporaries(target)
    tmp = target.parent / f".{target.name}.{os.getpid()}.{threading.get_ident()}{_TMP_SUFFIX}"
    with contextlib.suppress(FileNotFoundError):
        tmp.unlink()  # our own, from a save that could not clean up
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    fd = os.open(tmp, flags, 0o666)
    try:
        with os.fdopen(fd, "wb") as f:
            if mode is not None:
                os.chmod(tmp, mode)
            np.savez(f, **{_STRUCTURE: np.array(structure)}, **arrays)  # type: ignore[arg-type]
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    if os.name == "posix":
        with contextlib.suppress(OSError):
            dir_fd = os.open(target.parent, os.O_RDONLY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)
    return path


# --- load --------------------------------------------------------------------------------------

class _Refused(Exception):
    """What is wrong with the file, as a sentence; load turns it into the ValueError."""


_TORCH_LEGACY_MAGIC = b"\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19"


def _not_a_zip(head: bytes) -> str:
    """What a file that is not a zip archive is, from its first bytes."""
    if not head:
        return "is empty (0 bytes); save it again with nn.save"
    if head.startswith(_TORCH_LEGACY_MAGIC):
        return (f"is a PyTorch checkpoint in the legacy pickle format (torch.save with "
                f"_use_new_zipfile_serialization=False), not an .npz archive; nn.load never "
                f"unpickles, since unpickling can run code; {_RECIPE}")
    if head[:1] == b"\x80" and head[1:2] in (b"\x02", b"\x03", b"\x04", b"\x05"):
        return (f"is a Python pickle (a legacy PyTorch checkpoint, or pickle.dump), not an .npz "
                f"archive; nn.load never unpickles, since unpickling can run code; {_RECIPE}")
    if head.startswith(b"\x93NUMPY"):
        return ("is a single .npy array (np.save), not an .npz archive of a state dict; load it "
                "with np.load(path, allow_pickle=False), or save a dict with nn.save")
    if head.startswith(b"\x89HDF"):
        return ("is an HDF5 file (Keras, h5py), not an .npz archive; read its arrays with h5py and "
                "save them with nn.save or np.savez")
    if len(head) >= 9 and head[8:9] == b"{" and head[9:10] in (b'"', b" ", b"}"):
        return ("looks like a safetensors file, not an .npz archive; read it with "
                "safetensors.numpy.load_file and save the dict with nn.save or np.savez")
    return (f"is not an .npz archive (a zip file): it starts with the bytes {head[:8]!r}, where a "
            f"zip archive starts with b'PK\\x03\\x04'; check the path, or {_RECIPE}")


def _open_members(archive: zipfile.ZipFile) -> dict[str, zipfile.ZipInfo]:
    names = archive.namelist()
    if any(n == "data.pkl" or n.endswith("/data.pkl") for n in names):
        raise _Refused(f"is a PyTorch checkpoint (torch.save: a zip archive holding data.pkl, a "
                       f"pickle), not an .npz archive; nn.load never unpickles, since unpickling "
                       f"can run code; {_RECIPE}")
    members: dict[str, zipfile.ZipInfo] = {}
    for info in archive.infolist():
        if info.filename.endswith(".npy"):
            members[info.filename[:-4]] = info
    if not members:
        shown = ", ".join(names[:5]) + (", ..." if len(names) > 5 else "")
        raise _Refused(f"is a zip archive but not an .npz: it holds no .npy arrays "
                       f"({len(names)} entries: {shown or 'none'}); save the state dict with "
                       f"nn.save")
    return members


def _header(archive: zipfile.ZipFile, info: zipfile.ZipInfo, name: str) -> tuple:
    """The .npy header of one member: (shape, fortran_order, dtype, data offset), read and
    checked against the zip entry's declared size before any data is read."""
    with archive.open(info) as f:
        version = npy_format.read_magic(f)
        if version == (1, 0):
            shape, fortran, dtype = npy_format.read_array_header_1_0(f)
        elif version in ((2, 0), (3, 0)):
            shape, fortran, dtype = npy_format.read_array_header_2_0(f)
        else:  # pragma: no cover - read_magic refuses other versions
            raise _Refused(f"array {name!r} has an unknown .npy version {version}")
        offset = f.tell()
    if any(not isinstance(n, int) or n < 0 for n in shape):
        raise _Refused(f"array {name!r} declares an invalid shape {shape}")
    return shape, fortran, dtype, offset


def _check_member(info: zipfile.ZipInfo, name: str, shape: tuple, dtype: np.dtype,
                  offset: int) -> int:
    """The bytes the member's array takes, after checking its header against its zip entry."""
    nbytes = math.prod(shape) * dtype.itemsize
    if offset + nbytes != info.file_size:
        raise _Refused(f"is truncated or corrupt: array {name!r} declares shape {shape} "
                       f"{dtype} ({_size(nbytes)}), but its zip entry declares "
                       f"{_size(info.file_size)} in all; save it again with nn.save")
    return nbytes


def _read_data(archive: zipfile.ZipFile, info: zipfile.ZipInfo, shape: tuple, fortran: bool,
               dtype: np.dtype, offset: int) -> np.ndarray:
    """The member's array, read into one allocation in chunks of _CHUNK bytes."""
    count = math.prod(shape)
    out = np.empty(count, dtype=dtype)
    view = out.view(np.uint8).reshape(-1) if count else np.empty(0, np.uint8)
    with archive.open(info) as f:
        f.read(offset)
        done = 0
        while done < view.size:
            chunk = f.read(min(_CHUNK, view.size - done))
            if not chunk:
                raise EOFError(f"the data of {info.filename} ends after {done} bytes")
            view[done:done + len(chunk)] = np.frombuffer(chunk, np.uint8)
            done += len(chunk)
    if fortran:
        return out.reshape(shape[::-1]).transpose()
    return out.reshape(shape)


_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)


def _json_depth(text: str) -> int:
    """How deeply the JSON text nests brackets (strings skipped), without parsing it."""
    brackets = _NOT_BRACKET.sub("", _STRING.sub("", text))
    if not brackets:
        return 0
    steps = np.frombuffer(brackets.encode("ascii"), np.uint8)
    return int(np.cumsum(np.where((steps == ord("[")) | (steps == ord("{")), 1, -1)).max())


_NOT_BRACKET = re.compile(r"[^\[\]{}]+")


def _walk(spec: Any, names: set[str], depth: int) -> None:
    """Check a structure and collect the array names it uses; refuses anything nn.save never
    writes."""
    if depth > MAX_DEPTH:
        raise _Refused(f"has a structure nested more than {MAX_DEPTH} levels deep, which nn.save "
                       f"never writes; the file is corrupt or was made to attack the loader")
    if not isinstance(spec, dict) or len(spec) != 1:
        raise _Refused(f"has a malformed structure entry (at {str(spec)[:60]!r}); save it again "
                       f"with nn.save")
    (kind, body), = spec.items()
    if kind == "array" and isinstance(body, str):
        names.add(body)
    elif kind == "value" and (body is None or isinstance(body, (bool, int, float, str))):
        pass
    elif kind == "dict" and isinstance(body, list):
        for item in body:
            if (not isinstance(item, list) or len(item) != 2
                    or not isinstance(item[0], (str, int)) or isinstance(item[0], bool)):
                raise _Refused(f"has a malformed dict in its structure entry (item "
                               f"{str(item)[:60]!r}); save it again with nn.save")
            _walk(item[1], names, depth + 1)
    elif kind in ("list", "tuple") and isinstance(body, list):
        for item in body:
            _walk(item, names, depth + 1)
    else:
        raise _Refused(f"has a malformed structure entry (at {str(spec)[:60]!r}); save it again "
                       f"with nn.save")


def _build(spec: dict, arrays: dict[str, np.ndarray]) -> Any:
    (kind, body), = spec.items()
    if kind == "array":
        return arrays[body]
    if kind == "value":
        return body
    if kind == "dict":
        return {key: _build(value, arrays) for key, value in body}
    if kind == "list":
        return [_build(v, arrays) for v in body]
    return tuple(_build(v, arrays) for v in body)


def _load(path: Path, max_bytes: int) -> Any:
    with open(path, "rb") as f:
        head = f.read(16)
    if not head.startswith(b"PK\x03\x04") and not head.startswith(b"PK\x05\x06"):
        raise _Refused(_not_a_zip(head))
    try:
        archive = zipfile.ZipFile(path)
    except zipfile.BadZipFile as exc:
        raise _Refused("starts like a zip archive but is truncated or corrupt: its table of "
                       "contents, at the end of a zip file, is missing or damaged (as after an "
                       "interrupted copy or download); copy it again, or save it again with "
                       "nn.save") from exc
    with archive:
        members = _open_members(archive)
        headers: dict[str, tuple] = {}
        total = 0
        fix = "if you trust the file and have the memory, pass a larger max_bytes= to nn.load"

        def declare(name: str, factor: int = 1) -> tuple:
            nonlocal total
            info = members[name]
            shape, fortran, dtype, offset = _header(archive, info, name)
            if name == _STRUCTURE:
                if dtype.kind != "U" or shape != ():
                    raise _Refused(f"has a {_STRUCTURE} entry of dtype {dtype} and shape "
                                   f"{shape}, where nn.save writes one string")
            elif dtype.kind not in "biuf" or dtype.fields is not None or dtype.shape != ():
                raise _Refused(f"is not a state dict written by nn.save: array {name!r} has "
                               f"dtype {dtype}, and nn.load reads only numeric arrays (it never "
                               f"unpickles objects); save the state dict with nn.save")
            nbytes = _check_member(info, name, shape, dtype, offset)
            total += nbytes * factor
            headers[name] = (shape, fortran, dtype, offset)
            return headers[name]

        if _STRUCTURE in members:
            header = declare(_STRUCTURE, _STRUCTURE_FACTOR)
            if total > max_bytes:
                raise _Refused(f"would need more than max_bytes={_size(max_bytes)} to load: its "
                               f"{_STRUCTURE} entry declares {_size(total // _STRUCTURE_FACTOR)}, "
                               f"which parsing takes {_STRUCTURE_FACTOR} times; {fix}")
            text = str(_read_data(archive, members[_STRUCTURE], *header)[()])
            if _json_depth(text) > 3 * MAX_DEPTH + 1:
                raise _Refused(f"has a structure nested more than {MAX_DEPTH} levels deep, which "
                               f"nn.save never writes; the file is corrupt or was made to attack "
                               f"the loader")
            try:
                structure = json.loads(text)
            except (json.JSONDecodeError, RecursionError) as exc:
                raise _Refused(f"has a {_STRUCTURE} entry that is not valid JSON ({exc}); save "
                               f"it again with nn.save") from exc
            names: set[str] = set()
            _walk(structure, names, 0)
            missing = sorted(n for n in names if n not in members or n == _STRUCTURE)
            if missing:
                raise _Refused(f"is truncated or corrupt: its structure names arrays that it does "
                               f"not hold ({', '.join(missing[:5])}); save it again with nn.save")
        else:  # a plain np.savez archive: a flat dict of its arrays
            structure = {"dict": [[n, {"array": n}] for n in members]}
            names = set(members)
        ordered = sorted(names)
        for name in ordered:  # every size is checked before any array is read
            declare(name)
        if total > max_bytes:
            largest = max(ordered, key=lambda n: math.prod(headers[n][0]) * headers[n][2].itemsize)
            shape, _, dtype, _ = headers[largest]
            raise _Refused(f"would need more than max_bytes={_size(max_bytes)} to load: the "
                           f"arrays it names declare {_size(total)} in all (the largest, "
                           f"{largest!r}, shape {shape} {dtype}); {fix}")
        arrays = {name: _read_data(archive, members[name], *headers[name]) for name in ordered}
        return _build(structure, arrays)


def load(path: str | os.PathLike, *, max_bytes: int = DEFAULT_MAX_BYTES) -> Any:
    """Read what ``save`` wrote (or a plain ``np.savez`` archive, as a flat dict). The file is
    read without pickle, each array once, and refused before reading if the arrays it declares
    total more than ``max_bytes`` (default 4 GiB; raise it for a large file you trust). A file that
    is not such an archive, or is truncated, corrupt, too large or too deeply nested, raises
    ValueError naming it; a PyTorch checkpoint gets the recipe to convert it (see the module's
    docstring)."""
    path = Path(path)
    if not isinstance(max_bytes, (int, np.integer)) or isinstance(max_bytes, bool) \
            or max_bytes < 0:
        raise TypeError(f"nn.load: max_bytes must be a non-negative int (a number of bytes), got "
                        f"{max_bytes!r}")
    try:
        return _load(path, int(max_bytes))
    except _Refused as exc:
        raise ValueError(f"nn.load: {path} {exc}") from None
    except (ValueError, OSError, EOFError, KeyError, TypeError, zipfile.BadZipFile, zlib.error,
            NotImplementedError, RuntimeError, RecursionError) as exc:
        if isinstance(exc, (FileNotFoundError, IsADirectoryError, PermissionError)):
            raise
        raise ValueError(f"nn.load: {path} is not a state dict written by nn.save, or it is "
                         f"truncated or corrupt ({type(exc).__name__}: {exc}); save it again "
                         f"with nn.save") from exc
