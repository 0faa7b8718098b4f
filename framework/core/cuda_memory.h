// The real GPU's memory (cudaMalloc, cudaMemcpy), in builds with the CUDA backend.
#pragma once

#include <string>

#include "framework/core/caching_allocator.h"

namespace minidl {

// The number of usable GPUs; 0 in a build without CUDA or when the driver reports none.
int cuda_device_count();
// Why there is no usable GPU ("" when there is one), for skip messages and errors.
std::string cuda_unavailable_reason();
// Waits for the GPU's queued work; nothing when no GPU has been used.
void cuda_synchronize();
// The memory of cuda:0; throws naming the reason when there is no usable GPU.
RawDeviceMemory& cuda_device_memory();

}  // namespace minidl
