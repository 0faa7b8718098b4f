// CPU reference of attention's fused softmax + dropout over the rows of contiguous scores
// [rows, cols], with an optional causal mask: rows come in groups of q_len query positions, and
// query t of a group sees the columns c <= t + cols - q_len (keys up to its own position when
// cols == q_len). Masked columns get probability 0. Dropout follows the Philox contract
// (kernels/common/philox.h): element i = row * cols + c uses word (offset + i), so backward
// regenerates the mask instead of storing it. threshold = dropout_threshold(p); scale = 1 / (1 - p).
// Kernels process rows [begin, end).
#pragma once

#include <cstdint>

#include "kernels/common/attention_rules.h"
#include "kernels/common/philox.h"

namespace minidl::cpu {

// probs = softmax over the visible columns (max-subtracted, exp in T, the sum in double), saved
// for backward; y = keep(i) ? probs * scale : 0.
template <typename T>
void softmax_dropout_forward(int64_t begin, int64_t end, const SoftmaxDropoutShape& shape, const PhiloxState& state,
                             uint64_t threshold, T scale, T* y, T* probs, const T* x);

// g = keep(i) ? grad_y * scale : 0 (grad_y without dropout); grad_x = probs * (g - sum(g * probs)),
// the sum in double.
template <typename T>
void softmax_dropout_backward(int64_t begin, int64_t end, const SoftmaxDropoutShape& shape, const PhiloxState& state,
                              uint64_t threshold, T scale, T* grad_x, const T* grad_y, const T* probs);

}  // namespace minidl::cpu
