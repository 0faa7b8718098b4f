// Image augmentation for training batches, drawn from a Generator so that it is a pure function of
// the seed: a random crop of a zero-padded image (shift by up to `pad` pixels each way) and a
// horizontal flip with probability 1/2, per image.
#pragma once

#include "framework/core/tensor.h"
#include "framework/random/generator.h"

namespace minidl {

// images: CPU f32 [N, C, H, W]; returns a new tensor of the same shape. `fill` is the padding's
// value (for normalized images, the normalized value of a black pixel).
Tensor random_crop_flip(const Tensor& images, int64_t pad, bool flip, float fill, Generator& gen);

}  // namespace minidl
