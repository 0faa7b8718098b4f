// The dropout family on the Philox contract (kernels/common/philox.h). Most kernels give each
// thread the elements of one Philox block (what curand4 returns), in a grid-stride loop: element i
// always uses word (offset + i), so no result depends on the grid, the block size or the device.
// The element rules come from kernels/common/dropout_rules.h, shared with the CPU reference.
#include <cstdint>

#include "kernels/common/bfloat16.h"
#include "kernels/common/dropout_rules.h"
#include "kernels/common/philox.h"
#include "kernels/common/random_rules.h"
#include "kernels/cuda/grid_stride.h"
#include "kernels/cuda/launch.h"

namespace minidl::MINIDL_CUDA_NS {

#include "kernels/cuda/dropout.inc"

namespace {

// Groups are the Philox blocks an op's words fall in: group 0 starts at the block holding word
// `offset` (a first partial block when offset % 4 != 0).
__device__ FW_INLINE int64_t group_count(int64_t n, const PhiloxState& state) {
  return (n + static_cast<int64_t>(state.offset % 4) + 3) / 4;
}

// Calls fn(i, word) for each element i < n served by this thread's groups.
template <typename Fn>
__device__ void for_my_words(int64_t n, const PhiloxState& state, Fn fn) {
  const int64_t lead = static_cast<int64_t>(state.offset % 4);
  for (int64_t g = thread_index(); g < group_count(n, state); g += thread_count()) {
    const PhiloxBlock words = philox_block(state, state.offset / 4 + static_cast<uint64_t>(g));
    for (int j = 0; j < 4; ++j) {
      const int64_t i = g * 4 + j - lead;
      if (i >= 0 && i < n) fn(i, words.w[j]);
    }
  }
}

// Four elements whose alignment allows one vector access: what a Philox block covers.
template <typename T>
struct alignas(4 * sizeof(T)) Quad {
  T v[4];
};

template <typename T>
__device__ FW_INLINE bool quad_aligned(const T* p) {
  return reinterpret_cast<uintptr_t>(p) % sizeof(Quad<T>) == 0;
}

// out[i] = fn(word of i, i, a[i], b[i]...) for this thread's groups, over one or more input
// arrays (each of its own element type). Where the groups line up with aligned quads of out and
// the inputs (offset % 4 == 0, all arrays aligned), each group is one vector load per input and
// one vector store instead of four strided scalar accesses each; the values computed are the same
// either way.
template <typename T, typename Fn, typename... In>
__device__ void map_my_words(int64_t n, const PhiloxState& state, T* out, Fn fn, const In*... in) {
  if (state.offset % 4 != 0 || !quad_aligned(out) || !(quad_aligned(in) && ...)) {
    for_my_words(n, state, [&](int64_t i, uint32_t word) { out[i] = fn(word, i, in[i]...); });
    return;
  }
  for (int64_t g = thread_index(); g < group_count(n, state); g += thread_count()) {
    const PhiloxBlock words = philox_block(state, state.offset / 4 + static_cast<uint64_t>(g));
    if (4 * g + 4 <= n) {
      Quad<T> q;
      [&](const auto&... quads) {
        for (int j = 0; j < 4; ++j) q.v[j] = fn(words.w[j], 4 * g + j, quads.v[j]...);
      }(reinterpret_cast<const Quad<In>*>(in)[g]...);
      reinterpret_cast<Quad<T>*>(out)[g] = q;
    } else {
      for (int64_t i = 4 * g; i < n; ++i) out[i] = fn(words.w[i - 4 * g], i, in[i]...);
    }
  }
}

__global__ void philox_words_kernel(int64_t n, PhiloxState state, uint32_t* words) {
  for_my_words(n, state, [&](int64_t i, uint32_t word) { words[i] = word; });
}

__global__ void dropout_mask_kernel(int64_t n, PhiloxState state, uint64_t threshold, uint8_t* mask) {
  for_my_words(n, state, [&](int64_t i, uint32_t word) { mask[i] = dropout_keep(word, threshold) ? 1 : 0; });
}

// bf16 is computed in float (compute_t) and rounded once on store.
template <typename T, typename C = compute_t<T>>
__global__ void dropout_affine_kernel(int64_t n, PhiloxState state, uint64_t threshold, C scale, C shift, C dropped,
                                      T* out, const T* x) {
  map_my_words(
      n, state, out,
      [&](uint32_t word, int64_t, T v) {
        return T(dropout_keep(word, threshold) ? scale_shift(C(v), scale, shift) : dropped);
      },
      x);
}

template <typename T>
__global__ void uniform_fill_kernel(int64_t n, PhiloxState state, T* out) {
  for_my_words(n, state, [&](int64_t i, uint32_t word) { out[i] = static_cast<T>(uniform_open(word)); });
}

// The bias column i % cols in 32-bit arithmetic where n allows (index_mod, grid_stride.h). x is T
// or bf16 (a bf16 GEMM's output), read as T.
template <typename T, typename X>
__global__ void bias_dropout_residual_kernel(int64_t n, PhiloxState state, uint64_t threshold, int64_t cols, T scale,
                                             T* out, const X* x, const T* bias, const T* residual) {
  const bool index32 = n <= 0xffffffffll;
  map_my_words(
      n, state, out,
      [&](uint32_t word, int64_t i, X v, T r) {
        const int64_t c = index32 ? index_mod<uint32_t>(i, cols) : index_mod<int64_t>(i, cols);
        return dropout_keep(word, threshold) ? fused_multiply_add(T(v) + bias[c], scale, r) : r;
      },
      x, residual);
}

template <typename Rule, typename T>
__global__ void random_rule_kernel(int64_t n, PhiloxState state, T param, bool slope_only, T* out, const T* x) {
  for_my_words(n, state, [&](int64_t i, uint32_t word) {
    const ScaleShift<T> d = Rule::draw(word, param);
    out[i] = slope_only ? x[i] * d.scale : scale_shift(x[i], d.scale, d.shift);
  });
}

// One thread per 32-bit word of the mask: its 32 elements' words, a Philox block per 4 of them.
__global__ void dropout_pack_mask_kernel(int64_t words, int64_t n, PhiloxState state, uint64_t threshold,
                                         uint32_t* bits) {
  for (int64_t k = thread_index(); k < words; k += thread_count()) {
    uint32_t packed = 0;
    PhiloxBlock block{};
    for (int j = 0; j < 32 && 32 * k + j < n; ++j) {
      const uint64_t position = state.offset + static_cast<uint64_t>(32 * k + j);
      if (j == 0 || position % 4 == 0) block = philox_block(state, position / 4);
      packed |= static_cast<uint32_t>(dropout_keep(block.w[position % 4], threshold)) << j;
    }
    bits[k] = packed;
  }
}

template <typename T>
__global__ void dropout_apply_packed_kernel(int64_t n, const uint32_t* bits, T scale, T* out, const T* x) {
  for (int64_t i = thread_index(); i < n; i += thread_count())
    out[i] = (bits[i / 32] >> (i % 32)) & 1u ? x[i] * scale : T(0);
}

// One thread per Box-Muller pair j: elements 2j and 2j + 1 from words (offset + 2j, offset + 2j + 1).
template <typename T>
__global__ void gaussian_noise_kernel(int64_t pairs, int64_t n, PhiloxState state, T mul_sigma, T add_sigma, T* out,
                                      const T* x) {
  for (int64_t j = thread_index(); j < pairs; j += thread_count()) {
    const uint64_t position = state.offset + static_cast<uint64_t>(2 * j);
    const PhiloxBlock block = philox_block(state, position / 4);
    const uint32_t second = position % 4 == 3 ? philox_block(state, position / 4 + 1).w[0] : block.w[position % 4 + 1];
    const NormalPair z = box_muller(block.w[position % 4], second);
    out[2 * j] = gaussian_noise_rule(x[2 * j], static_cast<T>(z.first), mul_sigma, add_sigma);
    if (2 * j + 1 < n) out[2 * j + 1] = gaussian_noise_rule(x[2 * j + 1], static_cast<T>(z.second), mul_sigma, add_sigma);
  }
}

template <typename T>
__global__ void dropblock_mask_kernel(int64_t n, int64_t height, int64_t width, int64_t block, const uint8_t* draws,
                                      T* mask) {
  const int64_t plane = height * width;
  for (int64_t i = thread_index(); i < n; i += thread_count()) {
    const int64_t p = i / plane, h = (i % plane) / width, w = i % width;
    mask[i] = static_cast<T>(dropblock_keep(draws + p * plane, h, w, height, width, block));
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

// Launches one thread per item (items > 0) with the item count first.
template <typename... Params, typename... Args>
void launch_items(KernelName name, void (*kernel)(int64_t, Params...), int64_t items, Stream stream, Args... args) {
  if (items <= 0) return;
  launch(name, kernel, grid_for(items), dim3(launch_policy().block), 0, stream, items, args...);
}

}  // namespace

void philox_words(int64_t n, const PhiloxState& state, uint32_t* words, Stream stream) {
  launch_groups("philox_words", philox_words_kernel, n, state, stream, words);
}

void dropout_mask(int64_t n, const PhiloxState& state, uint64_t threshold, uint8_t* mask, Stream stream) {
  launch_groups("dropout_mask", dropout_mask_kernel, n, state, stream, threshold, mask);
}

template <typename T>
void dropout_affine(int64_t n, const PhiloxState& state, uint64_t threshold, const DropoutAffine& rule, T* out,
                    const T* x, Stream stream) {
  using C = compute_t<T>;
  launch_groups("dropout_affine", dropout_affine_kernel<T>, n, state, stream, threshold,
                static_cast<C>(rule.keep_scale), static_cast<C>(rule.keep_shift), static_cast<C>(rule.drop_value), out,
                x);
}

void dropout_pack_mask(int64_t n, const PhiloxState& state, uint64_t threshold, uint32_t* bits, Stream stream) {
  launch_items("dropout_pack_mask", dropout_pack_mask_kernel, (n + 31) / 32, stream, n, state, threshold, bits);
}

template <typename T>
void dropout_apply_packed(int64_t n, const uint32_t* bits, T scale, T* out, const T* x, Stream stream) {
  launch_items("dropout_apply_packed", dropout_apply_packed_kernel<T>, n, stream, bits, scale, out, x);
}

template <typename T>
void gaussian_noise(int64_t n, const PhiloxState& state, T mul_sigma, T add_sigma, T* out, const T* x, Stream stream) {
  launch_items("gaussian_noise", gaussian_noise_kernel<T>, (n + 1) / 2, stream, n, state, mul_sigma, add_sigma, out,
               x);
}

template <typename T>
void uniform_fill(int64_t n, const PhiloxState& state, T* out, Stream stream) {
  launch_groups("uniform_fill", uniform_fill_kernel<T>, n, state, stream, out);
}

template <typename T>
void dropblock_mask(int64_t planes, int64_t height, int64_t width, int64_t block, const uint8_t* draws, T* mask,
                    Stream stream) {
  launch_items("dropblock_mask", dropblock_mask_kernel<T>, planes * height * width, stream, height, width, block,
               draws, mask);
}

template <typename T, typename X>
void bias_dropout_residual(int64_t n, int64_t cols, const PhiloxState& state, uint64_t threshold, T scale, T* out,
                           const X* x, const T* bias, const T* residual, Stream stream) {
  launch_groups("bias_dropout_residual", bias_dropout_residual_kernel<T, X>, n, state, stream, threshold, cols, scale,
                out, x, bias, residual);
}

template <typename T>
void random_rule(RandomRule rule, int64_t n, const PhiloxState& state, T param, bool slope_only, T* out, const T* x,
                 Stream stream) {
  visit_random_rule(rule, [&](auto r) {
    launch_groups(decltype(r)::kName, random_rule_kernel<decltype(r), T>, n, state, stream, param, slope_only, out, x);
  });
}

#define MINIDL_DROPOUT_INSTANTIATE(T)                                                                              \
  template void dropout_affine<T>(int64_t, const PhiloxState&, uint64_t, const DropoutAffine&, T*, const T*,      \
                                  Stream);                                                                         \
  template void dropout_apply_packed<T>(int64_t, const uint32_t*, T, T*, const T*, Stream);                        \
  template void gaussian_noise<T>(int64_t, const PhiloxState&, T, T, T*, const T*, Stream);                        \
  template void uniform_fill<T>(int64_t, const PhiloxState&, T*, Stream);                                          \
  template void dropblock_mask<T>(int64_t, int64_t, int64_t, int64_t, const uint8_t*, T*, Stream);                 \
  template void bias_dropout_residual<T, T>(int64_t, int64_t, const PhiloxState&, uint64_t, T, T*, const T*,       \
                                            const T*, const T*, Stream);                                            \
  template void random_rule<T>(RandomRule, int64_t, const PhiloxState&, T, bool, T*, const T*, Stream);
MINIDL_DROPOUT_INSTANTIATE(float)
MINIDL_DROPOUT_INSTANTIATE(double)
#undef MINIDL_DROPOUT_INSTANTIATE
template void dropout_affine<bf16>(int64_t, const PhiloxState&, uint64_t, const DropoutAffine&, bf16*, const bf16*,
                                   Stream);
template void bias_dropout_residual<float>(int64_t, int64_t, const PhiloxState&, uint64_t, float, float*, const bf16*,
                                           const float*, const float*, Stream);

}  // namespace minidl::MINIDL_CUDA_NS
