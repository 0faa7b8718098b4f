#include "framework/nn/batch_norm.h"

#include <cmath>

#include "framework/autograd/grad_mode.h"
#include "framework/core/check.h"
#include "framework/ops/ops.h"

namespace minidl {

BatchNorm2d::BatchNorm2d(int64_t channels, double momentum, double eps, DType dtype)
    : channels_(channels), momentum_(momentum), eps_(eps) {
  MINIDL_CHECK(channels > 0, "BatchNorm2d({}): channels must be positive", channels);
  MINIDL_CHECK(momentum >= 0 && momentum <= 1, "BatchNorm2d: momentum = {} is outside [0, 1]", momentum);
  MINIDL_CHECK(eps > 0 && std::isfinite(eps), "BatchNorm2d: eps = {} must be finite and > 0", eps);
  weight_ = register_parameter("weight", Tensor::full({channels}, 1.0, dtype));
  bias_ = register_parameter("bias", Tensor::zeros({channels}, dtype));
  running_mean_ = register_buffer("running_mean", Tensor::zeros({channels}, dtype));
  running_var_ = register_buffer("running_var", Tensor::full({channels}, 1.0, dtype));
  batches_tracked_ = register_buffer("num_batches_tracked", Tensor::zeros({}, DType::I64));
}

Tensor BatchNorm2d::forward(const Tensor& x) {
  MINIDL_CHECK(x.dim() == 4 && x.size(1) == channels_, "BatchNorm2d({}): input must be [N, {}, H, W], got {}",
               channels_, channels_, x.describe());
  const Shape per_channel{1, channels_, 1, 1};
  Tensor mean_c, var_c;
  if (is_training()) {
    const int64_t count = x.numel() / channels_;
    MINIDL_CHECK(count > 1, "BatchNorm2d: training needs more than one value per channel, got {}", x.describe());
    mean_c = mean(x, {0, 2, 3}, true);
    const Tensor centred = sub(x, mean_c);
    var_c = mean(mul(centred, centred), {0, 2, 3}, true);
    NoGradGuard no_grad;
    const double unbias = static_cast<double>(count) / static_cast<double>(count - 1);
    copy_(running_mean_, add(mul(running_mean_, 1 - momentum_), mul(reshape(mean_c.detach(), {channels_}), momentum_)));
    copy_(running_var_,
          add(mul(running_var_, 1 - momentum_), mul(reshape(var_c.detach(), {channels_}), momentum_ * unbias)));
    fill_(batches_tracked_, batches_tracked_.item() + 1);
  } else {
    mean_c = reshape(running_mean_, per_channel);
    var_c = reshape(running_var_, per_channel);
  }
  const Tensor normalized = div(sub(x, mean_c), sqrt(add(var_c, eps_)));
  return add(mul(normalized, reshape(weight_, per_channel)), reshape(bias_, per_channel));
}

Tensor BatchNorm1d::forward(const Tensor& x) {
  MINIDL_CHECK(x.dim() == 2, "BatchNorm1d: input must be [N, F], got {}", x.describe());
  return reshape(BatchNorm2d::forward(reshape(x, {x.size(0), x.size(1), 1, 1})), {x.size(0), x.size(1)});
}

}  // namespace minidl
