#!/usr/bin/python3
"""One training epoch of a Fashion-MNIST model in minidl and in PyTorch, in the same run.

--model mlp: 784-512-512-10 (ReLU, dropout 0.2); --model cnn: minidl's small CNN (two blocks of
3x3 convolution without bias, BatchNorm, ReLU and 2x2 max pooling with 32 and 64 channels, a
hidden layer of 128 with dropout 0.2); --model resnet20: minidl's ResNet-20 (CIFAR-style basic
blocks, 16/32/64 channels, dropout 0.2 before the classifier). Both sides train with AdamW, batch
128, eager PyTorch, full f32 (no TF32 on either side); --device cpu runs on the CPU with 2
threads, --device cuda on the GPU (MINIDL_CONV=cudnn in the environment selects minidl's cuDNN
convolutions). Prints each epoch time and the ratio minidl / PyTorch, then loads the minidl model
file into the equivalent torch.nn model (same tensor names and layouts) and checks that PyTorch
computes the test accuracy minidl reported (exactly for the MLP on the CPU; within 0.1 % otherwise,
where convolutions and GPU reductions sum in another order).

Needs Debian's python3-torch (bash tools/setup.sh --bench) and a built build/bin/minidl.
Usage: /usr/bin/python3 tools/bench_train.py [--model mlp] [--device cpu] [--repeats 3] [--json out.json]
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

import openblas_core  # noqa: F401  (sets OPENBLAS_CORETYPE before torch loads OpenBLAS)
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


class BasicBlock(nn.Module):
    """relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x)), as minidl's models/resnet.cpp."""

    def __init__(self, inputs, outputs, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(inputs, outputs, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(outputs)
        self.conv2 = nn.Conv2d(outputs, outputs, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(outputs)
        self.downsample = None
        if stride != 1 or inputs != outputs:
            self.downsample = nn.Sequential(nn.Conv2d(inputs, outputs, 1, stride, bias=False), nn.BatchNorm2d(outputs))

    def forward(self, x):
        branch = self.bn2(self.conv2(torch.relu(self.bn1(self.conv1(x)))))
        return torch.relu(branch + (self.downsample(x) if self.downsample is not None else x))


class ResNet20(nn.Module):
    """The torch.nn twin of minidl's resnet20: body.{0,1,3,4,5}, head.3."""

    def __init__(self, p=0.2):
        super().__init__()
        layers, channels = [nn.Conv2d(1, 16, 3, 1, 1, bias=False), nn.BatchNorm2d(16), nn.ReLU()], 16
        for stage, width in enumerate([16, 32, 64]):
            blocks = []
            for b in range(3):
                blocks.append(BasicBlock(channels, width, 2 if stage > 0 and b == 0 else 1))
                channels = width
            layers.append(nn.Sequential(*blocks))
        self.body = nn.Sequential(*layers)
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(p), nn.Linear(channels, 10))

    def forward(self, x):
        return self.head(self.body(x.reshape(-1, 1, 28, 28)))


MODELS = {"mlp": Mlp, "cnn": Cnn, "resnet20": ResNet20}


def synchronize(device):
    if device == "cuda":
        torch.cuda.synchronize()


def torch_epoch(model_class, x, y, batch, device):
    torch.manual_seed(0)
    model = model_class().to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.05)
    x, y = x.to(device), y.to(device)
    perm = torch.randperm(len(x), device=device)
    synchronize(device)
    start = time.perf_counter()
    for i in range(0, len(x), batch):
        idx = perm[i:i + batch]
        opt.zero_grad()
        loss = nn.functional.cross_entropy(model(x[idx]), y[idx])
        loss.backward()
        opt.step()
    synchronize(device)
    return time.perf_counter() - start


def minidl_epoch(minidl, name, device, out_dir):
    log = subprocess.run([minidl, "train", name, "--epochs", "1", "--device", device, "--out", out_dir],
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
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--minidl", default=f"{ROOT}/build/bin/minidl")
    parser.add_argument("--json", help="write the results here")
    args = parser.parse_args()
    if args.device == "cpu":
        torch.set_num_threads(2)
    # Full f32 arithmetic on both sides: minidl uses no TF32 (cuBLAS default math, cuDNN FMA math).
    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cuda.matmul.allow_tf32 = False
    x, y = load("train")
    tx, ty = load("t10k")
    blas = subprocess.run(["bash", "-c", f"grep -o '/[^ ]*openblas[^ ]*' /proc/{os.getpid()}/maps | sort -u"],
                          capture_output=True, text=True).stdout.split()
    core = getattr(ctypes.CDLL(blas[0]), "openblas_get_corename", None) if blas else None
    if core:
        core.restype = ctypes.c_char_p
        blas.append("core " + core().decode())

    model_class = MODELS[args.model]
    torch_times, minidl_times = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(args.repeats):
            torch_times.append(torch_epoch(model_class, x, y, 128, args.device))
            seconds, accuracy = minidl_epoch(args.minidl, args.model, args.device, tmp)
            minidl_times.append(seconds)
        state = load_safetensors(f"{tmp}/model.safetensors")
    model = model_class()
    model.load_state_dict(state)  # strict: names and shapes must match exactly
    model.eval()
    with torch.no_grad():
        torch_accuracy = (model(tx).argmax(1) == ty).float().mean().item()

    result = {
        "model": args.model, "device": args.device,
        "machine": f"{cpu_model()}, {os.cpu_count()} cores" +
                   (f", {torch.cuda.get_device_name()}" if args.device == "cuda" else ""),
        "torch": torch.__version__, "torch_blas": blas, "threads": torch.get_num_threads(),
        "torch_epoch_s": torch_times, "minidl_epoch_s": minidl_times,
        "ratio_minidl_over_torch": min(minidl_times) / min(torch_times),
        "minidl_test_accuracy": accuracy, "torch_accuracy_of_minidl_checkpoint": torch_accuracy,
    }
    print(f"machine: {result['machine']}")
    print(f"PyTorch {torch.__version__} ({', '.join(blas) or 'unknown BLAS'}), {torch.get_num_threads()} threads")
    print(f"{args.model} on {args.device}: one epoch, batch 128, AdamW: PyTorch best {min(torch_times):.2f} s {['%.2f' % t for t in torch_times]}")
    print(f"{'':{len(args.model) + len(args.device) + 6}}                            minidl  best {min(minidl_times):.2f} s {['%.2f' % t for t in minidl_times]}")
    print(f"ratio minidl / PyTorch: {result['ratio_minidl_over_torch']:.2f}")
    print(f"minidl checkpoint in PyTorch: test accuracy {torch_accuracy:.4f} (minidl reported {accuracy:.4f})")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=2)
    # One test image in 10000 for the MLP on the CPU (the same sums); 0.1 % where sums are reordered.
    agreement = 1e-4 if args.model == "mlp" and args.device == "cpu" else 1e-3
    return 0 if abs(torch_accuracy - accuracy) < agreement else 1


if __name__ == "__main__":
    sys.exit(main())
