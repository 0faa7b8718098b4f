// CPU reference optimizer steps over elements [begin, end) of one contiguous parameter tensor.
#pragma once

#include <cstdint>

#include "kernels/common/optim_rules.h"

namespace minidl::cpu {

// momentum_buf may be null when hp.momentum == 0.
template <typename T>
void sgd_step(const SgdParams& hp, int64_t begin, int64_t end, T* param, const T* grad, T* momentum_buf);

template <typename T>
void adamw_step(const AdamWParams& hp, int64_t begin, int64_t end, T* param, const T* grad, T* exp_avg, T* exp_avg_sq);

}  // namespace minidl::cpu
