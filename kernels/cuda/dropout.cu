// Dropout on the Philox contract (kernels/common/philox.h). Each thread serves the 4 elements of
// one Philox block (what curand4 returns), in a grid-stride loop: element i always uses word
// (offset + i), so the mask does not depend on the grid, the block size or the device.
#include <cstdint>

#include "kernels/common/philox.h"
#include "kernels/cuda/launch.h"

namespace minidl::MINIDL_CUDA_NS {

#include "kernels/cuda/dropout.inc"

namespace {

// Calls fn(i, word) for the elements of Philox block `group` of the op's words, where group 0
// starts at the block holding word `offset` (a first partial block when offset % 4 != 0).
template <typename Fn>
__device__ void for_group_words(int64_t group, int64_t n, const PhiloxState& state, Fn fn) {
  const int64_t lead = static_cast<int64_t>(state.offset % 4);
  const PhiloxBlock words = philox_block(state, state.offset / 4 + static_cast<uint64_t>(group));
  for (int j = 0; j < 4; ++j) {
    const int64_t i = group * 4 + j - lead;
    if (i >= 0 && i < n) fn(i, words.w[j]);
  }
}

__device__ int64_t group_count(int64_t n, const PhiloxState& state) {
  return (n + static_cast<int64_t>(state.offset % 4) + 3) / 4;
}

template <typename T>
__global__ void dropout_apply_kernel(int64_t n, PhiloxState state, uint64_t threshold, T scale, T* out, const T* x) {
  const int64_t stride = int64_t{gridDim.x} * blockDim.x;
  for (int64_t g = int64_t{blockIdx.x} * blockDim.x + threadIdx.x; g < group_count(n, state); g += stride) {
    for_group_words(g, n, state, [&](int64_t i, uint32_t word) {
      out[i] = dropout_keep(word, threshold) ? x[i] * scale : T(0);
    });
  }
}

__global__ void dropout_mask_kernel(int64_t n, PhiloxState state, uint64_t threshold, uint8_t* mask) {
  const int64_t stride = int64_t{gridDim.x} * blockDim.x;
  for (int64_t g = int64_t{blockIdx.x} * blockDim.x + threadIdx.x; g < group_count(n, state); g += stride) {
    for_group_words(g, n, state, [&](int64_t i, uint32_t word) { mask[i] = dropout_keep(word, threshold) ? 1 : 0; });
  }
}

__global__ void philox_words_kernel(int64_t n, PhiloxState state, uint32_t* words) {
  const int64_t stride = int64_t{gridDim.x} * blockDim.x;
  for (int64_t g = int64_t{blockIdx.x} * blockDim.x + threadIdx.x; g < group_count(n, state); g += stride) {
    for_group_words(g, n, state, [&](int64_t i, uint32_t word) { words[i] = word; });
  }
}

// Launches one thread per Philox block of the op's words (the grid covers groups, not elements).
template <typename... Params, typename... Args>
void launch_groups(KernelName name, void (*kernel)(int64_t, PhiloxState, Params...), int64_t n,
                   const PhiloxState& state, Stream stream, Args... args) {
  if (n <= 0) return;
  const int64_t groups = (n + static_cast<int64_t>(state.offset % 4) + 3) / 4;
  launch(name, kernel, grid_for(groups), dim3(launch_policy().block), 0, stream, n, state, args...);
}

}  // namespace

template <typename T>
void dropout_apply(int64_t n, const PhiloxState& state, uint64_t threshold, T scale, T* out, const T* x, Stream stream) {
  launch_groups("dropout_apply", dropout_apply_kernel<T>, n, state, stream, threshold, scale, out, x);
}

void dropout_mask(int64_t n, const PhiloxState& state, uint64_t threshold, uint8_t* mask, Stream stream) {
  launch_groups("dropout_mask", dropout_mask_kernel, n, state, stream, threshold, mask);
}

void philox_words(int64_t n, const PhiloxState& state, uint32_t* words, Stream stream) {
  launch_groups("philox_words", philox_words_kernel, n, state, stream, words);
}

template void dropout_apply<float>(int64_t, const PhiloxState&, uint64_t, float, float*, const float*, Stream);
template void dropout_apply<double>(int64_t, const PhiloxState&, uint64_t, double, double*, const double*, Stream);

}  // namespace minidl::MINIDL_CUDA_NS
