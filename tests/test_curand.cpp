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

// Gaussian noise's normals: z_2j, z_2j+1 equal curand_normal2 after curand_init(seed, stream,
// offset + 2j) (the host path of cuRAND's Box-Muller, which minidl's rule follows). Additive noise
// of sigma 1 on zeros returns z itself.
TEST(Philox, GaussianNoiseMatchesCurandNormal2) {
  const PhiloxState st{1234, 3, 8};
  const int64_t n = 1001;
  std::vector<double> x(n, 0.0), z(n);
  cpu::gaussian_noise<double>(0, (n + 1) / 2, n, st, 0.0, 1.0, z.data(), x.data());
  for (int64_t j = 0; 2 * j < n; ++j) {
    curandStatePhilox4_32_10_t s;
    curand_init(st.seed, st.stream, st.offset + 2 * j, &s);
    const float2 want = curand_normal2(&s);
    ASSERT_EQ(z[2 * j], static_cast<double>(want.x)) << "pair " << j;
    if (2 * j + 1 < n) {
      ASSERT_EQ(z[2 * j + 1], static_cast<double>(want.y)) << "pair " << j;
    }
  }
}

}  // namespace
}  // namespace minidl
