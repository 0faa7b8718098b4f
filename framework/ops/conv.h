// conv2d's building blocks, shared by its forward (conv_ops.cpp) and its gradient rule
// (gradients.cpp): im2col / col2im on tensors, and the split into groups for the per-group GEMMs.
#pragma once

#include <functional>

#include "framework/core/tensor.h"
#include "kernels/common/window2d.h"

namespace minidl {

// x [N, C, H, W] -> cols [N, C * kh * kw, out_h * out_w], the GEMM's right operand.
Tensor im2col(const Tensor& x, const Window2d& g);
// The adjoint: cols [N, C * kh * kw, out_h * out_w] -> [N, C, H, W] (x_shape), overlapping taps summed.
Tensor col2im(const Tensor& cols, const Window2d& g, const Shape& x_shape);
// Part `group` of `groups` equal parts of x along dim (a view).
Tensor group_part(const Tensor& x, int64_t dim, int64_t group, int64_t groups);
// fn(0), ..., fn(groups - 1) concatenated along dim (fn(0) itself for one group).
Tensor cat_groups(int64_t groups, int64_t dim, const std::function<Tensor(int64_t)>& fn);

}  // namespace minidl
