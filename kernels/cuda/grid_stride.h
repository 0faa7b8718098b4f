// The grid-stride loop's indices: this thread's global index and the number of threads in the
// grid. Kernels loop `for (i = thread_index(); i < n; i += thread_count())` so that any grid size
// covers any n.
#pragma once

#include <cstdint>

#include "kernels/common/host_device.h"
#include "kernels/cuda/device.h"

namespace minidl::MINIDL_CUDA_NS {

__device__ FW_INLINE int64_t thread_index() { return int64_t{blockIdx.x} * blockDim.x + threadIdx.x; }
__device__ FW_INLINE int64_t thread_count() { return int64_t{gridDim.x} * blockDim.x; }

}  // namespace minidl::MINIDL_CUDA_NS
