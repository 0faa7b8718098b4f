#include "framework/nn/init.h"

#include <vector>

#include "framework/ops/ops.h"
#include "kernels/cpu/dropout.h"

namespace minidl {

Tensor uniform(const Shape& shape, double low, double high, Generator& gen, DType dtype) {
  MINIDL_CHECK(low <= high, "uniform: low {} > high {}", low, high);
  MINIDL_CHECK(is_floating(dtype), "uniform: dtype {} is not floating", dtype_name(dtype));
  const int64_t n = shape_numel(shape);
  std::vector<uint32_t> words(static_cast<size_t>(n));
  cpu::philox_words(0, n, gen.reserve(static_cast<uint64_t>(n)), words.data());
  std::vector<double> values(words.size());
  for (size_t i = 0; i < words.size(); ++i) values[i] = low + (high - low) * (words[i] * 0x1.0p-32);
  return to_dtype(Tensor::from_vector(values, shape), dtype);
}

}  // namespace minidl
