#include "framework/ops/autocast.h"

#include "framework/core/check.h"
#include "framework/ops/ops.h"

namespace minidl {

namespace {
thread_local std::optional<DType> g_autocast;
}

std::optional<DType> autocast_dtype() { return g_autocast; }

bool autocast_widens(const Tensor& x) { return g_autocast && x.defined() && x.dtype() == DType::BF16; }

Tensor autocast_to_f32(const Tensor& x) { return autocast_widens(x) ? to_dtype(x, DType::F32) : x; }

AutocastGuard::AutocastGuard(std::optional<DType> dtype) : previous_(g_autocast) {
  MINIDL_CHECK(!dtype || *dtype == DType::BF16, "autocast to {}: expected bf16", dtype_name(*dtype));
  g_autocast = dtype;
}

AutocastGuard::~AutocastGuard() { g_autocast = previous_; }

}  // namespace minidl
