// The emulated CUDA device: kernels/cuda run in the SIMT emulator on host memory.
#if defined(MINIDL_HAS_EMU)
#include "framework/ops/backend.h"
#include "kernels/cuda/launchers.h"

namespace minidl {
namespace {

template <typename T>
void device_gemm(const Backend::GemmBatch& g, const T* a, const T* b, T* c) {
  emu::gemm<T>(g.trans_a, g.trans_b, g.batch, g.m, g.n, g.k, a, g.lda, g.stride_a, b, g.ldb, g.stride_b, c, nullptr);
}

}  // namespace
}  // namespace minidl

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
