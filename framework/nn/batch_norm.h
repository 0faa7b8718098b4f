// BatchNorm2d (Ioffe & Szegedy 2015) as torch.nn.BatchNorm2d computes it: in training, each
// channel of x [N, C, H, W] is normalized by its batch mean and biased variance, and the running
// statistics move by `momentum` toward the batch's (the variance unbiased); in eval mode the
// running statistics normalize. Parameters weight (1) and bias (0); buffers running_mean,
// running_var and num_batches_tracked, named as torch names them. BatchNorm1d does the same for
// the features of x [N, F].
#pragma once

#include "framework/nn/module.h"

namespace minidl {

class BatchNorm2d : public Module {
 public:
  explicit BatchNorm2d(int64_t channels, double momentum = 0.1, double eps = 1e-5, DType dtype = DType::F32);
  Tensor forward(const Tensor& x) override;

 private:
  int64_t channels_;
  double momentum_, eps_;
  Tensor weight_, bias_, running_mean_, running_var_, batches_tracked_;
};

// torch.nn.BatchNorm1d on [N, F]: BatchNorm2d on [N, F, 1, 1], so each feature is a channel.
class BatchNorm1d : public BatchNorm2d {
 public:
  using BatchNorm2d::BatchNorm2d;
  Tensor forward(const Tensor& x) override;
};

}  // namespace minidl
