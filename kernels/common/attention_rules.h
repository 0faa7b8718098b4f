// The rules of attention's fused kernels, shared by the CPU references (kernels/cpu/attention.h)
// and the CUDA kernels (kernels/cuda/attention.cu, kernels/cuda/flash_attention.cu): which keys a
// query sees, and which Philox word decides the dropout of each score, so that softmax_dropout and
// flash_attention draw the same mask from the same generator state.
#pragma once

#include <cstdint>

#include "kernels/common/host_device.h"
#include "kernels/common/philox.h"

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

// The first query of a group that sees column `col` (the inverse of visible_columns).
FW_HOST_DEVICE FW_INLINE int64_t first_query_seeing(const SoftmaxDropoutShape& s, int64_t col) {
  const int64_t first = col - (s.cols - s.q_len);
  return s.causal && first > 0 ? first : 0;
}

// Score (row, c) is element row * cols + c of the op's random words, whichever kernel computes it.
FW_HOST_DEVICE FW_INLINE uint64_t score_element(const SoftmaxDropoutShape& s, int64_t row, int64_t c) {
  return static_cast<uint64_t>(row * s.cols + c);
}

// flash_attention's sizes: `groups` (batch x heads) of q [q_len, head_dim] and k, v [cols,
// head_dim], whose scores (q k^T * score_scale) form groups of softmax_dropout's shape.
struct FlashAttentionShape {
  int64_t groups, head_dim;
  double score_scale;  // 1 / sqrt(head_dim)
  SoftmaxDropoutShape scores;
};

// The largest head_dim the fused kernels take: their tiles of q, k and v rows live in 48 KiB of
// shared memory (kernels/cuda/flash_attention.cu).
inline constexpr int64_t kFlashMaxHeadDim = 128;

}  // namespace minidl
