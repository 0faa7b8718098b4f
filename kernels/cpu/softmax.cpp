#include "kernels/cpu/softmax.h"

#include <cmath>
#include <limits>

namespace minidl::cpu {

template <typename T>
void softmax_forward(bool log, int64_t rows, int64_t cols, T* y, const T* x) {
  for (int64_t r = 0; r < rows; ++r) {
    const T* xr = x + r * cols;
    T* yr = y + r * cols;
    T max = -std::numeric_limits<T>::infinity();
    for (int64_t c = 0; c < cols; ++c) max = xr[c] > max ? xr[c] : max;
    double sum = 0;
    if (log) {
      for (int64_t c = 0; c < cols; ++c) sum += static_cast<double>(std::exp(xr[c] - max));
      const T log_sum = static_cast<T>(std::log(sum));
      for (int64_t c = 0; c < cols; ++c) yr[c] = xr[c] - max - log_sum;
    } else {
      // Each exp is computed once and kept in y until the sum is known (x may be y: it is read first).
      for (int64_t c = 0; c < cols; ++c) {
        yr[c] = std::exp(xr[c] - max);
        sum += static_cast<double>(yr[c]);
      }
      for (int64_t c = 0; c < cols; ++c) yr[c] = static_cast<T>(static_cast<double>(yr[c]) / sum);
    }
  }
}

template <typename T>
void softmax_backward(bool log, int64_t rows, int64_t cols, T* grad_x, const T* grad_y, const T* y) {
  for (int64_t r = 0; r < rows; ++r) {
    const T* gy = grad_y + r * cols;
    const T* yr = y + r * cols;
    T* gx = grad_x + r * cols;
    double dot = 0;
    for (int64_t c = 0; c < cols; ++c) dot += log ? gy[c] : gy[c] * yr[c];
    for (int64_t c = 0; c < cols; ++c) {
      gx[c] = log ? static_cast<T>(gy[c] - std::exp(yr[c]) * dot) : static_cast<T>(yr[c] * (gy[c] - dot));
    }
  }
}

template void softmax_forward<float>(bool, int64_t, int64_t, float*, const float*);
template void softmax_forward<double>(bool, int64_t, int64_t, double*, const double*);
template void softmax_backward<float>(bool, int64_t, int64_t, float*, const float*, const float*);
template void softmax_backward<double>(bool, int64_t, int64_t, double*, const double*, const double*);

}  // namespace minidl::cpu
