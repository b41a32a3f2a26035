"""Train a character-level LSTM language model on this repository's own documentation until it
predicts held-out text better than a bigram model.

    python examples/char_lstm.py                        # until the bigram is beaten
    python examples/char_lstm.py --layers 2             # a two-layer LSTM
    python examples/char_lstm.py --max-seconds 60       # give up (exit status 1) after a minute

The text is docs/*.md and README.md, read at run time from the checkout this file lives in and
joined in that order; the last 10% is held out for validation. The model is Embedding -> LSTM
(batch_first) -> Linear to the vocabulary, trained with truncated backpropagation through time:
the training text is cut into ``--batch-size`` parallel streams, read ``--seq-len`` characters at
a time, the LSTM's state carried (detached) from one window to the next. Adam, gradient norm
clipped. The baseline is a bigram model (pair counts on the training part, add-one smoothing);
both are scored on the same held-out characters, in nats per character. Training stops as soon
as the LSTM's validation loss is below the bigram's, then ~200 sampled characters are printed
(temperature 0.8, a seeded generator). The script exits with status 1 when the bigram is not
beaten within --max-steps or --max-seconds.

The products here are small ((32, 128) by (128, 512) each step), so numpy's BLAS runs on one
thread unless OPENBLAS_NUM_THREADS (or OMP_NUM_THREADS) says otherwise: on a 2-core machine whose
other core was busy, a multithreaded OpenBLAS made every step 5 to 20 times slower.

A training step costs time in proportion to the window (each time step's slice of the input
projection sends back a cotangent of its own size only). Time of one step (batch 32, hidden 128,
one thread) against the window: 16: 0.034 s, 32: 0.036 s, 64: 0.087 s, 128: 0.20 s, 256: 0.49 s.
With the defaults (seed 0) the LSTM
reached 2.77 nats/char on the held-out text after 40 steps (about 20 s on a shared 2-core
machine), below the bigram's 2.85; seeds 1-3 also needed 40 steps.
"""
from __future__ import annotations

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")  # before numpy loads its BLAS (no effect if it already has)

import argparse
import math
import sys
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

import nn
from nn import LSTM, Embedding, Linear, Module, cross_entropy
from nn.utils import clip_grad_norm_
from optim import Adam
from reverse import no_grad

ROOT = Path(__file__).resolve().parent.parent


def load_text(root: Path = ROOT) -> str:
    """docs/*.md (sorted by name) then README.md, joined by blank lines."""
    paths = sorted((root / "docs").glob("*.md")) + [root / "README.md"]
    missing = [str(p) for p in paths if not p.is_file()]
    if missing or len(paths) == 1:
        raise FileNotFoundError(f"char_lstm: the training text is the repository's docs; "
                                f"not found under {root}: {missing or [str(root / 'docs/*.md')]}")
    return "\n\n".join(p.read_text(encoding="utf-8") for p in paths)


class Vocabulary:
    """The sorted set of a text's characters; ``encode`` maps characters to indices, ``decode``
    back.

    >>> v = Vocabulary("hello")
    >>> v.chars, v.encode("lol").tolist(), v.decode([0, 1])
    ('ehlo', [2, 3, 2], 'eh')
    """

    def __init__(self, text: str) -> None:
        self.chars = "".join(sorted(set(text)))
        self.index = {c: i for i, c in enumerate(self.chars)}

    def __len__(self) -> int:
        return len(self.chars)

    def encode(self, text: str) -> np.ndarray:
        unknown = sorted(set(text) - set(self.index))
        if unknown:
            raise ValueError(f"Vocabulary.encode: characters {unknown} are not in the vocabulary "
                             f"of {len(self)} characters; build it from a text that has them")
        return np.array([self.index[c] for c in text], dtype=np.int64)

    def decode(self, ids: Iterable[int]) -> str:
        return "".join(self.chars[int(i)] for i in ids)


def bigram_cross_entropy(train: np.ndarray, val: np.ndarray, vocab_size: int) -> float:
    """-mean log P(val[t] | val[t-1]) over t >= 1, in nats, with P(b | a) = (n(a b) + 1) /
    (n(a) + V) from the pair counts n of ``train`` (add-one smoothing)."""
    counts = np.ones((vocab_size, vocab_size))
    np.add.at(counts, (train[:-1], train[1:]), 1.0)
    log_p = np.log(counts) - np.log(counts.sum(axis=1, keepdims=True))
    return float(-log_p[val[:-1], val[1:]].mean())


class CharLSTM(Module):
    """Embedding (V, E) -> LSTM (E -> H, ``layers`` deep, batch_first) -> Linear (H -> V).

    forward(x, state=None): x (N, L) character indices; returns logits (N, L, V) and the LSTM's
    final (h, c), each (layers, N, H).
    """

    def __init__(self, vocab_size: int, embed: int = 32, hidden: int = 128,
                 layers: int = 1) -> None:
        super().__init__()
        self.embed = Embedding(vocab_size, embed)
        self.lstm = LSTM(embed, hidden, num_layers=layers, batch_first=True)
        self.head = Linear(hidden, vocab_size)

    def forward(self, x: Any, state: Any = None) -> tuple[Any, Any]:
        out, state = self.lstm(self.embed(x), state)
        return self.head(out), state


def windows(ids: np.ndarray, batch_size: int, seq_len: int
            ) -> Iterator[tuple[np.ndarray, np.ndarray, bool]]:
    """Endless (x, y, first) windows for truncated BPTT: ``ids`` cut into ``batch_size``
    contiguous streams, read ``seq_len`` at a time; y is x shifted by one character, ``first``
    marks the first window of a pass (where the carried state starts again from zeros)."""
    n = (len(ids) - 1) // batch_size
    if n < seq_len:
        raise ValueError(f"windows: {len(ids)} characters make {batch_size} streams of {n}, "
                         f"shorter than seq_len={seq_len}; use a smaller batch or window")
    x_all = ids[:batch_size * n].reshape(batch_size, n)
    y_all = ids[1:batch_size * n + 1].reshape(batch_size, n)
    while True:
        for start in range(0, n - seq_len + 1, seq_len):
            yield x_all[:, start:start + seq_len], y_all[:, start:start + seq_len], start == 0


def evaluate(model: CharLSTM, val: np.ndarray, streams: int) -> float:
    """The model's cross-entropy in nats per character on val[1:] given the characters before,
    ``val`` read as ``streams`` contiguous streams (len(val) - 1 must be a multiple of it)."""
    x = val[:-1].reshape(streams, -1)
    y = val[1:].reshape(streams, -1)
    model.eval()
    try:
        with no_grad():
            logits, _ = model(x)
            loss = cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1))
    finally:
        model.train()
    return float(loss)


def sample(model: CharLSTM, vocab: Vocabulary, prompt: str, length: int,
           temperature: float = 0.8, generator: np.random.Generator | None = None) -> str:
    """``length`` characters drawn one at a time from softmax(logits / temperature), after the
    model has read ``prompt``."""
    if temperature <= 0:
        raise ValueError(f"sample: temperature must be positive, got {temperature}")
    rng = generator if generator is not None else np.random.default_rng()
    ids = vocab.encode(prompt)
    if len(ids) == 0:
        raise ValueError("sample: the prompt must have at least one character")
    model.eval()
    out = []
    try:
        with no_grad():
            logits, state = model(ids[None, :])
            for _ in range(length):
                z = logits.numpy()[0, -1].astype(np.float64) / temperature
                p = np.exp(z - z.max())
                nxt = int(rng.choice(len(vocab), p=p / p.sum()))
                out.append(nxt)
                logits, state = model(np.array([[nxt]]), state)
    finally:
        model.train()
    return vocab.decode(out)


def train(model: CharLSTM, train_ids: np.ndarray, val: np.ndarray, target: float, *,
          batch_size: int, seq_len: int, lr: float, clip: float, max_steps: int,
          max_seconds: float, eval_every: int, eval_streams: int,
          quiet: bool = False) -> dict:
    """Truncated BPTT with Adam until the validation loss is below ``target`` (checked every
    ``eval_every`` steps) or a budget runs out; returns the history and whether it got there."""
    optimizer = Adam(model.parameters(), lr=lr)
    history: dict[str, Any] = {"loss": [], "val_loss": [], "val_step": [], "beaten": False,
                               "steps": 0, "seconds": 0.0}
    state = None
    start = time.perf_counter()
    running = math.nan
    for step, (x, y, first) in enumerate(windows(train_ids, batch_size, seq_len), 1):
        if first:
            state = None
        logits, (h, c) = model(x, state)
        state = (h.detach(), c.detach())  # carried on, but gradients stop at the window
        loss = cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1))
        optimizer.zero_grad()
        loss.backward()
        clip_grad_norm_(model.parameters(), clip)
        optimizer.step()
        value = float(loss)
        history["loss"].append(value)
        running = value if step == 1 else 0.95 * running + 0.05 * value
        seconds = time.perf_counter() - start
        out_of_budget = step >= max_steps or seconds >= max_seconds
        if step % eval_every == 0 or out_of_budget:
            val_loss = evaluate(model, val, eval_streams)
            seconds = time.perf_counter() - start
            history["val_loss"].append(val_loss)
            history["val_step"].append(step)
            history.update(steps=step, seconds=seconds)
            if not quiet:
                rate = step * batch_size * seq_len / seconds
                print(f"step {step:5d}  train {running:.3f}  val {val_loss:.3f}  (bigram "
                      f"{target:.3f})  {rate:,.0f} chars/s  {seconds:.0f} s", flush=True)
            if val_loss < target:
                history["beaten"] = True
                return history
        if out_of_budget:
            return history
    return history  # not reached: windows() is endless


def main(argv: Iterable[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--layers", type=int, default=1, help="LSTM layers")
    parser.add_argument("--hidden", type=int, default=128, help="LSTM hidden size")
    parser.add_argument("--embed", type=int, default=32, help="character embedding size")
    parser.add_argument("--seq-len", type=int, default=64,
                        help="characters per window of truncated BPTT")
    parser.add_argument("--batch-size", type=int, default=32, help="parallel streams")
    parser.add_argument("--lr", type=float, default=1e-2, help="Adam's learning rate")
    parser.add_argument("--clip", type=float, default=1.0, help="gradient norm clipped to this")
    parser.add_argument("--val-fraction", type=float, default=0.1,
                        help="the last part of the text held out for validation")
    parser.add_argument("--limit", type=int, default=None,
                        help="use the first N characters of the text only")
    parser.add_argument("--max-steps", type=int, default=3000)
    parser.add_argument("--max-seconds", type=float, default=300.0)
    parser.add_argument("--eval-every", type=int, default=10, help="steps between validations")
    parser.add_argument("--eval-streams", type=int, default=32,
                        help="the validation text is read as this many parallel streams")
    parser.add_argument("--sample", type=int, default=200, help="characters sampled at the end")
    parser.add_argument("--prompt", default="The ", help="what the sample starts from")
    parser.add_argument("--temperature", type=float, default=0.8)
    parser.add_argument("--seed", type=int, default=0, help="seeds init and sampling")
    parser.add_argument("--quiet", action="store_true", help="no progress output")
    args = parser.parse_args(argv)
    if not 0.0 < args.val_fraction < 1.0:
        parser.error(f"--val-fraction must be in (0, 1), got {args.val_fraction}")

    text = load_text()[:args.limit]
    vocab = Vocabulary(text)
    ids = vocab.encode(text)
    cut = int(len(ids) * (1.0 - args.val_fraction))
    train_ids, val = ids[:cut], ids[cut:]
    # Both models are scored on the same targets: val[1:], trimmed to fill the streams evenly.
    usable = (len(val) - 1) // args.eval_streams * args.eval_streams
    if usable == 0:
        parser.error(f"the held-out part ({len(val)} characters) is too short for "
                     f"--eval-streams {args.eval_streams}")
    val = val[:usable + 1]
    bigram = bigram_cross_entropy(train_ids, val, len(vocab))

    nn.manual_seed(args.seed)
    model = CharLSTM(len(vocab), args.embed, args.hidden, args.layers)
    if not args.quiet:
        print(f"{model}\n{len(train_ids):,} training and {len(val) - 1:,} validation characters, "
              f"{len(vocab)} distinct; windows of {args.batch_size} x {args.seq_len}, Adam lr "
              f"{args.lr}, clip {args.clip}\nbigram (add-one) validation loss: {bigram:.4f} "
              f"nats/char (uniform: {math.log(len(vocab)):.4f})", flush=True)
    history = train(model, train_ids, val, bigram, batch_size=args.batch_size,
                    seq_len=args.seq_len, lr=args.lr, clip=args.clip, max_steps=args.max_steps,
                    max_seconds=args.max_seconds, eval_every=args.eval_every,
                    eval_streams=args.eval_streams, quiet=args.quiet)
    history["bigram"] = bigram
    lstm = history["val_loss"][-1]
    verdict = "beats" if history["beaten"] else "does not beat"
    print(f"LSTM validation loss {lstm:.4f} nats/char {verdict} the bigram's {bigram:.4f} "
          f"after {history['steps']} steps ({history['seconds']:.1f} s)")
    if args.sample > 0:
        text = sample(model, vocab, args.prompt, args.sample, args.temperature,
                      np.random.default_rng(args.seed))
        history["sample"] = text
        print(f"--- sample (temperature {args.temperature}) ---\n{args.prompt}{text}\n---")
    if not history["beaten"]:
        raise SystemExit(f"char_lstm: the LSTM did not beat the bigram within --max-steps "
                         f"{args.max_steps} / --max-seconds {args.max_seconds}")
    return history


if __name__ == "__main__":
    main(sys.argv[1:])
