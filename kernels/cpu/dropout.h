// CPU reference dropout on the Philox contract (kernels/common/philox.h): element i is kept iff
// word (offset + i) of the stream clears the threshold. Backward calls the same kernel on the
// upstream gradient, regenerating the mask instead of storing it.
#pragma once

#include <cstdint>

#include "kernels/common/philox.h"

namespace minidl::cpu {

// out[i] = keep(i) ? x[i] * scale : 0 for i in [begin, end), all contiguous.
template <typename T>
void dropout_apply(int64_t begin, int64_t end, const PhiloxState& state, uint64_t threshold, T scale, T* out, const T* x);

// mask[i] = keep(i) as 0/1.
void dropout_mask(int64_t n, const PhiloxState& state, uint64_t threshold, uint8_t* mask);

// words[i] = word (offset + i) of the stream.
void philox_words(int64_t n, const PhiloxState& state, uint32_t* words);

}  // namespace minidl::cpu
