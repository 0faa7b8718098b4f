// The optimizer base class: a list of parameters with state per parameter, as torch.optim keeps
// it: the steps the parameter has taken and its state buffers (created at its first step).
// step() applies one update from the parameters' gradients; a parameter without a gradient is
// skipped and its step count stays. zero_grad() clears the gradients.
//
// An optimizer (framework/optim/optimizers.h) supplies its state buffers' names and, for each
// parameter's step, the update rule: a params struct of kernels/common/optim_rules.h. step() hands
// every parameter of one device, dtype and rule to the backend in one call (on a GPU, one
// multi-tensor launch per table of tensors).
#pragma once

#include <array>
#include <string>
#include <vector>

#include "framework/core/tensor.h"
#include "framework/ops/backend.h"

namespace minidl {

class Optimizer {
 public:
  virtual ~Optimizer() = default;
  void step();
  void zero_grad();
  const std::string& name() const { return name_; }
  const std::vector<Tensor>& params() const { return params_; }
  double lr() const { return lr_; }
  void set_lr(double lr);

  using StateBuffers = std::array<Tensor, kMaxOptimizerState>;
  // The names torch.optim gives the state buffers, in the order the rule reads them; "" where this
  // configuration keeps no such buffer.
  virtual std::array<std::string, kMaxOptimizerState> state_names() const = 0;
  // Parameter i's steps so far and its state buffers (undefined before its first step).
  int64_t param_steps(size_t i) const { return state_.at(i).steps; }
  const StateBuffers& param_state(size_t i) const { return state_.at(i).buffers; }
  // Per-parameter scalars some optimizers keep besides the buffers (NAdam's mu_product), by name,
  // and parameter i's values of them in that order.
  virtual std::vector<std::string> scalar_state_names() const { return {}; }
  virtual std::vector<double> param_scalars(size_t /*i*/) const { return {}; }

  // Restores parameter i's state, as a checkpoint saved it: steps >= 0; before the first step
  // (steps == 0) no buffer, else exactly the buffers state_names() names, each with the
  // parameter's shape and dtype (copied to the parameter's device); one scalar per
  // scalar_state_names(). Everything is checked before anything changes; errors name the
  // optimizer, the parameter and the bad value.
  void set_param_state(size_t i, int64_t steps, const StateBuffers& buffers, const std::vector<double>& scalars = {});

 protected:
  // `name` prefixes every error ("Adam: beta2 = 1 is invalid: ...").
  Optimizer(std::string name, std::vector<Tensor> params, double lr);

  // The value state buffer k starts with (torch's zeros, but Adagrad's initial accumulator).
  virtual double initial_state(int /*k*/) const { return 0; }
  // The update rule of parameter i's step, its step count (param_steps(i)) already counting it.
  virtual OptimizerRule rule_for(size_t i) = 0;
  // Sets parameter i's scalars (already checked: one per scalar_state_names(), finite).
  virtual void set_param_scalars(size_t /*i*/, const std::vector<double>& /*scalars*/) {}

  // Hyper-parameter checks, written so that NaN fails them; each error names the optimizer, the
  // hyper-parameter, its value and the range expected.
  void check_non_negative(double value, const char* what) const;  // finite and >= 0
  void check_below_one(double value, const char* what) const;     // in [0, 1)
  void check_fraction(double value, const char* what) const;      // in [0, 1]
  // The Adam family's: beta1 and beta2 in [0, 1), eps and weight_decay finite and >= 0.
  void check_adam_hyperparameters(double beta1, double beta2, double eps, double weight_decay) const;

 private:
  struct ParamState {
    int64_t steps = 0;
    StateBuffers buffers;
  };

  std::string name_;
  std::vector<Tensor> params_;
  std::vector<ParamState> state_;
  double lr_ = 0;
};

}  // namespace minidl
