#include "framework/core/allocator.h"

#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <vector>

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

// Host memory. glibc serves blocks of 32 MiB and more with a fresh mmap each time and unmaps them
// on free, so every large tensor pays a page fault and a page clear per 4 KiB on first touch:
// about half of a 2^24-element dropout step. Freed large blocks are therefore kept, by exact
// (rounded) size, for the next tensor of that size, which in a training loop comes at the next
// step; at most kMaxCachedBytes are kept. MINIDL_CPU_ALLOC=system turns the cache off.
class CpuAllocator final : public Allocator {
 public:
  CpuAllocator() {
    const char* mode = std::getenv("MINIDL_CPU_ALLOC");
    MINIDL_CHECK(mode == nullptr || std::strcmp(mode, "caching") == 0 || std::strcmp(mode, "system") == 0,
                 "MINIDL_CPU_ALLOC='{}': expected caching or system", mode);
    caching_ = mode == nullptr || std::strcmp(mode, "caching") == 0;
  }
  ~CpuAllocator() override {
    for (auto& [size, blocks] : free_)
      for (void* p : blocks) std::free(p);
  }

  void* allocate(size_t nbytes) override {
    if (nbytes == 0) return nullptr;
    if (!caching_ || nbytes < kLargeBlock) return aligned_host_allocate(nbytes);
    const size_t size = rounded(nbytes);
    {
      std::lock_guard<std::mutex> lock(mutex_);
      auto it = free_.find(size);
      if (it != free_.end() && !it->second.empty()) {
        void* p = it->second.back();
        it->second.pop_back();
        cached_bytes_ -= size;
        return p;
      }
    }
    return aligned_host_allocate(size);
  }

  void deallocate(void* ptr, size_t nbytes) noexcept override {
    if (ptr == nullptr) return;
    if (!caching_ || nbytes < kLargeBlock) return std::free(ptr);
    const size_t size = rounded(nbytes);
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (cached_bytes_ + size <= kMaxCachedBytes) {
        free_[size].push_back(ptr);
        cached_bytes_ += size;
        return;
      }
    }
    std::free(ptr);
  }

  void copy_to_host(void* dst, const void* src, size_t nbytes) override { std::memcpy(dst, src, nbytes); }
  void copy_from_host(void* dst, const void* src, size_t nbytes) override { std::memcpy(dst, src, nbytes); }

 private:
  static constexpr size_t kLargeBlock = size_t{1} << 20;
  static constexpr size_t kMaxCachedBytes = size_t{2} << 30;
  static size_t rounded(size_t nbytes) { return (nbytes + 65535) / 65536 * 65536; }

  bool caching_ = true;
  std::mutex mutex_;
  std::map<size_t, std::vector<void*>> free_;  // by rounded size
  size_t cached_bytes_ = 0;
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

// The allocators are never destroyed: a tensor held by another static (a cached dataset) may be
// freed at exit after a static allocator would be, into a dead cache.
Allocator& allocator_for(Device device) {
  switch (device.type) {
    case DeviceType::CPU: {
      static CpuAllocator& cpu = *new CpuAllocator;
      return cpu;
    }
    case DeviceType::CUDAEmu: {
      static EmulatedDeviceMemory& memory = *new EmulatedDeviceMemory;
      static CachingAllocator& emu = *new CachingAllocator(memory, direct_allocation());
      return emu;
    }
    case DeviceType::CUDA: {
      MINIDL_CHECK(device.index == 0, "device {}: minidl drives one GPU, cuda:0", device.str());
      static CachingAllocator& gpu = *new CachingAllocator(cuda_device_memory(), direct_allocation());
      return gpu;
    }
  }
  MINIDL_FAIL("unknown device type");
}

}  // namespace minidl
