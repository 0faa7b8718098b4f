#include "framework/core/allocator.h"

#include <cstdlib>
#include <cstring>

#include "framework/core/caching_allocator.h"
#include "framework/core/check.h"
#include "framework/core/cuda_memory.h"

namespace minidl {

namespace {

void* aligned_host_allocate(size_t nbytes) {
  // 64-byte alignment: a cache line, and enough for any vector load.
  void* ptr = std::aligned_alloc(64, (nbytes + 63) / 64 * 64);
  MINIDL_CHECK(ptr != nullptr, "out of host memory allocating {} bytes", nbytes);
  return ptr;
}

class CpuAllocator final : public Allocator {
 public:
  void* allocate(size_t nbytes) override { return nbytes == 0 ? nullptr : aligned_host_allocate(nbytes); }
  void deallocate(void* ptr, size_t) noexcept override { std::free(ptr); }
  void copy_to_host(void* dst, const void* src, size_t nbytes) override { std::memcpy(dst, src, nbytes); }
  void copy_from_host(void* dst, const void* src, size_t nbytes) override { std::memcpy(dst, src, nbytes); }
};

// The emulated device's memory is host memory behind the device interface.
class EmulatedDeviceMemory final : public RawDeviceMemory {
 public:
  void* allocate(size_t nbytes) override { return aligned_host_allocate(nbytes); }
  void free(void* ptr) noexcept override { std::free(ptr); }
  void copy_to_host(void* dst, const void* src, size_t nbytes) override { std::memcpy(dst, src, nbytes); }
  void copy_from_host(void* dst, const void* src, size_t nbytes) override { std::memcpy(dst, src, nbytes); }
};

bool direct_allocation() {
  const char* mode = std::getenv("MINIDL_CUDA_ALLOC");
  if (mode == nullptr || std::strcmp(mode, "caching") == 0) return false;
  MINIDL_CHECK(std::strcmp(mode, "direct") == 0, "MINIDL_CUDA_ALLOC='{}': expected caching or direct", mode);
  return true;
}

}  // namespace

Allocator& allocator_for(Device device) {
  switch (device.type) {
    case DeviceType::CPU: {
      static CpuAllocator cpu;
      return cpu;
    }
    case DeviceType::CUDAEmu: {
      static EmulatedDeviceMemory memory;
      static CachingAllocator emu(memory, direct_allocation());
      return emu;
    }
    case DeviceType::CUDA: {
      MINIDL_CHECK(device.index == 0, "device {}: minidl drives one GPU, cuda:0", device.str());
      static CachingAllocator gpu(cuda_device_memory(), direct_allocation());
      return gpu;
    }
  }
  MINIDL_FAIL("unknown device type");
}

}  // namespace minidl
