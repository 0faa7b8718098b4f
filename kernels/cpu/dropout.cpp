#include "kernels/cpu/dropout.h"

namespace minidl::cpu {

namespace {

// Visits word (offset + i) for i in [begin, end), computing each Philox block once for its 4 words.
template <typename Fn>
void for_each_word(int64_t begin, int64_t end, const PhiloxState& state, Fn&& fn) {
  PhiloxBlock block{};
  for (int64_t i = begin; i < end; ++i) {
    const uint64_t position = state.offset + static_cast<uint64_t>(i);
    if (i == begin || position % 4 == 0) block = philox_block(state, position / 4);
    fn(i, block.w[position % 4]);
  }
}

}  // namespace

template <typename T>
void dropout_apply(int64_t begin, int64_t end, const PhiloxState& state, uint64_t threshold, T scale, T* out,
                   const T* x) {
  for_each_word(begin, end, state, [&](int64_t i, uint32_t word) { out[i] = dropout_keep(word, threshold) ? x[i] * scale : T(0); });
}

void dropout_mask(int64_t n, const PhiloxState& state, uint64_t threshold, uint8_t* mask) {
  for_each_word(0, n, state, [&](int64_t i, uint32_t word) { mask[i] = dropout_keep(word, threshold) ? 1 : 0; });
}

void philox_words(int64_t n, const PhiloxState& state, uint32_t* words) {
  for_each_word(0, n, state, [&](int64_t i, uint32_t word) { words[i] = word; });
}

template void dropout_apply<float>(int64_t, int64_t, const PhiloxState&, uint64_t, float, float*, const float*);
template void dropout_apply<double>(int64_t, int64_t, const PhiloxState&, uint64_t, double, double*, const double*);

}  // namespace minidl::cpu
