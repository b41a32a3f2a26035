"""Train a small GPT (a decoder-only transformer) to add 5-digit numbers, with this library.

    python examples/gpt.py            # train until 99% of held-out sums come out exact
    python examples/gpt.py --quick    # a smoke run: a few steps, no target
    python examples/gpt.py --torch    # the same program with PyTorch (if installed), to compare

A problem is a sequence of 16 digits: the two operands' 5 digits each (most significant first),
then the 6 digits of their sum written backwards (least significant first, the order in which
carries are worked out). So 12345 + 67890 = 80235 reads 1234567890 532080. The model reads the
first 15 and predicts each next digit; the loss counts only the 6 answer digits.

A tenth of all 10^10 problems is held out: chosen by a hash of the pair, the same on every run, and
never trained on (training pairs are drawn at random from the other 90%). The model answers
held-out problems by greedy decoding (6 steps, each predicted digit fed back in): every
--eval-every steps the first 250 of a fixed sample of 2,000, and all 2,000 once those 250 reach the
target; training stops when 99% of the 2,000 answers are exact. The run fails (exits non-zero) if
that takes more than --max-steps steps or --max-seconds seconds.

The network is GPT-2's, small: token and position embeddings, 2 pre-norm blocks of causal
self-attention (4 heads, width 64) and an MLP (width 256, GELU), a final LayerNorm and a linear
head; AdamW (lr 1e-3, batch 128) with gradient clipping at norm 1. For some 500 steps the loss
falls slowly and hardly any held-out answer is exact; then within 100 to 200 steps nearly all are.
Seeds 0 to 3 reached the target after 700, 650, 900 and 1,350 steps, in 71 to 181 s on a shared
2-core machine, depending on its load (PyTorch, --torch: 800 steps and 52 s for seed 0). On glibc
much of this library's step goes to faulting in fresh pages for its temporaries; with
MALLOC_MMAP_THRESHOLD_=67108864 MALLOC_TRIM_THRESHOLD_=268435456 in the environment (glibc then
keeps freed memory) seed 3 took 105 s instead of 181 (docs/benchmarks.md).
"""
from __future__ import annotations

import argparse
import math
import os
import sys
import time
from collections.abc import Callable, Iterable
from typing import Any, NamedTuple

if __name__ == "__main__":  # run as a script, so numpy is not imported yet
    # numpy's OpenBLAS on one thread (unless set otherwise), as PyTorch runs for --torch: this
    # network's products are small, and a second thread made the steps 2.6 times as long here
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np

import nn
from nn import functional as F
from optim import AdamW
from reverse import no_grad

DIGITS = 5                   # of each operand
PROMPT = 2 * DIGITS          # the tokens given: both operands
ANSWER = DIGITS + 1          # the tokens to find: the sum, least significant digit first
LENGTH = PROMPT + ANSWER     # 16 tokens in a problem; the model reads the first 15
VOCAB = 10                   # the digits
TARGET = 0.99                # exact answers on the held-out sample
EVAL_SEED = 2026             # draws the held-out sample: the same whatever --seed is


# --- the model ----------------------------------------------------------------------------------


class CausalSelfAttention(nn.Module):
    """Multi-head self-attention in which position t sees positions 0..t only.

    x (N, T, E) -> (N, T, E): one linear map makes the queries, keys and values; each of the
    ``heads`` heads attends with its own E / heads features, and a linear map mixes the heads.
    """

    def __init__(self, width: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(width, 3 * width)
        self.proj = nn.Linear(width, width)

    def forward(self, x):
        N, T, E = x.shape
        # (N, T, 3 E) -> 3 x (N, heads, T, E / heads)
        q, k, v = self.qkv(x).reshape(N, T, 3, self.heads, E // self.heads).permute(2, 0, 3, 1, 4)
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True)  # softmax(q k^T / sqrt d) v
        return self.proj(y.transpose(1, 2).reshape(N, T, E))  # the heads side by side again


class Block(nn.Module):
    """x + attention(LayerNorm(x)), then x + MLP(LayerNorm(x)): GPT-2's pre-norm block."""

    def __init__(self, width: int, heads: int) -> None:
        super().__init__()
        self.ln1 = nn.LayerNorm(width)
        self.attn = CausalSelfAttention(width, heads)
        self.ln2 = nn.LayerNorm(width)
        # GELU's tanh form, as GPT-2 has it (the exact form's erf is much slower here)
        self.mlp = nn.Sequential(nn.Linear(width, 4 * width), nn.GELU(approximate="tanh"),
                                 nn.Linear(4 * width, width))

    def forward(self, x):
        x = x + self.attn(self.ln1(x))
        return x + self.mlp(self.ln2(x))


class GPT(nn.Module):
    """Tokens (N, T) -> logits (N, T, vocab) for the token after each position (T <= length)."""

    def __init__(self, vocab: int = VOCAB, length: int = LENGTH, width: int = 64,
                 layers: int = 2, heads: int = 4) -> None:
        super().__init__()
        self.token = nn.Embedding(vocab, width)
        self.position = nn.Embedding(length, width)
        self.blocks = nn.ModuleList([Block(width, heads) for _ in range(layers)])
        self.ln = nn.LayerNorm(width)
        self.head = nn.Linear(width, vocab)

    def forward(self, tokens):
        x = self.token(tokens) + self.position(np.arange(tokens.shape[1]))
        for block in self.blocks:
            x = block(x)
        return self.head(self.ln(x))


# --- the problems -------------------------------------------------------------------------------


def is_held_out(a: Any, b: Any) -> np.ndarray:
    """Whether the problem a + b is one of the held-out tenth: splitmix64's hash of the pair,
    modulo 10, is 0. Works elementwise on arrays of operands."""
    z = np.atleast_1d(np.asarray(a, np.uint64) * np.uint64(10 ** DIGITS)
                      + np.asarray(b, np.uint64))
    z = z + np.uint64(0x9E3779B97F4A7C15)  # uint64 arrays wrap around, as the hash wants
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    z = z ^ (z >> np.uint64(31))
    return (z % np.uint64(10) == 0).reshape(np.shape(a))


def training_pairs(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    """n problems (a, b) drawn uniformly from those not held out."""
    a, b = np.empty(0, np.int64), np.empty(0, np.int64)
    while len(a) < n:
        x, y = rng.integers(0, 10 ** DIGITS, (2, 2 * n))
        keep = ~is_held_out(x, y)
        a, b = np.concatenate([a, x[keep]]), np.concatenate([b, y[keep]])
    return a[:n], b[:n]


def held_out_pairs(n: int, seed: int = EVAL_SEED) -> tuple[np.ndarray, np.ndarray]:
    """A fixed sample of n held-out problems (a, b)."""
    rng = np.random.default_rng(seed)
    x, y = rng.integers(0, 10 ** DIGITS, (2, 20 * n + 1000))
    keep = is_held_out(x, y)
    assert keep.sum() >= n, "held_out_pairs: too few held-out problems drawn"
    return x[keep][:n], y[keep][:n]


def encode(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(n, 16) int64 tokens: the digits of a and of b, most significant first, then those of
    a + b, least significant first."""
    c = a + b
    columns = ([a // 10 ** i % 10 for i in reversed(range(DIGITS))]
               + [b // 10 ** i % 10 for i in reversed(range(DIGITS))]
               + [c // 10 ** i % 10 for i in range(ANSWER)])
    return np.stack(columns, axis=1).astype(np.int64)


def to_number(answer: np.ndarray) -> np.ndarray:
    """The numbers written by (n, 6) digits, least significant first."""
    return answer @ (10 ** np.arange(answer.shape[1], dtype=np.int64))


# --- training -----------------------------------------------------------------------------------


class Kit(NamedTuple):
    """What the loop needs of a framework: this library's, or PyTorch's for --torch."""

    name: str
    model: Any
    optimizer: Any
    tensor: Callable[[np.ndarray], Any]   # an int64 numpy array as the model's input
    no_grad: Callable[[], Any]
    cross_entropy: Callable[..., Any]
    clip_grad_norm_: Callable[..., Any]


def library_kit(lr: float, **sizes: int) -> Kit:
    """GPT(**sizes) with AdamW, in this library."""
    model = GPT(**sizes)
    return Kit("this library", model, AdamW(model.parameters(), lr=lr), lambda a: a, no_grad,
               F.cross_entropy, nn.utils.clip_grad_norm_)


def decode(kit: Kit, prompts: np.ndarray, batch_size: int = 500) -> np.ndarray:
    """Greedy decoding: the (n, 6) answer digits of (n, 10) prompts, each digit the likeliest
    after the prompt and the digits predicted before it."""
    answers = []
    with kit.no_grad():
        for start in range(0, len(prompts), batch_size):
            tokens = prompts[start:start + batch_size]
            for _ in range(ANSWER):
                logits = kit.model(kit.tensor(tokens))
                best = np.asarray(logits[:, -1].argmax(-1)).astype(np.int64)
                tokens = np.concatenate([tokens, best[:, None]], axis=1)
            answers.append(tokens[:, PROMPT:])
    return np.concatenate(answers)


def exact_match(kit: Kit, a: np.ndarray, b: np.ndarray) -> float:
    """The fraction of problems a + b whose decoded answer is the sum."""
    answers = decode(kit, encode(a, b)[:, :PROMPT])
    return float(np.mean(to_number(answers) == a + b))


def learning_rate(step: int, lr: float, warmup: int) -> float:
    """lr, after a linear warmup over the first ``warmup`` steps (none by default)."""
    return lr * min(1.0, step / warmup) if warmup > 0 else lr


def train(kit: Kit, args: argparse.Namespace, eval_pairs: tuple[np.ndarray, np.ndarray]) -> dict:
    """Steps of AdamW on random training problems until the held-out exact match reaches the
    target (or a limit is reached); returns the history."""
    rng = np.random.default_rng(args.seed)
    model, optimizer = kit.model, kit.optimizer
    a, b = eval_pairs
    history: dict[str, Any] = {"loss": [], "accuracy": [], "reached": None}
    start = time.perf_counter()
    running = math.nan
    for step in range(1, args.max_steps + 1):
        for group in optimizer.param_groups:
            group["lr"] = learning_rate(step, args.lr, args.warmup)
        tokens = encode(*training_pairs(rng, args.batch_size))
        logits = model(kit.tensor(tokens[:, :-1]))  # position t predicts token t + 1
        answer_logits = logits[:, PROMPT - 1:].reshape(-1, VOCAB)  # those predicting the answer
        loss = kit.cross_entropy(answer_logits, kit.tensor(tokens[:, PROMPT:].reshape(-1)))
        loss.backward()
        kit.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        optimizer.zero_grad()
        value = loss.item()
        history["loss"].append(value)
        running = value if step == 1 else 0.95 * running + 0.05 * value
        if step % args.eval_every == 0 or step == args.max_steps:
            # decoding is the costly part: a first part of the sample, then all of it once
            # that part reaches the target
            n = min(args.eval_first, len(a))
            accuracy = exact_match(kit, a[:n], b[:n])
            if accuracy >= TARGET and n < len(a):
                n, accuracy = len(a), exact_match(kit, a, b)
            elapsed = time.perf_counter() - start
            history["accuracy"].append((step, accuracy, n, elapsed))
            if not args.quiet:
                print(f"step {step:5d}  loss {running:.4f}  held-out exact {accuracy:7.2%} of "
                      f"{n:,}  {elapsed:6.1f} s", flush=True)
            if accuracy >= TARGET and n == len(a) and not args.quick:
                history["reached"] = (step, elapsed)
                break
            if elapsed > args.max_seconds:
                break
    history["steps"], history["seconds"] = step, time.perf_counter() - start
    return history


# --- the same with PyTorch ----------------------------------------------------------------------


def torch_kit(lr: float, seed: int, **sizes: int) -> Kit:
    """The same network (GPT(**sizes)), optimizer and clipping in PyTorch (CPU, one thread)."""
    import torch
    from torch import nn as tnn
    from torch.nn import functional as tF

    torch.manual_seed(seed)
    torch.set_num_threads(1)

    class TorchAttention(tnn.Module):
        def __init__(self, width: int, heads: int) -> None:
            super().__init__()
            self.heads = heads
            self.qkv = tnn.Linear(width, 3 * width)
            self.proj = tnn.Linear(width, width)

        def forward(self, x):
            N, T, E = x.shape
            q, k, v = self.qkv(x).reshape(N, T, 3, self.heads, E // self.heads).permute(
                2, 0, 3, 1, 4)
            y = tF.scaled_dot_product_attention(q, k, v, is_causal=True)
            return self.proj(y.transpose(1, 2).reshape(N, T, E))

    class TorchBlock(tnn.Module):
        def __init__(self, width: int, heads: int) -> None:
            super().__init__()
            self.ln1 = tnn.LayerNorm(width)
            self.attn = TorchAttention(width, heads)
            self.ln2 = tnn.LayerNorm(width)
            self.mlp = tnn.Sequential(tnn.Linear(width, 4 * width), tnn.GELU(approximate="tanh"),
                                      tnn.Linear(4 * width, width))

        def forward(self, x):
            x = x + self.attn(self.ln1(x))
            return x + self.mlp(self.ln2(x))

    class TorchGPT(tnn.Module):
        def __init__(self, vocab: int = VOCAB, length: int = LENGTH, width: int = 64,
                     layers: int = 2, heads: int = 4) -> None:
            super().__init__()
            self.token = tnn.Embedding(vocab, width)
            self.position = tnn.Embedding(length, width)
            self.blocks = tnn.ModuleList([TorchBlock(width, heads) for _ in range(layers)])
            self.ln = tnn.LayerNorm(width)
            self.head = tnn.Linear(width, vocab)

        def forward(self, tokens):
            x = self.token(tokens) + self.position(torch.arange(tokens.shape[1]))
            for block in self.blocks:
                x = block(x)
            return self.head(self.ln(x))

    model = TorchGPT(**sizes)
    return Kit("PyTorch", model, torch.optim.AdamW(model.parameters(), lr=lr), torch.from_numpy,
               torch.no_grad, tF.cross_entropy, tnn.utils.clip_grad_norm_)


# --- the run ------------------------------------------------------------------------------------


def main(argv: Iterable[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0, help="seeds init and the training draws")
    parser.add_argument("--max-steps", type=int, default=3000)
    parser.add_argument("--max-seconds", type=float, default=180.0)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--warmup", type=int, default=0, help="steps of linear lr warmup")
    parser.add_argument("--eval-every", type=int, default=50)
    parser.add_argument("--eval-size", type=int, default=2000,
                        help="the held-out sample, decoded in full once --eval-first of it are "
                        "right")
    parser.add_argument("--eval-first", type=int, default=250,
                        help="held-out problems decoded every --eval-every steps")
    parser.add_argument("--quick", action="store_true",
                        help="a smoke run: 30 steps, 100 held-out problems, no target")
    parser.add_argument("--torch", action="store_true", help="run it with PyTorch instead")
    parser.add_argument("--quiet", action="store_true", help="no progress output")
    args = parser.parse_args(argv)
    if min(args.max_steps, args.eval_every, args.eval_size, args.batch_size) < 1:
        parser.error("--max-steps, --eval-every, --eval-size and --batch-size must be at least 1")
    if args.quick:
        args.max_steps, args.eval_every, args.eval_size = 30, 10, 100

    if args.torch:
        try:
            kit = torch_kit(args.lr, args.seed)
        except ImportError:
            raise SystemExit("--torch needs PyTorch: pip install torch") from None
    else:
        nn.manual_seed(args.seed)
        kit = library_kit(args.lr)
    eval_pairs = held_out_pairs(args.eval_size)
    if not args.quiet:
        count = sum(p.numel() for p in kit.model.parameters())
        warmup = f" after {args.warmup} warmup steps" if args.warmup > 0 else ""
        print(f"{kit.name}: {kit.model}\n{count:,} parameters; AdamW lr {args.lr}{warmup}, batch "
              f"{args.batch_size}; every {args.eval_every} steps "
              f"{min(args.eval_first, args.eval_size):,} held-out problems decoded, all "
              f"{len(eval_pairs[0]):,} once those reach {TARGET:.0%}", flush=True)
    history = train(kit, args, eval_pairs)
    if args.quick:
        return history
    if history["reached"] is None:
        best = max(acc for _, acc, _, _ in history["accuracy"])
        raise SystemExit(f"held-out exact match {best:.2%} (best) is below the target "
                         f"{TARGET:.0%} after {history['steps']} steps and "
                         f"{history['seconds']:.0f} s")
    step, seconds = history["reached"]
    if not args.quiet:
        print(f"reached {TARGET:.0%} held-out exact match at step {step}, in {seconds:.1f} s")
    return history


if __name__ == "__main__":
    main(sys.argv[1:])
