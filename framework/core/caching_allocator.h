// A caching allocator for device memory: freed blocks go to per-size-class free lists and are
// reused by later allocations of the same class instead of being returned to the device (device
// allocation is slow and synchronizes). Size classes are powers of two from 512 bytes.
// MINIDL_CUDA_ALLOC=direct bypasses the cache, so tools such as compute-sanitizer and
// AddressSanitizer see every allocation with its exact size.
#pragma once

#include <map>
#include <mutex>
#include <vector>

#include "framework/core/allocator.h"

namespace minidl {

// Where the memory comes from: cudaMalloc, or host memory for the emulated device.
class RawDeviceMemory {
 public:
  virtual ~RawDeviceMemory() = default;
  virtual void* allocate(size_t nbytes) = 0;
  virtual void free(void* ptr) noexcept = 0;
  virtual void copy_to_host(void* host_dst, const void* device_src, size_t nbytes) = 0;
  virtual void copy_from_host(void* device_dst, const void* host_src, size_t nbytes) = 0;
};

class CachingAllocator final : public Allocator {
 public:
  // direct: bypass the cache (the MINIDL_CUDA_ALLOC=direct setting, read by allocator_for).
  CachingAllocator(RawDeviceMemory& raw, bool direct);
  ~CachingAllocator() override;
  void* allocate(size_t nbytes) override;
  void deallocate(void* ptr, size_t nbytes) noexcept override;
  void copy_to_host(void* host_dst, const void* device_src, size_t nbytes) override;
  void copy_from_host(void* device_dst, const void* host_src, size_t nbytes) override;
  AllocatorStats stats() const override;
  void empty_cache();  // returns every cached block to the device

  static size_t size_class(size_t nbytes);

 private:
  RawDeviceMemory& raw_;
  const bool direct_;
  mutable std::mutex mutex_;
  std::map<size_t, std::vector<void*>> free_;  // by size class
  AllocatorStats stats_;
};

}  // namespace minidl
