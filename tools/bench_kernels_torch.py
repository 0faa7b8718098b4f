#!/usr/bin/env python3
"""PyTorch's equivalent of each kernel minidl_kernel_bench measures, on the same GPU, the same sizes
and the same timing method (CUDA events, L2 flushed before each repeat, median), then the ratio
minidl / PyTorch in achieved bandwidth (GFLOP/s for the GEMM) read from minidl_kernel_bench's JSON.
Not a test: tools/gpu-check runs it after minidl_kernel_bench.

Usage: python3 tools/bench_kernels_torch.py --minidl-json kernel-bench.json [--n 67108864] [--json out.json]
"""
import argparse
import json
import statistics

import torch


def median_ms(fn, repeats, flush):
    fn()  # warm-up
    times = []
    for r in range(repeats):
        flush.fill_(r)
        start, stop = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        fn()
        stop.record()
        stop.synchronize()
        times.append(start.elapsed_time(stop))
    return statistics.median(times)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=1 << 26, help="elements per tensor (as minidl_kernel_bench)")
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--minidl-json", help="minidl_kernel_bench --json output, for the ratios")
    parser.add_argument("--json", help="write the results here")
    args = parser.parse_args()
    n, dev = args.n, "cuda"
    torch.backends.cuda.matmul.allow_tf32 = False  # f32 GEMM as minidl's (no TF32)
    flush = torch.empty(torch.cuda.get_device_properties(0).L2_cache_size * 2 // 4, device=dev)
    x = torch.full((n,), 0.5, device=dev)
    g = torch.full((n,), 0.1, device=dev)
    rows = x.view(n // 1024, 1024)
    labels = torch.full((n // 1024,), 3, dtype=torch.int64, device=dev)
    xb, gb = x.to(torch.bfloat16), g.to(torch.bfloat16)
    scores = x.view(n // (128 * 128), 128, 128)
    scores_b = xb.view(n // (128 * 128), 128, 128)
    causal = torch.ones(128, 128, dtype=torch.bool, device=dev).triu(1)
    ln_w, ln_b = torch.ones(1024, device=dev), torch.zeros(1024, device=dev)
    param = torch.nn.Parameter(x.clone())
    param.grad = g.clone()
    adamw = torch.optim.AdamW([param], lr=1e-3, weight_decay=0.01, fused=True)
    f, h = 4, 2
    kernels = {  # name (as minidl_kernel_bench): (bytes moved, function)
        "unary relu": (2 * n * f, lambda: torch.relu(x)),
        "binary add": (3 * n * f, lambda: x + g),
        "dropout forward p=0.1": (2 * n * f, lambda: torch.nn.functional.dropout(x, 0.1)),
        "unary gelu bf16": (2 * n * h, lambda: torch.nn.functional.gelu(xb)),
        "dropout forward p=0.1 bf16": (2 * n * h, lambda: torch.nn.functional.dropout(xb, 0.1)),
        # autocast's block output: a bf16 projection plus an f32 bias, dropped out, onto the f32 residual
        "bias+dropout+residual bf16 x": (n * h + 2 * n * f, lambda: g + torch.nn.functional.dropout(
            xb.view(n // 1024, 1024) + ln_b, 0.1).view(n)),
        "softmax+dropout causal bf16": (3 * n * h, lambda: torch.nn.functional.dropout(
            torch.softmax(scores_b.masked_fill(causal, float("-inf")), -1), 0.1)),
        "gaussian dropout": (2 * n * f, lambda: x * torch.randn_like(x).mul_(0.33).add_(1)),
        "reduce sum rows (1024)": (n * f, lambda: rows.sum(1)),
        "reduce sum columns (128)": (n * f, lambda: x.view(n // 128, 128).sum(0)),
        "softmax rows (1024)": (2 * n * f, lambda: torch.softmax(rows, 1)),
        "softmax+dropout causal (128)": (3 * n * f, lambda: torch.nn.functional.dropout(
            torch.softmax(scores.masked_fill(causal, float("-inf")), -1), 0.1)),
        "layer_norm rows (1024)": (2 * n * f, lambda: torch.nn.functional.layer_norm(rows, (1024,), ln_w, ln_b)),
        "cross-entropy fwd (1024)": (n * f, lambda: torch.nn.functional.cross_entropy(rows, labels)),
        "adamw step": (7 * n * f, adamw.step),
    }
    minidl = {}
    if args.minidl_json:
        with open(args.minidl_json) as fh:
            minidl = {r["kernel"]: r for r in json.load(fh)}
    print(f"device: {torch.cuda.get_device_name()}, PyTorch {torch.__version__}, {n} elements per tensor, "
          f"median of {args.repeats}")
    print(f"{'kernel':<28} {'torch GB/s':>11} {'minidl GB/s':>12} {'minidl/torch':>13}")
    results = []
    for name, (nbytes, fn) in kernels.items():
        gbps = nbytes / median_ms(fn, args.repeats, flush) / 1e6
        ours = minidl.get(name, {}).get("gbps")
        ratio = f"{ours / gbps:13.2f}" if ours else f"{'-':>13}"
        print(f"{name:<28} {gbps:11.1f} {ours or 0:12.1f} {ratio}")
        results.append({"kernel": name, "torch_gbps": gbps, "minidl_gbps": ours})
    s = 4096
    a, b = torch.full((s, s), 0.01, device=dev), torch.full((s, s), 0.02, device=dev)
    gflops = 2 * s ** 3 / median_ms(lambda: a @ b, args.repeats, flush) / 1e6
    ours = minidl.get("gemm 4096 f32", {})
    print(f"gemm 4096^3 f32: torch {gflops:.1f} GFLOP/s; minidl native {ours.get('native_gflops', 0):.1f}, "
          f"cuBLAS {ours.get('cublas_gflops', 0):.1f}")
    results.append({"kernel": "gemm 4096 f32", "torch_gflops": gflops, **ours})
    a, b = a.bfloat16(), b.bfloat16()
    gflops = 2 * s ** 3 / median_ms(lambda: a @ b, args.repeats, flush) / 1e6
    ours = minidl.get("gemm 4096 bf16", {})
    print(f"gemm 4096^3 bf16: torch {gflops:.1f} GFLOP/s; minidl native {ours.get('native_gflops', 0):.1f}, "
          f"cuBLAS {ours.get('cublas_gflops', 0):.1f}")
    results.append({"kernel": "gemm 4096 bf16", "torch_gflops": gflops, **ours})
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"device": torch.cuda.get_device_name(), "torch": torch.__version__, "results": results}, fh,
                      indent=2)


if __name__ == "__main__":
    main()
