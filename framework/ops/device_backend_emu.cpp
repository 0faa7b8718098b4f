// The emulated CUDA device: kernels/cuda run in the SIMT emulator on host memory.
#if defined(MINIDL_HAS_EMU)
#define MINIDL_KERNELS_NS emu
#include "framework/ops/device_backend.inl"
#endif

#include "framework/ops/backend.h"

namespace minidl {

Backend& emulated_cuda_backend() {
#if defined(MINIDL_HAS_EMU)
  static DeviceBackend backend;
  return backend;
#else
  MINIDL_FAIL("device cuda-emu: this build has no SIMT emulator (configure with MINIDL_EMU=ON)");
#endif
}

}  // namespace minidl
