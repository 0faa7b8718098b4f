// bf16, the storage type of the GPU's mixed precision: the upper 16 bits of an IEEE f32 (sign, 8
// exponent bits, 7 mantissa bits), so it spans f32's range and needs no loss scaling. Kernels load
// it as float, compute and accumulate in float, and round once on store.
//
// The conversion rounds to nearest, ties to even, and turns every NaN into 0x7fff, bit for bit as
// cuda_bf16.h's __float2bfloat16_rn (tests/test_bfloat16.cpp compares all of them on a sweep of
// f32 bit patterns), so the CPU, the emulator and the GPU store the same bits. A struct of our own
// rather than __nv_bfloat16: it carries no arithmetic operators, so math cannot silently happen in
// bf16, and it builds the same for nvcc, the emulator and the CPU.
#pragma once

#include <cstdint>
#include <cstring>
#include <type_traits>

#include "kernels/common/host_device.h"

namespace minidl {

FW_HOST_DEVICE FW_INLINE uint32_t float_bits(float f) {
#if defined(__CUDA_ARCH__)
  return __float_as_uint(f);
#else
  uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  return u;
#endif
}

FW_HOST_DEVICE FW_INLINE float float_from_bits(uint32_t u) {
#if defined(__CUDA_ARCH__)
  return __uint_as_float(u);
#else
  float f;
  std::memcpy(&f, &u, sizeof f);
  return f;
#endif
}

FW_HOST_DEVICE FW_INLINE uint16_t round_to_bf16_bits(float f) {
  const uint32_t u = float_bits(f);
  if ((u & 0x7fffffffu) > 0x7f800000u) return 0x7fff;  // NaN
  // Adding 0x7fff plus the lowest kept bit carries into the kept bits exactly when the dropped
  // half is above one half, or equal to it with the kept part odd.
  return static_cast<uint16_t>((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
}

// d as a float rounded to odd: truncated, with the lowest bit set when anything was dropped. That
// keeps what the rounding to bf16 after it needs, so d reaches bf16 rounded once, to nearest even,
// as cuda_bf16.h's __double2bfloat16 (tests/test_bfloat16.cpp compares them).
FW_HOST_DEVICE FW_INLINE float float_rounded_to_odd(double d) {
  const float nearest = static_cast<float>(d);
  const double back = static_cast<double>(nearest);
  uint32_t u = float_bits(nearest);
  if ((d > 0 && back > d) || (d < 0 && back < d)) --u;  // rounded away from zero: step back
  if (back != d && d == d) u |= 1u;
  return float_from_bits(u);
}

struct bf16 {
  uint16_t bits;

  bf16() = default;
  // Explicit, so that a float result is never narrowed to bf16 by accident. A double (and an
  // integer, through double) is rounded once, not through a float rounded to nearest.
  FW_HOST_DEVICE explicit bf16(float f) : bits(round_to_bf16_bits(f)) {}
  FW_HOST_DEVICE explicit bf16(double d) : bits(round_to_bf16_bits(float_rounded_to_odd(d))) {}
  template <typename I, std::enable_if_t<std::is_integral_v<I>, int> = 0>
  FW_HOST_DEVICE explicit bf16(I i) : bf16(static_cast<double>(i)) {}
  FW_HOST_DEVICE operator float() const { return float_from_bits(static_cast<uint32_t>(bits) << 16); }
};
static_assert(sizeof(bf16) == 2);

// The type a kernel computes and accumulates in for stored type T: float for bf16, T otherwise.
template <typename T>
struct compute_type {
  using type = T;
};
template <>
struct compute_type<bf16> {
  using type = float;
};
template <typename T>
using compute_t = typename compute_type<T>::type;

}  // namespace minidl
