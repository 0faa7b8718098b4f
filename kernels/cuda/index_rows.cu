// Row ops over an index and its groups (CPU reference and rules: kernels/cpu/index_rows.h).
// Gather is a thread per output element. Scatter-add and segment softmax give each (group,
// column) to one thread, which walks the group's rows in the reference's order: the sums are
// bit-identical to it and deterministic without atomics. Neighbouring threads take neighbouring
// columns of one row, so loads coalesce when rows are wide; a group's length bounds a thread's
// work, which suits graphs of moderate degree.
#include <cstdint>

#include "kernels/cuda/grid_stride.h"
#include "kernels/cuda/launch.h"
#include "kernels/cuda/row_groups.h"

namespace minidl::MINIDL_CUDA_NS {

#include "kernels/cuda/index_rows.inc"

namespace {

template <typename T, typename Index>
__global__ void gather_rows_kernel(int64_t n, int64_t cols, T* y, const T* x, const int64_t* index) {
  for (int64_t i = thread_index(); i < n; i += thread_count()) {
    const int64_t r = index_div<Index>(i, cols);
    y[i] = x[index[r] * cols + (i - r * cols)];
  }
}

template <typename T>
__global__ void scatter_add_rows_kernel(int64_t n, int64_t cols, T* y, const T* src, const int64_t* ptr,
                                        const int64_t* order) {
  for (int64_t i = thread_index(); i < n; i += thread_count()) {
    const int64_t v = i / cols, c = i % cols;
    T sum = 0;
    for (int64_t k = ptr[v]; k < ptr[v + 1]; ++k) sum += src[order[k] * cols + c];
    y[i] = sum;
  }
}

template <typename T>
__global__ void segment_softmax_forward_kernel(int64_t n, int64_t cols, T* y, const T* x, const int64_t* ptr,
                                               const int64_t* order) {
  for (int64_t i = thread_index(); i < n; i += thread_count()) {
    const int64_t v = i / cols, c = i % cols;
    T max = -INFINITY;
    for (int64_t k = ptr[v]; k < ptr[v + 1]; ++k) {
      const T xk = x[order[k] * cols + c];
      max = max < xk ? xk : max;  // std::max's choice, as the reference makes it
    }
    double sum = 0;
    for (int64_t k = ptr[v]; k < ptr[v + 1]; ++k) sum += static_cast<double>(exp_t(x[order[k] * cols + c] - max));
    for (int64_t k = ptr[v]; k < ptr[v + 1]; ++k) {
      const int64_t j = order[k] * cols + c;
      y[j] = static_cast<T>(static_cast<double>(exp_t(x[j] - max)) / sum);
    }
  }
}

template <typename T>
__global__ void segment_softmax_backward_kernel(int64_t n, int64_t cols, T* grad_x, const T* grad_y, const T* y,
                                                const int64_t* ptr, const int64_t* order) {
  for (int64_t i = thread_index(); i < n; i += thread_count()) {
    const int64_t v = i / cols, c = i % cols;
    double dot = 0;
    for (int64_t k = ptr[v]; k < ptr[v + 1]; ++k) dot += grad_y[order[k] * cols + c] * y[order[k] * cols + c];
    for (int64_t k = ptr[v]; k < ptr[v + 1]; ++k) {
      const int64_t j = order[k] * cols + c;
      grad_x[j] = static_cast<T>(y[j] * (grad_y[j] - dot));
    }
  }
}

}  // namespace

template <typename T>
void gather_rows(int64_t count, int64_t cols, T* y, const T* x, const int64_t* index, Stream stream) {
  launch_indexed("gather_rows", [](auto index_type) { return gather_rows_kernel<T, decltype(index_type)>; },
                 count * cols, stream, cols, y, x, index);
}

template <typename T>
void scatter_add_rows(int64_t groups, int64_t cols, T* y, const T* src, const int64_t* ptr, const int64_t* order,
                      Stream stream) {
  launch_n("scatter_add_rows", scatter_add_rows_kernel<T>, groups * cols, stream, cols, y, src, ptr, order);
}

template <typename T>
void segment_softmax_forward(int64_t groups, int64_t cols, T* y, const T* x, const int64_t* ptr, const int64_t* order,
                             Stream stream) {
  launch_n("segment_softmax_forward", segment_softmax_forward_kernel<T>, groups * cols, stream, cols, y, x, ptr,
           order);
}

template <typename T>
void segment_softmax_backward(int64_t groups, int64_t cols, T* grad_x, const T* grad_y, const T* y,
                              const int64_t* ptr, const int64_t* order, Stream stream) {
  launch_n("segment_softmax_backward", segment_softmax_backward_kernel<T>, groups * cols, stream, cols, grad_x,
           grad_y, y, ptr, order);
}

#define MINIDL_INDEX_ROWS(T)                                                                                        \
  template void gather_rows<T>(int64_t, int64_t, T*, const T*, const int64_t*, Stream);                            \
  template void scatter_add_rows<T>(int64_t, int64_t, T*, const T*, const int64_t*, const int64_t*, Stream);        \
  template void segment_softmax_forward<T>(int64_t, int64_t, T*, const T*, const int64_t*, const int64_t*, Stream); \
  template void segment_softmax_backward<T>(int64_t, int64_t, T*, const T*, const T*, const int64_t*,               \
                                            const int64_t*, Stream);
MINIDL_INDEX_ROWS(float)
MINIDL_INDEX_ROWS(double)
#undef MINIDL_INDEX_ROWS

}  // namespace minidl::MINIDL_CUDA_NS
