#include "framework/optim/optimizer.h"

#include <algorithm>
#include <cmath>
#include <utility>

#include "framework/ops/ops.h"

namespace minidl {

Optimizer::Optimizer(std::string name, std::vector<Tensor> params, double lr)
    : name_(std::move(name)), params_(std::move(params)), state_(params_.size()) {
  MINIDL_CHECK(!params_.empty(), "{}: the parameter list is empty", name_);
  for (size_t i = 0; i < params_.size(); ++i) {
    MINIDL_CHECK(params_[i].defined() && params_[i].is_leaf() && params_[i].requires_grad(),
                 "{}: parameter {} ({}) must be a leaf that requires grad", name_, i, params_[i].describe());
    MINIDL_CHECK(params_[i].is_contiguous(), "{}: parameter {} ({}) is not contiguous", name_, i,
                 params_[i].describe());
  }
  set_lr(lr);
}

void Optimizer::zero_grad() {
  for (Tensor& p : params_) p.set_grad(Tensor());
}

void Optimizer::set_lr(double lr) {
  check_non_negative(lr, "lr");
  lr_ = lr;
}

void Optimizer::set_param_state(size_t i, int64_t steps, const StateBuffers& buffers,
                                const std::vector<double>& scalars) {
  MINIDL_CHECK(i < params_.size(), "{}: parameter {} is out of range: there are {}", name_, i, params_.size());
  const Tensor& p = params_[i];
  MINIDL_CHECK(steps >= 0, "{}: parameter {} ({}): step count {} is negative", name_, i, p.describe(), steps);
  const std::array<std::string, kMaxOptimizerState> names = state_names();
  for (int k = 0; k < kMaxOptimizerState; ++k) {
    const Tensor& b = buffers[k];
    if (names[k].empty() || steps == 0) {
      MINIDL_CHECK(!b.defined(), "{}: parameter {} ({}): unexpected state buffer {} ({}){}", name_, i, p.describe(), k,
                   b.describe(), steps == 0 ? " before the first step" : "");
    } else {
      MINIDL_CHECK(b.defined(), "{}: parameter {} ({}): state '{}' is missing after {} steps", name_, i, p.describe(),
                   names[k], steps);
      MINIDL_CHECK(b.shape() == p.shape() && b.dtype() == p.dtype(),
                   "{}: parameter {} ({}): state '{}' is {}: expected the parameter's shape and dtype", name_, i,
                   p.describe(), names[k], b.describe());
    }
  }
  const std::vector<std::string> scalar_names = scalar_state_names();
  MINIDL_CHECK(scalars.size() == scalar_names.size(), "{}: parameter {} ({}): {} scalar states given, expected {}",
               name_, i, p.describe(), scalars.size(), scalar_names.size());
  for (size_t k = 0; k < scalars.size(); ++k) {
    MINIDL_CHECK(std::isfinite(scalars[k]), "{}: parameter {} ({}): scalar state '{}' = {} is not finite", name_, i,
                 p.describe(), scalar_names[k], scalars[k]);
  }
  // Private contiguous copies on the parameter's device (the step updates them in place), made
  // before the state changes.
  StateBuffers copies;
  for (int k = 0; k < kMaxOptimizerState; ++k) {
    if (!buffers[k].defined()) continue;
    copies[k] = to_device(buffers[k].detach(), p.device());
    if (copies[k].storage() == buffers[k].storage()) copies[k] = clone(copies[k]);
  }
  state_[i] = ParamState{steps, std::move(copies)};
  set_param_scalars(i, scalars);
}

void Optimizer::check_non_negative(double value, const char* what) const {
  MINIDL_CHECK(value >= 0 && value < INFINITY, "{}: {} = {} is invalid: expected a finite value >= 0", name_, what,
               value);
}

void Optimizer::check_below_one(double value, const char* what) const {
  MINIDL_CHECK(value >= 0 && value < 1, "{}: {} = {} is invalid: expected a value in [0, 1)", name_, what, value);
}

void Optimizer::check_adam_hyperparameters(double beta1, double beta2, double eps, double weight_decay) const {
  check_below_one(beta1, "beta1");
  check_below_one(beta2, "beta2");
  check_non_negative(eps, "eps");
  check_non_negative(weight_decay, "weight_decay");
}

void Optimizer::check_fraction(double value, const char* what) const {
  MINIDL_CHECK(value >= 0 && value <= 1, "{}: {} = {} is invalid: expected a value in [0, 1]", name_, what, value);
}

void Optimizer::step() {
  // Every gradient is checked before any state changes, so a bad one leaves the optimizer as it was.
  for (size_t i = 0; i < params_.size(); ++i) {
    const Tensor& p = params_[i];
    const Tensor grad = p.grad();
    MINIDL_CHECK(!grad.defined() || (grad.shape() == p.shape() && grad.dtype() == p.dtype() &&
                                     grad.device() == p.device()),
                 "{}: parameter {} ({}) has a gradient {}: expected the parameter's shape, dtype and device", name_, i,
                 p.describe(), grad.describe());
  }
  // Parameters that share a device, a dtype and a rule go to the backend in one call.
  struct Group {
    Device device;
    DType dtype;
    OptimizerRule rule;
    std::vector<OptimizerTensors> tensors;
  };
  std::vector<Group> groups;
  const std::array<std::string, kMaxOptimizerState> names = state_names();
  for (size_t i = 0; i < params_.size(); ++i) {
    const Tensor& p = params_[i];
    if (!p.grad().defined()) continue;
    ParamState& state = state_[i];
    if (state.steps == 0) {
      for (int k = 0; k < kMaxOptimizerState; ++k)
        if (!names[k].empty()) state.buffers[k] = Tensor::full(p.shape(), initial_state(k), p.dtype(), p.device());
    }
    ++state.steps;
    const OptimizerRule rule = rule_for(i);
    auto group = std::find_if(groups.begin(), groups.end(), [&](const Group& g) {
      return g.device == p.device() && g.dtype == p.dtype() && g.rule == rule;
    });
    if (group == groups.end()) group = groups.insert(groups.end(), Group{p.device(), p.dtype(), rule, {}});
    group->tensors.push_back({p, contiguous(p.grad()), state.buffers});
  }
  for (const Group& g : groups) {
    backend_for(g.device).optimizer_step(g.rule, g.tensors);
    for (const OptimizerTensors& t : g.tensors) t.param.bump_version();
  }
}

}  // namespace minidl
