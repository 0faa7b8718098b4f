#include "framework/ops/random_masks.h"

#include "framework/ops/backend.h"

namespace minidl {

MaskFactors mask_factors(const Shape& mask_shape, DType dtype, Device device, const PhiloxState& state,
                         uint64_t threshold, const DropoutAffine& rule) {
  Backend& backend = backend_for(device);
  const Tensor ones = Tensor::full(mask_shape, 1.0, dtype, device);
  MaskFactors f;
  f.scale = Tensor::empty(mask_shape, dtype, device);
  backend.dropout_affine(f.scale, ones, state, threshold, DropoutAffine{rule.keep_scale, 0, 0});
  if (rule.keep_shift != 0 || rule.drop_value != 0) {
    f.shift = Tensor::empty(mask_shape, dtype, device);
    backend.dropout_affine(f.shift, ones, state, threshold, DropoutAffine{0, rule.keep_shift, rule.drop_value});
  }
  return f;
}

Tensor dropblock_mask(const Shape& shape, DType dtype, Device device, const PhiloxState& state, uint64_t threshold,
                      int64_t block) {
  Backend& backend = backend_for(device);
  const Tensor draws = Tensor::empty(shape, DType::U8, device);
  backend.dropout_mask(draws, state, threshold);
  Tensor mask = Tensor::empty(shape, dtype, device);
  backend.dropblock_mask(mask, draws, block);
  return mask;
}

}  // namespace minidl
