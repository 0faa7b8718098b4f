// CPU reference reductions over the middle axis of a contiguous [outer, extent, inner] array.
// Rows are the inner = 1 case; a sum over a leading dim (a bias gradient) is outer = 1.
#pragma once

#include <cstdint>

#include "kernels/common/reduce_kind.h"

namespace minidl::cpu {

// out[o, i] = reduce_r x[o, r, i]; sums accumulate in double. Max of an empty extent is -inf.
template <typename T>
void reduce(ReduceKind kind, int64_t outer, int64_t extent, int64_t inner, T* out, const T* x);

// out[r] = index of the first maximum of x[r, :] (NaN counts as the maximum, as in PyTorch).
template <typename T>
void argmax_rows(int64_t rows, int64_t cols, int64_t* out, const T* x);

}  // namespace minidl::cpu
