#include "kernels/cpu/dropout.h"

#include <algorithm>

namespace minidl::cpu {

namespace {

constexpr int kChunkBlocks = 32;
constexpr int kChunkWords = 4 * kChunkBlocks;
constexpr int kVectors = kChunkBlocks / 8;

// GCC vector extensions, so that the rounds compile to AVX-512 or AVX2 code (or plain code)
// without intrinsics: eight 64-bit lanes each holding one 32-bit counter word, and 8 words.
typedef uint64_t Lanes __attribute__((vector_size(64)));
typedef uint32_t Words8 __attribute__((vector_size(32)));

// The 128 words of Philox blocks [first_block, first_block + 32) of the stream: the ten rounds of
// kernels/common/philox.h on 8 blocks per vector, four vectors interleaved to hide the multiply
// latency, then transposed to stream order (cloned for AVX-512, AVX2 and the baseline).
__attribute__((target_clones("avx512f", "avx2", "default"))) void philox_chunk(const PhiloxState& st,
                                                                             uint64_t first_block,
                                                                             uint32_t* words) {
  constexpr uint64_t kLow = 0xffffffffu;
  const Lanes lane = {0, 1, 2, 3, 4, 5, 6, 7};
  const Lanes zero = lane & 0;
  Lanes c0[kVectors], c1[kVectors], c2[kVectors], c3[kVectors];
  for (int v = 0; v < kVectors; ++v) {
    const Lanes block = first_block + static_cast<uint64_t>(8 * v) + lane;
    c0[v] = block & kLow;
    c1[v] = block >> 32;
    c2[v] = zero + (st.stream & kLow);
    c3[v] = zero + (st.stream >> 32);
  }
  uint32_t key_lo = static_cast<uint32_t>(st.seed), key_hi = static_cast<uint32_t>(st.seed >> 32);
  for (int round = 0; round < 10; ++round) {
    for (int v = 0; v < kVectors; ++v) {
      // The masks tell the compiler the lanes hold 32 bits: one 32 x 32 -> 64 multiply each.
      const Lanes p0 = (c0[v] & kLow) * 0xD2511F53u, p1 = (c2[v] & kLow) * 0xCD9E8D57u;
      c0[v] = (p1 >> 32) ^ c1[v] ^ key_lo;
      c2[v] = (p0 >> 32) ^ c3[v] ^ key_hi;
      c1[v] = p1 & kLow;
      c3[v] = p0 & kLow;
    }
    key_lo += 0x9E3779B9u;
    key_hi += 0xBB67AE85u;
  }
  for (int v = 0; v < kVectors; ++v) {
    // Block l's words are lane l of c0..c3: interleave them into w0[l] w1[l] w2[l] w3[l].
    const Words8 w0 = __builtin_convertvector(c0[v], Words8), w1 = __builtin_convertvector(c1[v], Words8);
    const Words8 w2 = __builtin_convertvector(c2[v], Words8), w3 = __builtin_convertvector(c3[v], Words8);
    const Lanes w01 = (Lanes)__builtin_shufflevector(w0, w1, 0, 8, 1, 9, 2, 10, 3, 11, 4, 12, 5, 13, 6, 14, 7, 15);
    const Lanes w23 = (Lanes)__builtin_shufflevector(w2, w3, 0, 8, 1, 9, 2, 10, 3, 11, 4, 12, 5, 13, 6, 14, 7, 15);
    const Lanes first = __builtin_shufflevector(w01, w23, 0, 8, 1, 9, 2, 10, 3, 11);
    const Lanes second = __builtin_shufflevector(w01, w23, 4, 12, 5, 13, 6, 14, 7, 15);
    __builtin_memcpy(words + 32 * v, &first, sizeof(first));
    __builtin_memcpy(words + 32 * v + 16, &second, sizeof(second));
  }
}

// Calls fn(i, count, w) over consecutive spans of [begin, end): w[k] is word (offset + i + k).
template <typename Fn>
void for_each_word_span(int64_t begin, int64_t end, const PhiloxState& st, Fn&& fn) {
  alignas(64) uint32_t words[kChunkWords];
  for (int64_t i = begin; i < end;) {
    const uint64_t position = st.offset + static_cast<uint64_t>(i);
    philox_chunk(st, position / 4, words);
    const int64_t skip = static_cast<int64_t>(position % 4);
    const int64_t count = std::min<int64_t>(kChunkWords - skip, end - i);
    fn(i, count, words + skip);
    i += count;
  }
}

// dropout_keep in 32 bits, so the compiler can vectorize it: threshold 2^32 (p = 1) keeps nothing.
struct KeepRule {
  explicit KeepRule(uint64_t threshold)
      : threshold32(static_cast<uint32_t>(threshold)), keeps_none(threshold > 0xffffffffu) {}
  bool operator()(uint32_t word) const { return !keeps_none && word >= threshold32; }
  uint32_t threshold32;
  bool keeps_none;
};

}  // namespace

void philox_words(int64_t begin, int64_t end, const PhiloxState& state, uint32_t* words) {
  for_each_word_span(begin, end, state, [&](int64_t i, int64_t count, const uint32_t* w) {
    std::copy(w, w + count, words + i);
  });
}

void dropout_mask(int64_t begin, int64_t end, const PhiloxState& state, uint64_t threshold, uint8_t* mask) {
  const KeepRule keep(threshold);
  for_each_word_span(begin, end, state, [&](int64_t i, int64_t count, const uint32_t* w) {
    for (int64_t k = 0; k < count; ++k) mask[i + k] = keep(w[k]) ? 1 : 0;
  });
}

template <typename T>
void dropout_affine(int64_t begin, int64_t end, const PhiloxState& state, uint64_t threshold, const DropoutAffine& rule,
                    T* out, const T* x) {
  const T scale = static_cast<T>(rule.keep_scale), shift = static_cast<T>(rule.keep_shift);
  const T dropped = static_cast<T>(rule.drop_value);
  const KeepRule keep(threshold);
  for_each_word_span(begin, end, state, [&](int64_t i, int64_t count, const uint32_t* w) {
    for (int64_t k = 0; k < count; ++k) {
      const T kept = scale_shift(x[i + k], scale, shift);  // unconditional, so the loop vectorizes
      out[i + k] = keep(w[k]) ? kept : dropped;
    }
  });
}

void dropout_pack_mask(int64_t begin, int64_t end, int64_t n, const PhiloxState& state, uint64_t threshold,
                       uint32_t* bits) {
  constexpr int64_t kBitWords = 32;  // mask words per batch of Philox words
  uint32_t words[32 * kBitWords];
  const KeepRule keep(threshold);
  for (int64_t k0 = begin; k0 < end; k0 += kBitWords) {
    const int64_t k1 = std::min(end, k0 + kBitWords), first = 32 * k0, last = std::min(32 * k1, n);
    for_each_word_span(first, last, state, [&](int64_t i, int64_t count, const uint32_t* w) {
      std::copy(w, w + count, words + (i - first));
    });
    for (int64_t k = k0; k < k1; ++k) {
      uint32_t packed = 0;
      const int64_t count = std::min<int64_t>(32, n - 32 * k);
      for (int64_t j = 0; j < count; ++j) packed |= static_cast<uint32_t>(keep(words[32 * (k - k0) + j])) << j;
      bits[k] = packed;
    }
  }
}

template <typename T>
void dropout_apply_packed(int64_t begin, int64_t end, const uint32_t* bits, T scale, T* out, const T* x) {
  for (int64_t i = begin; i < end; ++i) {
    const T kept = x[i] * scale;  // unconditional, so the loop vectorizes
    out[i] = (bits[i / 32] >> (i % 32)) & 1u ? kept : T(0);
  }
}

template <typename T>
void gaussian_noise(int64_t begin, int64_t end, int64_t n, const PhiloxState& state, T mul_sigma, T add_sigma, T* out,
                    const T* x) {
  constexpr int64_t kPairs = 512;
  uint32_t words[2 * kPairs];
  for (int64_t j0 = begin; j0 < end; j0 += kPairs) {
    const int64_t j1 = std::min(end, j0 + kPairs);
    const int64_t first = 2 * j0, last = std::min(2 * j1, n);
    for_each_word_span(first, 2 * j1, state, [&](int64_t i, int64_t count, const uint32_t* w) {
      std::copy(w, w + count, words + (i - first));
    });
    for (int64_t j = j0; j < j1; ++j) {
      const NormalPair z = box_muller(words[2 * j - first], words[2 * j + 1 - first]);
      const int64_t i = 2 * j;
      out[i] = gaussian_noise_rule(x[i], static_cast<T>(z.first), mul_sigma, add_sigma);
      if (i + 1 < last) out[i + 1] = gaussian_noise_rule(x[i + 1], static_cast<T>(z.second), mul_sigma, add_sigma);
    }
  }
}

template <typename T>
void uniform_fill(int64_t begin, int64_t end, const PhiloxState& state, T* out) {
  for_each_word_span(begin, end, state, [&](int64_t i, int64_t count, const uint32_t* w) {
    for (int64_t k = 0; k < count; ++k) out[i + k] = static_cast<T>(uniform_open(w[k]));
  });
}

template <typename T>
void dropblock_mask(int64_t begin, int64_t end, int64_t height, int64_t width, int64_t block, const uint8_t* draws,
                    T* mask) {
  const int64_t plane = height * width;
  for (int64_t p = begin; p < end; ++p)
    for (int64_t h = 0; h < height; ++h)
      for (int64_t w = 0; w < width; ++w)
        mask[p * plane + h * width + w] = static_cast<T>(dropblock_keep(draws + p * plane, h, w, height, width, block));
}

template <typename T>
void bias_dropout_residual(int64_t begin, int64_t end, int64_t cols, const PhiloxState& state, uint64_t threshold,
                           T scale, T* out, const T* x, const T* bias, const T* residual) {
  const KeepRule keep(threshold);
  for_each_word_span(begin, end, state, [&](int64_t i, int64_t count, const uint32_t* w) {
    int64_t c = i % cols;  // the bias column, advanced without a division per element
    for (int64_t k = 0; k < count; ++k, c = c + 1 == cols ? 0 : c + 1) {
      const int64_t e = i + k;
      const T kept = fused_multiply_add(x[e] + bias[c], scale, residual[e]);
      out[e] = keep(w[k]) ? kept : residual[e];
    }
  });
}

template <typename T>
void random_rule(RandomRule rule, int64_t begin, int64_t end, const PhiloxState& state, T param, bool slope_only,
                 T* out, const T* x) {
  visit_random_rule(rule, [&](auto r) {
    for_each_word_span(begin, end, state, [&](int64_t i, int64_t count, const uint32_t* w) {
      for (int64_t k = 0; k < count; ++k) {
        const ScaleShift<T> d = r.draw(w[k], param);
        out[i + k] = slope_only ? x[i + k] * d.scale : scale_shift(x[i + k], d.scale, d.shift);
      }
    });
  });
}

#define MINIDL_DROPOUT_INSTANTIATE(T)                                                                             \
  template void dropout_affine<T>(int64_t, int64_t, const PhiloxState&, uint64_t, const DropoutAffine&, T*,      \
                                  const T*);                                                                      \
  template void dropout_apply_packed<T>(int64_t, int64_t, const uint32_t*, T, T*, const T*);                      \
  template void gaussian_noise<T>(int64_t, int64_t, int64_t, const PhiloxState&, T, T, T*, const T*);            \
  template void uniform_fill<T>(int64_t, int64_t, const PhiloxState&, T*);                                        \
  template void dropblock_mask<T>(int64_t, int64_t, int64_t, int64_t, int64_t, const uint8_t*, T*);              \
  template void bias_dropout_residual<T>(int64_t, int64_t, int64_t, const PhiloxState&, uint64_t, T, T*, const T*, \
                                         const T*, const T*);                                                       \
  template void random_rule<T>(RandomRule, int64_t, int64_t, const PhiloxState&, T, bool, T*, const T*);
MINIDL_DROPOUT_INSTANTIATE(float)
MINIDL_DROPOUT_INSTANTIATE(double)
#undef MINIDL_DROPOUT_INSTANTIATE

}  // namespace minidl::cpu
