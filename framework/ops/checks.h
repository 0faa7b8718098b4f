// Operand checks shared by the ops; each error names the op, the operand and what was expected.
#pragma once

#include "framework/core/tensor.h"

namespace minidl {

void check_defined(const Tensor& x, const char* op);
void check_floating(const Tensor& x, const char* op);
// Same device and same dtype.
void check_compatible(const Tensor& a, const Tensor& b, const char* op);

}  // namespace minidl
