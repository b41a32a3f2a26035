"""One training step of a small GPT: this library against PyTorch CPU eager.

The model is examples/gpt.py's (token and position embeddings, 2 pre-norm blocks of causal
self-attention with 4 heads and an MLP of width 256 with GELU's tanh form, width 64), with a
vocabulary of 16, on batches of 32 sequences of 16 random tokens (--batch, --tokens), each position
predicting the next token (cross-entropy). What is timed is one step: forward, loss, backward,
AdamW (lr 1e-3) and zero_grad (no gradient clipping); each timed run is --steps steps, and the
implementations take turns within every repeat, medians printed.

    python benchmarks/transformer.py              # 15 repeats of 10 steps
    python benchmarks/transformer.py --quick      # 3 repeats
    python benchmarks/transformer.py --profile    # and cProfile's top 15 (tottime) of our step
    python benchmarks/transformer.py --batch 128 --tokens 15   # the example's own batches

Rows: this library with the example's attention block (one linear map to q, k, v and
nn.functional.scaled_dot_product_attention(is_causal=True)); this library with nn.MultiheadAttention
(batch_first, a boolean causal mask) in the block instead; PyTorch (examples/gpt.py's twin of the
first, torch.set_num_threads(1)) when it is installed. All start from the same weights (copied
from the first) and see the same batches; the first step's losses are printed side by side.
numpy's OpenBLAS runs on one thread (common.py), as PyTorch does.
"""
from __future__ import annotations

import argparse
import cProfile
import pstats
import statistics
import sys
from pathlib import Path
from typing import Any

import numpy as np
from common import (
    add_blas_option,
    add_malloc_option,
    blas_threads,
    header,
    import_torch,
    paired_ratio,
    peak_mib,
    tune_malloc,
    turns,
)

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "examples"))

import gpt  # the model (examples/gpt.py)

import nn
from nn import functional as F
from optim import AdamW
from reverse import Tensor, jit, value_and_grad

VOCAB, LR = 16, 1e-3
SIZES = {"vocab": VOCAB, "width": 64, "layers": 2, "heads": 4}


class MHAttention(nn.Module):
    """The example's CausalSelfAttention through nn.MultiheadAttention (the same parameters in
    in_proj_weight and out_proj, a boolean mask that leaves out the later positions)."""

    def __init__(self, width: int, heads: int) -> None:
        super().__init__()
        self.mha = nn.MultiheadAttention(width, heads, batch_first=True)

    def forward(self, x):
        T = x.shape[1]
        later = np.triu(np.ones((T, T), dtype=bool), 1)
        return self.mha(x, x, x, attn_mask=later, need_weights=False, is_causal=True)[0]


def batches(count: int, size: int, tokens: int,
            seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """``count`` batches of (inputs, next tokens), both (size, tokens), of random int64 tokens."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(count):
        seq = rng.integers(0, VOCAB, (size, tokens + 1))
        out.append((seq[:, :-1], seq[:, 1:]))
    return out


class Library:
    """This library: the example's GPT, nn.functional.cross_entropy, optim.AdamW."""

    def __init__(self, name: str, model: Any) -> None:
        self.name, self.model = name, model
        self.optimizer = AdamW(model.parameters(), lr=LR)

    def step(self, x: np.ndarray, y: np.ndarray) -> float:
        logits = self.model(x)
        loss = F.cross_entropy(logits.reshape(-1, VOCAB), y.reshape(-1))
        loss.backward()
        self.optimizer.step()
        self.optimizer.zero_grad()
        return float(loss)


class LibraryJit(Library):
    """The same step with forward, loss and backward compiled: jit of value_and_grad, the model
    called through nn.functional_call with its parameters as arrays; AdamW steps as before."""

    def __init__(self, name: str, model: Any) -> None:
        super().__init__(name, model)
        self.params = dict(model.named_parameters())

        def loss_of(values: dict, x: Any, y: Any) -> Any:
            logits = nn.functional_call(model, values, (x,))
            return F.cross_entropy(logits.reshape(-1, VOCAB), y.reshape(-1))

        self.compiled = jit(value_and_grad(loss_of))

    def step(self, x: np.ndarray, y: np.ndarray) -> float:
        # Tensors as arguments: the model's PyTorch habits (x.transpose(1, 2)) hold in the trace,
        # and the gradients come back as Tensors.
        values = {name: Tensor.from_numpy(p.data) for name, p in self.params.items()}
        loss, grads = self.compiled(values, Tensor.from_numpy(x), Tensor.from_numpy(y))
        for name, p in self.params.items():
            p.grad = grads[name]
        self.optimizer.step()
        self.optimizer.zero_grad()
        return float(loss)


class Torch:
    """PyTorch CPU eager: examples/gpt.py's twin, torch.nn.functional.cross_entropy, AdamW."""

    def __init__(self, torch: Any, weights: dict[str, np.ndarray], sizes: dict) -> None:
        self.name, self.torch = "PyTorch CPU eager", torch
        kit = gpt.torch_kit(LR, 0, **sizes)
        self.model, self.optimizer = kit.model, kit.optimizer
        state = self.model.state_dict()
        if set(state) != set(weights):
            raise RuntimeError(f"the two models' parameter names differ: "
                               f"{sorted(set(state) ^ set(weights))}")
        with torch.no_grad():
            for key, value in state.items():
                value.copy_(torch.from_numpy(weights[key]))

    def step(self, x: np.ndarray, y: np.ndarray) -> float:
        functional = self.torch.nn.functional
        logits = self.model(self.torch.from_numpy(x))
        loss = functional.cross_entropy(logits.reshape(-1, VOCAB),
                                        self.torch.from_numpy(y).reshape(-1))
        loss.backward()
        self.optimizer.step()
        self.optimizer.zero_grad()
        return loss.item()


def copy_into_mha(source: gpt.GPT, target: gpt.GPT) -> None:
    """Give ``target`` (MultiheadAttention blocks) the weights of ``source`` (the example's)."""
    weights = {k: np.asarray(v) for k, v in source.state_dict().items()}
    for key in list(weights):
        for ours, theirs in ((".attn.qkv.", ".attn.mha.in_proj_"),
                             (".attn.proj.", ".attn.mha.out_proj.")):
            if ours in key:
                name = key.replace(ours, theirs)
                weights[name] = weights.pop(key)
    target.load_state_dict(weights)


def profile_step(impl: Library, data: list, top: int = 15) -> None:
    """cProfile of ``len(data)`` steps of ``impl``: the ``top`` functions by own time."""
    profiler = cProfile.Profile()
    profiler.enable()
    for x, y in data:
        impl.step(x, y)
    profiler.disable()
    print(f"\ncProfile, {len(data)} steps of {impl.name}, top {top} by tottime:")
    pstats.Stats(profiler, stream=sys.stdout).sort_stats("tottime").print_stats(top)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=15, help="timed runs of each (median)")
    parser.add_argument("--steps", type=int, default=10, help="training steps in a timed run")
    parser.add_argument("--quick", action="store_true", help="3 repeats")
    parser.add_argument("--profile", action="store_true",
                        help="also print cProfile's top 15 (tottime) of this library's step")
    parser.add_argument("--batch", type=int, default=32, help="sequences in a batch")
    parser.add_argument("--tokens", type=int, default=16, help="tokens in a sequence")
    parser.add_argument("--seed", type=int, default=0, help="seeds the weights and the batches")
    add_blas_option(parser)
    add_malloc_option(parser)
    args = parser.parse_args()
    repeats = 3 if args.quick else args.repeats

    torch = import_torch()
    print(header(blas_threads(args.blas_threads), peers=("torch",) if torch is not None else (),
                 malloc=tune_malloc(args.tune_malloc)))
    sizes = dict(SIZES, length=args.tokens)
    nn.manual_seed(args.seed)
    model = gpt.GPT(**sizes)
    mha_model = gpt.GPT(**sizes)
    for block in mha_model.blocks:
        block.attn = MHAttention(SIZES["width"], SIZES["heads"])
    copy_into_mha(model, mha_model)
    jit_model = gpt.GPT(**sizes)
    jit_model.load_state_dict(model.state_dict())
    impls: list[Any] = [Library("this library (sdpa block)", model),
                        Library("this library (nn.MultiheadAttention)", mha_model),
                        LibraryJit("this library, jit (compiled fwd+bwd)", jit_model)]
    if torch is not None:
        weights = {k: np.asarray(v) for k, v in model.state_dict().items()}
        impls.append(Torch(torch, weights, sizes))
    count = sum(p.numel() for p in model.parameters())
    print(f"GPT: vocabulary {VOCAB}, {args.tokens} tokens, width {SIZES['width']}, "
          f"{SIZES['layers']} layers, {SIZES['heads']} heads ({count:,} parameters); batch "
          f"{args.batch}; one step = forward, cross-entropy, backward, AdamW (lr {LR}), "
          f"zero_grad")
    print(f"timed: {args.steps} steps a run, median of {repeats} runs taking turns (after one "
          f"untimed run each); ms per step", flush=True)

    data = batches(args.steps, args.batch, args.tokens, args.seed)
    first = [impl.step(*data[0]) for impl in impls]  # the same weights: the same first loss
    print("first step's loss: " + ", ".join(f"{impl.name} {loss:.6f}"
                                            for impl, loss in zip(impls, first)))

    def run(impl: Any, steps: list) -> Any:
        return lambda: [impl.step(x, y) for x, y in steps]

    memory = [peak_mib(run(impl, data[:1])) for impl in impls]  # of one step

    times = turns([run(impl, data) for impl in impls], repeats)
    base = times[-1] if torch is not None else times[0]
    print(f"\n  {'implementation':38s} {'ms/step':>8s} {'/ PyTorch':>10s} {'paired':>7s} "
          f"{'tracemalloc MiB':>16s}")
    for impl, t, mib in zip(impls, times, memory):
        ms = 1e3 * statistics.median(t) / args.steps
        if torch is not None:
            ratio = statistics.median(t) / statistics.median(base)
            versus, paired = f"{ratio:10.2f}", f"{paired_ratio(t, base):7.2f}"
        else:
            versus, paired = f"{'-':>10s}", f"{'-':>7s}"
        traced = "n/a" if isinstance(impl, Torch) else f"{mib:.1f}"
        print(f"  {impl.name:38s} {ms:8.2f} {versus} {paired} {traced:>16s}")
    print(f"  {impls[1].name} / {impls[0].name}, paired: "
          f"{paired_ratio(times[1], times[0]):.3f}")
    if torch is None:
        print("  (PyTorch is not installed: no comparison column)")
    else:
        print("  (paired: the median over repeats of the ratio within each repeat; PyTorch "
              "allocates outside tracemalloc)")
    print("\n  runs, ms/step: " + "; ".join(
        f"{impl.name}: " + ", ".join(f"{1e3 * s / args.steps:.1f}" for s in t)
        for impl, t in zip(impls, times)))
    if args.profile:
        profile_step(impls[0], data)


if __name__ == "__main__":
    main()
