"""What the epoch benchmarks of minidl's small models (tools/bench_graph.py, tools/bench_mf.py) share:
their common options, the timing of a PyTorch twin's epochs after WARMUP_EPOCHS warm-up epochs,
minidl's epoch time after as many warm-up epochs from the metrics of a run of `minidl train MODEL`,
and the report (seconds per epoch and the ratio minidl / PyTorch, printed and written as JSON)."""
import json
import os
import subprocess
import tempfile
import time

from bench_common import add_runner_arguments  # before torch: it imports openblas_core
import torch

WARMUP_EPOCHS = 3  # epochs each side runs before its timing starts


def add_common_arguments(parser, epochs):
    """The runner's options (bench_common) and --epochs (default `epochs`)."""
    add_runner_arguments(parser)
    parser.add_argument("--epochs", type=int, default=epochs, help="timed epochs, after the warm-up ones")


def synchronize(device):
    if device == "cuda":
        torch.cuda.synchronize()


def torch_epoch_s(epoch, epochs, device):
    """Seconds per call of epoch() over `epochs` calls, after WARMUP_EPOCHS untimed ones."""
    for _ in range(WARMUP_EPOCHS):
        epoch()
    synchronize(device)
    start = time.perf_counter()
    for _ in range(epochs):
        epoch()
    synchronize(device)
    return (time.perf_counter() - start) / epochs


def run_minidl(args, model, epochs, flags):
    """The output of `minidl train MODEL --epochs EPOCHS --device DEVICE FLAGS`."""
    command = [args.minidl, "train", model, "--epochs", str(epochs), "--device", args.device, *flags]
    return subprocess.run(command, check=True, capture_output=True, text=True).stdout


def minidl_epoch_s(args, model, flags):
    """minidl's mean epoch seconds after WARMUP_EPOCHS, as PyTorch's are timed, from the per-epoch
    seconds one run of WARMUP_EPOCHS + args.epochs epochs writes to metrics.jsonl (the printed ones
    are rounded to 0.1 s, longer than a graph model's epoch), and the run's output. FLAGS must make
    the model log every epoch (graph models: --log-every 1; mf logs each epoch)."""
    with tempfile.TemporaryDirectory() as out:
        log = run_minidl(args, model, WARMUP_EPOCHS + args.epochs, [*flags, "--out", out])
        with open(os.path.join(out, "metrics.jsonl")) as f:
            seconds = [record["seconds"] for record in map(json.loads, f) if "seconds" in record]
    if len(seconds) != WARMUP_EPOCHS + args.epochs:
        raise ValueError(f"minidl logged {len(seconds)} epoch times, expected {WARMUP_EPOCHS + args.epochs}")
    return sum(seconds[WARMUP_EPOCHS:]) / args.epochs, log


def report(model, args, config, header, ours, theirs):
    """Prints header (the config in words, with torch's version appended), both epoch times and their
    ratio; writes the results to args.json when given."""
    ratio = ours / theirs
    results = {"model": model, "device": args.device, "torch": torch.__version__, "config": config,
               "minidl_epoch_s": ours, "torch_epoch_s": theirs, "ratio_minidl_over_torch": ratio}
    if args.device == "cuda":
        results["gpu"] = torch.cuda.get_device_name()
    print(f"{header}; torch {torch.__version__}")
    print(f"  {'minidl':10}{1e3 * ours:10.3f} ms per epoch")
    print(f"  {'PyTorch':10}{1e3 * theirs:10.3f} ms per epoch")
    print(f"  minidl epoch time / PyTorch: {ratio:.2f}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)
