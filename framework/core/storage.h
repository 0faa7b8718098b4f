// Reference-counted memory shared by a tensor and all its views. The version counter lives here
// because an in-place write through any view changes what every view sees.
#pragma once

#include <cstddef>
#include <cstdint>

#include "framework/core/device.h"

namespace minidl {

class Allocator;

class Storage {
 public:
  // allocator: where the bytes come from; allocator_for(device) when null.
  Storage(size_t nbytes, Device device, Allocator* allocator = nullptr);
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;

  void* data() const { return data_; }
  size_t nbytes() const { return nbytes_; }
  Device device() const { return device_; }
  uint64_t version() const { return version_; }
  void bump_version() { ++version_; }

 private:
  Allocator* allocator_;
  void* data_;
  size_t nbytes_;
  Device device_;
  uint64_t version_ = 0;
};

}  // namespace minidl
