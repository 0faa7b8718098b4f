// Runs the graph behind a tensor in reverse topological order and accumulates leaf gradients.
#pragma once

#include "framework/core/tensor.h"

namespace minidl {

// grad_output may be undefined for a one-element root (then it is 1).
void run_backward(const Tensor& root, const Tensor& grad_output);

}  // namespace minidl
