"""What the language-model benchmarks (tools/bench_gpt.py, tools/bench_lstm.py) share: their common
options, the timing of a PyTorch twin's training steps and of `minidl train MODEL`'s, both after
WARMUP_STEPS warm-up steps, and the report (characters/s and the ratio minidl / PyTorch in step
time, printed and written as JSON)."""
import json
import re
import subprocess
import time

from bench_common import add_runner_arguments  # before torch: it imports openblas_core
import torch
from torch import nn
from torch.nn import functional as F

WARMUP_STEPS = 3  # steps each side runs before its timing starts


def add_common_arguments(parser):
    """The options every language-model benchmark takes; the sizes default to `minidl train`'s."""
    add_runner_arguments(parser)
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--context", type=int, default=128)
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--width", type=int, default=128)


def torch_chars_per_s(model, vocab, args, precision="f32"):
    """The rate of `model`'s training steps (ids [batch, T] -> logits [batch, T, vocab]) after
    WARMUP_STEPS: cross-entropy, backward, gradients clipped to norm 1, AdamW as minidl's defaults
    (lr 1e-3, weight decay 0.05); bf16 runs the model under torch.autocast."""
    autocast = torch.autocast(device_type=args.device, dtype=torch.bfloat16, enabled=precision == "bf16")
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.05)
    gen = torch.Generator().manual_seed(0)
    batches = [torch.randint(0, vocab, (args.batch, args.context + 1), generator=gen).to(args.device)
               for _ in range(4)]

    def step(ids):
        opt.zero_grad(set_to_none=True)
        with autocast:
            logits = model(ids[:, :-1])
            loss = F.cross_entropy(logits.reshape(-1, vocab), ids[:, 1:].reshape(-1))
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        return loss.item()

    for i in range(WARMUP_STEPS):
        step(batches[i % 4])  # warm-up (and compilation)
    start = time.perf_counter()
    for i in range(args.steps):
        step(batches[i % 4])
    if args.device == "cuda":
        torch.cuda.synchronize()
    return args.steps * args.batch * args.context / (time.perf_counter() - start)


def minidl_run_seconds(args, model, flags, steps):
    """The training-step time of `minidl train MODEL --steps STEPS FLAGS` (from the characters/s it
    reports over all its steps), and the vocabulary."""
    log = subprocess.run([args.minidl, "train", model, "--steps", str(steps), "--eval-every", str(steps),
                          "--eval-windows", "8", "--batch-size", str(args.batch), "--context", str(args.context),
                          "--layers", str(args.layers), "--width", str(args.width), "--device", args.device, *flags],
                         check=True, capture_output=True, text=True).stdout
    vocab = int(re.search(r"vocabulary (\d+)", log).group(1))
    rate = float(re.search(r"\(([0-9.]+) characters/s\)", log).group(1))
    return steps * args.batch * args.context / rate, vocab


def minidl_chars_per_s(args, model, flags):
    """minidl's rate after its warm-up steps, as PyTorch's is timed: the time of a run of
    WARMUP_STEPS + --steps steps less that of a run of WARMUP_STEPS (the first step pays for
    one-time set-up, 0.2 s on a GPU against 5 ms steps), and the vocabulary."""
    warmup_s, vocab = minidl_run_seconds(args, model, flags, WARMUP_STEPS)
    total_s, _ = minidl_run_seconds(args, model, flags, WARMUP_STEPS + args.steps)
    return args.steps * args.batch * args.context / (total_s - warmup_s), vocab


def report(results, figures, json_path):
    """Prints minidl's rate and, for each (name, label) of `figures`, results' torch_NAME_chars_per_s
    (or torch_NAME_error) with the ratio minidl / PyTorch in step time, which joins results as
    ratio_minidl_step_time_over_torch_NAME; writes results to json_path when given."""
    ours = results["minidl_chars_per_s"]
    print(f"  {'minidl':18}{ours:12.0f} characters/s")
    for name, label in figures:
        key = f"torch_{name}_chars_per_s"
        if key in results:
            ratio = results[key] / ours
            results[f"ratio_minidl_step_time_over_torch_{name}"] = ratio
            print(f"  {label:18}{results[key]:12.0f} characters/s   minidl step time / PyTorch: {ratio:.2f}")
        else:
            print(f"  {label:18}failed: {results[f'torch_{name}_error']}")
    if json_path:
        with open(json_path, "w") as f:
            json.dump(results, f, indent=2)
