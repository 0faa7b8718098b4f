// The shape rules of attention's fused softmax + dropout, shared by the CPU reference
// (kernels/cpu/attention.h) and the CUDA kernel (kernels/cuda/attention.cu).
#pragma once

#include <cstdint>

#include "kernels/common/host_device.h"

namespace minidl {

// Scores [rows, cols] in groups of q_len rows (one group per batch and head).
struct SoftmaxDropoutShape {
  int64_t cols, q_len;
  bool causal;   // query t of a group sees columns c <= t + cols - q_len
  bool dropout;  // false: the output is the probabilities themselves (eval mode, p = 0)
};

// The columns row `row` sees: a prefix [0, visible_columns).
FW_HOST_DEVICE FW_INLINE int64_t visible_columns(const SoftmaxDropoutShape& s, int64_t row) {
  if (!s.causal) return s.cols;
  const int64_t last = row % s.q_len + s.cols - s.q_len;  // the op checks cols >= q_len, so last >= 0
  return last + 1 < s.cols ? last + 1 : s.cols;
}

}  // namespace minidl
