// Device memory allocators. Storage asks allocator_for(device); the CUDA backend registers its
// caching allocator here.
#pragma once

#include <cstddef>

#include "framework/core/device.h"

namespace minidl {

class Allocator {
 public:
  virtual ~Allocator() = default;
  virtual void* allocate(size_t nbytes) = 0;
  virtual void deallocate(void* ptr, size_t nbytes) noexcept = 0;
};

Allocator& allocator_for(Device device);

}  // namespace minidl
