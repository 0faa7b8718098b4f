#!/usr/bin/env python3
"""Training steps of minidl's character GPT against the same model in PyTorch, in the same run.

The PyTorch twin mirrors models/gpt.cpp: token and position embeddings, pre-LayerNorm blocks
(causal self-attention with dropout on the probabilities, a GELU MLP, residual dropout), a final
LayerNorm and an output layer tied to the token table; AdamW, gradients clipped to norm 1, f32
(no TF32). PyTorch runs eager with F.scaled_dot_product_attention (its fused attention; the
composition on PyTorch 1.x) and, with --compile, under torch.compile too. minidl's figure comes
from the characters/s that `minidl train gpt` reports, which times the training steps only, after
the same 3 warm-up steps as PyTorch's (tools/lm_bench.py: two runs, the difference of their step
times). Prints characters/s for each and the ratio minidl / PyTorch in step time. --precision
bf16 (cuda only) runs minidl with --precision bf16 and PyTorch under
torch.autocast(dtype=torch.bfloat16): both keep f32 weights and compute their matmuls in bf16.
--attention picks minidl's attention path (reference or fused).

Usage: python3 tools/bench_gpt.py [--device cpu|cuda] [--steps 30] [--compile] [--precision f32|bf16]
       [--attention reference|fused] [--minidl build/bin/minidl] [--json out.json]
"""
import argparse
import math
import sys

import bench_common  # before torch: it imports openblas_core
import lm_bench
import torch
from torch import nn
from torch.nn import functional as F


def attention(q, k, v, p):
    """Causal attention with dropout p on the probabilities: PyTorch's fused kernel where it has
    one (2.0 and later), else the composition (Debian's 1.13)."""
    if hasattr(F, "scaled_dot_product_attention"):
        return F.scaled_dot_product_attention(q, k, v, is_causal=True, dropout_p=p)
    t = q.shape[-2]
    scores = (q @ k.transpose(-2, -1)) / math.sqrt(q.shape[-1])
    scores = scores.masked_fill(torch.ones(t, t, dtype=torch.bool, device=q.device).triu(1), float("-inf"))
    return F.dropout(torch.softmax(scores, -1), p) @ v


class Block(nn.Module):
    def __init__(self, width, heads, dropout, attention_dropout):
        super().__init__()
        self.heads, self.attention_dropout = heads, attention_dropout
        self.ln1, self.ln2 = nn.LayerNorm(width), nn.LayerNorm(width)
        self.qkv = nn.Linear(width, 3 * width)
        self.attn_out = nn.Linear(width, width)
        self.fc = nn.Linear(width, 4 * width)
        self.fc_out = nn.Linear(4 * width, width)
        self.drop = nn.Dropout(dropout)

    def forward(self, x):
        b, t, d = x.shape
        q, k, v = self.qkv(self.ln1(x)).split(d, dim=2)
        q, k, v = (z.view(b, t, self.heads, d // self.heads).transpose(1, 2) for z in (q, k, v))
        a = attention(q, k, v, self.attention_dropout if self.training else 0.0)
        x = x + self.drop(self.attn_out(a.transpose(1, 2).reshape(b, t, d)))
        return x + self.drop(self.fc_out(F.gelu(self.fc(self.ln2(x)))))


class Gpt(nn.Module):
    def __init__(self, vocab, context, layers, heads, width, dropout, attention_dropout):
        super().__init__()
        self.token = nn.Embedding(vocab, width)
        self.position = nn.Embedding(context, width)
        self.blocks = nn.ModuleList(Block(width, heads, dropout, attention_dropout) for _ in range(layers))
        self.ln_f = nn.LayerNorm(width)

    def forward(self, ids):
        x = self.token(ids) + self.position(torch.arange(ids.shape[1], device=ids.device))
        for block in self.blocks:
            x = block(x)
        return self.ln_f(x) @ self.token.weight.T


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    lm_bench.add_common_arguments(parser)
    parser.add_argument("--heads", type=int, default=4)
    parser.add_argument("--compile", action=argparse.BooleanOptionalAction, default=False,
                        help="also time PyTorch under torch.compile")
    parser.add_argument("--precision", choices=["f32", "bf16"], default="f32")
    parser.add_argument("--attention", choices=["reference", "fused"], default="reference",
                        help="minidl's attention path")
    args = parser.parse_args()
    if args.precision == "bf16" and args.device != "cuda":
        parser.error("--precision bf16 runs on cuda")
    bench_common.configure_torch(args.threads)
    ours, vocab = lm_bench.minidl_chars_per_s(args, "gpt", ["--heads", str(args.heads), "--precision", args.precision,
                                                            "--attention", args.attention])
    results = {"device": args.device, "torch": torch.__version__, "minidl_chars_per_s": ours,
               "config": {k: getattr(args, k)
                          for k in ("batch", "context", "layers", "heads", "width", "precision", "attention")}}
    if args.device == "cuda":
        results["gpu"] = torch.cuda.get_device_name()
    modes = ("eager", "compile") if args.compile else ("eager",)
    for mode in modes:
        torch.manual_seed(0)
        model = Gpt(vocab, args.context, args.layers, args.heads, args.width, 0.2, 0.1).to(args.device)
        try:
            if mode == "compile":
                model = torch.compile(model)
            results[f"torch_{mode}_chars_per_s"] = lm_bench.torch_chars_per_s(model, vocab, args, args.precision)
        except Exception as e:  # torch.compile needs a working compiler toolchain
            results[f"torch_{mode}_error"] = f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"
    print(f"GPT training step on {args.device}: batch {args.batch}, context {args.context}, {args.layers} layers, "
          f"{args.heads} heads, width {args.width}, vocabulary {vocab}, {args.precision}, minidl {args.attention} "
          f"attention; torch {torch.__version__}")
    lm_bench.report(results, [(mode, f"PyTorch {mode}") for mode in modes], args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
