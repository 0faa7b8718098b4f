#!/usr/bin/python3
"""Dropout forward + backward in minidl and in PyTorch, in the same run, with ratios.

minidl's side is `minidl bench dropout` (the mask regenerated from Philox in backward, and the
1-bit stored mask), PyTorch's is F.dropout(x, p).backward(g) with the same threads. The copy
reference moves the same bytes as forward + backward (read x, write y, read g, write dx): two
copies of the tensor, timed by minidl's own clone.

Needs Debian's python3-torch (bash tools/setup.sh --bench) and a built build/bin/minidl.
Usage: /usr/bin/python3 tools/bench_dropout.py [--elements 16777216] [--p 0.1] [--device cpu]
       [--repeats 10] [--json out.json]
"""
import argparse
import json
import os
import platform
import subprocess
import sys
import time

import torch


def torch_forward_backward_ms(elements, p, device, repeats):
    x = torch.ones(elements, device=device, requires_grad=True)
    g = torch.full((elements,), 0.5, device=device)

    def step():
        x.grad = None
        torch.nn.functional.dropout(x, p, True).backward(g)
        if device == "cuda":
            torch.cuda.synchronize()

    step()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        step()
        times.append((time.perf_counter() - start) * 1e3)
    return sorted(times)[len(times) // 2]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--elements", type=int, default=1 << 24)
    parser.add_argument("--p", type=float, default=0.1)
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--minidl", default=os.path.join(os.path.dirname(__file__), "..", "build", "bin", "minidl"))
    parser.add_argument("--json", help="also write the results here")
    args = parser.parse_args()

    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads))
    out = subprocess.run([args.minidl, "bench", "dropout", "--elements", str(args.elements), "--p", str(args.p),
                          "--device", args.device, "--repeats", str(args.repeats)],
                         check=True, capture_output=True, text=True, env=env).stdout
    ours = json.loads(out.strip().splitlines()[-1])
    torch.set_num_threads(args.threads)
    if args.device == "cuda" and not torch.cuda.is_available():
        torch_ms = None
    else:
        torch_ms = torch_forward_backward_ms(args.elements, args.p, args.device, args.repeats)
    copy_ms = 2 * ours["copy_ms"]

    cpu = platform.processor() or platform.machine()
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    print(f"machine: {cpu}, {args.threads} threads; torch {torch.__version__}")
    print(f"dropout forward+backward, {args.elements} f32 elements, p = {args.p}, on {args.device}, "
          f"median of {args.repeats}")
    print(f"{'':34} {'ms':>9} {'vs PyTorch':>11} {'vs copy':>8}")
    rows = [("minidl, mask regenerated", ours["regenerate_ms"]), ("minidl, 1-bit stored mask", ours["packed_ms"]),
            ("PyTorch F.dropout", torch_ms), ("copy of the same bytes (2 clones)", copy_ms)]
    for name, ms in rows:
        if ms is None:
            print(f"{name:34} {'n/a':>9}")
            continue
        speedup = f"{torch_ms / ms:10.2f}x" if torch_ms else f"{'n/a':>11}"
        print(f"{name:34} {ms:9.2f} {speedup} {ms / copy_ms:7.2f}x")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"machine": cpu, "threads": args.threads, "torch": torch.__version__, "minidl": ours,
                       "torch_ms": torch_ms, "copy_same_bytes_ms": copy_ms}, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
