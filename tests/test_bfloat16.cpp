// bf16 rounding against cuda_bf16.h's own conversions (the toolkit's header compiles as host
// code): the rule the CPU, the emulator and the GPU share (kernels/common/bfloat16.h).
#include <cuda_bf16.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>

#include "kernels/common/bfloat16.h"

namespace minidl {
namespace {

uint16_t cuda_bits(float f) { return static_cast<__nv_bfloat16_raw>(__float2bfloat16_rn(f)).x; }

float cuda_widened(uint16_t bits) {
  __nv_bfloat16_raw raw;
  raw.x = bits;
  return __bfloat162float(__nv_bfloat16(raw));
}

// Every 4099th f32 bit pattern (a million values over every sign and exponent, NaNs and
// subnormals among them) and the edges: the same bits as __float2bfloat16_rn, and widening back
// the same f32 as __bfloat162float.
TEST(Bf16, RoundingMatchesCudaBf16) {
  auto check = [](uint32_t u) {
    const float f = float_from_bits(u);
    const bf16 ours(f);
    ASSERT_EQ(ours.bits, cuda_bits(f)) << std::hex << "f32 bits 0x" << u;
    ASSERT_EQ(float_bits(static_cast<float>(ours)), float_bits(cuda_widened(ours.bits))) << std::hex << "0x" << u;
  };
  for (uint64_t u = 0; u <= 0xffffffffull; u += 4099) check(static_cast<uint32_t>(u));
  for (uint32_t u : {0x00000000u, 0x80000000u, 0x00000001u, 0x007fffffu, 0x7f7fffffu, 0xff7fffffu, 0x7f800000u,
                     0xff800000u, 0x7fc00000u, 0xffc00001u, 0x7f800001u, 0x3f808000u, 0x3f818000u, 0x3f80ffffu})
    check(u);
}

uint16_t cuda_bits(double d) { return static_cast<__nv_bfloat16_raw>(__double2bfloat16(d)).x; }

// f64 to bf16 in one rounding, as __double2bfloat16: every 4099th pattern of the upper 32 bits,
// each with low words that put it exactly halfway between two bf16 values, just off halfway, or
// anywhere, so the f32 a nearest rounding would pass through would round a second time wrongly.
TEST(Bf16, DoubleRoundingMatchesCudaBf16) {
  auto check = [](uint64_t u) {
    double d;
    std::memcpy(&d, &u, sizeof d);
    ASSERT_EQ(bf16(d).bits, cuda_bits(d)) << std::hex << "f64 bits 0x" << u;
  };
  for (uint64_t high = 0; high <= 0xffffffffull; high += 4099)
    for (uint64_t low : {0x00000000ull, 0x00000001ull, 0x10000000ull, 0x7fffffffull, 0x80000000ull, 0xffffffffull})
      check(high << 32 | low);
  // 1 + 2^-8 + 2^-40: above the bf16 tie at 1 + 2^-8, but a float rounded to nearest lands on the
  // tie itself (2^-40 is below float's precision there), and the tie then goes to the even 1.0.
  const double above_tie = 1.0 + std::ldexp(1.0, -8) + std::ldexp(1.0, -40);
  EXPECT_EQ(bf16(above_tie).bits, 0x3f81);
  EXPECT_EQ(bf16(static_cast<float>(above_tie)).bits, 0x3f80) << "what rounding through float gives";
}

// Closed-form cases: ties go to the even neighbour, overflow past bf16's largest finite value
// goes to infinity, and the 65536 bf16 values survive a round trip through f32 unchanged.
TEST(Bf16, TiesToEvenOverflowAndExactRoundTrip) {
  EXPECT_EQ(bf16(float_from_bits(0x3f808000u)).bits, 0x3f80) << "1 + 2^-8 is halfway: to the even 1.0";
  EXPECT_EQ(bf16(float_from_bits(0x3f818000u)).bits, 0x3f82) << "halfway above an odd mantissa: up";
  EXPECT_EQ(bf16(float_from_bits(0x3f808001u)).bits, 0x3f81) << "just above halfway: up";
  EXPECT_EQ(bf16(float_from_bits(0x7f7fffffu)).bits, 0x7f80) << "f32's largest rounds to infinity";
  EXPECT_EQ(bf16(float_from_bits(0x7fc00000u)).bits, 0x7fff) << "NaN is canonical";
  for (uint32_t bits = 0; bits <= 0xffff; ++bits) {
    const float widened = float_from_bits(bits << 16);
    if (widened != widened) continue;  // NaNs become the canonical one
    ASSERT_EQ(bf16(widened).bits, bits);
  }
}

}  // namespace
}  // namespace minidl
