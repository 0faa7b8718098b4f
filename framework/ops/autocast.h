// Mixed precision on CUDA devices, like torch.autocast: inside an AutocastGuard(DType::BF16),
// matmul of two f32 tensors on a CUDA device (cuda or cuda-emu) casts both to bf16, multiplies with
// f32 accumulation (cuBLAS's tensor cores on a GPU) and casts the product back to f32. Every other
// op, every parameter (the master weights), every gradient and the optimizer stay in f32, so only
// the GEMMs' operands and their saved copies are stored in bf16. bf16 keeps f32's exponent range:
// gradients neither underflow nor overflow where f32's would not, so no loss scaling is needed.
// The CPU computes in f32: matmul on CPU tensors inside a guard is an error rather than a silent
// f32 product.
#pragma once

#include <optional>

#include "framework/core/dtype.h"

namespace minidl {

// The dtype matmul computes in inside the innermost guard, or nullopt outside any.
std::optional<DType> autocast_dtype();

class AutocastGuard {
 public:
  // dtype: BF16, or nullopt to turn autocast off for the scope.
  explicit AutocastGuard(std::optional<DType> dtype);
  ~AutocastGuard();
  AutocastGuard(const AutocastGuard&) = delete;
  AutocastGuard& operator=(const AutocastGuard&) = delete;

 private:
  std::optional<DType> previous_;
};

}  // namespace minidl
