#!/usr/bin/python3
"""One training epoch of a Fashion-MNIST model in minidl and in PyTorch, in the same run.

--model mlp: 784-512-512-10 (ReLU, dropout 0.2); --model cnn: minidl's small CNN (two blocks of
3x3 convolution without bias, BatchNorm, ReLU and 2x2 max pooling with 32 and 64 channels, a
hidden layer of 128 with dropout 0.2). Both sides train with AdamW, batch 128, on the CPU with 2
threads. Prints each epoch time and the ratio minidl / PyTorch, then loads the minidl model file
into the equivalent torch.nn model (same tensor names and layouts) and checks that PyTorch computes
the test accuracy minidl reported (exactly for the MLP; within 0.1 % for the CNN, whose
convolutions PyTorch sums in another order).

Needs Debian's python3-torch (bash tools/setup.sh --bench) and a built build/bin/minidl.
Usage: /usr/bin/python3 tools/bench_train.py [--model mlp] [--repeats 3] [--json out.json]
"""
import argparse
import gzip
import json
import os
import platform
import re
import struct
import subprocess
import sys
import tempfile
import time


def openblas_core_for_this_cpu():
    """The kernel family minidl's framework/ops/blas.cpp picks, so both sides run the same GEMM."""
    flags = set()
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("flags"):
                flags = set(line.split(":", 1)[1].split())
                break
    if {"avx512f", "avx512bw", "avx512dq", "avx512vl"} <= flags:
        return "SkylakeX"
    if {"avx2", "fma"} <= flags:
        return "Haswell"
    return None


# PyTorch's fastest configuration: OpenBLAS is loaded with torch, so the kernel family is set first.
if openblas_core_for_this_cpu() and "OPENBLAS_CORETYPE" not in os.environ:
    os.environ["OPENBLAS_CORETYPE"] = openblas_core_for_this_cpu()

import ctypes  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from torch import nn  # noqa: E402

DATA = "/usr/share/datasets/fashion-mnist"
MEAN, STD = 0.2860, 0.3530
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def read_idx(path):
    with gzip.open(path, "rb") as f:
        raw = f.read()
    ndim = raw[3]
    dims = struct.unpack(">" + "I" * ndim, raw[4:4 + 4 * ndim])
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def load(split):
    images = read_idx(f"{DATA}/{split}-images-idx3-ubyte.gz").reshape(-1, 784).astype(np.float32)
    labels = read_idx(f"{DATA}/{split}-labels-idx1-ubyte.gz").astype(np.int64)
    return torch.from_numpy((images / 255.0 - MEAN) / STD), torch.from_numpy(labels)


class Mlp(nn.Module):
    """The torch.nn twin of minidl's MLP: parameter names layers.{0,3,6}.{weight,bias}."""

    def __init__(self, p=0.2):
        super().__init__()
        self.layers = nn.Sequential(nn.Linear(784, 512), nn.ReLU(), nn.Dropout(p), nn.Linear(512, 512), nn.ReLU(),
                                    nn.Dropout(p), nn.Linear(512, 10))

    def forward(self, x):
        return self.layers(x)


class Cnn(nn.Module):
    """The torch.nn twin of minidl's CNN: features.{0,1,4,5}, classifier.{1,4}."""

    def __init__(self, p=0.2):
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(1, 32, 3, padding=1, bias=False), nn.BatchNorm2d(32), nn.ReLU(),
                                      nn.MaxPool2d(2), nn.Conv2d(32, 64, 3, padding=1, bias=False),
                                      nn.BatchNorm2d(64), nn.ReLU(), nn.MaxPool2d(2))
        self.classifier = nn.Sequential(nn.Flatten(), nn.Linear(64 * 7 * 7, 128), nn.ReLU(), nn.Dropout(p),
                                        nn.Linear(128, 10))

    def forward(self, x):
        return self.classifier(self.features(x.reshape(-1, 1, 28, 28)))


MODELS = {"mlp": (Mlp, 1e-4), "cnn": (Cnn, 1e-3)}  # the model and the accuracy agreement expected


def torch_epoch(model_class, x, y, batch):
    torch.manual_seed(0)
    model = model_class()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.05)
    perm = torch.randperm(len(x))
    start = time.perf_counter()
    for i in range(0, len(x), batch):
        idx = perm[i:i + batch]
        opt.zero_grad()
        loss = nn.functional.cross_entropy(model(x[idx]), y[idx])
        loss.backward()
        opt.step()
    return time.perf_counter() - start


def minidl_epoch(name, out_dir):
    log = subprocess.run([f"{ROOT}/build/bin/minidl", "train", name, "--epochs", "1", "--out", out_dir],
                         check=True, capture_output=True, text=True).stdout
    seconds = float(re.search(r"test acc [0-9.]+\s+([0-9.]+) s", log).group(1))
    accuracy = float(re.search(r"^test accuracy ([0-9.]+)", log, re.M).group(1))
    return seconds, accuracy


def load_safetensors(path):
    """A plain reader of the safetensors layout, so the check needs nothing beyond torch."""
    with open(path, "rb") as f:
        raw = f.read()
    n = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8:8 + n])
    header.pop("__metadata__", None)
    dtypes = {"F32": torch.float32, "F64": torch.float64, "I64": torch.int64}
    body = raw[8 + n:]
    return {name: torch.frombuffer(bytearray(body[s:e]), dtype=dtypes[meta["dtype"]]).reshape(meta["shape"])
            for name, meta in header.items() for s, e in [meta["data_offsets"]]}


def cpu_model():
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.machine()


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", choices=sorted(MODELS), default="mlp")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", help="write the results here")
    args = parser.parse_args()
    torch.set_num_threads(2)
    x, y = load("train")
    tx, ty = load("t10k")
    blas = subprocess.run(["bash", "-c", f"grep -o '/[^ ]*openblas[^ ]*' /proc/{os.getpid()}/maps | sort -u"],
                          capture_output=True, text=True).stdout.split()
    core = ctypes.CDLL(blas[0]).openblas_get_corename if blas else None
    if core:
        core.restype = ctypes.c_char_p
        blas.append("core " + core().decode())

    model_class, agreement = MODELS[args.model]
    torch_times, minidl_times = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(args.repeats):
            torch_times.append(torch_epoch(model_class, x, y, 128))
            seconds, accuracy = minidl_epoch(args.model, tmp)
            minidl_times.append(seconds)
        state = load_safetensors(f"{tmp}/model.safetensors")
    model = model_class()
    model.load_state_dict(state)  # strict: names and shapes must match exactly
    model.eval()
    with torch.no_grad():
        torch_accuracy = (model(tx).argmax(1) == ty).float().mean().item()

    result = {
        "model": args.model,
        "machine": f"{cpu_model()}, {os.cpu_count()} cores",
        "torch": torch.__version__, "torch_blas": blas, "threads": torch.get_num_threads(),
        "torch_epoch_s": torch_times, "minidl_epoch_s": minidl_times,
        "ratio_minidl_over_torch": min(minidl_times) / min(torch_times),
        "minidl_test_accuracy": accuracy, "torch_accuracy_of_minidl_checkpoint": torch_accuracy,
    }
    print(f"machine: {result['machine']}")
    print(f"PyTorch {torch.__version__} ({', '.join(blas) or 'unknown BLAS'}), {torch.get_num_threads()} threads")
    print(f"{args.model}: one epoch, batch 128, AdamW: PyTorch best {min(torch_times):.2f} s {['%.2f' % t for t in torch_times]}")
    print(f"{'':{len(args.model) + 2}}                            minidl  best {min(minidl_times):.2f} s {['%.2f' % t for t in minidl_times]}")
    print(f"ratio minidl / PyTorch: {result['ratio_minidl_over_torch']:.2f}")
    print(f"minidl checkpoint in PyTorch: test accuracy {torch_accuracy:.4f} (minidl reported {accuracy:.4f})")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=2)
    return 0 if abs(torch_accuracy - accuracy) < agreement else 1


if __name__ == "__main__":
    sys.exit(main())
