#include "framework/optim/optimizer.h"

#include <cmath>

#include "framework/ops/backend.h"
#include "framework/ops/ops.h"

namespace minidl {

namespace {

void check_hyper(double value, double low, double high, const char* what) {
  MINIDL_CHECK(value >= low && value <= high, "{} = {} is invalid: expected a value in [{}, {}]", what, value, low,
               high);
}

}  // namespace

Optimizer::Optimizer(std::vector<Tensor> params) : params_(std::move(params)) {
  MINIDL_CHECK(!params_.empty(), "optimizer: the parameter list is empty");
  for (size_t i = 0; i < params_.size(); ++i) {
    MINIDL_CHECK(params_[i].defined() && params_[i].is_leaf() && params_[i].requires_grad(),
                 "optimizer: parameter {} ({}) must be a leaf that requires grad", i, params_[i].describe());
    MINIDL_CHECK(params_[i].is_contiguous(), "optimizer: parameter {} ({}) is not contiguous", i,
                 params_[i].describe());
  }
}

void Optimizer::zero_grad() {
  for (Tensor& p : params_) p.set_grad(Tensor());
}

void Optimizer::set_lr(double lr) {
  check_hyper(lr, 0, INFINITY, "learning rate");
  lr_ = lr;
}

SGD::SGD(std::vector<Tensor> params, SgdOptions options)
    : Optimizer(std::move(params)), options_(options), momentum_(params_.size()) {
  set_lr(options.lr);
  check_hyper(options.momentum, 0, INFINITY, "momentum");
  check_hyper(options.dampening, 0, 1, "dampening");
  check_hyper(options.weight_decay, 0, INFINITY, "weight decay");
  MINIDL_CHECK(!options.nesterov || (options.momentum > 0 && options.dampening == 0),
               "Nesterov momentum needs momentum > 0 and dampening 0 (got momentum {}, dampening {})",
               options.momentum, options.dampening);
}

void SGD::step() {
  for (size_t i = 0; i < params_.size(); ++i) {
    const Tensor& p = params_[i];
    if (!p.grad().defined()) continue;
    const bool first = options_.momentum != 0 && !momentum_[i].defined();
    if (first) momentum_[i] = Tensor::zeros(p.shape(), p.dtype(), p.device());
    const SgdParams hp{lr_, options_.momentum, options_.dampening, options_.weight_decay, options_.nesterov, first};
    backend_for(p.device()).sgd_step(hp, p, contiguous(p.grad()), momentum_[i]);
    p.bump_version();
  }
}

AdamW::AdamW(std::vector<Tensor> params, AdamWOptions options)
    : Optimizer(std::move(params)), options_(options), exp_avg_(params_.size()), exp_avg_sq_(params_.size()) {
  set_lr(options.lr);
  check_hyper(options.beta1, 0, 1 - 1e-12, "beta1");
  check_hyper(options.beta2, 0, 1 - 1e-12, "beta2");
  check_hyper(options.eps, 0, INFINITY, "eps");
  check_hyper(options.weight_decay, 0, INFINITY, "weight decay");
}

void AdamW::step() {
  ++steps_;
  const double t = static_cast<double>(steps_);
  const AdamWParams hp{lr_, options_.beta1, options_.beta2, options_.eps, options_.weight_decay,
                       1 - std::pow(options_.beta1, t), 1 - std::pow(options_.beta2, t)};
  for (size_t i = 0; i < params_.size(); ++i) {
    const Tensor& p = params_[i];
    if (!p.grad().defined()) continue;
    if (!exp_avg_[i].defined()) {
      exp_avg_[i] = Tensor::zeros(p.shape(), p.dtype(), p.device());
      exp_avg_sq_[i] = Tensor::zeros(p.shape(), p.dtype(), p.device());
    }
    backend_for(p.device()).adamw_step(hp, p, contiguous(p.grad()), exp_avg_[i], exp_avg_sq_[i]);
    p.bump_version();
  }
}

}  // namespace minidl
