// The optimizers: torch.optim's SGD, Adam, AdamW, Adagrad, Adadelta, RMSprop, Adamax, NAdam and
// RAdam, with torch's hyper-parameter names and defaults, and Lion and LAMB after their papers.
// Each is an options struct (the defaults) and a class that validates the options and turns a
// parameter's step into the update rule of kernels/common/optim_rules.h. docs/optim.md lists the
// formulas' sources and the tests that check each against torch.optim or the paper.
#pragma once

#include <array>
#include <string>
#include <vector>

#include "framework/optim/optimizer.h"

namespace minidl {

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
  SGD(std::vector<Tensor> params, SgdOptions options = {});
  std::array<std::string, kMaxOptimizerState> state_names() const override;

 private:
  OptimizerRule rule_for(size_t i) override;
  SgdOptions options_;
};

// Adam's and AdamW's options differ only in the default weight decay (designated initializers
// need an aggregate, so AdamW's cannot be Adam's with another default).
struct AdamOptions {
  double lr = 1e-3;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 0;  // an L2 penalty added to the gradient
  bool amsgrad = false;
};

struct AdamWOptions {
  double lr = 1e-3;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 1e-2;  // decoupled: p *= 1 - lr * weight_decay
  bool amsgrad = false;
};

// Adam and AdamW keep the same state and share one rule; they differ in how weight decay enters.
class AdamFamily : public Optimizer {
 public:
  std::array<std::string, kMaxOptimizerState> state_names() const override;

 protected:
  AdamFamily(std::string name, std::vector<Tensor> params, const AdamOptions& options, bool decoupled_weight_decay);

 private:
  OptimizerRule rule_for(size_t i) override;
  AdamOptions options_;
  bool decoupled_weight_decay_;
};

// torch.optim.Adam (amsgrad: the AMSGrad variant).
class Adam final : public AdamFamily {
 public:
  Adam(std::vector<Tensor> params, AdamOptions options = {});
};

// torch.optim.AdamW: decoupled weight decay (amsgrad: the AMSGrad variant).
class AdamW final : public AdamFamily {
 public:
  AdamW(std::vector<Tensor> params, AdamWOptions options = {});
};

struct AdagradOptions {
  double lr = 1e-2;
  double lr_decay = 0;
  double weight_decay = 0;
  double initial_accumulator_value = 0;
  double eps = 1e-10;
};

// torch.optim.Adagrad.
class Adagrad final : public Optimizer {
 public:
  Adagrad(std::vector<Tensor> params, AdagradOptions options = {});
  std::array<std::string, kMaxOptimizerState> state_names() const override;

 private:
  double initial_state(int k) const override;
  OptimizerRule rule_for(size_t i) override;
  AdagradOptions options_;
};

struct AdadeltaOptions {
  double lr = 1.0;
  double rho = 0.9;
  double eps = 1e-6;
  double weight_decay = 0;
};

// torch.optim.Adadelta.
class Adadelta final : public Optimizer {
 public:
  Adadelta(std::vector<Tensor> params, AdadeltaOptions options = {});
  std::array<std::string, kMaxOptimizerState> state_names() const override;

 private:
  OptimizerRule rule_for(size_t i) override;
  AdadeltaOptions options_;
};

struct RmspropOptions {
  double lr = 1e-2;
  double alpha = 0.99;
  double eps = 1e-8;
  double weight_decay = 0;
  double momentum = 0;
  bool centered = false;
};

// torch.optim.RMSprop (centered: normalized by an estimate of the gradient's variance).
class RMSprop final : public Optimizer {
 public:
  RMSprop(std::vector<Tensor> params, RmspropOptions options = {});
  std::array<std::string, kMaxOptimizerState> state_names() const override;

 private:
  OptimizerRule rule_for(size_t i) override;
  RmspropOptions options_;
};

struct AdamaxOptions {
  double lr = 2e-3;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 0;
};

// torch.optim.Adamax.
class Adamax final : public Optimizer {
 public:
  Adamax(std::vector<Tensor> params, AdamaxOptions options = {});
  std::array<std::string, kMaxOptimizerState> state_names() const override;

 private:
  OptimizerRule rule_for(size_t i) override;
  AdamaxOptions options_;
};

struct NadamOptions {
  double lr = 2e-3;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 0;
  double momentum_decay = 4e-3;
};

// torch.optim.NAdam.
class NAdam final : public Optimizer {
 public:
  NAdam(std::vector<Tensor> params, NadamOptions options = {});
  std::array<std::string, kMaxOptimizerState> state_names() const override;
  // Parameter i's running product of the momentum coefficients mu_1 ... mu_t (torch's
  // state['mu_product']).
  double mu_product(size_t i) const { return mu_product_.at(i); }
  std::vector<std::string> scalar_state_names() const override { return {"mu_product"}; }
  std::vector<double> param_scalars(size_t i) const override { return {mu_product(i)}; }

 private:
  OptimizerRule rule_for(size_t i) override;
  void set_param_scalars(size_t i, const std::vector<double>& scalars) override { mu_product_.at(i) = scalars[0]; }
  NadamOptions options_;
  std::vector<double> mu_product_;
};

struct RadamOptions {
  double lr = 1e-3;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 0;
};

// torch.optim.RAdam.
class RAdam final : public Optimizer {
 public:
  RAdam(std::vector<Tensor> params, RadamOptions options = {});
  std::array<std::string, kMaxOptimizerState> state_names() const override;

 private:
  OptimizerRule rule_for(size_t i) override;
  RadamOptions options_;
};

// The defaults of the paper's experiments and its reference implementation.
struct LionOptions {
  double lr = 1e-4;
  double beta1 = 0.9;
  double beta2 = 0.99;
  double weight_decay = 0;
};

// Lion (Chen et al. 2023): the sign of an interpolated momentum, with decoupled weight decay.
class Lion final : public Optimizer {
 public:
  Lion(std::vector<Tensor> params, LionOptions options = {});
  std::array<std::string, kMaxOptimizerState> state_names() const override;

 private:
  OptimizerRule rule_for(size_t i) override;
  LionOptions options_;
};

struct LambOptions {
  double lr = 1e-3;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-6;
  double weight_decay = 0;
};

// LAMB (You et al. 2019): an Adam direction plus weight decay, scaled per parameter tensor by the
// trust ratio ||p|| / ||direction||.
class Lamb final : public Optimizer {
 public:
  Lamb(std::vector<Tensor> params, LambOptions options = {});
  std::array<std::string, kMaxOptimizerState> state_names() const override;

 private:
  OptimizerRule rule_for(size_t i) override;
  LambOptions options_;
};

}  // namespace minidl
