#include "framework/core/device.h"

#include <charconv>

#include "framework/core/check.h"
#include "framework/core/cuda_memory.h"

namespace minidl {

std::string Device::str() const {
  switch (type) {
    case DeviceType::CPU: return "cpu";
    case DeviceType::CUDA: return index == 0 ? "cuda" : fmt::format("cuda:{}", index);
    case DeviceType::CUDAEmu: return "cuda-emu";
  }
  return "?";
}

Device Device::parse(const std::string& text) {
  if (text == "auto") return cuda_device_count() > 0 ? Device{DeviceType::CUDA, 0} : Device{DeviceType::CPU, 0};
  if (text == "cpu") return {DeviceType::CPU, 0};
  if (text == "cuda-emu") return {DeviceType::CUDAEmu, 0};
  if (text == "cuda") return {DeviceType::CUDA, 0};
  if (text.rfind("cuda:", 0) == 0) {
    int index = -1;
    const char* begin = text.data() + 5;
    const char* end = text.data() + text.size();
    auto [ptr, ec] = std::from_chars(begin, end, index);
    if (ec == std::errc() && ptr == end && index >= 0) return {DeviceType::CUDA, index};
  }
  MINIDL_FAIL("unknown device '{}': expected auto, cpu, cuda, cuda:N or cuda-emu", text);
}

}  // namespace minidl
