// 2-D convolution through cuDNN on the GPU. MINIDL_CONV=cudnn selects it for tensors on cuda;
// im2col + GEMM over the hand-written kernels stays the default and the path on every other
// device. The GPU tests also call it directly, as the reference for the hand-written path.
// Full f32/f64 arithmetic (no TF32), as the hand-written path and the CPU reference.
#pragma once

#include <utility>

#include "framework/core/tensor.h"
#include "kernels/common/window2d.h"

namespace minidl {

// True when MINIDL_CONV=cudnn (read once), x is on cuda and neither x nor weight is empty (cuDNN's
// descriptors cannot describe a zero size; im2col handles those). MINIDL_CONV=cudnn in a build
// without cuDNN, or any value other than cudnn and im2col, is an error.
bool use_cudnn_conv(const Tensor& x, const Tensor& weight);

// y [N, O, out_h, out_w] = conv(x [N, C, H, W], weight [O, C / groups, kh, kw]) over window g (no
// bias); contiguous inputs on cuda.
Tensor cudnn_conv2d(const Tensor& x, const Tensor& weight, const Window2d& g, int64_t groups);

// The gradients of cudnn_conv2d for the output gradient gy: {grad x, grad weight}.
std::pair<Tensor, Tensor> cudnn_conv2d_backward(const Tensor& gy, const Tensor& x, const Tensor& weight,
                                                const Window2d& g, int64_t groups);

}  // namespace minidl
