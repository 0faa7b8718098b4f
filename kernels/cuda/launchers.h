// The host launchers of every kernels/cuda source, for both builds: minidl::cuda (nvcc, real GPU)
// and minidl::emu (host compiler, SIMT emulator). Framework code calls these; it never includes
// the .cu files or the CUDA runtime.
#pragma once

#include <cstdint>

#include "kernels/common/philox.h"
#include "kernels/cuda/launch_policy.h"
#include "kernels/cuda/stream.h"

namespace minidl::emu {
#include "kernels/cuda/dropout.inc"
}  // namespace minidl::emu

namespace minidl::cuda {
#include "kernels/cuda/dropout.inc"
}  // namespace minidl::cuda
