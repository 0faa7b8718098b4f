// The Philox contract against cuRAND's own device generator: curand_kernel.h compiles as host
// code with the toolkit's headers alone, no GPU needed.
#include <curand_kernel.h>
#include <gtest/gtest.h>

#include <vector>

#include "kernels/common/philox.h"
#include "kernels/cpu/dropout.h"

namespace minidl {
namespace {

// Word i of (seed, stream, offset) equals curand_init(seed, stream, offset + i) + curand().
TEST(Philox, MatchesCurandDeviceGenerator) {
  const uint64_t seeds[] = {0, 42, 0xdeadbeefcafef00dull};
  const uint64_t streams[] = {0, 1, 7, 0x100000001ull};
  const uint64_t offsets[] = {0, 1, 3, 4, 5, 1000003, (1ull << 34) + 2};
  for (uint64_t seed : seeds) {
    for (uint64_t stream : streams) {
      for (uint64_t offset : offsets) {
        const PhiloxState st{seed, stream, offset};
        std::vector<uint32_t> ours(11);
        cpu::philox_words(0, 11, st, ours.data());
        for (uint64_t i = 0; i < 11; ++i) {
          curandStatePhilox4_32_10_t s;
          curand_init(seed, stream, offset + i, &s);
          ASSERT_EQ(ours[i], curand(&s)) << "seed " << seed << " stream " << stream << " offset " << offset << " i " << i;
          ASSERT_EQ(philox_word(st, i), ours[i]);
        }
      }
    }
  }
  // Sequential reads of one cuRAND state walk the same stream.
  curandStatePhilox4_32_10_t s;
  curand_init(42, 0, 0, &s);
  std::vector<uint32_t> ours(4096);
  cpu::philox_words(0, 4096, PhiloxState{42, 0, 0}, ours.data());
  for (uint32_t w : ours) ASSERT_EQ(w, curand(&s));
}

}  // namespace
}  // namespace minidl
