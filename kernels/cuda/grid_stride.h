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

// An element index's quotient and remainder by a size, in Index arithmetic: uint32_t where the
// kernel's n, which bounds both, fits (a 64-bit division is a long software routine on a GPU, a
// 32-bit one a few instructions), int64_t otherwise. launch_indexed (launch.h) picks Index.
template <typename Index>
__device__ FW_INLINE int64_t index_div(int64_t i, int64_t size) {
  return static_cast<int64_t>(static_cast<Index>(i) / static_cast<Index>(size));
}
template <typename Index>
__device__ FW_INLINE int64_t index_mod(int64_t i, int64_t size) {
  return static_cast<int64_t>(static_cast<Index>(i) % static_cast<Index>(size));
}

// Element i of a contiguous [planes, height, width] array as (plane, y, x), with two divisions.
struct PlanePosition {
  int64_t plane, y, x;
};
template <typename Index>
__device__ FW_INLINE PlanePosition plane_position(int64_t i, int64_t height, int64_t width) {
  const int64_t row = index_div<Index>(i, width), plane = index_div<Index>(row, height);
  return {plane, row - plane * height, i - row * width};
}

}  // namespace minidl::MINIDL_CUDA_NS
