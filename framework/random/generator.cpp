#include "framework/random/generator.h"

#include "framework/core/check.h"

namespace minidl {

PhiloxState Generator::reserve(uint64_t n) {
  const PhiloxState state{seed_, stream_, offset_};
  offset_ += (n + 3) / 4 * 4;
  return state;
}

void Generator::set_state(uint64_t seed, uint64_t stream, uint64_t offset) {
  MINIDL_CHECK(offset % 4 == 0, "generator offset {} is not a multiple of 4", offset);
  seed_ = seed;
  stream_ = stream;
  offset_ = offset;
}

uint32_t Generator::next_word() { return philox_word(reserve(1), 0); }

double Generator::next_uniform() {
  const PhiloxState st = reserve(2);
  const uint64_t bits = (static_cast<uint64_t>(philox_word(st, 0)) << 21) ^ (philox_word(st, 1) >> 11);
  return static_cast<double>(bits & ((uint64_t{1} << 53) - 1)) * 0x1.0p-53;
}

uint64_t Generator::next_below(uint64_t bound) {
  MINIDL_CHECK(bound > 0, "next_below(0): the bound must be positive");
  // Rejection sampling on 64-bit draws: no modulo bias.
  const uint64_t limit = UINT64_MAX - UINT64_MAX % bound;
  for (;;) {
    const PhiloxState st = reserve(2);
    const uint64_t draw = (static_cast<uint64_t>(philox_word(st, 0)) << 32) | philox_word(st, 1);
    if (draw < limit) return draw % bound;
  }
}

Generator& default_generator() {
  static Generator generator;
  return generator;
}

void manual_seed(uint64_t seed) { default_generator().set_state(seed, 0, 0); }

}  // namespace minidl
