// CPU reference kernels of the dropout family on the Philox contract (kernels/common/philox.h):
// element i of an op uses word (offset + i) of the stream. Backward passes call the same kernels
// on the upstream gradient, regenerating the mask instead of storing it. Each kernel processes
// [begin, end) of its work items (elements unless stated), so a caller may split the range across
// threads; all arrays are contiguous.
#pragma once

#include <cstdint>

#include "kernels/common/dropout_rules.h"
#include "kernels/common/philox.h"
#include "kernels/common/random_rules.h"

namespace minidl::cpu {

// words[i] = word (offset + i) of the stream.
void philox_words(int64_t begin, int64_t end, const PhiloxState& state, uint32_t* words);

// mask[i] = keep(i) as 0/1.
void dropout_mask(int64_t begin, int64_t end, const PhiloxState& state, uint64_t threshold, uint8_t* mask);

// out[i] = keep(i) ? x[i] * keep_scale + keep_shift : drop_value.
template <typename T>
void dropout_affine(int64_t begin, int64_t end, const PhiloxState& state, uint64_t threshold, const DropoutAffine& rule,
                    T* out, const T* x);

// The 1-bit stored mask: bit j of bits[k] = keep(32k + j); work items are the words k of bits,
// and bits past element n - 1 are 0.
void dropout_pack_mask(int64_t begin, int64_t end, int64_t n, const PhiloxState& state, uint64_t threshold,
                       uint32_t* bits);

// out[i] = bit i of bits ? x[i] * scale : 0.
template <typename T>
void dropout_apply_packed(int64_t begin, int64_t end, const uint32_t* bits, T scale, T* out, const T* x);

// out[i] = gaussian_noise_rule(x[i], z_i, mul_sigma, add_sigma) where z_2j, z_2j+1 are the
// Box-Muller pair of words (offset + 2j, offset + 2j + 1). Work items are the pairs j; n elements.
template <typename T>
void gaussian_noise(int64_t begin, int64_t end, int64_t n, const PhiloxState& state, T mul_sigma, T add_sigma, T* out,
                    const T* x);

// out[i] = uniform_open(word (offset + i)), in (0, 1).
template <typename T>
void uniform_fill(int64_t begin, int64_t end, const PhiloxState& state, T* out);

// DropBlock's mask over planes of height x width: mask = dropblock_keep(draws of the plane).
// Work items are the planes.
template <typename T>
void dropblock_mask(int64_t begin, int64_t end, int64_t height, int64_t width, int64_t block, const uint8_t* draws,
                    T* mask);

// The transformer's hot path in one pass: out[i] = residual[i] + dropout(x[i] + bias[i % cols]),
// dropout inverted with `scale` (the add of the residual fused into the scaling).
template <typename T>
void bias_dropout_residual(int64_t begin, int64_t end, int64_t cols, const PhiloxState& state, uint64_t threshold,
                           T scale, T* out, const T* x, const T* bias, const T* residual);

// A plug-in rule of kernels/common/random_rules.h: out[i] = x[i] * scale_i + shift_i, or with
// slope_only (backward, x the upstream gradient) out[i] = x[i] * scale_i.
template <typename T>
void random_rule(RandomRule rule, int64_t begin, int64_t end, const PhiloxState& state, T param, bool slope_only,
                 T* out, const T* x);

}  // namespace minidl::cpu
