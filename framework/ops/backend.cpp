#include "framework/ops/backend.h"

#include "framework/core/cuda_memory.h"

namespace minidl {

Backend& backend_for(Device device) {
  switch (device.type) {
    case DeviceType::CPU: return cpu_backend();
    case DeviceType::CUDAEmu: return emulated_cuda_backend();
    case DeviceType::CUDA: {
      MINIDL_CHECK(cuda_device_count() > 0, "device {}: {}", device.str(), cuda_unavailable_reason());
      return cuda_backend();
    }
  }
  MINIDL_FAIL("unknown device type");
}

}  // namespace minidl
