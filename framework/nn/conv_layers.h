// Convolution and pooling layers over [N, C, H, W], mirroring their torch.nn namesakes: same
// parameter names, shapes and default initialization (U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for
// Conv2d's weight and bias, fan_in = C / groups * kh * kw).
#pragma once

#include "framework/nn/module.h"
#include "framework/ops/ops.h"
#include "framework/random/generator.h"

namespace minidl {

struct Conv2dOptions {
  Size2 kernel{3, 3};
  Size2 stride{1, 1};
  Size2 padding{0, 0};
  Size2 dilation{1, 1};
  int64_t groups = 1;
  bool bias = true;
};

class Conv2d : public Module {
 public:
  Conv2d(int64_t in_channels, int64_t out_channels, const Conv2dOptions& options, Generator& gen);
  Tensor forward(const Tensor& x) override;

 private:
  Conv2dOptions options_;
  Tensor weight_, bias_;
};

// Max or average pooling over kernel windows; stride {0, 0} means the kernel's size (torch's default).
class Pool2d : public Module {
 public:
  enum class Kind { Max, Avg };
  Pool2d(Kind kind, Size2 kernel, Size2 stride, Size2 padding);
  Tensor forward(const Tensor& x) override;

 private:
  Kind kind_;
  Size2 kernel_, stride_, padding_;
};

class MaxPool2d : public Pool2d {
 public:
  explicit MaxPool2d(Size2 kernel, Size2 stride = {0, 0}, Size2 padding = {0, 0})
      : Pool2d(Kind::Max, kernel, stride, padding) {}
};

class AvgPool2d : public Pool2d {
 public:
  explicit AvgPool2d(Size2 kernel, Size2 stride = {0, 0}, Size2 padding = {0, 0})
      : Pool2d(Kind::Avg, kernel, stride, padding) {}
};

class AdaptiveAvgPool2d : public Module {
 public:
  explicit AdaptiveAvgPool2d(Size2 output);
  Tensor forward(const Tensor& x) override;

 private:
  Size2 output_;
};

}  // namespace minidl
