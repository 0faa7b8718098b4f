// CPU reference cross-entropy over class indices, fused with log-softmax.
#pragma once

#include <cstdint>

namespace minidl::cpu {

// loss = mean_r( logsumexp(logits[r]) - logits[r, target[r]] ). Also writes the per-row
// log-sum-exp, which backward reuses. Targets must lie in [0, classes); callers validate.
template <typename T>
void cross_entropy_forward(int64_t rows, int64_t classes, const T* logits, const int64_t* target, T* row_lse,
                           T* loss);

// grad_logits[r, c] = grad_loss / rows * (softmax(logits[r])[c] - [c == target[r]])
template <typename T>
void cross_entropy_backward(int64_t rows, int64_t classes, const T* logits, const int64_t* target,
                            const T* row_lse, T grad_loss, T* grad_logits);

}  // namespace minidl::cpu
