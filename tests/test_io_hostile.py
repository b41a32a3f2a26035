"""Hostile and mistaken model files for nn.load, and what nn.save does to the file it replaces.

Every hostile file is built here by code (zipfile and numpy.lib.format headers), never kept as a
binary blob. Memory is measured with tracemalloc, which sees numpy's allocations.
"""
from __future__ import annotations

import io
import json
import os
import pickle
import signal
import stat
import subprocess
import sys
import tracemalloc
import zipfile
from pathlib import Path

import numpy as np
import pytest
from numpy.lib import format as npy_format

import nn
from nn import Linear

ROOT = Path(__file__).resolve().parent.parent
MB = 1 << 20


def npy(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    npy_format.write_array(buf, array, allow_pickle=False)
    return buf.getvalue()


def npy_header(shape: tuple, descr: str = "<f8") -> bytes:
    """Only the header of an .npy member: it declares an array whose data is not there."""
    buf = io.BytesIO()
    npy_format.write_array_header_1_0(buf, {"descr": descr, "fortran_order": False,
                                            "shape": shape})
    return buf.getvalue()


def structure(spec: object) -> bytes:
    return npy(np.array(json.dumps(spec)))


def archive(path: Path, members: dict[str, bytes], compress: bool = False) -> Path:
    method = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
    with zipfile.ZipFile(path, "w", method) as z:
        for name, data in members.items():
            z.writestr(name, data)
    return path


def peak_while(fn):
    tracemalloc.start()
    try:
        result = fn()
    except Exception as exc:  # returned for the caller to check
        result = exc
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return result, peak


# --- memory: bounded by what the file declares ----------------------------------------------

def test_an_array_named_many_times_is_read_once(tmp_path) -> None:
    big = np.arange(MB // 2, dtype=np.float64)  # 4 MiB, compresses well
    path = archive(tmp_path / "bomb.npz", {"__structure__.npy": structure(
        {"list": [{"array": "a0"}] * 80}), "a0.npy": npy(big)}, compress=True)
    assert path.stat().st_size < big.nbytes / 2
    back, peak = peak_while(lambda: nn.load(path))
    assert isinstance(back, list) and len(back) == 80
    assert all(item is back[0] for item in back)  # one array, named 80 times
    np.testing.assert_array_equal(back[0], big)
    assert peak < 1.5 * big.nbytes, f"peak {peak / MB:.1f} MiB for a 4 MiB array"


def test_arrays_declaring_more_than_max_bytes_are_refused_before_reading(tmp_path) -> None:
    members = {"__structure__.npy": structure({"list": [{"array": f"a{i}"} for i in range(4)]})}
    members.update({f"a{i}.npy": npy(np.full(MB // 8, i, np.float64)) for i in range(4)})
    path = archive(tmp_path / "four.npz", members, compress=True)
    error, peak = peak_while(lambda: nn.load(path, max_bytes=2 * MB))
    assert isinstance(error, ValueError)
    message = str(error)
    for fragment in ("nn.load", "four.npz", "max_bytes=2.0 MiB", "4.0 MiB in all", "pass a larger "
                     "max_bytes= to nn.load"):
        assert fragment in message, message
    assert peak < MB / 4, "data was read before the sizes were checked"
    back = nn.load(path, max_bytes=4 * MB + 4096)  # raised: it loads
    np.testing.assert_array_equal(back[3], np.full(MB // 8, 3.0))


@pytest.mark.parametrize("with_structure", [True, False])
def test_a_member_declaring_8_tib_is_a_value_error(tmp_path, with_structure) -> None:
    members = {"a0.npy": npy_header((1 << 40,))}  # 8 TiB of float64, no data behind it
    if with_structure:
        members["__structure__.npy"] = structure({"dict": [["w", {"array": "a0"}]]})
    path = archive(tmp_path / "huge.npz", members)
    error, peak = peak_while(lambda: nn.load(path))
    assert isinstance(error, ValueError), repr(error)
    message = str(error)
    for fragment in ("nn.load", "huge.npz", "'a0'", "8.0 TiB", "truncated or corrupt",
                     "save it again with nn.save"):
        assert fragment in message, message
    assert peak < MB


def test_an_8_tib_member_with_consistent_sizes_meets_max_bytes(tmp_path, monkeypatch) -> None:
    # the zip entry's declared size agrees with the header: only the limit stands in the way
    path = archive(tmp_path / "big.npz", {"a0.npy": npy_header((1 << 40,))})
    with zipfile.ZipFile(path) as z:
        header = len(z.read("a0.npy"))
    original = zipfile.ZipFile._RealGetContents

    def declare_8_tib(self):
        original(self)
        for info in self.filelist:
            info.file_size = header + (8 << 40)

    monkeypatch.setattr(zipfile.ZipFile, "_RealGetContents", declare_8_tib)
    with pytest.raises(ValueError, match=r"nn.load: .*big.npz would need more than "
                                         r"max_bytes=4.0 GiB.*8.0 TiB.*max_bytes= to nn.load"):
        nn.load(path)


@pytest.mark.parametrize("depth", [900, 100_000])
def test_a_structure_nested_deep_is_a_value_error(tmp_path, depth) -> None:
    text = '{"list": [' * depth + '{"value": 1}' + "]}" * depth
    path = archive(tmp_path / "deep.npz", {"__structure__.npy": npy(np.array(text))})
    with pytest.raises(ValueError, match=r"nn.load: .*deep.npz has a structure nested more than "
                                         r"100 levels deep"):
        nn.load(path)


def test_save_refuses_what_load_would_refuse(tmp_path) -> None:
    nested: list = []
    inner = nested
    for _ in range(150):
        inner.append([])
        inner = inner[0]
    with pytest.raises(ValueError, match=r"nn.save: obj\[0\]\[0\].* nested more than 100 levels"):
        nn.save(nested, tmp_path / "deep.npz")
    cyclic: dict = {"w": np.ones(2)}
    cyclic["self"] = cyclic
    with pytest.raises(ValueError, match=r"nn.save: obj\['self'\] contains itself"):
        nn.save(cyclic, tmp_path / "cycle.npz")
    assert list(tmp_path.iterdir()) == []
    deep_enough: list = [np.ones(1)]
    for _ in range(99):
        deep_enough = [deep_enough]
    back = nn.load(nn.save(deep_enough, tmp_path / "ok.npz"))
    for _ in range(99):
        back = back[0]
    np.testing.assert_array_equal(back[0], np.ones(1))


# --- what the file is -----------------------------------------------------------------------

class _Mkdir:
    def __init__(self, target: Path) -> None:
        self.target = target

    def __reduce__(self):
        return os.mkdir, (str(self.target),)


def test_a_pytorch_zip_checkpoint_gets_the_recipe(tmp_path) -> None:
    marker = tmp_path / "code-ran"
    path = archive(tmp_path / "model.pt", {
        "archive/data.pkl": pickle.dumps({"weight": _Mkdir(marker)}, protocol=2),
        "archive/byteorder": b"little", "archive/data/0": bytes(16), "archive/version": b"3\n"})
    with pytest.raises(ValueError) as info:
        nn.load(path)
    message = str(info.value)
    for fragment in ("nn.load", "model.pt", "PyTorch checkpoint", "data.pkl", "never unpickles",
                     "np.savez('model.npz', **{k: v.numpy() for k, v in state_dict.items()})",
                     "then nn.load"):
        assert fragment in message, message
    assert not marker.exists()


def test_a_legacy_pytorch_pickle_and_a_plain_pickle_get_the_recipe(tmp_path) -> None:
    marker = tmp_path / "code-ran"
    legacy = tmp_path / "legacy.pt"
    # torch.save(..., _use_new_zipfile_serialization=False) starts with this magic number
    legacy.write_bytes(pickle.dumps(0x1950A86A20F9469CFC6C, protocol=2)
                       + pickle.dumps(_Mkdir(marker), protocol=2))
    with pytest.raises(ValueError, match=r"nn.load: .*legacy.pt is a PyTorch checkpoint in the "
                                         r"legacy pickle format.*np.savez.*then nn.load"):
        nn.load(legacy)
    plain = tmp_path / "state.pkl"
    plain.write_bytes(pickle.dumps(_Mkdir(marker), protocol=4))
    with pytest.raises(ValueError, match=r"nn.load: .*state.pkl is a Python pickle.*never "
                                         r"unpickles.*np.savez"):
        nn.load(plain)
    assert not marker.exists()


@pytest.mark.parametrize("content,says", [
    (np.random.default_rng(0).bytes(1000), "is not an .npz archive"),
    (b"", "is empty"),
    (npy(np.ones(3)), "is a single .npy array"),
    (b"PK\x03\x04" + bytes(60), "starts like a zip archive but is truncated or corrupt"),
])
def test_other_bytes_say_what_the_file_is(tmp_path, content, says) -> None:
    path = tmp_path / "weights.bin"
    path.write_bytes(content)
    with pytest.raises(ValueError) as info:
        nn.load(path)
    message = str(info.value)
    assert message.startswith(f"nn.load: {path} "), message
    assert says in message, message


def test_the_recipe_loads_as_a_flat_state_dict(tmp_path) -> None:
    source = Linear(3, 2)
    # what the recipe's np.savez writes from a PyTorch state_dict
    np.savez(tmp_path / "model.npz", **{k: v.numpy() for k, v in source.state_dict().items()})
    model = Linear(3, 2)
    model.load_state_dict(nn.load(tmp_path / "model.npz"))
    np.testing.assert_array_equal(model.weight.data, source.weight.data)


def test_object_arrays_and_corrupt_data_are_value_errors(tmp_path) -> None:
    path = archive(tmp_path / "objects.npz", {"w.npy": npy_header((3,), "|O") + bytes(24)})
    with pytest.raises(ValueError, match=r"objects.npz is not a state dict written by nn.save: "
                                         r"array 'w' has dtype object.*never unpickles"):
        nn.load(path)
    good = nn.save({"w": np.random.default_rng(1).normal(size=20000)}, tmp_path / "good.npz")
    data = bytearray(good.read_bytes())
    middle = len(data) // 2
    data[middle:middle + 64] = bytes(64)
    bad = tmp_path / "bad.npz"
    bad.write_bytes(bytes(data))
    with pytest.raises(ValueError, match=r"nn.load: .*bad.npz .*truncated or corrupt"):
        nn.load(bad)


def test_max_bytes_must_be_a_number_of_bytes(tmp_path) -> None:
    path = nn.save({"w": np.ones(2)}, tmp_path / "m.npz")
    with pytest.raises(TypeError, match=r"nn.load: max_bytes must be a non-negative int"):
        nn.load(path, max_bytes="4GB")  # type: ignore[arg-type]


# --- saving over files ------------------------------------------------------------------------

def _temporaries(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".nn-save-tmp"))


@pytest.mark.skipif(os.name != "posix", reason="permission bits")
def test_saving_keeps_the_permission_bits_of_the_file_it_replaces(tmp_path) -> None:
    path = tmp_path / "m.npz"
    nn.save({"w": np.ones(2)}, path)
    os.chmod(path, 0o640)
    nn.save({"w": np.zeros(2)}, path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    old = os.umask(0o027)
    try:
        nn.save({"w": np.ones(2)}, tmp_path / "new.npz")
        np.savez(tmp_path / "numpy.npz", w=np.ones(2))
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "new.npz").stat().st_mode) == 0o640
    assert (stat.S_IMODE((tmp_path / "new.npz").stat().st_mode)
            == stat.S_IMODE((tmp_path / "numpy.npz").stat().st_mode))


@pytest.mark.skipif(os.name != "posix", reason="symbolic links")
def test_saving_to_a_symbolic_link_writes_through_it(tmp_path) -> None:
    real = tmp_path / "store" / "real.npz"
    real.parent.mkdir()
    nn.save({"w": np.ones(2)}, real)
    link = tmp_path / "link.npz"
    link.symlink_to(real)
    assert nn.save({"w": np.full(2, 7.0)}, link) == link
    assert link.is_symlink()
    np.testing.assert_array_equal(nn.load(real)["w"], [7.0, 7.0])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["link.npz", "store"]
    assert sorted(p.name for p in real.parent.iterdir()) == ["real.npz"]


_KILLED_SAVE = """
import os, signal, sys
import numpy as np
import nn

def killed(f, **arrays):
    f.write(b"PK\\x03\\x04" + bytes(1 << 16))  # part of an archive
    f.flush()
    os.kill(os.getpid(), int(sys.argv[2]))

np.savez = killed
nn.save({"w": np.zeros(3)}, sys.argv[1])
"""


@pytest.mark.skipif(os.name != "posix", reason="signals")
@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM, signal.SIGINT])
def test_a_save_killed_midway_leaves_the_old_file_and_no_lasting_temporary(tmp_path, sig) -> None:
    path = tmp_path / "m.npz"
    nn.save({"w": np.ones(3)}, path)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH",
                                                                                    "")])}
    done = subprocess.run([sys.executable, "-c", _KILLED_SAVE, str(path), str(int(sig))],
                          env=env, cwd=tmp_path, capture_output=True, timeout=120)
    assert done.returncode != 0, done.stderr
    np.testing.assert_array_equal(nn.load(path)["w"], np.ones(3))  # the old file, intact
    if sig != signal.SIGINT:  # KeyboardInterrupt cleans up at once; a kill cannot
        assert len(_temporaries(tmp_path)) == 1
    nn.save({"w": np.full(3, 2.0)}, path)
    assert _temporaries(tmp_path) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.npz"]
    np.testing.assert_array_equal(nn.load(path)["w"], np.full(3, 2.0))


def test_a_temporary_of_a_running_process_is_left_alone(tmp_path) -> None:
    path = tmp_path / "m.npz"
    alive = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        busy = tmp_path / f".m.npz.{alive.pid}.1.nn-save-tmp"
        busy.write_bytes(b"being written")
        nn.save({"w": np.ones(3)}, path)
        assert busy.exists()
    finally:
        alive.kill()
        alive.wait()
    nn.save({"w": np.ones(3)}, path)
    assert not busy.exists()
