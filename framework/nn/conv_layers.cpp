#include "framework/nn/conv_layers.h"

#include <cmath>

#include "framework/core/check.h"
#include "framework/nn/init.h"

namespace minidl {

Conv2d::Conv2d(int64_t in_channels, int64_t out_channels, const Conv2dOptions& options, Generator& gen)
    : options_(options) {
  MINIDL_CHECK(in_channels > 0 && out_channels > 0 && options.groups > 0 && in_channels % options.groups == 0 &&
                   out_channels % options.groups == 0,
               "Conv2d({}, {}, groups {}): channels must be positive multiples of groups", in_channels, out_channels,
               options.groups);
  MINIDL_CHECK(options.kernel[0] > 0 && options.kernel[1] > 0, "Conv2d: kernel {}x{} must be positive",
               options.kernel[0], options.kernel[1]);
  const int64_t fan_in = in_channels / options.groups * options.kernel[0] * options.kernel[1];
  const double bound = 1.0 / std::sqrt(static_cast<double>(fan_in));
  weight_ = register_parameter(
      "weight", uniform({out_channels, in_channels / options.groups, options.kernel[0], options.kernel[1]}, -bound,
                        bound, gen));
  if (options.bias) bias_ = register_parameter("bias", uniform({out_channels}, -bound, bound, gen));
}

Tensor Conv2d::forward(const Tensor& x) {
  return conv2d(x, weight_, bias_, options_.stride, options_.padding, options_.dilation, options_.groups);
}

Pool2d::Pool2d(Kind kind, Size2 kernel, Size2 stride, Size2 padding)
    : kind_(kind), kernel_(kernel), stride_(stride[0] == 0 && stride[1] == 0 ? kernel : stride), padding_(padding) {}

Tensor Pool2d::forward(const Tensor& x) {
  return kind_ == Kind::Max ? max_pool2d(x, kernel_, stride_, padding_) : avg_pool2d(x, kernel_, stride_, padding_);
}

AdaptiveAvgPool2d::AdaptiveAvgPool2d(Size2 output) : output_(output) {}

Tensor AdaptiveAvgPool2d::forward(const Tensor& x) { return adaptive_avg_pool2d(x, output_[0], output_[1]); }

}  // namespace minidl
