"""Tests for nn.mnist: reading IDX files, and finding, downloading and checking MNIST.

The tests that need the real files read them from the folder named by MNIST_DIR (CI sets it;
locally: ``MNIST_DIR=/path/to/mnist pytest tests/test_mnist_data.py``) and are skipped
without it. No test touches the internet: every download comes from an HTTP server on 127.0.0.1
that serves the files from memory.
"""
from __future__ import annotations

import gzip
import hashlib
import os
import shutil
import socket
import struct
import threading
import time
import tracemalloc
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest

from nn.mnist import (
    FILES,
    MIRRORS,
    TEST_IMAGES,
    TEST_LABELS,
    TRAIN_IMAGES,
    TRAIN_LABELS,
    default_cache_dir,
    find_mnist,
    load_mnist,
    read_idx,
    verify,
)

# Read before the autouse fixture below clears MNIST_DIR for each test.
_REAL_DIR = os.environ.get("MNIST_DIR")
LABELS = (TRAIN_LABELS, TEST_LABELS)
IMAGES = (TRAIN_IMAGES, TEST_IMAGES)
NAMES = {f.name for f in FILES}
# Known facts about MNIST, independent of the loader.
TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
TRAIN_FIRST = [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]
TEST_FIRST = [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]


@pytest.fixture(autouse=True)
def isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No test sees the real MNIST_DIR or the user's cache unless it sets them itself."""
    monkeypatch.delenv("MNIST_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))
    monkeypatch.setenv("LOCALAPPDATA", str(tmp_path / "xdg-cache"))


def _real_path(folder: Path, name: str) -> Path | None:
    for candidate in (folder / name, folder / name.removesuffix(".gz")):
        if candidate.is_file():
            return candidate
    return None


@pytest.fixture(scope="module")
def real_dir() -> Path:
    """The folder holding the real MNIST files; skips the test when there is none."""
    if not _REAL_DIR:
        pytest.skip("MNIST_DIR is unset: set it to the folder holding the four MNIST files "
                    "(e.g. MNIST_DIR=/path/to/mnist) to run the tests on real data")
    folder = Path(_REAL_DIR).expanduser().resolve()
    missing = [f.name for f in FILES if _real_path(folder, f.name) is None]
    if missing:
        pytest.skip(f"MNIST_DIR={_REAL_DIR} lacks {', '.join(missing)}")
    return folder


@pytest.fixture(scope="module")
def raw_blobs(real_dir: Path) -> dict[str, bytes]:
    """The decompressed IDX contents of each file, by its .gz name."""
    out = {}
    for f in FILES:
        data = _real_path(real_dir, f.name).read_bytes()
        out[f.name] = gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data
    return out


@pytest.fixture(scope="module")
def gz_blobs(real_dir: Path, raw_blobs: dict[str, bytes]) -> dict[str, bytes]:
    """Each file as a mirror serves it: the real .gz bytes (gzipped here if stored raw)."""
    out = {}
    for f in FILES:
        data = _real_path(real_dir, f.name).read_bytes()
        out[f.name] = data if data[:2] == b"\x1f\x8b" else gzip.compress(data, compresslevel=1)
    return out


@pytest.fixture(scope="module")
def corrupt_labels(raw_blobs: dict[str, bytes]) -> dict[str, bytes]:
    """Label files whose payload has a few bytes flipped, re-gzipped: valid gzip, wrong md5."""
    out = {}
    for f in LABELS:
        data = bytearray(raw_blobs[f.name])
        for i in (8, 500, len(data) - 1):
            data[i] ^= 0x01
        out[f.name] = gzip.compress(bytes(data))
    return out


@dataclass
class Mirror:
    url: str
    requests: list[str] = field(default_factory=list)
    sent: int = 0  # bytes written by streamed bodies
    hung_up: bool = False  # the client closed the connection while a streamed body was sent


Body = bytes | Callable[[], Iterator[bytes]]


@pytest.fixture
def serve() -> Iterator[Callable[..., Mirror]]:
    """Start local HTTP mirrors; all are stopped afterwards.

    ``serve(files, truncate=False, announce="exact")``: ``files`` maps names to bytes, or to a
    function giving the body's chunks (a stream, a trickle). ``announce`` is the Content-Length
    sent: "exact" (the length of bytes bodies), an int, or None for no header at all.
    """
    running = []

    def start(files: dict[str, Body], *, truncate: bool = False,
              announce: str | int | None = "exact") -> Mirror:
        mirror = Mirror("")

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                name = self.path.rsplit("/", 1)[-1]
                mirror.requests.append(name)
                body = files.get(name)
                if body is None:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Type", "application/gzip")
                length = len(body) if announce == "exact" and isinstance(body, bytes) \
                    else announce
                if isinstance(length, int):
                    self.send_header("Content-Length", str(length))
                self.end_headers()
                if truncate and isinstance(body, bytes):
                    # Announce the full size, send half, then hang up (the server "dies").
                    self.wfile.write(body[: len(body) // 2])
                    self.wfile.flush()
                    self.close_connection = True
                    return
                chunks = [body] if isinstance(body, bytes) else body()
                try:
                    for chunk in chunks:
                        self.wfile.write(chunk)
                        self.wfile.flush()
                        mirror.sent += len(chunk)
                except (BrokenPipeError, ConnectionResetError):
                    mirror.hung_up = True
                self.close_connection = True

            def log_message(self, *args: object) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                                  daemon=True)
        thread.start()
        running.append((server, thread))
        mirror.url = f"http://127.0.0.1:{server.server_address[1]}/mnist/"
        return mirror

    yield start
    for server, thread in running:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def _closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/mnist/"


def _prefill(folder: Path, real_dir: Path, files: tuple) -> set[str]:
    """Link (or copy) some of the real files into ``folder``; returns their names."""
    folder.mkdir(parents=True, exist_ok=True)
    for f in files:
        source = _real_path(real_dir, f.name)
        try:
            (folder / source.name).symlink_to(source)
        except OSError:
            shutil.copy(source, folder / source.name)
    return set(os.listdir(folder))


def _placeholders(folder: Path, files: tuple = FILES, *, raw: bool = False) -> Path:
    """Empty files under the MNIST names: enough for find_mnist, which does not hash them."""
    folder.mkdir(parents=True, exist_ok=True)
    for f in files:
        (folder / (f.raw_name if raw else f.name)).write_bytes(b"")
    return folder


def _idx(code: int, dims: tuple[int, ...], payload: bytes) -> bytes:
    return bytes([0, 0, code, len(dims)]) + struct.pack(f">{len(dims)}I", *dims) + payload


# --- read_idx on the real files ----------------------------------------------------------------


@pytest.mark.parametrize("f", FILES, ids=lambda f: f.raw_name)
def test_read_idx_real_file_shape_dtype_and_checksum(real_dir: Path, raw_blobs, f) -> None:
    arr = read_idx(_real_path(real_dir, f.name))
    assert arr.shape == f.shape
    assert arr.dtype == np.uint8
    assert hashlib.md5(raw_blobs[f.name]).hexdigest() == f.md5
    # Rebuilding the file from the array gives back the checksummed bytes: nothing was lost.
    rebuilt = _idx(0x08, arr.shape, arr.tobytes())
    assert hashlib.md5(rebuilt).hexdigest() == f.md5


def test_read_idx_real_labels_are_the_known_digits(real_dir: Path) -> None:
    train = read_idx(_real_path(real_dir, TRAIN_LABELS.name))
    test = read_idx(_real_path(real_dir, TEST_LABELS.name))
    for labels, counts, first in ((train, TRAIN_COUNTS, TRAIN_FIRST),
                                  (test, TEST_COUNTS, TEST_FIRST)):
        assert labels.min() == 0 and labels.max() == 9
        assert np.bincount(labels, minlength=10).tolist() == counts
        assert labels[:10].tolist() == first


def test_read_idx_real_images_are_pixels(real_dir: Path) -> None:
    images = read_idx(_real_path(real_dir, TEST_IMAGES.name))
    assert images.min() == 0 and images.max() == 255
    assert images[:, 0, 0].max() == 0  # the digits are centred: corners are background
    assert images.flags.writeable and images.flags.c_contiguous


@pytest.mark.parametrize("f", (TRAIN_LABELS, TEST_IMAGES, TEST_LABELS), ids=lambda f: f.raw_name)
def test_read_idx_raw_and_gzip_give_identical_arrays(real_dir: Path, raw_blobs, tmp_path,
                                                      f) -> None:
    from_gzip = read_idx(_real_path(real_dir, f.name))
    raw = tmp_path / f.raw_name
    raw.write_bytes(raw_blobs[f.name])
    # Detection is by content: a raw file named .gz and a gzip file without .gz both read.
    misnamed_raw = tmp_path / "raw-but-named.gz"
    misnamed_raw.write_bytes(raw_blobs[f.name])
    misnamed_gzip = tmp_path / "gzip-but-named.idx"
    misnamed_gzip.write_bytes(gzip.compress(raw_blobs[f.name], compresslevel=1))
    for path in (raw, misnamed_raw, misnamed_gzip):
        arr = read_idx(path)
        assert arr.dtype == from_gzip.dtype
        np.testing.assert_array_equal(arr, from_gzip)


# --- read_idx on made-up files -----------------------------------------------------------------


@pytest.mark.parametrize("code, dtype", [(0x08, ">u1"), (0x09, ">i1"), (0x0B, ">i2"),
                                         (0x0C, ">i4"), (0x0D, ">f4"), (0x0E, ">f8")])
def test_read_idx_type_codes_big_endian(tmp_path: Path, code: int, dtype: str) -> None:
    values = np.array([[0, 1, 2], [3, 100, 127]], dtype=dtype)
    if np.dtype(dtype).kind != "u":
        values[0, 0] = -5
    data = _idx(code, (2, 3), values.tobytes())
    for path, content in ((tmp_path / "x.idx", data), (tmp_path / "x.gz", gzip.compress(data))):
        path.write_bytes(content)
        arr = read_idx(path)
        assert arr.shape == (2, 3)
        assert arr.dtype == np.dtype(dtype).newbyteorder("=")
        assert arr.dtype.isnative
        assert arr.tolist() == values.tolist()


_GOOD = _idx(0x08, (10,), bytes(range(10)))
_BAD_FILES = {
    "empty": (b"", "empty"),
    "truncated raw": (_GOOD[:-5], "truncated"),
    "trailing bytes": (_GOOD + b"\0\0\0", "trailing"),
    "bad magic": (b"\x01\x00" + _GOOD[2:], "magic"),
    "unknown type code": (b"\0\0\x07" + _GOOD[3:], "magic"),
    "zero dimensions": (b"\0\0\x08\x00", "magic"),
    "html page": (b"<html>404 Not Found</html>", "magic"),
    "truncated header": (_GOOD[:6], "header"),
    "truncated gzip": (gzip.compress(_GOOD * 50)[:40], "gzip"),
    "corrupt gzip": (b"\x1f\x8b\x08\x00" + b"garbage" * 10, "gzip"),
    "gzip with bad crc": (gzip.compress(_GOOD)[:-8] + b"\0" * 8, "gzip"),
    "gzip of a truncated file": (gzip.compress(_GOOD[:-5]), "truncated"),
    "gzip with trailing bytes": (gzip.compress(_GOOD + b"\0"), "trailing"),
    "gzip of nothing": (gzip.compress(b""), "magic"),
}


@pytest.mark.parametrize("content, word", _BAD_FILES.values(), ids=_BAD_FILES.keys())
def test_read_idx_bad_file_raises_valueerror_naming_path_and_fix(tmp_path: Path, content: bytes,
                                                                  word: str) -> None:
    path = tmp_path / "bad-idx1-ubyte.gz"
    path.write_bytes(content)
    with pytest.raises(ValueError) as info:
        read_idx(path)
    message = str(info.value)
    assert str(path) in message
    assert word in message.lower()
    assert "download it again" in message
    if content[:2] == b"\x1f\x8b" and word == "gzip":
        assert info.value.__cause__ is not None  # re-raised with the gzip/zlib error attached


def test_read_idx_good_made_up_file(tmp_path: Path) -> None:
    path = tmp_path / "good"
    path.write_bytes(_GOOD)
    assert read_idx(path).tolist() == list(range(10))


# --- where the data is looked for --------------------------------------------------------------


def test_search_order_data_dir_then_mnist_dir_then_cache(tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    # Empty placeholder files: find_mnist must find them without hashing (it would fail to).
    arg = _placeholders(tmp_path / "arg")
    env = _placeholders(tmp_path / "env", raw=True)  # decompressed names count too
    cache = _placeholders(tmp_path / "xdg-cache" / "dualtape" / "mnist")
    monkeypatch.setenv("MNIST_DIR", str(env))
    assert find_mnist(arg, download=False) == arg
    assert find_mnist(str(arg), download=False) == arg
    assert find_mnist(download=False) == env
    assert find_mnist(tmp_path / "nowhere", download=False) == env
    partial = _placeholders(tmp_path / "partial", FILES[:3])
    assert find_mnist(partial, download=False) == env
    monkeypatch.delenv("MNIST_DIR")
    assert find_mnist(partial, download=False) == cache
    assert find_mnist(download=False) == cache
    monkeypatch.setenv("MNIST_DIR", str(partial))
    assert find_mnist(download=False) == cache


def test_not_found_without_download_names_every_folder(tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    arg = _placeholders(tmp_path / "arg", FILES[:2])
    env = tmp_path / "env-does-not-exist"
    monkeypatch.setenv("MNIST_DIR", str(env))
    with pytest.raises(FileNotFoundError) as info:
        find_mnist(arg, download=False)
    message = str(info.value)
    for folder in (arg, env, default_cache_dir()):
        assert str(folder) in message
    assert TEST_LABELS.name in message and "MNIST_DIR" in message and "--data-dir" in message
    assert not env.exists() and not default_cache_dir().exists()  # looking creates nothing


@pytest.mark.skipif(os.name == "nt", reason="XDG paths are for POSIX")
def test_default_cache_dir_follows_xdg(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert default_cache_dir() == tmp_path / "xdg-cache" / "dualtape" / "mnist"
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert default_cache_dir() == tmp_path / "home" / ".cache" / "dualtape" / "mnist"
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/path")  # invalid per the XDG spec
    assert default_cache_dir() == tmp_path / "home" / ".cache" / "dualtape" / "mnist"


def test_default_mirrors_are_the_usual_ones() -> None:
    assert MIRRORS[0] == "https://ossci-datasets.s3.amazonaws.com/mnist/"
    assert "http://yann.lecun.com/exdb/mnist/" in MIRRORS
    assert "https://storage.googleapis.com/cvdf-datasets/mnist/" in MIRRORS


# --- downloads, from local servers only --------------------------------------------------------


def test_download_all_four_into_data_dir(tmp_path: Path, serve, gz_blobs, raw_blobs) -> None:
    mirror = serve(gz_blobs)
    messages: list[str] = []
    target = tmp_path / "data"
    assert find_mnist(target, mirrors=[mirror.url], progress=messages.append) == target
    assert set(os.listdir(target)) == NAMES  # no temporary file left over
    for f in FILES:
        assert (target / f.name).read_bytes() == gz_blobs[f.name]
    assert sorted(mirror.requests) == sorted(NAMES)
    assert not default_cache_dir().exists()
    verify(target)
    for train, (images_file, labels_file) in ((True, (TRAIN_IMAGES, TRAIN_LABELS)),
                                              (False, (TEST_IMAGES, TEST_LABELS))):
        images, labels = load_mnist(target, train=train, mirrors=[mirror.url])
        assert images.shape == images_file.shape and images.dtype == np.uint8
        assert labels.shape == labels_file.shape and labels.dtype == np.uint8
        assert labels.tobytes() == raw_blobs[labels_file.name][8:]
        assert images.tobytes() == raw_blobs[images_file.name][16:]
    assert len(mirror.requests) == 4  # present files are not fetched again


def test_download_into_cache_fetches_only_missing_files(tmp_path: Path, serve, real_dir,
                                                        gz_blobs) -> None:
    cache = default_cache_dir()
    before = _prefill(cache, real_dir, IMAGES)
    mirror = serve(gz_blobs)
    assert find_mnist(mirrors=mirror.url) == cache  # one URL as a string works too
    assert sorted(mirror.requests) == sorted(f.name for f in LABELS)
    assert set(os.listdir(cache)) == before | {f.name for f in LABELS}
    images, labels = load_mnist(train=False, download=False)
    assert images.shape == (10000, 28, 28) and labels.tolist()[:10] == TEST_FIRST


def test_corrupted_mirror_is_rejected_and_next_used(tmp_path: Path, serve, real_dir, gz_blobs,
                                                    corrupt_labels) -> None:
    target = tmp_path / "data"
    _prefill(target, real_dir, IMAGES)
    bad, good = serve(corrupt_labels), serve(gz_blobs)
    messages: list[str] = []
    find_mnist(target, mirrors=[bad.url, good.url], progress=messages.append)
    assert sorted(bad.requests) == sorted(good.requests) == sorted(f.name for f in LABELS)
    for f in LABELS:
        assert (target / f.name).read_bytes() == gz_blobs[f.name]
        assert any(bad.url + f.name in m and "checksum" in m for m in messages)
    assert len(os.listdir(target)) == 4


def test_only_a_corrupted_mirror_raises_and_leaves_nothing(tmp_path: Path, serve, real_dir,
                                                           corrupt_labels) -> None:
    target = tmp_path / "data"
    before = _prefill(target, real_dir, IMAGES)
    bad = serve(corrupt_labels)
    with pytest.raises(RuntimeError) as info:
        find_mnist(target, mirrors=[bad.url])
    message = str(info.value)
    assert bad.url + TRAIN_LABELS.name in message and "checksum" in message
    assert "MNIST_DIR" in message and "--data-dir" in message
    assert set(os.listdir(target)) == before  # no final name, no temporary file


def test_mirror_dying_mid_file_is_rejected_and_leaves_nothing(tmp_path: Path, serve,
                                                              gz_blobs) -> None:
    target = tmp_path / "data"
    dying = serve(gz_blobs, truncate=True)
    with pytest.raises(RuntimeError) as info:
        find_mnist(target, mirrors=[dying.url])
    assert dying.url + TRAIN_IMAGES.name in str(info.value)
    assert "dropped" in str(info.value)
    assert not target.exists()  # the folder it made for the download goes too
    good = serve(gz_blobs)
    messages: list[str] = []
    find_mnist(target, mirrors=[dying.url, good.url], progress=messages.append)
    assert set(os.listdir(target)) == NAMES
    assert sum("dropped" in m for m in messages) == 4
    for f in FILES:
        assert (target / f.name).read_bytes() == gz_blobs[f.name]


@pytest.mark.parametrize("kind", ["refused", "404", "timeout"])
def test_unreachable_mirror_is_skipped(tmp_path: Path, serve, real_dir, gz_blobs,
                                       kind: str) -> None:
    target = tmp_path / "data"
    _prefill(target, real_dir, IMAGES)
    with socket.socket() as silent:
        if kind == "refused":
            url, word = _closed_port_url(), "refused"
        elif kind == "404":
            url, word = serve({}).url, "404"
        else:
            # Accepts the connection (backlog) but never answers.
            silent.bind(("127.0.0.1", 0))
            silent.listen()
            url, word = f"http://127.0.0.1:{silent.getsockname()[1]}/mnist/", "timed out"
        good = serve(gz_blobs)
        messages: list[str] = []
        find_mnist(target, mirrors=[url, good.url], timeout=0.25, progress=messages.append)
    failures = [m for m in messages if m.startswith("failed")]
    assert len(failures) == 2 and all(url in m and word in m.lower() for m in failures)
    assert sorted(good.requests) == sorted(f.name for f in LABELS)
    for f in LABELS:
        assert (target / f.name).read_bytes() == gz_blobs[f.name]


def test_all_mirrors_failing_lists_each_reason(tmp_path: Path, serve, real_dir,
                                               corrupt_labels) -> None:
    target = tmp_path / "data"
    before = _prefill(target, real_dir, IMAGES)
    closed, missing, bad = _closed_port_url(), serve({}).url, serve(corrupt_labels).url
    with pytest.raises(RuntimeError) as info:
        find_mnist(target, mirrors=[closed, missing, bad])
    lines = str(info.value).splitlines()
    for url, word in ((closed, "refused"), (missing, "404"), (bad, "checksum")):
        assert any(url + TRAIN_LABELS.name in line and word in line.lower() for line in lines)
    assert set(os.listdir(target)) == before


# --- downloads bounded in bytes, memory and time -----------------------------------------------


def _only_train_labels_missing(folder: Path) -> Path:
    """A folder where every file but the training labels is present (as a placeholder)."""
    return _placeholders(folder, (TRAIN_IMAGES, TEST_IMAGES, TEST_LABELS))


def _fetch_failure(target: Path, url: str, **kwargs: object) -> tuple[str, int]:
    """find_mnist's error message and the peak memory traced while it failed."""
    tracemalloc.start()
    try:
        with pytest.raises(RuntimeError) as info:
            find_mnist(target, mirrors=[url], **kwargs)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return str(info.value), peak


def test_known_sizes() -> None:
    # A 4-byte magic, 4 bytes per dimension, one byte per entry.
    assert TRAIN_IMAGES.raw_size == 16 + 60000 * 28 * 28 == 47_040_016
    assert TRAIN_LABELS.raw_size == 8 + 60000
    assert TEST_LABELS.raw_size == 8 + 10000
    for f in FILES:
        # Level 0 stores the data uncompressed: gzip's largest growth, which still fits.
        assert f.raw_size < len(gzip.compress(bytes(f.raw_size), 0)) < f.max_download


def test_body_without_length_is_cut_at_the_files_size(tmp_path: Path, serve) -> None:
    def endless() -> Iterator[bytes]:  # 64 MB of zeros with no Content-Length
        for _ in range(1024):
            yield bytes(65536)

    target = _only_train_labels_missing(tmp_path / "data")
    before = set(os.listdir(target))
    mirror = serve({TRAIN_LABELS.name: endless}, announce=None)
    message, peak = _fetch_failure(target, mirror.url)
    assert f"more than the {TRAIN_LABELS.max_download} bytes" in message
    assert TRAIN_LABELS.name in message and "refused" in message
    assert peak < 4 * 2**20  # one read's chunk, not the body
    assert set(os.listdir(target)) == before  # the .part file went
    for _ in range(100):  # the server notices the closed connection once its buffers fill
        if mirror.hung_up:
            break
        time.sleep(0.05)
    assert mirror.hung_up and mirror.sent < 32 * 2**20


def test_announced_length_too_large_is_refused_before_reading(tmp_path: Path, serve) -> None:
    target = _only_train_labels_missing(tmp_path / "data")
    before = set(os.listdir(target))
    mirror = serve({TRAIN_LABELS.name: b"\x1f\x8b" + bytes(100)}, announce=10**12)
    message, _ = _fetch_failure(target, mirror.url)
    assert "announces 1000000000000 bytes" in message
    assert f"at most {TRAIN_LABELS.max_download} bytes" in message
    assert set(os.listdir(target)) == before


def test_gzip_bomb_is_refused_with_memory_bounded(tmp_path: Path, serve) -> None:
    bomb = gzip.compress(bytes(50_000_000), 9)  # 49 KB that inflate to 50 MB
    assert len(bomb) < TRAIN_LABELS.max_download
    target = _only_train_labels_missing(tmp_path / "data")
    before = set(os.listdir(target))
    mirror = serve({TRAIN_LABELS.name: bomb})
    message, peak = _fetch_failure(target, mirror.url)
    assert f"exceed the {TRAIN_LABELS.raw_size} bytes" in message and "gzip bomb" in message
    assert peak < 4 * 2**20
    assert set(os.listdir(target)) == before


def test_trickling_server_meets_the_deadline(tmp_path: Path, serve) -> None:
    body = gzip.compress(bytes(TRAIN_LABELS.raw_size))

    def trickle() -> Iterator[bytes]:  # a byte every 20 ms, for 5 s: never a read timeout
        for i in range(250):
            time.sleep(0.02)
            yield body[i : i + 1]

    target = _only_train_labels_missing(tmp_path / "data")
    before = set(os.listdir(target))
    mirror = serve({TRAIN_LABELS.name: trickle}, announce=len(body))
    start = time.monotonic()
    message, _ = _fetch_failure(target, mirror.url, timeout=2.0, deadline=0.5)
    assert time.monotonic() - start < 3.0  # the trickle would last 5 s
    assert "deadline of 0.5 s passed" in message and "deadline=" in message
    assert set(os.listdir(target)) == before


def test_corrupt_gzip_stream_is_refused(tmp_path: Path, serve) -> None:
    good = gzip.compress(bytes(1000))
    target = _only_train_labels_missing(tmp_path / "data")
    before = set(os.listdir(target))
    corrupt = serve({TRAIN_LABELS.name: good[:10] + b"\xff" * 50 + good[60:]})
    message, _ = _fetch_failure(target, corrupt.url)
    assert "corrupt" in message
    truncated = serve({TRAIN_LABELS.name: good[: len(good) // 2]})
    message, _ = _fetch_failure(target, truncated.url)
    assert "truncated" in message
    assert set(os.listdir(target)) == before


def test_raw_and_multi_member_bodies_are_accepted(tmp_path: Path, serve, raw_blobs) -> None:
    data = raw_blobs[TRAIN_LABELS.name]
    for body in (data, gzip.compress(data[:1000]) + gzip.compress(data[1000:])):
        target = _only_train_labels_missing(tmp_path / f"data{len(body)}")
        find_mnist(target, mirrors=[serve({TRAIN_LABELS.name: body}).url])
        assert (target / TRAIN_LABELS.name).read_bytes() == body
        np.testing.assert_array_equal(read_idx(target / TRAIN_LABELS.name),
                                      np.frombuffer(data, np.uint8, offset=8))


def test_failed_download_leaves_no_empty_cache_folder(tmp_path: Path) -> None:
    cache = default_cache_dir()
    assert not cache.parent.parent.exists()
    with pytest.raises(RuntimeError):
        find_mnist(mirrors=[_closed_port_url()])
    assert not cache.parent.parent.exists()  # neither mnist/ nor dualtape/ nor the XDG root
    existing = tmp_path / "mine"
    existing.mkdir()
    with pytest.raises(RuntimeError):
        find_mnist(existing, mirrors=[_closed_port_url()])
    assert existing.is_dir()  # a folder the user made stays


@pytest.mark.parametrize("via", ["data_dir", "MNIST_DIR"])
def test_a_file_given_as_the_folder_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                              via: str) -> None:
    file = tmp_path / "mnist.npz"
    file.write_bytes(b"not a folder")
    if via == "MNIST_DIR":
        monkeypatch.setenv("MNIST_DIR", str(file))
    with pytest.raises(NotADirectoryError) as info:
        find_mnist(file if via == "data_dir" else None, download=False)
    message = str(info.value)
    assert str(file) in message and "is a file, not a folder" in message
    assert ("data_dir" if via == "data_dir" else "$MNIST_DIR") in message


# --- verify and load_mnist ---------------------------------------------------------------------


def test_verify_names_the_bad_file(tmp_path: Path, real_dir, corrupt_labels) -> None:
    folder = tmp_path / "data"
    _prefill(folder, real_dir, (TRAIN_IMAGES, TRAIN_LABELS, TEST_IMAGES))
    verify_missing = pytest.raises(FileNotFoundError, match=TEST_LABELS.name)
    with verify_missing:
        verify(folder)
    bad = folder / TEST_LABELS.name
    bad.write_bytes(corrupt_labels[TEST_LABELS.name])
    with pytest.raises(ValueError) as info:
        verify(folder)
    message = str(info.value)
    assert str(bad) in message and "md5" in message
    assert TRAIN_LABELS.name not in message
    bad.write_bytes(corrupt_labels[TEST_LABELS.name][:100])
    with pytest.raises(ValueError, match="gzip"):
        verify(folder)


def test_load_mnist_real_splits(real_dir: Path) -> None:
    for train, n, first in ((True, 60000, TRAIN_FIRST), (False, 10000, TEST_FIRST)):
        images, labels = load_mnist(real_dir, train=train, download=False)
        assert images.shape == (n, 28, 28) and images.dtype == np.uint8
        assert labels.shape == (n,) and labels.dtype == np.uint8
        assert labels[:10].tolist() == first


def test_load_mnist_uses_mnist_dir(real_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MNIST_DIR", str(real_dir))
    _, labels = load_mnist(train=False, download=False)
    assert labels[:10].tolist() == TEST_FIRST
    assert not default_cache_dir().exists()


def test_load_mnist_mixed_splits_raises(tmp_path: Path, real_dir: Path) -> None:
    folder = tmp_path / "data"
    _prefill(folder, real_dir, (TRAIN_IMAGES, TRAIN_LABELS, TEST_IMAGES))
    # The test split's labels replaced by the training split's.
    (folder / TEST_LABELS.name).symlink_to(_real_path(real_dir, TRAIN_LABELS.name))
    with pytest.raises(ValueError) as info:
        load_mnist(folder, train=False, download=False)
    message = str(info.value)
    assert "10000 images" in message and "60000 labels" in message
    assert str(folder / TEST_LABELS.name) in message
