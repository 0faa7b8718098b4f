#include "framework/ops/dispatch.h"

#include "framework/ops/backend.h"

namespace minidl {

double operand_bytes(const Tensor& x) {
  if (!x.defined()) return 0;
  double elements = 1;
  for (int64_t d = 0; d < x.dim(); ++d)
    if (x.strides()[static_cast<size_t>(d)] != 0) elements *= static_cast<double>(x.size(d));
  return elements * static_cast<double>(dtype_size(x.dtype()));
}

double operand_bytes(std::span<const Tensor> xs) {
  double bytes = 0;
  for (const Tensor& x : xs) bytes += operand_bytes(x);
  return bytes;
}

double operand_bytes(std::span<const OptimizerTensors> tensors) {
  double bytes = 0;
  for (const OptimizerTensors& t : tensors) {
    bytes += operand_bytes(t.param) + operand_bytes(t.grad);
    for (const Tensor& state : t.state) bytes += operand_bytes(state);
  }
  return bytes;
}

}  // namespace minidl
