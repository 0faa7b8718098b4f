#include "kernels/cpu/loss.h"

#include <cmath>
#include <limits>

namespace minidl::cpu {

template <typename T>
void cross_entropy_forward(int64_t rows, int64_t classes, const T* logits, const int64_t* target, T* row_lse,
                           T* loss) {
  double total = 0;
  for (int64_t r = 0; r < rows; ++r) {
    const T* x = logits + r * classes;
    T max = -std::numeric_limits<T>::infinity();
    for (int64_t c = 0; c < classes; ++c) max = x[c] > max ? x[c] : max;
    double sum = 0;
    for (int64_t c = 0; c < classes; ++c) sum += static_cast<double>(std::exp(x[c] - max));
    const double lse = max + std::log(sum);
    row_lse[r] = static_cast<T>(lse);
    total += lse - x[target[r]];
  }
  *loss = static_cast<T>(rows > 0 ? total / static_cast<double>(rows) : std::numeric_limits<double>::quiet_NaN());
}

template <typename T>
void cross_entropy_backward(int64_t rows, int64_t classes, const T* logits, const int64_t* target,
                            const T* row_lse, T grad_loss, T* grad_logits) {
  const T scale = grad_loss / static_cast<T>(rows);
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t c = 0; c < classes; ++c) {
      const T p = std::exp(logits[r * classes + c] - row_lse[r]);
      grad_logits[r * classes + c] = scale * (p - (c == target[r] ? T(1) : T(0)));
    }
  }
}

template void cross_entropy_forward<float>(int64_t, int64_t, const float*, const int64_t*, float*, float*);
template void cross_entropy_forward<double>(int64_t, int64_t, const double*, const int64_t*, double*, double*);
template void cross_entropy_backward<float>(int64_t, int64_t, const float*, const int64_t*, const float*, float,
                                            float*);
template void cross_entropy_backward<double>(int64_t, int64_t, const double*, const int64_t*, const double*,
                                             double, double*);

}  // namespace minidl::cpu
