// The real GPU: kernels/cuda compiled by nvcc.
#if defined(MINIDL_HAS_CUDA)
#define MINIDL_KERNELS_NS cuda
#include "framework/ops/device_backend.inl"
#endif

#include "framework/ops/backend.h"
#include "framework/core/cuda_memory.h"

namespace minidl {

Backend& cuda_backend() {
#if defined(MINIDL_HAS_CUDA)
  static DeviceBackend backend;
  return backend;
#else
  MINIDL_FAIL("device cuda: {}", cuda_unavailable_reason());
#endif
}

}  // namespace minidl
