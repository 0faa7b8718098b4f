// Where a tensor's storage lives. CPU now; CUDA and the SIMT-emulated CUDA backend come with
// the CUDA backend, and every op already rejects operands on different devices.
#pragma once

#include <string>

namespace minidl {

enum class DeviceType { CPU, CUDA, CUDAEmu };

struct Device {
  DeviceType type = DeviceType::CPU;
  int index = 0;

  bool operator==(const Device&) const = default;
  std::string str() const;
  // "cpu", "cuda", "cuda:1", "cuda-emu", or "auto": cuda when a GPU is present, else cpu.
  static Device parse(const std::string& text);
};

inline constexpr Device kCPU{};

}  // namespace minidl
