// Learning-rate schedules. All but ReduceOnPlateau are pure functions of the step (the rate used
// for optimizer step `step`, counting from 0), so a resumed run gets the same rates. Each follows
// the torch.optim.lr_scheduler class of the same name; tests/test_schedule.cpp compares them with
// rates recorded from PyTorch.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

namespace minidl {

class LrSchedule {
 public:
  virtual ~LrSchedule() = default;
  virtual double lr_at(int64_t step) const = 0;
};

// base_lr at every step.
class ConstantSchedule final : public LrSchedule {
 public:
  explicit ConstantSchedule(double base_lr);
  double lr_at(int64_t step) const override;

 private:
  double base_lr_;
};

// base_lr * gamma^floor(step / step_size) (StepLR).
class StepSchedule final : public LrSchedule {
 public:
  StepSchedule(double base_lr, int64_t step_size, double gamma);
  double lr_at(int64_t step) const override;

 private:
  double base_lr_, gamma_;
  int64_t step_size_;
};

// base_lr * gamma^(number of milestones <= step) (MultiStepLR).
class MultiStepSchedule final : public LrSchedule {
 public:
  MultiStepSchedule(double base_lr, std::vector<int64_t> milestones, double gamma);
  double lr_at(int64_t step) const override;

 private:
  double base_lr_, gamma_;
  std::vector<int64_t> milestones_;
};

// base_lr * gamma^step (ExponentialLR).
class ExponentialSchedule final : public LrSchedule {
 public:
  ExponentialSchedule(double base_lr, double gamma);
  double lr_at(int64_t step) const override;

 private:
  double base_lr_, gamma_;
};

// Linear warmup from 0 over warmup_steps, then cosine decay from base_lr to min_lr at total_steps
// (without warmup: CosineAnnealingLR with T_max = total_steps, eta_min = min_lr).
class CosineSchedule final : public LrSchedule {
 public:
  CosineSchedule(double base_lr, int64_t total_steps, int64_t warmup_steps = 0, double min_lr = 0);
  double lr_at(int64_t step) const override;

 private:
  double base_lr_, min_lr_;
  int64_t total_steps_, warmup_steps_;
};

// OneCycleLR (two phases, cosine annealing): from max_lr / div_factor up to max_lr over the first
// pct_start of the steps, then down to max_lr / (div_factor * final_div_factor).
class OneCycleSchedule final : public LrSchedule {
 public:
  OneCycleSchedule(double max_lr, int64_t total_steps, double pct_start = 0.3, double div_factor = 25,
                   double final_div_factor = 1e4);
  double lr_at(int64_t step) const override;

 private:
  double max_lr_, initial_lr_, min_lr_;
  double up_steps_, down_steps_;
};

// Multiplies another schedule by a linear warmup factor (step + 1) / warmup_steps for the first
// warmup_steps steps: any schedule composed with warmup.
class WarmupSchedule final : public LrSchedule {
 public:
  WarmupSchedule(std::shared_ptr<const LrSchedule> inner, int64_t warmup_steps);
  double lr_at(int64_t step) const override;

 private:
  std::shared_ptr<const LrSchedule> inner_;
  int64_t warmup_steps_;
};

// ReduceLROnPlateau (mode min, relative threshold): multiplies the rate by factor when the metric
// has not improved on the best by more than threshold for more than patience epochs, then waits
// cooldown epochs; never below min_lr. Stateful: call step() once per epoch with the metric.
class ReduceOnPlateau {
 public:
  ReduceOnPlateau(double lr, double factor = 0.1, int64_t patience = 10, double threshold = 1e-4,
                  int64_t cooldown = 0, double min_lr = 0);
  double step(double metric);  // returns the rate for the next epoch
  double lr() const { return lr_; }

  // What a checkpoint saves: the rate, the best metric so far (+inf before the first step) and the
  // two counters. set_state checks them (rate finite and >= 0, best not NaN, counters >= 0).
  struct State {
    double lr, best;
    int64_t bad_epochs, cooldown_left;
  };
  State state() const { return {lr_, best_, bad_epochs_, cooldown_left_}; }
  void set_state(const State& s);

 private:
  double lr_, factor_, threshold_, min_lr_;
  int64_t patience_, cooldown_;
  double best_;
  int64_t bad_epochs_ = 0, cooldown_left_ = 0;
};

}  // namespace minidl
