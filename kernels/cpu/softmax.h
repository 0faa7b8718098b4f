// CPU reference softmax / log-softmax over the last axis of a contiguous [rows, cols] matrix,
// and their fused backward rules.
#pragma once

#include <cstdint>

namespace minidl::cpu {

// y = softmax(x) or log_softmax(x) per row, max-subtracted for stability.
template <typename T>
void softmax_forward(bool log, int64_t rows, int64_t cols, T* y, const T* x);

// softmax:     gx = y * (gy - sum(gy * y))
// log_softmax: gx = gy - exp(y) * sum(gy)
template <typename T>
void softmax_backward(bool log, int64_t rows, int64_t cols, T* grad_x, const T* grad_y, const T* y);

}  // namespace minidl::cpu
