"""What the scripts that time minidl against a PyTorch twin share: the options naming the device,
PyTorch's CPU threads, minidl's binary and the JSON output, and PyTorch set to compute as minidl
does."""
import os

import openblas_core  # noqa: F401  (sets OPENBLAS_CORETYPE before torch loads OpenBLAS)
import torch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def add_runner_arguments(parser):
    """--device, --threads, --minidl and --json. The threads default to OMP_NUM_THREADS, which
    minidl's OpenMP reads too, so both sides run on as many."""
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    parser.add_argument("--threads", type=int, default=int(os.environ.get("OMP_NUM_THREADS") or os.cpu_count()),
                        help="PyTorch's CPU threads")
    parser.add_argument("--minidl", default=os.path.join(ROOT, "build", "bin", "minidl"))
    parser.add_argument("--json", help="also write the results here")


def configure_torch(threads):
    """PyTorch at full f32 (no TF32), as minidl computes, on `threads` CPU threads."""
    torch.set_num_threads(threads)
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
