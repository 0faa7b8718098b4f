// CPU reference kernels of 2-D convolution's data movement (the GEMMs are matmul's): im2col and
// col2im over the planes [begin, end) of a window (kernels/common/window2d.h). x is [planes, H, W]
// and cols [planes, kh * kw, out_h * out_w], both contiguous: for x [N, C, H, W] with planes
// N * C, cols is [N, C * kh * kw, out_h * out_w], the GEMM's right operand.
#pragma once

#include <cstdint>

#include "kernels/common/window2d.h"

namespace minidl::cpu {

// cols[p, ki, kj, oh, ow] = x[p, tap_h(oh, ki), tap_w(ow, kj)], 0 where the tap is padding.
template <typename T>
void im2col(int64_t begin, int64_t end, const Window2d& g, T* cols, const T* x);

// The adjoint of im2col: x[p] = 0, then each tap of cols is added to the input it reads, in
// (ki, kj, oh, ow) order, so an input's terms arrive in (ki, kj) order.
template <typename T>
void col2im(int64_t begin, int64_t end, const Window2d& g, T* x, const T* cols);

}  // namespace minidl::cpu
