// CPU reference kernels for elementwise work: plain loops over strided operands. Each processes
// elements [begin, end) of whole arrays, so a caller may split the range across threads.
#pragma once

#include <cstdint>

#include "kernels/common/bfloat16.h"
#include "kernels/common/strided.h"
#include "kernels/common/unary.h"

namespace minidl::cpu {

// out[i] = unary(x[i]); out is contiguous, x any strided view of the same shape.
template <typename T>
void unary_forward(UnaryKind kind, int64_t begin, int64_t end, T* out, const T* x, const StridedIndexer& ix);

// grad_x[i] = grad_y[i] * unary'(x[i]), all contiguous.
template <typename T>
void unary_backward(UnaryKind kind, int64_t begin, int64_t end, T* grad_x, const T* grad_y, const T* x, const T* y);

// out[i] = binary(a[i], b[i]); a and b are views broadcast to out's shape.
template <typename T>
void binary_forward(BinaryKind kind, int64_t begin, int64_t end, T* out, const T* a, const StridedIndexer& ia,
                    const T* b, const StridedIndexer& ib);

// dst[id(i)] = static_cast<D>(src[is(i)]): copies, casts, and makes views contiguous.
template <typename D, typename S>
void copy_cast(int64_t begin, int64_t end, D* dst, const StridedIndexer& id, const S* src, const StridedIndexer& is);

// dst[id(i)] = (src[is(i)] != 0): the cast to bool, stored as one byte.
template <typename S>
void copy_to_bool(int64_t begin, int64_t end, uint8_t* dst, const StridedIndexer& id, const S* src, const StridedIndexer& is);

template <typename T>
void fill(int64_t n, T* out, T value);

}  // namespace minidl::cpu
