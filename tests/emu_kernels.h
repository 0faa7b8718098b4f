// Declarations of the emulator test kernels (tests/emu_kernels.cu, emulator build only).
#pragma once

#include <cstddef>

namespace minidl::emu {
#include "tests/emu_kernels.inc"
}  // namespace minidl::emu
