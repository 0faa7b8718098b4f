#include "framework/core/cuda_memory.h"

#include "framework/core/check.h"

#include <cstring>

#if defined(MINIDL_HAS_CUDA)
#include <cuda_runtime.h>
#endif

namespace minidl {

#if defined(MINIDL_HAS_CUDA)

namespace {

void check_cuda(cudaError_t err, const char* what) {
  MINIDL_CHECK(err == cudaSuccess, "{} failed: {}", what, cudaGetErrorString(err));
}

class GpuMemory final : public RawDeviceMemory {
 public:
  void* allocate(size_t nbytes) override {
    void* ptr = nullptr;
    check_cuda(cudaMalloc(&ptr, nbytes), "cudaMalloc");
    return ptr;
  }
  void free(void* ptr) noexcept override { cudaFree(ptr); }
  void copy_to_host(void* dst, const void* src, size_t nbytes) override {
    check_cuda(cudaMemcpy(dst, src, nbytes, cudaMemcpyDeviceToHost), "cudaMemcpy to host");
  }
  void copy_from_host(void* dst, const void* src, size_t nbytes) override {
    check_cuda(cudaMemcpy(dst, src, nbytes, cudaMemcpyHostToDevice), "cudaMemcpy to device");
  }
};

// Page-locked host memory from cudaHostAlloc.
class PinnedHostAllocator final : public Allocator {
 public:
  void* allocate(size_t nbytes) override {
    void* ptr = nullptr;
    if (nbytes > 0) check_cuda(cudaHostAlloc(&ptr, nbytes, cudaHostAllocDefault), "cudaHostAlloc");
    return ptr;
  }
  void deallocate(void* ptr, size_t) noexcept override { cudaFreeHost(ptr); }
  void copy_to_host(void* dst, const void* src, size_t nbytes) override { std::memcpy(dst, src, nbytes); }
  void copy_from_host(void* dst, const void* src, size_t nbytes) override { std::memcpy(dst, src, nbytes); }
};

}  // namespace

Allocator& pinned_host_allocator() {
  if (cuda_device_count() == 0) return allocator_for(kCPU);
  static PinnedHostAllocator pinned;
  return pinned;
}

std::string cuda_unavailable_reason() {
  int count = 0;
  const cudaError_t err = cudaGetDeviceCount(&count);
  if (err != cudaSuccess) return std::string("no usable GPU: ") + cudaGetErrorString(err);
  return count > 0 ? "" : "no GPU: cudaGetDeviceCount found none";
}

int cuda_device_count() {
  int count = 0;
  return cudaGetDeviceCount(&count) == cudaSuccess ? count : 0;
}

void cuda_synchronize() {
  if (cuda_device_count() > 0) cudaDeviceSynchronize();
}

RawDeviceMemory& cuda_device_memory() {
  const std::string reason = cuda_unavailable_reason();
  MINIDL_CHECK(reason.empty(), "device cuda: {}", reason);
  static GpuMemory memory;
  return memory;
}

#else

std::string cuda_unavailable_reason() {
  return "this build has no CUDA backend (configure where nvcc is installed, MINIDL_CUDA=AUTO or ON)";
}

int cuda_device_count() { return 0; }

void cuda_synchronize() {}

Allocator& pinned_host_allocator() { return allocator_for(kCPU); }

RawDeviceMemory& cuda_device_memory() { MINIDL_FAIL("device cuda: {}", cuda_unavailable_reason()); }

#endif

}  // namespace minidl
