// Time on a device's stream, for the profiler's device times: marks recorded between the kernels
// a range launches (CUDA events on a GPU), read once the work before them has finished. The
// emulator runs each kernel to completion at its launch, so its marks are the host's clock.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

#include "framework/core/device.h"

namespace minidl {

class DeviceClock {
 public:
  virtual ~DeviceClock() = default;
  // A point on the device's stream after the work queued so far.
  virtual size_t mark() = 0;
  // The device time between two marks; waits until the later one is reached.
  virtual int64_t elapsed_ns(size_t from, size_t to) = 0;
};

// CUDA events on cuda, the host clock on cuda-emu; none on the CPU (its host times are its
// device times).
std::unique_ptr<DeviceClock> device_clock(Device device);

}  // namespace minidl
