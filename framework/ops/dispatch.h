// Dtype dispatch for backends: runs a kernel template for the C++ type of a floating dtype.
#pragma once

#include "framework/core/check.h"
#include "framework/core/dtype.h"
#include "framework/core/profiler.h"

namespace minidl {

// Calls fn(T{}) for f32 and f64; ops reject other dtypes before a backend is reached. Every
// backend kernel passes through here, so this is where kernels get their profiling range.
template <typename Fn>
void visit_floating(DType dtype, const char* what, Fn&& fn) {
  const ProfileRange range("kernel", what);
  switch (dtype) {
    case DType::F32: fn(float{}); return;
    case DType::F64: fn(double{}); return;
    default: MINIDL_FAIL("{}: dtype {} is not supported: expected f32 or f64", what, dtype_name(dtype));
  }
}

}  // namespace minidl
