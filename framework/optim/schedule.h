// Learning-rate schedules as pure functions of the step, so a resumed run gets the same rate.
#pragma once

#include <cstdint>

namespace minidl {

// Linear warmup from 0 over warmup_steps, then cosine decay from base_lr to min_lr at total_steps.
class CosineSchedule {
 public:
  CosineSchedule(double base_lr, int64_t total_steps, int64_t warmup_steps = 0, double min_lr = 0);
  double lr_at(int64_t step) const;

 private:
  double base_lr_, min_lr_;
  int64_t total_steps_, warmup_steps_;
};

}  // namespace minidl
