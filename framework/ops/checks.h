// Operand checks shared by the ops; each error names the op, the operand and what was expected.
#pragma once

#include "framework/core/tensor.h"

namespace minidl {

void check_defined(const Tensor& x, const char* op);
void check_floating(const Tensor& x, const char* op);
// Same device and same dtype.
void check_compatible(const Tensor& a, const Tensor& b, const char* op);
// A drop probability in [0, 1]. p = 1 in training is allowed (it drops everything, with defined
// zeros and zero gradients) but passes no signal, so it warns (core/warning.h) once per op.
void check_drop_probability(double p, bool training, const char* op);

}  // namespace minidl
