// Multiplicative uniform noise: y = x * (1 + a (2u - 1)), u uniform in (0, 1) from the element's
// word, so E[y] = x and Var[y] = a^2 x^2 / 3. Backward: dy/dx = 1 + a (2u - 1).
// The worked example of docs/extending.md: a regularizer kernel is one rule like this one.
#pragma once

#include <cstdint>

#include "kernels/common/dropout_rules.h"
#include "kernels/common/host_device.h"

namespace minidl {

struct UniformNoiseRule {
  static constexpr const char* kName = "uniform-noise";
  static constexpr const char* kSummary = "multiplicative noise 1 + a U(-1, 1) (p is a)";
  // Parameter 0 is a, the half-width of the noise, in [0, 1].
  static bool valid(double a) { return a >= 0.0 && a <= 1.0; }

  template <typename T>
  FW_HOST_DEVICE FW_INLINE static ScaleShift<T> draw(uint32_t word, T a) {
    return {fused_multiply_add(a, static_cast<T>(2 * uniform_open(word) - 1), T(1)), T(0)};
  }
};

}  // namespace minidl
