// Masks that a random op's forward builds and its backward rebuilds from the same Philox words
// (framework/ops/random_ops.cpp, framework/ops/gradients.cpp), instead of storing them.
#pragma once

#include "framework/core/tensor.h"
#include "kernels/common/dropout_rules.h"
#include "kernels/common/philox.h"

namespace minidl {

// A Bernoulli mask of mask_shape as factors: scale = keep ? keep_scale : 0 and, when the rule has
// a shift or a drop value, shift = keep ? keep_shift : drop_value (else undefined), so that
// x * scale + shift is the rule applied with the mask broadcast over x.
struct MaskFactors {
  Tensor scale, shift;
};
MaskFactors mask_factors(const Shape& mask_shape, DType dtype, Device device, const PhiloxState& state,
                         uint64_t threshold, const DropoutAffine& rule);

// DropBlock's 0/1 mask of shape [..., H, W]: blocks of block x block centred on the positions
// whose Bernoulli draw (word (offset + i) against threshold) is a drop.
Tensor dropblock_mask(const Shape& shape, DType dtype, Device device, const PhiloxState& state, uint64_t threshold,
                      int64_t block);

}  // namespace minidl
