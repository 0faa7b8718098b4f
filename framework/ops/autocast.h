// Mixed precision on CUDA devices, like torch.autocast. Inside an AutocastGuard(DType::BF16):
// - matmul with an f32 operand on a CUDA device (cuda or cuda-emu) casts its f32 operands to bf16,
//   multiplies with f32 accumulation (cuBLAS's tensor cores on a GPU) and returns bf16, so the
//   GEMMs' outputs and the activations that follow them are stored in bf16;
// - the ops with a bf16 kernel (elementwise, argmax, dropout, bias_dropout_residual,
//   softmax_dropout, flash_attention) take bf16 as it comes, computing in f32 and rounding once on
//   store; a number (x * 0.5) stays f32;
// - the ops that need f32 range and precision or have no bf16 kernel (softmax, the losses,
//   layer_norm, sum, mean and max, the recurrent cell, convolution (in f32 on every device, as
//   cuDNN), pooling, the graph ops, the dropout variants other than plain dropout) take a bf16
//   operand cast to f32 (autocast_to_f32) and return f32;
// - a binary op of a bf16 and an f32 tensor computes in f32 (elementwise.cpp).
// Every parameter (the master weights), every gradient of a parameter and the optimizer stay in
// f32. bf16 keeps f32's exponent range: gradients neither underflow nor overflow where f32's would
// not, so no loss scaling is needed. The CPU computes in f32: matmul on CPU tensors inside a guard
// is an error rather than a silent f32 product.
#pragma once

#include <optional>

#include "framework/core/tensor.h"

namespace minidl {

// The dtype matmul computes in inside the innermost guard, or nullopt outside any.
std::optional<DType> autocast_dtype();

// Whether an op that computes in f32 under autocast widens x: x is bf16 inside a guard. Such an op
// starts with `if (autocast_widens(x)) return op(autocast_to_f32(x), ...);`, so it is recorded once,
// on the widened operand, and outside a guard a bf16 operand still meets the op's dtype check.
bool autocast_widens(const Tensor& x);
// x cast to f32 when autocast_widens(x), else x.
Tensor autocast_to_f32(const Tensor& x);

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
