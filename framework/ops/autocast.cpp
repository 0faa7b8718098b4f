#include "framework/ops/autocast.h"

#include "framework/core/check.h"

namespace minidl {

namespace {
thread_local std::optional<DType> g_autocast;
}

std::optional<DType> autocast_dtype() { return g_autocast; }

AutocastGuard::AutocastGuard(std::optional<DType> dtype) : previous_(g_autocast) {
  MINIDL_CHECK(!dtype || *dtype == DType::BF16, "autocast to {}: expected bf16", dtype_name(*dtype));
  g_autocast = dtype;
}

AutocastGuard::~AutocastGuard() { g_autocast = previous_; }

}  // namespace minidl
