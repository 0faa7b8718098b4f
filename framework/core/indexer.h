// Builds the kernels' StridedIndexer for a tensor view.
#pragma once

#include "framework/core/tensor.h"
#include "kernels/common/strided.h"

namespace minidl {

// Indexes t's elements in row-major order of its shape (offset relative to t's storage base).
StridedIndexer make_indexer(const Tensor& t);

}  // namespace minidl
