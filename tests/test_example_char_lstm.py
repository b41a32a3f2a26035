"""examples/char_lstm.py in seconds: the bigram baseline against a hand computation, the text and
its vocabulary, a few steps of truncated BPTT on a small slice (the loss falls), sampling, and the
script's verdict (exit status 1 when the bigram is not beaten)."""
from __future__ import annotations

import importlib.util
import math
import sys
from pathlib import Path

import numpy as np
import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


@pytest.fixture(scope="module")
def example():
    spec = importlib.util.spec_from_file_location("char_lstm_example", EXAMPLES / "char_lstm.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["char_lstm_example"] = module
    spec.loader.exec_module(module)
    return module


def test_the_bigram_baseline_matches_a_hand_computation(example) -> None:
    vocab = example.Vocabulary("ab")
    train, val = vocab.encode("aaab"), vocab.encode("aba")
    # Pairs in train: aa, aa, ab. Add-one: P(.|a) = (2+1, 1+1) / 5, P(.|b) = (0+1, 0+1) / 2.
    # Held-out pairs ab and ba: -(log 2/5 + log 1/2) / 2.
    expected = -(math.log(2 / 5) + math.log(1 / 2)) / 2
    assert example.bigram_cross_entropy(train, val, len(vocab)) == pytest.approx(expected)
    # A character never seen in training still gets a finite loss: 1 / (0 + V).
    vocab = example.Vocabulary("abc")
    assert example.bigram_cross_entropy(vocab.encode("ab"), vocab.encode("cc"), 3) == \
        pytest.approx(math.log(3))


def test_the_text_is_the_repositorys_docs(example) -> None:
    text = example.load_text()
    readme = (EXAMPLES.parent / "README.md").read_text(encoding="utf-8")
    assert text.endswith(readme) and len(text) > 2 * len(readme)
    vocab = example.Vocabulary(text)
    ids = vocab.encode(text[:500])
    assert vocab.decode(ids) == text[:500]
    with pytest.raises(ValueError, match="not in the vocabulary"):
        vocab.encode("\x00")


def test_windows_carry_each_stream_on(example) -> None:
    ids = np.arange(21)
    first_windows = []
    for (x, y, first), _ in zip(example.windows(ids, 2, 3), range(4)):
        assert np.array_equal(y, x + 1)  # the next character
        first_windows.append(first)
        if len(first_windows) == 1:
            assert x.tolist() == [[0, 1, 2], [10, 11, 12]]  # two streams of 10
    assert first_windows == [True, False, False, True]  # 10 // 3 windows, then again


def test_a_few_steps_lower_the_loss_and_sampling_uses_the_vocabulary(example) -> None:
    import nn

    text = example.load_text()[:3000]
    vocab = example.Vocabulary(text)
    ids = vocab.encode(text)
    train_ids, val = ids[:2600], ids[2600:2600 + 8 * 40 + 1]
    nn.manual_seed(0)
    model = example.CharLSTM(len(vocab), embed=8, hidden=32)
    before = example.evaluate(model, val, 8)
    history = example.train(model, train_ids, val, -math.inf, batch_size=8, seq_len=16, lr=1e-2,
                            clip=1.0, max_steps=40, max_seconds=60.0, eval_every=40,
                            eval_streams=8, quiet=True)
    assert history["steps"] == 40 and not history["beaten"]
    losses = history["loss"]
    assert np.mean(losses[-5:]) < np.mean(losses[:5]) - 0.5, losses
    assert history["val_loss"][-1] < before - 0.3
    assert before == pytest.approx(math.log(len(vocab)), abs=0.2)  # near uniform at the start

    # The target is checked at each validation: one already met stops at the first one.
    stopped = example.train(model, train_ids, val, 10.0, batch_size=8, seq_len=16, lr=1e-2,
                            clip=1.0, max_steps=40, max_seconds=60.0, eval_every=3,
                            eval_streams=8, quiet=True)
    assert stopped["beaten"] and stopped["steps"] == 3

    drawn = example.sample(model, vocab, "The ", 50, 0.8, np.random.default_rng(0))
    assert len(drawn) == 50 and set(drawn) <= set(vocab.chars)
    assert drawn == example.sample(model, vocab, "The ", 50, 0.8, np.random.default_rng(0))


def test_the_script_exits_non_zero_when_the_bigram_is_not_beaten(example, capsys) -> None:
    with pytest.raises(SystemExit, match="did not beat the bigram"):
        example.main(["--limit", "4000", "--hidden", "16", "--embed", "8", "--batch-size", "4",
                      "--seq-len", "8", "--max-steps", "2", "--eval-streams", "4",
                      "--sample", "20", "--quiet"])
    out = capsys.readouterr().out
    assert "does not beat the bigram" in out and "--- sample" in out
