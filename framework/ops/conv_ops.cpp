// 2-D convolution (im2col + one batched GEMM per group) and max / average / adaptive average
// pooling. Each op checks its arguments, builds the Window2d its kernels share
// (kernels/common/window2d.h) and records its rule of gradients.cpp.
#include <vector>

#include "framework/autograd/node.h"
#include "framework/ops/autocast.h"
#include "framework/ops/backend.h"
#include "framework/ops/checks.h"
#include "framework/ops/conv.h"
#include "framework/ops/cudnn_conv.h"
#include "framework/ops/gradients.h"
#include "framework/ops/ops.h"

namespace minidl {

namespace {

void check_input(const Tensor& x, const char* op) {
  check_floating(x, op);
  MINIDL_CHECK(x.dim() == 4 && x.size(2) > 0 && x.size(3) > 0, "{}: expected input [N, C, H, W] with H, W >= 1, got {}",
               op, x.describe());
}

// The checked window of a fixed kernel (conv2d's or a pool's) over x's planes.
Window2d fixed_window(const Tensor& x, Size2 kernel, Size2 stride, Size2 padding, Size2 dilation, const char* op) {
  MINIDL_CHECK(stride[0] > 0 && stride[1] > 0, "{}: stride must be positive, got {}x{}", op, stride[0], stride[1]);
  MINIDL_CHECK(dilation[0] > 0 && dilation[1] > 0, "{}: dilation must be positive, got {}x{}", op, dilation[0],
               dilation[1]);
  MINIDL_CHECK(padding[0] >= 0 && padding[1] >= 0, "{}: padding must be non-negative, got {}x{}", op, padding[0],
               padding[1]);
  const int64_t padded_h = x.size(2) + 2 * padding[0], padded_w = x.size(3) + 2 * padding[1];
  MINIDL_CHECK(dilation[0] * (kernel[0] - 1) + 1 <= padded_h && dilation[1] * (kernel[1] - 1) + 1 <= padded_w,
               "{}: kernel {}x{} (dilation {}x{}) is larger than the padded input {}x{}", op, kernel[0], kernel[1],
               dilation[0], dilation[1], padded_h, padded_w);
  auto axis = [](int64_t in, int64_t k, int64_t s, int64_t p, int64_t d) {
    return WindowAxis{in, window_out_size(in, k, s, p, d), k, s, p, d, false};
  };
  return {x.size(0) * x.size(1), axis(x.size(2), kernel[0], stride[0], padding[0], dilation[0]),
          axis(x.size(3), kernel[1], stride[1], padding[1], dilation[1])};
}

// A pool's window: also a positive kernel, and padding at most half of it so that no window
// lies wholly in the padding (PyTorch's rule).
Window2d pool_window(const Tensor& x, Size2 kernel, Size2 stride, Size2 padding, const char* op) {
  check_input(x, op);
  MINIDL_CHECK(kernel[0] > 0 && kernel[1] > 0, "{}: kernel must be positive, got {}x{}", op, kernel[0], kernel[1]);
  MINIDL_CHECK(2 * padding[0] <= kernel[0] && 2 * padding[1] <= kernel[1],
               "{}: padding {}x{} is more than half the kernel {}x{}", op, padding[0], padding[1], kernel[0],
               kernel[1]);
  return fixed_window(x, kernel, stride, padding, {1, 1}, op);
}

Shape output_shape(const Tensor& x, int64_t channels, const Window2d& g) {
  return {x.size(0), channels, g.h.out, g.w.out};
}

// avg_pool2d and adaptive_avg_pool2d: the same kernels over fixed or adaptive windows.
Tensor avg_pool(const Tensor& x, const Window2d& g, bool count_include_pad, const char* op) {
  const Tensor xc = contiguous(x.detach());
  Tensor y = Tensor::empty(output_shape(x, x.size(1), g), x.dtype(), x.device());
  backend_for(x.device()).avg_pool2d(g, count_include_pad, y, xc);
  record_op(op, {x}, y, {}, [g, count_include_pad, shape = x.shape()](const Tensor& grad, const std::vector<Tensor>&) {
    return grad::avg_pool2d(grad, g, count_include_pad, shape);
  });
  return y;
}

}  // namespace

Tensor im2col(const Tensor& x, const Window2d& g) {
  Tensor cols =
      Tensor::empty({x.size(0), x.size(1) * g.h.kernel * g.w.kernel, g.h.out * g.w.out}, x.dtype(), x.device());
  backend_for(x.device()).im2col(g, cols, contiguous(x));
  return cols;
}

Tensor col2im(const Tensor& cols, const Window2d& g, const Shape& x_shape) {
  Tensor x = Tensor::empty(x_shape, cols.dtype(), cols.device());
  backend_for(cols.device()).col2im(g, x, contiguous(cols));
  return x;
}

Tensor group_part(const Tensor& x, int64_t dim, int64_t group, int64_t groups) {
  const int64_t size = x.size(dim) / groups;
  return slice(x, dim, group * size, (group + 1) * size);
}

Tensor cat_groups(int64_t groups, int64_t dim, const std::function<Tensor(int64_t)>& fn) {
  if (groups == 1) return fn(0);
  std::vector<Tensor> parts;
  for (int64_t k = 0; k < groups; ++k) parts.push_back(fn(k));
  return cat(parts, dim);
}

Tensor conv2d(const Tensor& x, const Tensor& weight, const Tensor& bias, Size2 stride, Size2 padding, Size2 dilation,
              int64_t groups) {
  if (autocast_widens(x)) return conv2d(autocast_to_f32(x), weight, bias, stride, padding, dilation, groups);
  check_input(x, "conv2d");
  check_compatible(x, weight, "conv2d");
  MINIDL_CHECK(weight.dim() == 4 && weight.size(2) > 0 && weight.size(3) > 0,
               "conv2d: expected weight [O, C / groups, kh, kw] with kh, kw >= 1, got {}", weight.describe());
  const int64_t channels = x.size(1), out_channels = weight.size(0);
  MINIDL_CHECK(groups > 0, "conv2d: groups must be positive, got {}", groups);
  MINIDL_CHECK(channels % groups == 0, "conv2d: {} input channels are not divisible by groups = {}", channels, groups);
  MINIDL_CHECK(out_channels % groups == 0, "conv2d: {} output channels (weight {}) are not divisible by groups = {}",
               out_channels, weight.describe(), groups);
  MINIDL_CHECK(weight.size(1) * groups == channels,
               "conv2d: weight {} takes {} input channels per group ({} with groups = {}), the input {} has {}",
               weight.describe(), weight.size(1), weight.size(1) * groups, groups, x.describe(), channels);
  if (bias.defined()) {
    check_compatible(x, bias, "conv2d");
    MINIDL_CHECK(bias.dim() == 1 && bias.size(0) == out_channels, "conv2d: bias must be [{}], got {}", out_channels,
                 bias.describe());
  }
  const Window2d g = fixed_window(x, {weight.size(2), weight.size(3)}, stride, padding, dilation, "conv2d");
  // y[n, group] = W[group] @ cols[n, group]: the weight as [O, C / groups * kh * kw] against
  // cols [N, C * kh * kw, L], whose rows are grouped the same way.
  Tensor y;
  if (use_cudnn_conv(x, weight)) {
    y = cudnn_conv2d(contiguous(x.detach()), contiguous(weight.detach()), g, groups);
  } else {
    const Tensor w = reshape(weight.detach(), {out_channels, weight.size(1) * weight.size(2) * weight.size(3)});
    const Tensor cols = im2col(x.detach(), g);
    const AutocastGuard f32_gemms(std::nullopt);  // convolution computes in f32, as cuDNN's path does
    y = reshape(cat_groups(groups, 1,
                           [&](int64_t k) { return matmul(group_part(w, 0, k, groups), group_part(cols, 1, k, groups)); }),
                output_shape(x, out_channels, g));
  }
  if (bias.defined()) y = add(y, reshape(bias.detach(), {1, out_channels, 1, 1}));
  record_op("conv2d", {x, weight, bias}, y, {x, weight},
            [g, groups, has_bias = bias.defined()](const Tensor& grad, const std::vector<Tensor>& s) {
              return grad::conv2d(grad, s[0], s[1], g, groups, has_bias);
            });
  return y;
}

Tensor max_pool2d(const Tensor& x, Size2 kernel, Size2 stride, Size2 padding) {
  if (autocast_widens(x)) return max_pool2d(autocast_to_f32(x), kernel, stride, padding);
  const Window2d g = pool_window(x, kernel, stride, padding, "max_pool2d");
  const Tensor xc = contiguous(x.detach());
  Tensor y = Tensor::empty(output_shape(x, x.size(1), g), x.dtype(), x.device());
  const Tensor indices = Tensor::empty(y.shape(), DType::I64, x.device());
  backend_for(x.device()).max_pool2d(g, y, indices, xc);
  record_op("max_pool2d", {x}, y, {indices}, [g, shape = x.shape()](const Tensor& grad, const std::vector<Tensor>& s) {
    return grad::max_pool2d(grad, s[0], g, shape);
  });
  return y;
}

Tensor avg_pool2d(const Tensor& x, Size2 kernel, Size2 stride, Size2 padding, bool count_include_pad) {
  if (autocast_widens(x)) return avg_pool2d(autocast_to_f32(x), kernel, stride, padding, count_include_pad);
  return avg_pool(x, pool_window(x, kernel, stride, padding, "avg_pool2d"), count_include_pad, "avg_pool2d");
}

Tensor adaptive_avg_pool2d(const Tensor& x, int64_t out_h, int64_t out_w) {
  if (autocast_widens(x)) return adaptive_avg_pool2d(autocast_to_f32(x), out_h, out_w);
  check_input(x, "adaptive_avg_pool2d");
  MINIDL_CHECK(out_h > 0 && out_w > 0, "adaptive_avg_pool2d: output size must be positive, got {}x{}", out_h, out_w);
  const Window2d g{x.size(0) * x.size(1), {x.size(2), out_h, 1, 1, 0, 1, true}, {x.size(3), out_w, 1, 1, 0, 1, true}};
  return avg_pool(x, g, false, "adaptive_avg_pool2d");
}

}  // namespace minidl
