// CPU reference embedding lookup: rows of a [vocab, dim] table picked by i64 ids, and the table's
// gradient. Ranges of work items let a caller split the work across threads.
#pragma once

#include <cstdint>

namespace minidl::cpu {

// y[n, :] = weight[ids[n], :] for n in [begin, end); ids are in range (the op checks).
template <typename T>
void embedding_forward(int64_t begin, int64_t end, int64_t dim, T* y, const T* weight, const int64_t* ids);

// For table rows v in [begin, end): grad_weight[v, :] = the sum of grad_y[n, :] over the n < count
// with ids[n] == v, added in increasing n (rows no id picks get 0).
template <typename T>
void embedding_backward(int64_t begin, int64_t end, int64_t count, int64_t dim, T* grad_weight, const T* grad_y,
                        const int64_t* ids);

}  // namespace minidl::cpu
