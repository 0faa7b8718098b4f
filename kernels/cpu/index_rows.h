// CPU reference row ops over an i64 index and its groups: gather (embedding lookup, graph
// message gathering), scatter-add by group (their gradients, graph aggregation) and softmax over
// each group (graph attention). A group is the positions k in [ptr[v], ptr[v + 1]) of order,
// the positions of the index holding v in increasing position (framework/ops/ops.h
// IndexGroups). Sums run in that order, so every device can reproduce them bit for bit. Ranges
// of work items let a caller split the work across threads. All arrays are contiguous rows of
// `cols` elements.
#pragma once

#include <cstdint>

namespace minidl::cpu {

// y[i, :] = x[index[i], :] for i in [begin, end); the index is in range (the op checks).
template <typename T>
void gather_rows(int64_t begin, int64_t end, int64_t cols, T* y, const T* x, const int64_t* index);

// For groups v in [begin, end): y[v, :] = the sum of src[order[k], :] over the group's k, added in
// increasing k (0 for an empty group).
template <typename T>
void scatter_add_rows(int64_t begin, int64_t end, int64_t cols, T* y, const T* src, const int64_t* ptr,
                      const int64_t* order);

// For groups v in [begin, end) and each column: softmax of x over the group's rows, like
// cpu::softmax_forward (max subtracted, exp in T, the sum in double).
template <typename T>
void segment_softmax_forward(int64_t begin, int64_t end, int64_t cols, T* y, const T* x, const int64_t* ptr,
                             const int64_t* order);

// grad_x = y * (grad_y - sum over the group of grad_y * y), the dot in double.
template <typename T>
void segment_softmax_backward(int64_t begin, int64_t end, int64_t cols, T* grad_x, const T* grad_y, const T* y,
                              const int64_t* ptr, const int64_t* order);

}  // namespace minidl::cpu
