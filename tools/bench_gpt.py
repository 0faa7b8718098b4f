#!/usr/bin/env python3
"""Training steps of minidl's character GPT against the same model in PyTorch, in the same run.

The PyTorch twin mirrors models/gpt.cpp: token and position embeddings, pre-LayerNorm blocks
(causal self-attention with dropout on the probabilities, a GELU MLP, residual dropout), a final
LayerNorm and an output layer tied to the token table; AdamW, gradients clipped to norm 1, f32
(no TF32). PyTorch runs eager with F.scaled_dot_product_attention (its fused attention; the
composition on PyTorch 1.x) and, with
--compile, under torch.compile too. minidl's figure is the characters/s that `minidl train gpt` reports,
which times the training steps only. Prints characters/s for each and the ratio
minidl / PyTorch in step time. --precision bf16 (cuda only) runs minidl with --precision bf16 and
PyTorch under torch.autocast(dtype=torch.bfloat16): both keep f32 weights and compute their
matmuls in bf16. --attention picks minidl's attention path (reference or fused).

Usage: python3 tools/bench_gpt.py [--device cpu|cuda] [--steps 30] [--compile] [--precision f32|bf16]
       [--attention reference|fused] [--minidl build/bin/minidl] [--json out.json]
"""
import argparse
import json
import math
import os
import re
import subprocess
import sys
import time

import openblas_core  # noqa: F401  (sets OPENBLAS_CORETYPE before torch loads OpenBLAS)
import torch
from torch import nn
from torch.nn import functional as F

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


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


def torch_chars_per_s(model, args, vocab, device):
    autocast = torch.autocast(device_type=device, dtype=torch.bfloat16, enabled=args.precision == "bf16")

    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.05)
    gen = torch.Generator().manual_seed(0)
    batches = [torch.randint(0, vocab, (args.batch, args.context + 1), generator=gen).to(device) for _ in range(4)]

    def step(ids):
        opt.zero_grad(set_to_none=True)
        with autocast:
            logits = model(ids[:, :-1])
            loss = F.cross_entropy(logits.reshape(-1, vocab), ids[:, 1:].reshape(-1))
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        return loss.item()

    for i in range(3):
        step(batches[i % 4])  # warm-up (and compilation)
    start = time.perf_counter()
    for i in range(args.steps):
        step(batches[i % 4])
    if device == "cuda":
        torch.cuda.synchronize()
    return args.steps * args.batch * args.context / (time.perf_counter() - start)


def minidl_chars_per_s(args):
    log = subprocess.run([args.minidl, "train", "gpt", "--steps", str(args.steps), "--eval-every", str(args.steps),
                          "--eval-windows", "8", "--batch-size", str(args.batch), "--context", str(args.context),
                          "--layers", str(args.layers), "--heads", str(args.heads), "--width", str(args.width),
                          "--device", args.device, "--precision", args.precision, "--attention", args.attention],
                         check=True, capture_output=True, text=True).stdout
    vocab = int(re.search(r"vocabulary (\d+)", log).group(1))
    return float(re.search(r"\(([0-9.]+) characters/s\)", log).group(1)), vocab


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--context", type=int, default=128)
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--heads", type=int, default=4)
    parser.add_argument("--width", type=int, default=128)
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--compile", action=argparse.BooleanOptionalAction, default=False,
                        help="also time PyTorch under torch.compile")
    parser.add_argument("--precision", choices=["f32", "bf16"], default="f32")
    parser.add_argument("--attention", choices=["reference", "fused"], default="reference",
                        help="minidl's attention path")
    parser.add_argument("--minidl", default=os.path.join(ROOT, "build", "bin", "minidl"))
    parser.add_argument("--json", help="also write the results here")
    args = parser.parse_args()
    if args.precision == "bf16" and args.device != "cuda":
        parser.error("--precision bf16 runs on cuda")
    torch.set_num_threads(args.threads)
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    ours, vocab = minidl_chars_per_s(args)
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
            results[f"torch_{mode}_chars_per_s"] = torch_chars_per_s(model, args, vocab, args.device)
        except Exception as e:  # torch.compile needs a working compiler toolchain
            results[f"torch_{mode}_error"] = f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"
    print(f"GPT training step on {args.device}: batch {args.batch}, context {args.context}, {args.layers} layers, "
          f"{args.heads} heads, width {args.width}, vocabulary {vocab}, {args.precision}, minidl {args.attention} "
          f"attention; torch {torch.__version__}")
    print(f"  minidl            {ours:12.0f} characters/s")
    for mode in modes:
        key = f"torch_{mode}_chars_per_s"
        if key in results:
            ratio = results[key] / ours
            results[f"ratio_minidl_step_time_over_torch_{mode}"] = ratio
            print(f"  PyTorch {mode:8}  {results[key]:12.0f} characters/s   minidl step time / PyTorch: {ratio:.2f}")
        else:
            print(f"  PyTorch {mode:8}  failed: {results[f'torch_{mode}_error']}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
