#include "framework/core/indexer.h"

namespace minidl {

StridedIndexer make_indexer(const Tensor& t) {
  StridedIndexer ix;
  // Offsets are relative to data<T>(), which already points at the view's first element.
  ix.base = 0;
  ix.contiguous = t.is_contiguous();
  if (ix.contiguous) return ix;
  // Merge adjacent dimensions that are contiguous with each other, so deep views stay cheap.
  Shape sizes, strides;
  for (int64_t d = 0; d < t.dim(); ++d) {
    if (t.size(d) == 1) continue;
    if (!sizes.empty() && strides.back() == t.strides()[d] * t.size(d)) {
      sizes.back() *= t.size(d);
      strides.back() = t.strides()[d];
    } else {
      sizes.push_back(t.size(d));
      strides.push_back(t.strides()[d]);
    }
  }
  MINIDL_CHECK(sizes.size() <= static_cast<size_t>(kMaxDims), "a view of {} has {} non-mergeable dims: at most {} are supported",
               t.describe(), sizes.size(), kMaxDims);
  ix.ndim = static_cast<int>(sizes.size());
  for (int d = 0; d < ix.ndim; ++d) {
    ix.sizes[d] = sizes[d];
    ix.strides[d] = strides[d];
  }
  return ix;
}

}  // namespace minidl
