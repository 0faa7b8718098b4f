// Dtype dispatch for backends: runs a kernel template for the C++ type of a floating dtype, in a
// profiling range that records the kernel's work.
#pragma once

#include <span>

#include "framework/core/check.h"
#include "framework/core/dtype.h"
#include "framework/core/profiler.h"
#include "framework/core/tensor.h"

namespace minidl {

// The least a kernel moves and computes: each operand's stored elements read or written once (a
// broadcast dim counts once), and the floating-point operations of the compute-bound kernels
// (matmul, flash_attention). `minidl profile` divides them by the kernel's time for its roofline
// columns, so its bandwidth is a lower bound on what the kernel achieved.
struct KernelWork {
  double bytes = 0, flops = 0;
};

double operand_bytes(const Tensor& x);  // 0 for an undefined tensor
double operand_bytes(std::span<const Tensor> xs);

template <typename... Operands>
KernelWork operands(const Operands&... xs) {
  return {(operand_bytes(xs) + ... + 0.0), 0.0};
}

// Whether a backend's kernel has a bf16 form (bf16 storage, f32 compute): on the CUDA devices,
// matmul, the elementwise, reduction and dropout kernels, and the attention kernels; the CPU
// computes in f32 (autocast.h).
enum class Bf16 { Rejected, Accepted };

// Calls fn(T{}) for f32 and f64, and for bf16 where the kernel accepts it; ops reject other
// dtypes before a backend is reached. Every backend kernel passes through here, so this is where
// kernels get their profiling range.
template <Bf16 kBf16 = Bf16::Rejected, typename Fn>
void visit_floating(DType dtype, const char* what, const KernelWork& work, Fn&& fn) {
  ProfileRange range("kernel", what);
  range.set_work(work.bytes, work.flops);
  switch (dtype) {
    case DType::F32: fn(float{}); return;
    case DType::F64: fn(double{}); return;
    case DType::BF16:
      if constexpr (kBf16 == Bf16::Accepted) {
        fn(bf16{});
        return;
      } else {
        MINIDL_FAIL("{}: no bf16 kernel on this device (bf16 runs on the CUDA devices, under autocast): "
                    "convert with to_dtype(x, f32)", what);
      }
    default: MINIDL_FAIL("{}: dtype {} is not supported: expected f32 or f64", what, dtype_name(dtype));
  }
}

}  // namespace minidl
