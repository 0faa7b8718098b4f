#include "kernels/cpu/index_rows.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

namespace minidl::cpu {

template <typename T>
void gather_rows(int64_t begin, int64_t end, int64_t cols, T* y, const T* x, const int64_t* index) {
  for (int64_t i = begin; i < end; ++i) std::copy_n(x + index[i] * cols, cols, y + i * cols);
}

template <typename T>
void scatter_add_rows(int64_t begin, int64_t end, int64_t cols, T* y, const T* src, const int64_t* ptr,
                      const int64_t* order) {
  for (int64_t v = begin; v < end; ++v) {
    T* yv = y + v * cols;
    std::fill_n(yv, cols, T(0));
    for (int64_t k = ptr[v]; k < ptr[v + 1]; ++k) {
      const T* s = src + order[k] * cols;
      for (int64_t c = 0; c < cols; ++c) yv[c] += s[c];
    }
  }
}

template <typename T>
void segment_softmax_forward(int64_t begin, int64_t end, int64_t cols, T* y, const T* x, const int64_t* ptr,
                             const int64_t* order) {
  std::vector<T> max(static_cast<size_t>(cols));
  std::vector<double> sum(static_cast<size_t>(cols));
  for (int64_t v = begin; v < end; ++v) {
    std::fill(max.begin(), max.end(), -std::numeric_limits<T>::infinity());
    std::fill(sum.begin(), sum.end(), 0.0);
    for (int64_t k = ptr[v]; k < ptr[v + 1]; ++k)
      for (int64_t c = 0; c < cols; ++c) max[c] = std::max(max[c], x[order[k] * cols + c]);
    for (int64_t k = ptr[v]; k < ptr[v + 1]; ++k)
      for (int64_t c = 0; c < cols; ++c) sum[c] += static_cast<double>(std::exp(x[order[k] * cols + c] - max[c]));
    for (int64_t k = ptr[v]; k < ptr[v + 1]; ++k)
      for (int64_t c = 0; c < cols; ++c) {
        const int64_t i = order[k] * cols + c;
        y[i] = static_cast<T>(static_cast<double>(std::exp(x[i] - max[c])) / sum[c]);
      }
  }
}

template <typename T>
void segment_softmax_backward(int64_t begin, int64_t end, int64_t cols, T* grad_x, const T* grad_y, const T* y,
                              const int64_t* ptr, const int64_t* order) {
  std::vector<double> dot(static_cast<size_t>(cols));
  for (int64_t v = begin; v < end; ++v) {
    std::fill(dot.begin(), dot.end(), 0.0);
    for (int64_t k = ptr[v]; k < ptr[v + 1]; ++k)
      for (int64_t c = 0; c < cols; ++c) dot[c] += grad_y[order[k] * cols + c] * y[order[k] * cols + c];
    for (int64_t k = ptr[v]; k < ptr[v + 1]; ++k)
      for (int64_t c = 0; c < cols; ++c) {
        const int64_t i = order[k] * cols + c;
        grad_x[i] = static_cast<T>(y[i] * (grad_y[i] - dot[c]));
      }
  }
}

#define MINIDL_INDEX_ROWS(T)                                                                                     \
  template void gather_rows<T>(int64_t, int64_t, int64_t, T*, const T*, const int64_t*);                         \
  template void scatter_add_rows<T>(int64_t, int64_t, int64_t, T*, const T*, const int64_t*, const int64_t*);    \
  template void segment_softmax_forward<T>(int64_t, int64_t, int64_t, T*, const T*, const int64_t*,              \
                                           const int64_t*);                                                      \
  template void segment_softmax_backward<T>(int64_t, int64_t, int64_t, T*, const T*, const T*, const int64_t*,   \
                                            const int64_t*);
MINIDL_INDEX_ROWS(float)
MINIDL_INDEX_ROWS(double)
#undef MINIDL_INDEX_ROWS

}  // namespace minidl::cpu
