// Device memory. Storage asks allocator_for(device): plain aligned host memory for cpu, and a
// caching allocator for the CUDA devices (framework/core/caching_allocator.h) over cudaMalloc, or
// over host memory for the emulated device (whose "device memory" is host memory).
#pragma once

#include <cstddef>

#include "framework/core/device.h"

namespace minidl {

struct AllocatorStats {
  size_t allocated = 0;  // bytes handed out now (size classes, not requests)
  size_t reserved = 0;   // bytes obtained from the device, cached ones included
  size_t peak = 0;       // the most ever allocated at once
};

class Allocator {
 public:
  virtual ~Allocator() = default;
  virtual void* allocate(size_t nbytes) = 0;
  virtual void deallocate(void* ptr, size_t nbytes) noexcept = 0;
  // Copies between this device's memory and host memory.
  virtual void copy_to_host(void* host_dst, const void* device_src, size_t nbytes) = 0;
  virtual void copy_from_host(void* device_dst, const void* host_src, size_t nbytes) = 0;
  virtual AllocatorStats stats() const { return {}; }
};

Allocator& allocator_for(Device device);

// Host memory for staging transfers to a GPU: page-locked (cudaHostAlloc), so copies from it run
// at full speed and can overlap compute, in builds with CUDA on a machine with a GPU; ordinary
// host memory otherwise.
Allocator& pinned_host_allocator();

}  // namespace minidl
