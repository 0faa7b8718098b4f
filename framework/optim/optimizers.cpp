#include "framework/optim/optimizers.h"

#include <cmath>
#include <utility>

namespace minidl {

namespace {

// 1 - beta^t, Adam's bias correction after t steps.
double bias_correction(double beta, int64_t steps) { return 1 - std::pow(beta, static_cast<double>(steps)); }

}  // namespace

// ---- SGD

SGD::SGD(std::vector<Tensor> params, SgdOptions options)
    : Optimizer("SGD", std::move(params), options.lr), options_(options) {
  check_non_negative(options.momentum, "momentum");
  check_fraction(options.dampening, "dampening");
  check_non_negative(options.weight_decay, "weight_decay");
  MINIDL_CHECK(!options.nesterov || (options.momentum > 0 && options.dampening == 0),
               "SGD: Nesterov momentum needs momentum > 0 and dampening 0 (got momentum {}, dampening {})",
               options.momentum, options.dampening);
}

std::array<std::string, kMaxOptimizerState> SGD::state_names() const {
  return {options_.momentum != 0 ? "momentum_buffer" : "", "", ""};
}

OptimizerRule SGD::rule_for(size_t i) {
  const bool first_step = options_.momentum != 0 && param_steps(i) == 1;
  return SgdParams{lr(), options_.momentum, options_.dampening, options_.weight_decay, options_.nesterov, first_step};
}

// ---- Adam, AdamW

AdamFamily::AdamFamily(std::string name, std::vector<Tensor> params, const AdamOptions& options,
                       bool decoupled_weight_decay)
    : Optimizer(std::move(name), std::move(params), options.lr),
      options_(options),
      decoupled_weight_decay_(decoupled_weight_decay) {
  check_adam_hyperparameters(options.beta1, options.beta2, options.eps, options.weight_decay);
}

std::array<std::string, kMaxOptimizerState> AdamFamily::state_names() const {
  return {"exp_avg", "exp_avg_sq", options_.amsgrad ? "max_exp_avg_sq" : ""};
}

OptimizerRule AdamFamily::rule_for(size_t i) {
  const int64_t t = param_steps(i);
  return AdamParams{lr(),
                    options_.beta1,
                    options_.beta2,
                    options_.eps,
                    options_.weight_decay,
                    decoupled_weight_decay_,
                    options_.amsgrad,
                    bias_correction(options_.beta1, t),
                    bias_correction(options_.beta2, t)};
}

Adam::Adam(std::vector<Tensor> params, AdamOptions options)
    : AdamFamily("Adam", std::move(params), options, false) {}

AdamW::AdamW(std::vector<Tensor> params, AdamWOptions o)
    : AdamFamily("AdamW", std::move(params), AdamOptions{o.lr, o.beta1, o.beta2, o.eps, o.weight_decay, o.amsgrad},
                 true) {}

// ---- Adagrad

Adagrad::Adagrad(std::vector<Tensor> params, AdagradOptions options)
    : Optimizer("Adagrad", std::move(params), options.lr), options_(options) {
  check_non_negative(options.lr_decay, "lr_decay");
  check_non_negative(options.weight_decay, "weight_decay");
  check_non_negative(options.initial_accumulator_value, "initial_accumulator_value");
  check_non_negative(options.eps, "eps");
}

std::array<std::string, kMaxOptimizerState> Adagrad::state_names() const { return {"sum", "", ""}; }

double Adagrad::initial_state(int) const { return options_.initial_accumulator_value; }

OptimizerRule Adagrad::rule_for(size_t i) {
  const double decayed_lr = lr() / (1 + static_cast<double>(param_steps(i) - 1) * options_.lr_decay);
  return AdagradParams{decayed_lr, options_.weight_decay, options_.eps};
}

// ---- Adadelta

Adadelta::Adadelta(std::vector<Tensor> params, AdadeltaOptions options)
    : Optimizer("Adadelta", std::move(params), options.lr), options_(options) {
  check_fraction(options.rho, "rho");
  check_non_negative(options.eps, "eps");
  check_non_negative(options.weight_decay, "weight_decay");
}

std::array<std::string, kMaxOptimizerState> Adadelta::state_names() const {
  return {"square_avg", "acc_delta", ""};
}

OptimizerRule Adadelta::rule_for(size_t) {
  return AdadeltaParams{lr(), options_.rho, options_.eps, options_.weight_decay};
}

// ---- RMSprop

RMSprop::RMSprop(std::vector<Tensor> params, RmspropOptions options)
    : Optimizer("RMSprop", std::move(params), options.lr), options_(options) {
  check_fraction(options.alpha, "alpha");
  check_non_negative(options.eps, "eps");
  check_non_negative(options.weight_decay, "weight_decay");
  check_non_negative(options.momentum, "momentum");
}

std::array<std::string, kMaxOptimizerState> RMSprop::state_names() const {
  return {"square_avg", options_.momentum > 0 ? "momentum_buffer" : "", options_.centered ? "grad_avg" : ""};
}

OptimizerRule RMSprop::rule_for(size_t) {
  return RmspropParams{lr(), options_.alpha, options_.eps, options_.weight_decay, options_.momentum, options_.centered};
}

// ---- Adamax

Adamax::Adamax(std::vector<Tensor> params, AdamaxOptions options)
    : Optimizer("Adamax", std::move(params), options.lr), options_(options) {
  check_adam_hyperparameters(options.beta1, options.beta2, options.eps, options.weight_decay);
}

std::array<std::string, kMaxOptimizerState> Adamax::state_names() const { return {"exp_avg", "exp_inf", ""}; }

OptimizerRule Adamax::rule_for(size_t i) {
  return AdamaxParams{lr(),           options_.beta1,        options_.beta2,
                      options_.eps,   options_.weight_decay, bias_correction(options_.beta1, param_steps(i))};
}

// ---- NAdam

NAdam::NAdam(std::vector<Tensor> params, NadamOptions options)
    : Optimizer("NAdam", std::move(params), options.lr), options_(options), mu_product_(this->params().size(), 1.0) {
  check_adam_hyperparameters(options.beta1, options.beta2, options.eps, options.weight_decay);
  check_non_negative(options.momentum_decay, "momentum_decay");
}

std::array<std::string, kMaxOptimizerState> NAdam::state_names() const { return {"exp_avg", "exp_avg_sq", ""}; }

// mu_t = beta1 (1 - 0.5 * 0.96^(t * momentum_decay)); the step uses mu_t, mu_{t+1} and the running
// product of the mu's, which this step extends by mu_t.
OptimizerRule NAdam::rule_for(size_t i) {
  const double t = static_cast<double>(param_steps(i));
  auto mu_at = [&](double step) {
    return options_.beta1 * (1.0 - 0.5 * std::pow(0.96, step * options_.momentum_decay));
  };
  const double mu = mu_at(t), mu_next = mu_at(t + 1);
  mu_product_[i] *= mu;
  return NadamParams{options_.beta1,
                     options_.beta2,
                     options_.eps,
                     options_.weight_decay,
                     bias_correction(options_.beta2, param_steps(i)),
                     lr() * (1.0 - mu) / (1.0 - mu_product_[i]),
                     lr() * mu_next / (1.0 - mu_product_[i] * mu_next)};
}

// ---- RAdam

RAdam::RAdam(std::vector<Tensor> params, RadamOptions options)
    : Optimizer("RAdam", std::move(params), options.lr), options_(options) {
  check_adam_hyperparameters(options.beta1, options.beta2, options.eps, options.weight_decay);
}

std::array<std::string, kMaxOptimizerState> RAdam::state_names() const { return {"exp_avg", "exp_avg_sq", ""}; }

// rho_inf = 2 / (1 - beta2) - 1 and rho_t = rho_inf - 2 t beta2^t / (1 - beta2^t), the length of the
// approximated simple moving average; past 5 the adaptive rate is rectified by r_t.
OptimizerRule RAdam::rule_for(size_t i) {
  const int64_t steps = param_steps(i);
  const double t = static_cast<double>(steps), beta2 = options_.beta2;
  const double bc2 = bias_correction(beta2, steps);
  const double rho_inf = 2 / (1 - beta2) - 1;
  const double rho_t = rho_inf - 2 * t * std::pow(beta2, t) / bc2;
  const bool rectified = rho_t > 5;
  const double rectification =
      rectified ? std::sqrt((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t)) : 0;
  return RadamParams{lr(),      options_.beta1, beta2,        options_.eps, options_.weight_decay,
                     bias_correction(options_.beta1, steps), bc2, rectified, rectification};
}

// ---- Lion

Lion::Lion(std::vector<Tensor> params, LionOptions options)
    : Optimizer("Lion", std::move(params), options.lr), options_(options) {
  check_below_one(options.beta1, "beta1");
  check_below_one(options.beta2, "beta2");
  check_non_negative(options.weight_decay, "weight_decay");
}

std::array<std::string, kMaxOptimizerState> Lion::state_names() const { return {"exp_avg", "", ""}; }

OptimizerRule Lion::rule_for(size_t) {
  return LionParams{lr(), options_.beta1, options_.beta2, options_.weight_decay};
}

// ---- LAMB

Lamb::Lamb(std::vector<Tensor> params, LambOptions options)
    : Optimizer("LAMB", std::move(params), options.lr), options_(options) {
  check_adam_hyperparameters(options.beta1, options.beta2, options.eps, options.weight_decay);
}

std::array<std::string, kMaxOptimizerState> Lamb::state_names() const { return {"exp_avg", "exp_avg_sq", ""}; }

OptimizerRule Lamb::rule_for(size_t i) {
  const int64_t t = param_steps(i);
  return LambParams{lr(),
                    options_.beta1,
                    options_.beta2,
                    options_.eps,
                    options_.weight_decay,
                    bias_correction(options_.beta1, t),
                    bias_correction(options_.beta2, t)};
}

}  // namespace minidl
