// Parameter initializers drawing from a Generator, so a model's initial weights are a pure
// function of the seed.
#pragma once

#include "framework/core/tensor.h"
#include "framework/random/generator.h"

namespace minidl {

// Uniform in [low, high): element i from word (offset + i) of the generator's stream.
Tensor uniform(const Shape& shape, double low, double high, Generator& gen, DType dtype = DType::F32);

}  // namespace minidl
