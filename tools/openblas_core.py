"""Gives PyTorch the OpenBLAS kernel family minidl's framework/ops/blas.cpp picks, so benchmark
peers run the same GEMM kernels (OpenBLAS 0.3.21 does not recognize some CPUs and falls back to
SSE3 kernels). Import this module before torch: it sets OPENBLAS_CORETYPE unless already set."""
import os


def openblas_core_for_this_cpu():
    """SkylakeX with AVX-512, Haswell with AVX2 and FMA, else None (OpenBLAS decides)."""
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


if openblas_core_for_this_cpu() and "OPENBLAS_CORETYPE" not in os.environ:
    os.environ["OPENBLAS_CORETYPE"] = openblas_core_for_this_cpu()
