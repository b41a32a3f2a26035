"""examples/gpt.py: a smoke run learns, decoding gives well-formed answers, and the held-out
problems never reach a training batch. (The full run, to 99% held-out exact match, takes minutes:
run the script itself.)"""
from __future__ import annotations

import ctypes
import glob
import os
from collections.abc import Iterator

import numpy as np
import pytest

import nn
from examples import gpt


@pytest.fixture
def one_blas_thread() -> Iterator[None]:
    """numpy's OpenBLAS on one thread, as the example sets it when run as a script (numpy is
    imported before it here): two threads on this network's small products take 2 to 3 times
    longer on a 2-core machine. The count is restored afterwards."""
    for path in glob.glob(os.path.join(os.path.dirname(np.__file__) + ".libs", "*openblas*")):
        lib = ctypes.CDLL(path)  # the copy numpy has loaded already
        for prefix, suffix in (("scipy_openblas", "64_"), ("scipy_openblas", ""), ("openblas", "")):
            setter = getattr(lib, f"{prefix}_set_num_threads{suffix}", None)
            getter = getattr(lib, f"{prefix}_get_num_threads{suffix}", None)
            if setter is not None and getter is not None:
                before = getter()
                setter(1)
                try:
                    yield
                finally:
                    setter(before)
                return
    yield  # another BLAS: left as it is


def test_encode_writes_the_operands_and_the_reversed_sum() -> None:
    tokens = gpt.encode(np.array([12345, 99999, 0]), np.array([67890, 99999, 7]))
    assert tokens.shape == (3, gpt.LENGTH) and tokens.dtype == np.int64
    assert tokens[0].tolist() == [1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 5, 3, 2, 0, 8, 0]
    assert tokens[1, gpt.PROMPT:].tolist() == [8, 9, 9, 9, 9, 1]  # 199998, backwards
    assert gpt.to_number(tokens[:, gpt.PROMPT:]).tolist() == [80235, 199998, 7]


def test_the_held_out_tenth_is_fixed_and_about_a_tenth() -> None:
    rng = np.random.default_rng(1)
    a, b = rng.integers(0, 10 ** gpt.DIGITS, (2, 200_000))
    held = gpt.is_held_out(a, b)
    assert abs(held.mean() - 0.1) < 0.005
    assert [bool(gpt.is_held_out(x, y)) for x, y in zip(a[:50], b[:50])] == held[:50].tolist()
    ea, eb = gpt.held_out_pairs(500)
    assert len(ea) == 500 and gpt.is_held_out(ea, eb).all()
    assert np.array_equal(gpt.held_out_pairs(500)[0], ea)  # the same sample every time


def test_a_smoke_run_learns_and_never_trains_on_held_out_problems(
        monkeypatch: pytest.MonkeyPatch, one_blas_thread: None) -> None:
    drawn: list[tuple[np.ndarray, np.ndarray]] = []

    def recording(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
        pair = sampler(rng, n)
        drawn.append(pair)
        return pair

    sampler = gpt.training_pairs
    monkeypatch.setattr(gpt, "training_pairs", recording)
    history = gpt.main(["--quick", "--quiet", "--batch-size", "64", "--seed", "3"])

    loss = history["loss"]
    assert len(loss) == history["steps"] == 30
    assert np.isfinite(loss).all()
    assert np.mean(loss[-5:]) < np.mean(loss[:5]) - 0.1, loss
    assert [n for _, _, n, _ in history["accuracy"]] == [100, 100, 100]

    assert len(drawn) == 30 and all(len(a) == 64 for a, _ in drawn)
    a, b = np.concatenate([a for a, _ in drawn]), np.concatenate([b for _, b in drawn])
    assert not gpt.is_held_out(a, b).any()
    ea, eb = gpt.held_out_pairs(2000)
    assert not set(zip(ea.tolist(), eb.tolist())) & set(zip(a.tolist(), b.tolist()))


def test_decoding_gives_six_digits_per_prompt(one_blas_thread: None) -> None:
    nn.manual_seed(0)
    kit = gpt.library_kit(1e-3)
    a, b = gpt.held_out_pairs(7)
    prompts = gpt.encode(a, b)[:, :gpt.PROMPT]
    answers = gpt.decode(kit, prompts, batch_size=3)  # in batches of 3, 3 and 1
    assert answers.shape == (7, gpt.ANSWER) and answers.dtype == np.int64
    assert ((answers >= 0) & (answers <= 9)).all()
    assert 0.0 <= gpt.exact_match(kit, a, b) <= 1.0


def test_the_pytorch_twin_has_the_same_parameters() -> None:
    pytest.importorskip("torch")
    ours = gpt.library_kit(1e-3).model.state_dict()
    theirs = gpt.torch_kit(1e-3, 0).model.state_dict()
    assert {k: tuple(np.shape(v)) for k, v in ours.items()} == \
        {k: tuple(v.shape) for k, v in theirs.items()}
