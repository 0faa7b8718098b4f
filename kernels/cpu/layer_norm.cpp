#include "kernels/cpu/layer_norm.h"

#include <cmath>

namespace minidl::cpu {

template <typename T>
void layer_norm_forward(int64_t begin, int64_t end, int64_t cols, double eps, T* y, T* mean, T* rstd, const T* x,
                        const T* weight, const T* bias) {
  for (int64_t r = begin; r < end; ++r) {
    const T* xr = x + r * cols;
    T* yr = y + r * cols;
    double sum = 0;
    for (int64_t c = 0; c < cols; ++c) sum += xr[c];
    const T mu = static_cast<T>(sum / static_cast<double>(cols));
    double squares = 0;
    for (int64_t c = 0; c < cols; ++c) squares += static_cast<double>(xr[c] - mu) * static_cast<double>(xr[c] - mu);
    const T rs = static_cast<T>(1 / std::sqrt(squares / static_cast<double>(cols) + eps));
    for (int64_t c = 0; c < cols; ++c) yr[c] = (xr[c] - mu) * rs * weight[c] + bias[c];
    mean[r] = mu;
    rstd[r] = rs;
  }
}

template <typename T>
void layer_norm_backward(int64_t begin, int64_t end, int64_t cols, T* grad_x, const T* grad_y, const T* x,
                         const T* weight, const T* mean, const T* rstd) {
  for (int64_t r = begin; r < end; ++r) {
    const T* xr = x + r * cols;
    const T* gy = grad_y + r * cols;
    T* gx = grad_x + r * cols;
    double sum_g = 0, sum_gx = 0;
    for (int64_t c = 0; c < cols; ++c) {
      const T g = gy[c] * weight[c];
      sum_g += g;
      sum_gx += static_cast<double>(g) * static_cast<double>((xr[c] - mean[r]) * rstd[r]);
    }
    const T mean_g = static_cast<T>(sum_g / static_cast<double>(cols));
    const T mean_gx = static_cast<T>(sum_gx / static_cast<double>(cols));
    for (int64_t c = 0; c < cols; ++c) {
      const T xhat = (xr[c] - mean[r]) * rstd[r];
      gx[c] = rstd[r] * (gy[c] * weight[c] - mean_g - xhat * mean_gx);
    }
  }
}

template void layer_norm_forward<float>(int64_t, int64_t, int64_t, double, float*, float*, float*, const float*,
                                        const float*, const float*);
template void layer_norm_forward<double>(int64_t, int64_t, int64_t, double, double*, double*, double*, const double*,
                                         const double*, const double*);
template void layer_norm_backward<float>(int64_t, int64_t, int64_t, float*, const float*, const float*, const float*,
                                         const float*, const float*);
template void layer_norm_backward<double>(int64_t, int64_t, int64_t, double*, const double*, const double*,
                                          const double*, const double*, const double*);

}  // namespace minidl::cpu
