// Maps the linear index of an element of a logical shape to the storage offset of a strided
// view of that shape (stride 0 for broadcast dimensions). Shared by CPU and CUDA kernels so
// that non-contiguous and broadcast operands never need a copy.
#pragma once

#include <cstdint>

#include "kernels/common/host_device.h"

namespace minidl {

constexpr int kMaxDims = 8;

struct StridedIndexer {
  int ndim = 0;
  int64_t sizes[kMaxDims] = {};
  int64_t strides[kMaxDims] = {};
  int64_t base = 0;
  bool contiguous = true;  // element i lives at base + i

  // Elements [k * run, (k + 1) * run) of the innermost dim sit `inner_stride()` apart, for the
  // run = inner_size(); a contiguous view is one run.
  FW_HOST_DEVICE FW_INLINE int64_t inner_size(int64_t n) const {
    return contiguous || ndim == 0 ? n : sizes[ndim - 1];
  }
  FW_HOST_DEVICE FW_INLINE int64_t inner_stride() const { return contiguous || ndim == 0 ? 1 : strides[ndim - 1]; }

  FW_HOST_DEVICE FW_INLINE int64_t offset(int64_t linear) const {
    if (contiguous) return base + linear;
    int64_t off = base;
    for (int d = ndim - 1; d >= 0; --d) {
      const int64_t idx = linear % sizes[d];
      linear /= sizes[d];
      off += idx * strides[d];
    }
    return off;
  }
};

}  // namespace minidl
