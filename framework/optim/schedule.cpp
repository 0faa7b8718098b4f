#include "framework/optim/schedule.h"

#include <algorithm>
#include <cmath>
#include <numbers>

#include "framework/core/check.h"

namespace minidl {

CosineSchedule::CosineSchedule(double base_lr, int64_t total_steps, int64_t warmup_steps, double min_lr)
    : base_lr_(base_lr), min_lr_(min_lr), total_steps_(total_steps), warmup_steps_(warmup_steps) {
  MINIDL_CHECK(base_lr >= 0 && std::isfinite(base_lr), "schedule: base learning rate {} must be finite and >= 0",
               base_lr);
  MINIDL_CHECK(min_lr >= 0 && min_lr <= base_lr, "schedule: min learning rate {} must be in [0, {}]", min_lr, base_lr);
  MINIDL_CHECK(total_steps > 0 && warmup_steps >= 0 && warmup_steps < total_steps,
               "schedule: need 0 <= warmup steps ({}) < total steps ({})", warmup_steps, total_steps);
}

double CosineSchedule::lr_at(int64_t step) const {
  if (step < warmup_steps_) return base_lr_ * static_cast<double>(step + 1) / static_cast<double>(warmup_steps_);
  const double progress = std::clamp(static_cast<double>(step - warmup_steps_) /
                                         static_cast<double>(total_steps_ - warmup_steps_), 0.0, 1.0);
  return min_lr_ + 0.5 * (base_lr_ - min_lr_) * (1 + std::cos(std::numbers::pi * progress));
}

}  // namespace minidl
