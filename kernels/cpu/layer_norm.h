// CPU reference LayerNorm over the last axis of a contiguous [rows, cols] matrix, forward and the
// input gradient (the weight and bias gradients are column sums the framework composes). Each
// kernel processes rows [begin, end), so a caller may split them across threads.
#pragma once

#include <cstdint>

namespace minidl::cpu {

// mean_r = sum(x_r) / cols, var_r = sum((x_r - mean_r)^2) / cols (both summed in double, in column
// order), rstd_r = 1 / sqrt(var_r + eps); y = (x - mean) * rstd * weight + bias. mean and rstd
// ([rows]) are saved for backward.
template <typename T>
void layer_norm_forward(int64_t begin, int64_t end, int64_t cols, double eps, T* y, T* mean, T* rstd, const T* x,
                        const T* weight, const T* bias);

// xhat = (x - mean) * rstd, gxhat = gy * weight;
// gx = rstd * (gxhat - mean(gxhat) - xhat * mean(gxhat * xhat)), the means summed in double.
template <typename T>
void layer_norm_backward(int64_t begin, int64_t end, int64_t cols, T* grad_x, const T* grad_y, const T* x,
                         const T* weight, const T* mean, const T* rstd);

}  // namespace minidl::cpu
