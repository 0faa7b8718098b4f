#include "kernels/cpu/dropout.h"

#include <algorithm>

namespace minidl::cpu {

namespace {

constexpr int kChunkBlocks = 16;
constexpr int kChunkWords = 4 * kChunkBlocks;

// The 64 words of Philox blocks [first_block, first_block + 16) of the stream, computed 16 blocks
// side by side so the compiler vectorizes the rounds (cloned for AVX-512, AVX2 and the baseline).
__attribute__((target_clones("avx512f", "avx2", "default"))) void philox_chunk(const PhiloxState& st,
                                                                             uint64_t first_block,
                                                                             uint32_t* words) {
  uint32_t c0[kChunkBlocks], c1[kChunkBlocks], c2[kChunkBlocks], c3[kChunkBlocks];
  for (int l = 0; l < kChunkBlocks; ++l) {
    const uint64_t block = first_block + static_cast<uint64_t>(l);
    c0[l] = static_cast<uint32_t>(block);
    c1[l] = static_cast<uint32_t>(block >> 32);
    c2[l] = static_cast<uint32_t>(st.stream);
    c3[l] = static_cast<uint32_t>(st.stream >> 32);
  }
  uint32_t key_lo = static_cast<uint32_t>(st.seed), key_hi = static_cast<uint32_t>(st.seed >> 32);
  for (int round = 0; round < 10; ++round) {
    for (int l = 0; l < kChunkBlocks; ++l) {
      const uint64_t p0 = uint64_t{0xD2511F53u} * c0[l];
      const uint64_t p1 = uint64_t{0xCD9E8D57u} * c2[l];
      const uint32_t n0 = static_cast<uint32_t>(p1 >> 32) ^ c1[l] ^ key_lo;
      const uint32_t n2 = static_cast<uint32_t>(p0 >> 32) ^ c3[l] ^ key_hi;
      c0[l] = n0;
      c1[l] = static_cast<uint32_t>(p1);
      c2[l] = n2;
      c3[l] = static_cast<uint32_t>(p0);
    }
    key_lo += 0x9E3779B9u;
    key_hi += 0xBB67AE85u;
  }
  for (int l = 0; l < kChunkBlocks; ++l) {
    words[4 * l] = c0[l];
    words[4 * l + 1] = c1[l];
    words[4 * l + 2] = c2[l];
    words[4 * l + 3] = c3[l];
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

}  // namespace

void philox_words(int64_t begin, int64_t end, const PhiloxState& state, uint32_t* words) {
  for_each_word_span(begin, end, state, [&](int64_t i, int64_t count, const uint32_t* w) {
    std::copy(w, w + count, words + i);
  });
}

void dropout_mask(int64_t begin, int64_t end, const PhiloxState& state, uint64_t threshold, uint8_t* mask) {
  for_each_word_span(begin, end, state, [&](int64_t i, int64_t count, const uint32_t* w) {
    for (int64_t k = 0; k < count; ++k) mask[i + k] = dropout_keep(w[k], threshold) ? 1 : 0;
  });
}

template <typename T>
void dropout_affine(int64_t begin, int64_t end, const PhiloxState& state, uint64_t threshold, const DropoutAffine& rule,
                    T* out, const T* x) {
  const T scale = static_cast<T>(rule.keep_scale), shift = static_cast<T>(rule.keep_shift);
  const T dropped = static_cast<T>(rule.drop_value);
  for_each_word_span(begin, end, state, [&](int64_t i, int64_t count, const uint32_t* w) {
    for (int64_t k = 0; k < count; ++k)
      out[i + k] = dropout_keep(w[k], threshold) ? scale_shift(x[i + k], scale, shift) : dropped;
  });
}

void dropout_pack_mask(int64_t begin, int64_t end, int64_t n, const PhiloxState& state, uint64_t threshold,
                       uint32_t* bits) {
  std::fill(bits + begin, bits + end, 0u);
  for_each_word_span(32 * begin, std::min(32 * end, n), state, [&](int64_t i, int64_t count, const uint32_t* w) {
    for (int64_t k = 0; k < count; ++k)
      bits[(i + k) / 32] |= static_cast<uint32_t>(dropout_keep(w[k], threshold)) << ((i + k) % 32);
  });
}

template <typename T>
void dropout_apply_packed(int64_t begin, int64_t end, const uint32_t* bits, T scale, T* out, const T* x) {
  for (int64_t i = begin; i < end; ++i) out[i] = (bits[i / 32] >> (i % 32)) & 1u ? x[i] * scale : T(0);
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
  for_each_word_span(begin, end, state, [&](int64_t i, int64_t count, const uint32_t* w) {
    for (int64_t k = 0; k < count; ++k) {
      const int64_t e = i + k;
      out[e] = dropout_keep(w[k], threshold) ? fused_multiply_add(x[e] + bias[e % cols], scale, residual[e])
                                              : residual[e];
    }
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
                                         const T*, const T*);
MINIDL_DROPOUT_INSTANTIATE(float)
MINIDL_DROPOUT_INSTANTIATE(double)
#undef MINIDL_DROPOUT_INSTANTIATE

}  // namespace minidl::cpu
