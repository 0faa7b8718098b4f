// The basic layers. Each mirrors its torch.nn namesake: same parameter names, shapes and
// default initialization.
#pragma once

#include <memory>
#include <vector>

#include "framework/nn/module.h"
#include "framework/random/generator.h"

namespace minidl {

// y = x @ weight^T + bias, weight [out, in]; both drawn from U(-1/sqrt(in), 1/sqrt(in)).
class Linear : public Module {
 public:
  Linear(int64_t in_features, int64_t out_features, bool bias, Generator& gen);
  Tensor forward(const Tensor& x) override;
  const Tensor& weight() const { return weight_; }
  const Tensor& bias() const { return bias_; }

 private:
  int64_t in_features_;
  Tensor weight_, bias_;
};

// LayerNorm over the last dim, weight 1 and bias 0 to start (torch.nn.LayerNorm).
class LayerNorm : public Module {
 public:
  explicit LayerNorm(int64_t features, double eps = 1e-5);
  Tensor forward(const Tensor& x) override;

 private:
  double eps_;
  Tensor weight_, bias_;
};

class ReLU : public Module {
 public:
  Tensor forward(const Tensor& x) override;
};

// [N, ...] -> [N, prod(...)].
class Flatten : public Module {
 public:
  Tensor forward(const Tensor& x) override;
};

// Runs its children in order; they are named "0", "1", ...
class Sequential : public Module {
 public:
  Sequential& add(std::shared_ptr<Module> module);
  Tensor forward(const Tensor& x) override;
  size_t size() const { return modules_.size(); }

 private:
  std::vector<std::shared_ptr<Module>> modules_;
};

}  // namespace minidl
