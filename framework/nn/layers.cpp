#include "framework/nn/layers.h"

#include <cmath>
#include <string>

#include "framework/nn/init.h"
#include "framework/ops/ops.h"

namespace minidl {

Linear::Linear(int64_t in_features, int64_t out_features, bool bias, Generator& gen) : in_features_(in_features) {
  MINIDL_CHECK(in_features > 0 && out_features > 0, "Linear({}, {}): sizes must be positive", in_features,
               out_features);
  const double bound = 1.0 / std::sqrt(static_cast<double>(in_features));
  weight_ = register_parameter("weight", uniform({out_features, in_features}, -bound, bound, gen));
  if (bias) bias_ = register_parameter("bias", uniform({out_features}, -bound, bound, gen));
}

Tensor Linear::forward(const Tensor& x) {
  MINIDL_CHECK(x.defined() && x.dim() >= 1 && x.size(-1) == in_features_,
               "Linear: input {} does not end in {} features", x.describe(), in_features_);
  const Tensor y = matmul(x, transpose(weight_, 0, 1));
  // Under autocast y is bf16 (ops/autocast.h), and the bias joins it in bf16, as in PyTorch's addmm.
  return bias_.defined() ? add(y, to_dtype(bias_, y.dtype())) : y;
}

LayerNorm::LayerNorm(int64_t features, double eps) : eps_(eps) {
  MINIDL_CHECK(features > 0, "LayerNorm({}): features must be positive", features);
  weight_ = register_parameter("weight", Tensor::full({features}, 1.0));
  bias_ = register_parameter("bias", Tensor::zeros({features}));
}

Tensor LayerNorm::forward(const Tensor& x) { return layer_norm(x, weight_, bias_, eps_); }

Tensor ReLU::forward(const Tensor& x) { return relu(x); }

Tensor Flatten::forward(const Tensor& x) {
  MINIDL_CHECK(x.dim() >= 1, "Flatten: input must have a batch dim, got {}", x.describe());
  return reshape(x, {x.size(0), -1});
}

Sequential& Sequential::add(std::shared_ptr<Module> module) {
  register_module(std::to_string(modules_.size()), module);
  modules_.push_back(std::move(module));
  return *this;
}

Tensor Sequential::forward(const Tensor& x) {
  Tensor h = x;
  for (const auto& m : modules_) h = (*m)(h);
  return h;
}

}  // namespace minidl
