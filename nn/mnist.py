"""MNIST: find, download, check and read the four IDX files (standard library and numpy only).

Usage::

    from nn.mnist import load_mnist
    x_train, y_train = load_mnist()             # (60000, 28, 28) uint8, (60000,) uint8
    x_test, y_test = load_mnist(train=False)    # (10000, 28, 28) uint8, (10000,) uint8

Where the data is looked for, in this order (the first folder that holds all four files wins):

1. the ``data_dir`` argument, if given;
2. the folder named by the environment variable ``MNIST_DIR``;
3. the cache folder, ``default_cache_dir()``: ``$XDG_CACHE_HOME/dualtape/mnist``, else
   ``~/.cache/dualtape/mnist`` (``%LOCALAPPDATA%\\dualtape\\mnist`` on Windows).

Each file may be gzip-compressed (``train-images-idx3-ubyte.gz``) or not
(``train-images-idx3-ubyte``); ``read_idx`` tells them apart by their first bytes, not their names.
When no folder has them all and ``download`` is true, the missing files are fetched into
``data_dir`` (or the cache folder) from ``MIRRORS``, tried in turn as torchvision does. A download
counts only when the md5 of its *decompressed* contents matches: that checksum is the same on every
mirror, whereas a re-compressed archive has a different .gz checksum. Files are written under a
temporary name and renamed once complete, so an interrupted or bad download never leaves a file
under the final name. Every download is bounded: a mirror may send at most ``max_download``
bytes for a file (its known IDX size plus gzip's overhead; a larger Content-Length is refused
before reading), the bytes are checked as they arrive by a streaming decompressor that stops at
the file's known size (a gzip bomb costs a megabyte, not gigabytes), no read may wait more than
``timeout`` seconds and each file must arrive within ``deadline`` seconds. A failed lookup
removes the folders it created. Offline, download the four files by hand into a folder and pass
it as ``data_dir`` (``--data-dir`` on the command line) or set ``MNIST_DIR``.

Files already present are not checksummed on every call (hashing 55 MB each run is wasted time);
``verify(folder)`` checks them on demand.
"""
from __future__ import annotations

import contextlib
import gzip
import hashlib
import http.client
import math
import os
import struct
import tempfile
import time
import urllib.error
import urllib.request
import zlib
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import NamedTuple

import numpy as np

__all__ = ["FILES", "MIRRORS", "MnistFile", "default_cache_dir", "find_mnist", "load_mnist",
           "read_idx", "verify"]


class MnistFile(NamedTuple):
    """One of the four MNIST files: its name on the mirrors, checksum and array shape."""

    name: str  # gzip-compressed name, as served by the mirrors
    md5: str  # of the decompressed IDX contents, the same whatever compressed them
    shape: tuple[int, ...]

    @property
    def raw_name(self) -> str:
        """The name of the decompressed file (without ``.gz``)."""
        return self.name.removesuffix(".gz")

    @property
    def raw_size(self) -> int:
        """The size of the decompressed IDX file: a 4-byte magic, 4 bytes a dimension, uint8s."""
        return 4 + 4 * len(self.shape) + math.prod(self.shape)

    @property
    def max_download(self) -> int:
        """The most bytes a mirror may send for this file: gzip never grows data by 1% + 1 KB."""
        return self.raw_size + self.raw_size // 100 + 1024


TRAIN_IMAGES = MnistFile("train-images-idx3-ubyte.gz", "6bbc9ace898e44ae57da46a324031adb",
                         (60000, 28, 28))
TRAIN_LABELS = MnistFile("train-labels-idx1-ubyte.gz", "a25bea736e30d166cdddb491f175f624",
                         (60000,))
TEST_IMAGES = MnistFile("t10k-images-idx3-ubyte.gz", "2646ac647ad5339dbf082846283269ea",
                        (10000, 28, 28))
TEST_LABELS = MnistFile("t10k-labels-idx1-ubyte.gz", "27ae3e4e09519cfbb04c329615203637",
                        (10000,))
FILES = (TRAIN_IMAGES, TRAIN_LABELS, TEST_IMAGES, TEST_LABELS)

MIRRORS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "http://yann.lecun.com/exdb/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
)

_GZIP_MAGIC = b"\x1f\x8b"
# IDX type codes; the format stores every multi-byte number big-endian.
_IDX_DTYPES: dict[int, np.dtype] = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_REFETCH = "delete the file and download it again"
_CHUNK = 1 << 20
# Some mirrors refuse urllib's default User-Agent.
_USER_AGENT = "dualtape-mnist/0.1 (+urllib)"

PathLike = str | os.PathLike[str]
Progress = Callable[[str], None]


def _idx_bytes(path: Path) -> bytes:
    """The IDX contents of the file ``path``, decompressed if it starts with the gzip magic."""
    data = path.read_bytes()
    if not data:
        raise ValueError(f"{path}: expected an IDX file (raw or gzip-compressed), found an empty "
                         f"file; {_REFETCH}")
    if data[:2] != _GZIP_MAGIC:
        return data
    try:
        return gzip.decompress(data)
    except (OSError, EOFError, zlib.error) as exc:
        raise ValueError(f"{path}: expected a complete gzip stream, found a corrupt or truncated "
                         f"one ({exc}); {_REFETCH}") from exc


def _parse_idx(data: bytes, path: Path) -> np.ndarray:
    """The array held by the IDX bytes ``data`` (read from ``path``, named in errors)."""
    if len(data) < 4 or data[:2] != b"\0\0" or data[2] not in _IDX_DTYPES or data[3] == 0:
        codes = ", ".join(f"0x{c:02X} {d.name}" for c, d in _IDX_DTYPES.items())
        raise ValueError(f"{path}: bad IDX magic number 0x{data[:4].hex()}; expected two zero "
                         f"bytes, a type code ({codes}) and a number of dimensions >= 1; "
                         f"{_REFETCH}")
    dtype, ndim = _IDX_DTYPES[data[2]], data[3]
    header = 4 + 4 * ndim
    if len(data) < header:
        raise ValueError(f"{path}: truncated IDX header: expected {header} bytes for {ndim} "
                         f"dimensions, found {len(data)}; {_REFETCH}")
    dims = struct.unpack_from(f">{ndim}I", data, 4)
    count = math.prod(dims)
    expected, found = count * dtype.itemsize, len(data) - header
    if found != expected:
        what = "truncated" if found < expected else "trailing bytes after the data"
        raise ValueError(f"{path}: {what}: dimensions {dims} of {dtype.name} need {expected} "
                         f"payload bytes, found {found}; {_REFETCH}")
    arr = np.frombuffer(data, dtype=dtype, count=count, offset=header).reshape(dims)
    # The copy is native-endian and writable, and lets the file's bytes be freed.
    return arr.astype(dtype.newbyteorder("="))


def read_idx(path: PathLike) -> np.ndarray:
    """Read an IDX file, raw or gzip-compressed, as a native-endian array of its dimensions."""
    path = Path(path)
    return _parse_idx(_idx_bytes(path), path)


def default_cache_dir() -> Path:
    """The per-user cache folder for MNIST: ``$XDG_CACHE_HOME/dualtape/mnist`` or its fallback."""
    if os.name == "nt":
        local = os.environ.get("LOCALAPPDATA")
        base = Path(local) if local else Path.home() / "AppData" / "Local"
    else:
        xdg = os.environ.get("XDG_CACHE_HOME")
        # The XDG spec says a relative value is invalid and must be ignored.
        base = Path(xdg) if xdg and os.path.isabs(xdg) else Path.home() / ".cache"
    return base / "dualtape" / "mnist"


def _locate(folder: Path, f: MnistFile) -> Path | None:
    """The file for ``f`` in ``folder`` (decompressed name first: it reads faster), or None."""
    for name in (f.raw_name, f.name):
        if (folder / name).is_file():
            return folder / name
    return None


def _missing(folder: Path) -> list[str]:
    return [f.name for f in FILES if _locate(folder, f) is None]


def _file_list() -> str:
    return ", ".join(f.name for f in FILES)


def _how_to_provide() -> str:
    return (f"download the four files ({_file_list()}) by hand from any MNIST mirror into a "
            f"folder, then pass that folder as data_dir (--data-dir on the command line) or set "
            f"the environment variable MNIST_DIR to it")


def find_mnist(data_dir: PathLike | None = None, *, download: bool = True,
               mirrors: Iterable[str] | None = None, timeout: float = 30.0,
               deadline: float = 600.0, progress: Progress | None = None) -> Path:
    """The folder holding all four MNIST files, downloading the missing ones if allowed.

    A download from a mirror fails over to the next mirror when a read waits more than
    ``timeout`` seconds, when the whole file takes more than ``deadline`` seconds, or when the
    server sends more bytes than the file can take.
    """
    searched: list[tuple[Path, str]] = []
    if data_dir is not None:
        searched.append((Path(data_dir).expanduser(), "the data_dir argument"))
    if os.environ.get("MNIST_DIR"):
        searched.append((Path(os.environ["MNIST_DIR"]).expanduser(), "$MNIST_DIR"))
    searched.append((default_cache_dir(), "the cache folder"))
    for folder, why in searched:
        if folder.exists() and not folder.is_dir():
            raise NotADirectoryError(f"{folder} ({why}) is a file, not a folder; give the folder "
                                     f"that holds the four MNIST files, or the folder to "
                                     f"download them into")
        if not _missing(folder):
            return folder
    target = searched[0][0] if data_dir is not None else default_cache_dir()
    if not download:
        where = "\n".join(f"  {folder} ({why}): missing {', '.join(_missing(folder))}"
                          for folder, why in searched)
        raise FileNotFoundError(f"MNIST data not found; searched, in order:\n{where}\n"
                                f"To provide it, {_how_to_provide()}; or call with "
                                f"download=True to fetch it into {target}.")
    mirror_list = _mirror_list(mirrors)
    created = [p for p in (target, *target.parents) if not p.exists()]
    target.mkdir(parents=True, exist_ok=True)
    try:
        for f in FILES:
            if _locate(target, f) is None:
                _download(f, target, mirror_list, timeout, deadline, progress)
    except BaseException:
        for folder in created:  # deepest first; a failed lookup leaves no empty folders behind
            with contextlib.suppress(OSError):
                folder.rmdir()
        raise
    return target


def _mirror_list(mirrors: Iterable[str] | None) -> list[str]:
    if mirrors is None:
        mirrors = MIRRORS
    elif isinstance(mirrors, str):  # one URL, not an iterable of characters
        mirrors = [mirrors]
    out = [m if m.endswith("/") else m + "/" for m in mirrors]
    if not out:
        raise ValueError("mirrors is empty; give at least one base URL, or None for MIRRORS")
    return out


def _describe(exc: BaseException, timeout: float) -> str:
    """A one-line reason for a failed mirror, without the traceback."""
    if isinstance(exc, urllib.error.HTTPError):
        return f"HTTP error {exc.code} {exc.reason}"
    if isinstance(exc, urllib.error.URLError):
        if not isinstance(exc.reason, BaseException):
            return str(exc.reason)
        exc = exc.reason
    if isinstance(exc, _DeadlinePassed):
        return str(exc)
    if isinstance(exc, TimeoutError):
        return f"timed out (no data for {timeout:g} s)"
    if isinstance(exc, ValueError):
        return str(exc)
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def _download(f: MnistFile, folder: Path, mirrors: list[str], timeout: float, deadline: float,
              progress: Progress | None) -> None:
    """Fetch ``f`` into ``folder`` from the first mirror that serves it intact."""
    failures = []
    for i, mirror in enumerate(mirrors):
        url = mirror + f.name
        if progress is not None:
            progress(f"downloading {url}")
        try:
            _fetch(url, folder / f.name, f, timeout, deadline)
            return
        except (OSError, ValueError, http.client.HTTPException) as exc:
            reason = _describe(exc, timeout)
            failures.append(f"  {url}: {reason}")
            if progress is not None:
                then = "trying the next mirror" if i + 1 < len(mirrors) else "no mirror left"
                progress(f"failed: {url}: {reason}; {then}")
    raise RuntimeError(f"could not download {f.name} from any mirror:\n" + "\n".join(failures)
                       + f"\nInstead, {_how_to_provide()}.")


class _DeadlinePassed(TimeoutError):
    """A download still running at its deadline (a slow or trickling server)."""


class _Contents:
    """The IDX contents of a download, checked as its bytes arrive: md5 and size, never held whole.

    The bytes served may be gzip-compressed (one or more members) or raw. Decompression is a stream
    with a bound: at most ``limit`` decompressed bytes are ever produced, so a small gzip bomb is
    refused after ``limit`` bytes, not after it has filled the memory.
    """

    __slots__ = ("limit", "md5", "size", "_gzip", "_inflate", "_head")

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.md5 = hashlib.md5(usedforsecurity=False)
        self.size = 0
        self._gzip: bool | None = None  # unknown until two bytes have arrived
        self._inflate = zlib.decompressobj(wbits=31)
        self._head = b""

    def feed(self, data: bytes) -> None:
        if self._gzip is None:
            self._head += data
            if len(self._head) < 2:
                return
            data, self._head = self._head, b""
            self._gzip = data[:2] == _GZIP_MAGIC
        if not self._gzip:
            self._take(data)
            return
        try:
            while data:
                if self._inflate.eof:  # a further gzip member, as gzip.decompress allows
                    self._inflate = zlib.decompressobj(wbits=31)
                # Never more than one byte past the limit, however much the input inflates to.
                self._take(self._inflate.decompress(data, self.limit - self.size + 1))
                data = self._inflate.unused_data if self._inflate.eof \
                    else self._inflate.unconsumed_tail
        except zlib.error as exc:
            raise ValueError(f"expected a gzip stream, found a corrupt one ({exc})") from exc

    def _take(self, out: bytes) -> None:
        self.size += len(out)
        if self.size > self.limit:
            raise ValueError(f"the contents exceed the {self.limit} bytes this file holds "
                             f"(a gzip bomb, or not this file); refused")
        self.md5.update(out)

    def finish(self) -> None:
        if self._gzip is None or self.size == 0:
            raise ValueError(f"expected an IDX file (raw or gzip-compressed), found "
                             f"{len(self._head)} bytes")
        if self._gzip and not self._inflate.eof:
            raise ValueError("expected a complete gzip stream, found a truncated one")


def _fetch(url: str, final: Path, f: MnistFile, timeout: float, deadline: float) -> None:
    """Download ``url`` to ``final`` atomically, keeping it only if its decompressed md5 matches.

    Bounded in every resource: the server may send at most ``f.max_download`` bytes (refused
    before reading when it announces more), the contents may decompress to at most
    ``f.raw_size`` bytes, no read may wait more than ``timeout`` seconds and the whole download
    must end within ``deadline`` seconds. The temporary ``.part`` file goes on any failure.
    """
    start = time.monotonic()
    limit = f.max_download
    contents = _Contents(f.raw_size)
    fd, tmp_name = tempfile.mkstemp(dir=final.parent, prefix=f".{final.name}.", suffix=".part")
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            request = urllib.request.Request(url, headers={"User-Agent": _USER_AGENT})
            with urllib.request.urlopen(request, timeout=timeout) as resp:
                length = resp.headers.get("Content-Length")
                announced = int(length) if length is not None and length.isdigit() else None
                if announced is not None and announced > limit:
                    raise ValueError(f"the server announces {announced} bytes; {f.name} is at "
                                     f"most {limit} bytes; refused before reading")
                received = 0
                while True:
                    # read1 returns what has arrived, so a trickling server cannot hold one call
                    # open past the deadline (read(n) would wait for all n bytes).
                    chunk = resp.read1(_CHUNK)
                    if not chunk:
                        break
                    received += len(chunk)
                    if received > limit:
                        raise ValueError(f"the server sent more than the {limit} bytes {f.name} "
                                         f"can take; refused")
                    contents.feed(chunk)
                    out.write(chunk)
                    if time.monotonic() - start > deadline:
                        raise _DeadlinePassed(f"deadline of {deadline:g} s passed after "
                                              f"{received} bytes; pass a larger deadline= for a "
                                              f"slow connection")
            # Reading a fixed amount returns b"" when the server hangs up early: no exception.
            if announced is not None and received != announced:
                raise ValueError(f"connection dropped after {received} of {announced} bytes")
            contents.finish()
            out.flush()
            os.fsync(out.fileno())
        found = contents.md5.hexdigest()
        if found != f.md5:
            raise ValueError(f"wrong checksum: md5 of the decompressed contents is {found}, "
                             f"expected {f.md5}")
        os.replace(tmp, final)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    _fsync_dir(final.parent)


def _fsync_dir(folder: Path) -> None:
    # Makes the rename itself durable on POSIX; Windows cannot open a folder, nor needs to.
    if os.name == "nt":
        return
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def verify(folder: PathLike) -> None:
    """Check the decompressed md5 of all four files in ``folder``; ValueError names any bad one."""
    folder = Path(folder)
    missing = _missing(folder)
    if missing:
        raise FileNotFoundError(f"{folder}: missing {', '.join(missing)} (with or without .gz); "
                                f"{_how_to_provide()}")
    bad = []
    for f in FILES:
        path = folder / (f.raw_name if (folder / f.raw_name).is_file() else f.name)
        try:
            found = hashlib.md5(_idx_bytes(path), usedforsecurity=False).hexdigest()
        except ValueError as exc:
            bad.append(f"  {exc}")
            continue
        if found != f.md5:
            bad.append(f"  {path}: md5 of the decompressed contents is {found}, expected "
                       f"{f.md5}")
    if bad:
        raise ValueError("MNIST files failed verification:\n" + "\n".join(bad)
                         + "\nDelete each bad file and download it again.")


def load_mnist(data_dir: PathLike | None = None, *, train: bool = True, download: bool = True,
               mirrors: Iterable[str] | None = None, timeout: float = 30.0,
               deadline: float = 600.0) -> tuple[np.ndarray, np.ndarray]:
    """The training (or test) split as (images uint8 (N, 28, 28), labels uint8 (N,))."""
    folder = find_mnist(data_dir, download=download, mirrors=mirrors, timeout=timeout,
                        deadline=deadline)
    image_file, label_file = (TRAIN_IMAGES, TRAIN_LABELS) if train else (TEST_IMAGES, TEST_LABELS)
    image_path, label_path = _locate(folder, image_file), _locate(folder, label_file)
    if image_path is None or label_path is None:  # removed since find_mnist looked
        raise FileNotFoundError(f"{folder}: MNIST files disappeared while loading; "
                                f"{_how_to_provide()}")
    images, labels = read_idx(image_path), read_idx(label_path)
    if images.dtype != np.uint8 or images.ndim != 3 or images.shape[1:] != (28, 28):
        raise ValueError(f"{image_path}: expected uint8 images of shape (N, 28, 28), found "
                         f"{images.dtype} of shape {images.shape}; {_REFETCH}")
    if labels.dtype != np.uint8 or labels.ndim != 1:
        raise ValueError(f"{label_path}: expected uint8 labels of shape (N,), found "
                         f"{labels.dtype} of shape {labels.shape}; {_REFETCH}")
    if images.shape[0] != labels.shape[0]:
        raise ValueError(f"{image_path} holds {images.shape[0]} images but {label_path} holds "
                         f"{labels.shape[0]} labels; the two files come from different splits or "
                         f"versions: delete both and download them again")
    if images.shape != image_file.shape:
        split = "training" if train else "test"
        raise ValueError(f"{image_path} and {label_path} hold {images.shape[0]} examples, "
                         f"expected {image_file.shape[0]} for the {split} split; delete both "
                         f"and download them again")
    if labels.size and labels.max() > 9:
        raise ValueError(f"{label_path}: expected labels 0..9, found {int(labels.max())}; "
                         f"{_REFETCH}")
    return images, labels
