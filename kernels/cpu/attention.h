// CPU references of attention's fused kernels over contiguous arrays. Scores [rows, cols] come in
// groups of q_len query rows (one group per batch and head); with the causal mask, query t of a
// group sees the columns c <= t + cols - q_len (keys up to its own position when cols == q_len), and
// masked columns get probability 0. Dropout follows the Philox contract (kernels/common/philox.h):
// score (row, c) uses word (offset + row * cols + c) in both ops, so backward regenerates the mask
// instead of storing it. threshold = dropout_threshold(p); scale = 1 / (1 - p). softmax_dropout's
// kernels process rows [begin, end), flash_attention's groups [begin, end).
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

// flash_attention: out = dropout(softmax(q k^T * score_scale, causal mask)) v for groups [begin, end)
// of contiguous q, out [groups, q_len, head_dim] and k, v [groups, cols, head_dim], computed a query
// row at a time: the row's scores (dot products in double), then softmax_dropout_forward's rule on
// them (the same Philox word for each score), then the kept probabilities times v, summed in double.
// lse [groups * q_len] = max + log(sum of exp) of each row's visible scores, all backward needs to
// recompute the probabilities exp(s - lse).
template <typename T>
void flash_attention_forward(int64_t begin, int64_t end, const FlashAttentionShape& shape, const PhiloxState& state,
                             uint64_t threshold, T scale, T* out, T* lse, const T* q, const T* k, const T* v);

// The gradients of groups [begin, end), from the probabilities recomputed as p = exp(s - lse), the
// mask regenerated, dP = grad_out v^T and D = rowsum(grad_out * out) (which equals softmax_dropout's
// sum(g * probs)): dS = p * (g - D) with g = keep ? dP * scale : 0 (dP without dropout);
// grad_q = dS k * score_scale, grad_k = dS^T q * score_scale, grad_v = (keep * scale * p)^T grad_out.
// Sums in double.
template <typename T>
void flash_attention_backward(int64_t begin, int64_t end, const FlashAttentionShape& shape, const PhiloxState& state,
                              uint64_t threshold, T scale, T* grad_q, T* grad_k, T* grad_v, const T* grad_out,
                              const T* q, const T* k, const T* v, const T* out, const T* lse);

}  // namespace minidl::cpu
