// bf16 rounding against cuda_bf16.h's own conversions (the toolkit's header compiles as host
// code): the rule the CPU, the emulator and the GPU share (kernels/common/bfloat16.h).
#include <cuda_bf16.h>
#include <gtest/gtest.h>

#include <cstdint>

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
