#include "framework/optim/schedule.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numbers>

#include "framework/core/check.h"

namespace minidl {

namespace {

void check_rate(double lr, const char* what) {
  MINIDL_CHECK(lr >= 0 && std::isfinite(lr), "schedule: {} {} must be finite and >= 0", what, lr);
}

void check_gamma(double gamma) {
  MINIDL_CHECK(gamma > 0 && std::isfinite(gamma), "schedule: gamma {} must be finite and > 0", gamma);
}

// From start (pct 0) to end (pct 1) along half a cosine.
double cosine_anneal(double start, double end, double pct) {
  return end + (start - end) / 2 * (std::cos(std::numbers::pi * pct) + 1);
}

}  // namespace

ConstantSchedule::ConstantSchedule(double base_lr) : base_lr_(base_lr) { check_rate(base_lr, "learning rate"); }
double ConstantSchedule::lr_at(int64_t) const { return base_lr_; }

StepSchedule::StepSchedule(double base_lr, int64_t step_size, double gamma)
    : base_lr_(base_lr), gamma_(gamma), step_size_(step_size) {
  check_rate(base_lr, "learning rate");
  check_gamma(gamma);
  MINIDL_CHECK(step_size > 0, "schedule: step size {} must be positive", step_size);
}
double StepSchedule::lr_at(int64_t step) const {
  return base_lr_ * std::pow(gamma_, static_cast<double>(step / step_size_));
}

MultiStepSchedule::MultiStepSchedule(double base_lr, std::vector<int64_t> milestones, double gamma)
    : base_lr_(base_lr), gamma_(gamma), milestones_(std::move(milestones)) {
  check_rate(base_lr, "learning rate");
  check_gamma(gamma);
  MINIDL_CHECK(std::is_sorted(milestones_.begin(), milestones_.end()), "schedule: milestones must be increasing");
}
double MultiStepSchedule::lr_at(int64_t step) const {
  const auto passed = std::upper_bound(milestones_.begin(), milestones_.end(), step) - milestones_.begin();
  return base_lr_ * std::pow(gamma_, static_cast<double>(passed));
}

ExponentialSchedule::ExponentialSchedule(double base_lr, double gamma) : base_lr_(base_lr), gamma_(gamma) {
  check_rate(base_lr, "learning rate");
  check_gamma(gamma);
}
double ExponentialSchedule::lr_at(int64_t step) const { return base_lr_ * std::pow(gamma_, static_cast<double>(step)); }

CosineSchedule::CosineSchedule(double base_lr, int64_t total_steps, int64_t warmup_steps, double min_lr)
    : base_lr_(base_lr), min_lr_(min_lr), total_steps_(total_steps), warmup_steps_(warmup_steps) {
  check_rate(base_lr, "base learning rate");
  MINIDL_CHECK(min_lr >= 0 && min_lr <= base_lr, "schedule: min learning rate {} must be in [0, {}]", min_lr, base_lr);
  MINIDL_CHECK(total_steps > 0 && warmup_steps >= 0 && warmup_steps < total_steps,
               "schedule: need 0 <= warmup steps ({}) < total steps ({})", warmup_steps, total_steps);
}

double CosineSchedule::lr_at(int64_t step) const {
  if (step < warmup_steps_) return base_lr_ * static_cast<double>(step + 1) / static_cast<double>(warmup_steps_);
  const double progress = std::clamp(static_cast<double>(step - warmup_steps_) /
                                         static_cast<double>(total_steps_ - warmup_steps_), 0.0, 1.0);
  return cosine_anneal(base_lr_, min_lr_, progress);
}

OneCycleSchedule::OneCycleSchedule(double max_lr, int64_t total_steps, double pct_start, double div_factor,
                                   double final_div_factor)
    : max_lr_(max_lr), initial_lr_(max_lr / div_factor), min_lr_(max_lr / div_factor / final_div_factor) {
  check_rate(max_lr, "max learning rate");
  MINIDL_CHECK(total_steps > 1, "schedule: one-cycle needs more than 1 step, got {}", total_steps);
  MINIDL_CHECK(pct_start > 0 && pct_start < 1, "schedule: pct_start {} must be in (0, 1)", pct_start);
  MINIDL_CHECK(div_factor > 0 && final_div_factor > 0 && std::isfinite(div_factor) && std::isfinite(final_div_factor),
               "schedule: div factors {} and {} must be finite and > 0", div_factor, final_div_factor);
  // PyTorch's phase ends: the peak at step pct_start * total - 1, the minimum at the last step.
  up_steps_ = pct_start * static_cast<double>(total_steps) - 1;
  down_steps_ = static_cast<double>(total_steps) - 1 - up_steps_;
  MINIDL_CHECK(up_steps_ > 0, "schedule: pct_start {} leaves no warm-up step in {} steps", pct_start, total_steps);
}

double OneCycleSchedule::lr_at(int64_t step) const {
  const double t = static_cast<double>(step);
  if (t <= up_steps_) return cosine_anneal(initial_lr_, max_lr_, t / up_steps_);
  return cosine_anneal(max_lr_, min_lr_, std::min(1.0, (t - up_steps_) / down_steps_));
}

WarmupSchedule::WarmupSchedule(std::shared_ptr<const LrSchedule> inner, int64_t warmup_steps)
    : inner_(std::move(inner)), warmup_steps_(warmup_steps) {
  MINIDL_CHECK(inner_ != nullptr, "schedule: warmup needs a schedule to warm up");
  MINIDL_CHECK(warmup_steps >= 0, "schedule: warmup steps {} must be >= 0", warmup_steps);
}

double WarmupSchedule::lr_at(int64_t step) const {
  const double factor = step < warmup_steps_ ? static_cast<double>(step + 1) / static_cast<double>(warmup_steps_) : 1.0;
  return factor * inner_->lr_at(step);
}

ReduceOnPlateau::ReduceOnPlateau(double lr, double factor, int64_t patience, double threshold, int64_t cooldown,
                                 double min_lr)
    : lr_(lr), factor_(factor), threshold_(threshold), min_lr_(min_lr), patience_(patience), cooldown_(cooldown),
      best_(std::numeric_limits<double>::infinity()) {
  check_rate(lr, "learning rate");
  check_rate(min_lr, "min learning rate");
  MINIDL_CHECK(factor > 0 && factor < 1, "schedule: plateau factor {} must be in (0, 1)", factor);
  MINIDL_CHECK(threshold >= 0 && std::isfinite(threshold), "schedule: plateau threshold {} must be finite and >= 0",
               threshold);
  MINIDL_CHECK(patience >= 0 && cooldown >= 0, "schedule: patience {} and cooldown {} must be >= 0", patience, cooldown);
}

void ReduceOnPlateau::set_state(const State& s) {
  check_rate(s.lr, "plateau learning rate");
  MINIDL_CHECK(!std::isnan(s.best), "schedule: plateau best metric is NaN");
  MINIDL_CHECK(s.bad_epochs >= 0 && s.cooldown_left >= 0,
               "schedule: plateau bad epochs {} and cooldown left {} must be >= 0", s.bad_epochs, s.cooldown_left);
  lr_ = s.lr;
  best_ = s.best;
  bad_epochs_ = s.bad_epochs;
  cooldown_left_ = s.cooldown_left;
}

double ReduceOnPlateau::step(double metric) {
  MINIDL_CHECK(!std::isnan(metric), "schedule: plateau metric is NaN");
  if (metric < best_ * (1 - threshold_)) {
    best_ = metric;
    bad_epochs_ = 0;
  } else {
    ++bad_epochs_;
  }
  if (cooldown_left_ > 0) {
    --cooldown_left_;
    bad_epochs_ = 0;
  }
  if (bad_epochs_ > patience_) {
    // PyTorch skips reductions smaller than 1e-8 (its eps).
    const double reduced = std::max(lr_ * factor_, min_lr_);
    if (lr_ - reduced > 1e-8) lr_ = reduced;
    cooldown_left_ = cooldown_;
    bad_epochs_ = 0;
  }
  return lr_;
}

}  // namespace minidl
