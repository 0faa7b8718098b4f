// Philox4x32-10 (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3", SC'11), the
// generator behind cuRAND's curandStatePhilox4_32_10_t.
//
// Known answers (Random123 kat_vectors, also what cuRAND computes), checked in tests/test_philox.cpp:
//   counter 0,0,0,0                          key 0,0                 -> 6627e8d5 e169c58d bc57ac4c 9b00dbd8
//   counter ffffffff x4                      key ffffffff ffffffff   -> 408f276d 41c83b0e a20bc7c6 6d5451fd
//   counter 243f6a88 85a308d3 13198a2e 03707344  key a4093822 299f31d0 -> d16cfe09 94fdcceb 5001e420 24126ea1
//
// The reproducibility contract (docs/reproducibility.md): element i of a random op with generator
// state (seed, stream, offset) uses word (offset + i) of cuRAND's subsequence `stream`, i.e. what
// `curand_init(seed, stream, offset + i, &s); curand(&s)` returns. The value depends only on
// (seed, stream, offset, i), never on the launch configuration.
#pragma once

#include <cstdint>

#include "kernels/common/host_device.h"

namespace minidl {

struct PhiloxBlock {
  uint32_t w[4];
};

FW_HOST_DEVICE FW_INLINE uint32_t philox_mulhilo(uint32_t a, uint32_t b, uint32_t* hi) {
  const uint64_t product = static_cast<uint64_t>(a) * b;
  *hi = static_cast<uint32_t>(product >> 32);
  return static_cast<uint32_t>(product);
}

// One application of the ten Philox rounds to a 128-bit counter under a 64-bit key.
FW_HOST_DEVICE FW_INLINE PhiloxBlock philox4x32_10(PhiloxBlock ctr, uint32_t key_lo, uint32_t key_hi) {
  constexpr uint32_t kMul0 = 0xD2511F53u, kMul1 = 0xCD9E8D57u;
  constexpr uint32_t kWeyl0 = 0x9E3779B9u, kWeyl1 = 0xBB67AE85u;
  for (int round = 0; round < 10; ++round) {
    uint32_t hi0, hi1;
    const uint32_t lo0 = philox_mulhilo(kMul0, ctr.w[0], &hi0);
    const uint32_t lo1 = philox_mulhilo(kMul1, ctr.w[2], &hi1);
    ctr = PhiloxBlock{{hi1 ^ ctr.w[1] ^ key_lo, lo1, hi0 ^ ctr.w[3] ^ key_hi, lo0}};
    key_lo += kWeyl0;
    key_hi += kWeyl1;
  }
  return ctr;
}

// The state a random op reserves from its Generator before it runs.
struct PhiloxState {
  uint64_t seed;
  uint64_t stream;
  uint64_t offset;
};

// Block k of subsequence `stream`: counter = {k lo, k hi, stream lo, stream hi}, key = seed.
FW_HOST_DEVICE FW_INLINE PhiloxBlock philox_block(const PhiloxState& st, uint64_t block) {
  const PhiloxBlock ctr{{static_cast<uint32_t>(block), static_cast<uint32_t>(block >> 32),
                         static_cast<uint32_t>(st.stream), static_cast<uint32_t>(st.stream >> 32)}};
  return philox4x32_10(ctr, static_cast<uint32_t>(st.seed), static_cast<uint32_t>(st.seed >> 32));
}

// Word (offset + i) of the stream: the word element i of a random op uses.
FW_HOST_DEVICE FW_INLINE uint32_t philox_word(const PhiloxState& st, uint64_t i) {
  const uint64_t position = st.offset + i;
  return philox_block(st, position / 4).w[position % 4];
}

// Bernoulli keep rule in the integer domain: keep iff word >= round(p * 2^32), compared in
// 64 bits, so p = 0 keeps everything and p = 1 drops everything.
FW_HOST_DEVICE FW_INLINE uint64_t dropout_threshold(double p) {
  return static_cast<uint64_t>(p * 4294967296.0 + 0.5);
}

FW_HOST_DEVICE FW_INLINE bool dropout_keep(uint32_t word, uint64_t threshold) {
  return static_cast<uint64_t>(word) >= threshold;
}

// Uniform in (0, 1]: cuRAND's _curand_uniform mapping of a 32-bit word.
FW_HOST_DEVICE FW_INLINE float philox_uniform(uint32_t word) {
  return static_cast<float>(word) * 2.3283064e-10f + 1.1641532e-10f;
}

}  // namespace minidl
