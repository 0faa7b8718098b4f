// Scalar rules of the dropout family, shared by the CPU reference kernels and the CUDA kernels so
// that both compute each element with the same operations in the same order (a multiply-add is an
// explicit fma on both, never left to the compiler to contract).
#pragma once

#include <math.h>

#include <cstdint>

#include "kernels/common/host_device.h"

namespace minidl {

// The element rule of Bernoulli dropout: kept -> x * keep_scale + keep_shift, dropped -> drop_value.
// Inverted dropout: {1/(1-p), 0, 0}; classic: {1, 0, 0}; alpha dropout: {a, b, a*alpha' + b}.
struct DropoutAffine {
  double keep_scale = 1;
  double keep_shift = 0;
  double drop_value = 0;
};

// What a random rule (kernels/common/random_rules.h) draws for one element: y = x * scale + shift.
template <typename T>
struct ScaleShift {
  T scale, shift;
};

FW_HOST_DEVICE FW_INLINE float fused_multiply_add(float a, float b, float c) { return fmaf(a, b, c); }
FW_HOST_DEVICE FW_INLINE double fused_multiply_add(double a, double b, double c) { return fma(a, b, c); }

// x * scale + shift, with a plain multiply when there is no shift (inverted dropout's hot path).
template <typename T>
FW_HOST_DEVICE FW_INLINE T scale_shift(T x, T scale, T shift) {
  return shift == T(0) ? x * scale : fused_multiply_add(x, scale, shift);
}

// Two standard normals from two words, as cuRAND's curand_normal2 computes them on the host
// (_curand_box_muller): u in (0, 1] from the first word, an angle from the second.
struct NormalPair {
  float first, second;
};

FW_HOST_DEVICE FW_INLINE NormalPair box_muller(uint32_t a, uint32_t b) {
  constexpr float kInv2Pow32 = 2.3283064e-10f;
  constexpr float kInv2Pow32TwoPi = 2.3283064e-10f * 6.2831855f;
  const float u = static_cast<float>(a) * kInv2Pow32 + kInv2Pow32 / 2.0f;
  const float v = static_cast<float>(b) * kInv2Pow32TwoPi + kInv2Pow32TwoPi / 2.0f;
  const float s = sqrtf(-2.0f * logf(u));
  return {sinf(v) * s, cosf(v) * s};
}

// Gaussian noise on x with standard normal z: x * (1 + mul_sigma * z) + add_sigma * z.
// Gaussian dropout: mul_sigma = sqrt(p / (1 - p)), add_sigma = 0; additive noise: mul_sigma = 0.
template <typename T>
FW_HOST_DEVICE FW_INLINE T gaussian_noise_rule(T x, T z, T mul_sigma, T add_sigma) {
  const T scaled = mul_sigma == T(0) ? x : x * fused_multiply_add(mul_sigma, z, T(1));
  return add_sigma == T(0) ? scaled : fused_multiply_add(add_sigma, z, scaled);
}

// Uniform in (0, 1) from a word, exact in double: (word + 1/2) / 2^32.
FW_HOST_DEVICE FW_INLINE double uniform_open(uint32_t word) {
  return (static_cast<double>(word) + 0.5) * 2.3283064365386963e-10;
}

// DropBlock on one H x W plane: blocks are centred only where the whole block x block square lies
// inside the plane. draws[h * width + w] is the Bernoulli(gamma) keep flag of position (h, w)
// (1: no block centred there). Returns 1 when no block centred at a valid centre covers (h, w).
FW_HOST_DEVICE FW_INLINE int dropblock_keep(const uint8_t* draws, int64_t h, int64_t w, int64_t height,
                                            int64_t width, int64_t block) {
  const int64_t half = block / 2;
  const int64_t h0 = h - half > half ? h - half : half;
  const int64_t h1 = h + half < height - 1 - half ? h + half : height - 1 - half;
  const int64_t w0 = w - half > half ? w - half : half;
  const int64_t w1 = w + half < width - 1 - half ? w + half : width - 1 - half;
  for (int64_t i = h0; i <= h1; ++i)
    for (int64_t j = w0; j <= w1; ++j)
      if (!draws[i * width + j]) return 0;
  return 1;
}

}  // namespace minidl
