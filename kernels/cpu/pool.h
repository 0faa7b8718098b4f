// CPU reference kernels of 2-D max and average pooling over the planes [begin, end) of a window
// (kernels/common/window2d.h; an adaptive window is adaptive average pooling). x and grad_x are
// [planes, H, W], y, grad_y and indices [planes, out_h, out_w], all contiguous. The backward
// kernels scatter each output's gradient in output order, so an input's terms arrive in (oh, ow)
// order; the CUDA kernels gather them in that order, with the same sums.
#pragma once

#include <cstdint>

#include "kernels/common/window2d.h"

namespace minidl::cpu {

// y = the window's maximum (NaN if it holds one; ties: the first in row order), indices = its
// offset ih * W + iw within the input plane.
template <typename T>
void max_pool2d_forward(int64_t begin, int64_t end, const Window2d& g, T* y, int64_t* indices, const T* x);

// grad_x[p] = 0, then grad_x[p, indices[p, o]] += grad_y[p, o] for every output o.
template <typename T>
void max_pool2d_backward(int64_t begin, int64_t end, const Window2d& g, T* grad_x, const T* grad_y,
                         const int64_t* indices);

// y = the window's sum / pool_avg_divisor.
template <typename T>
void avg_pool2d_forward(int64_t begin, int64_t end, const Window2d& g, bool count_include_pad, T* y, const T* x);

// grad_x[p] = 0, then grad_y[p, o] / pool_avg_divisor is added to every input of o's window.
template <typename T>
void avg_pool2d_backward(int64_t begin, int64_t end, const Window2d& g, bool count_include_pad, T* grad_x,
                         const T* grad_y);

}  // namespace minidl::cpu
