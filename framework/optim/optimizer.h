// Optimizers over a list of parameters. step() applies one update from the parameters'
// gradients (a parameter without a gradient is skipped); zero_grad() clears them.
// Hyper-parameters are validated with `!(x >= 0)` style checks so NaN is rejected too.
#pragma once

#include <vector>

#include "framework/core/tensor.h"

namespace minidl {

class Optimizer {
 public:
  explicit Optimizer(std::vector<Tensor> params);
  virtual ~Optimizer() = default;
  virtual void step() = 0;
  void zero_grad();
  double lr() const { return lr_; }
  void set_lr(double lr);

 protected:
  std::vector<Tensor> params_;
  double lr_ = 0;
};

struct SgdOptions {
  double lr = 0.01;
  double momentum = 0;
  double dampening = 0;
  double weight_decay = 0;
  bool nesterov = false;
};

// torch.optim.SGD.
class SGD final : public Optimizer {
 public:
  SGD(std::vector<Tensor> params, SgdOptions options);
  void step() override;

 private:
  SgdOptions options_;
  std::vector<Tensor> momentum_;  // undefined until a parameter's first step
};

struct AdamWOptions {
  double lr = 1e-3;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 1e-2;
};

// torch.optim.AdamW (decoupled weight decay).
class AdamW final : public Optimizer {
 public:
  AdamW(std::vector<Tensor> params, AdamWOptions options);
  void step() override;

 private:
  AdamWOptions options_;
  int64_t steps_ = 0;
  std::vector<Tensor> exp_avg_, exp_avg_sq_;
};

}  // namespace minidl
