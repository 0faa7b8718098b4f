#include "kernels/cpu/embedding.h"

#include <algorithm>

namespace minidl::cpu {

template <typename T>
void embedding_forward(int64_t begin, int64_t end, int64_t dim, T* y, const T* weight, const int64_t* ids) {
  for (int64_t n = begin; n < end; ++n) std::copy_n(weight + ids[n] * dim, dim, y + n * dim);
}

template <typename T>
void embedding_backward(int64_t begin, int64_t end, int64_t count, int64_t dim, T* grad_weight, const T* grad_y,
                        const int64_t* ids) {
  std::fill(grad_weight + begin * dim, grad_weight + end * dim, T(0));
  for (int64_t n = 0; n < count; ++n) {
    if (ids[n] < begin || ids[n] >= end) continue;
    T* gw = grad_weight + ids[n] * dim;
    const T* gy = grad_y + n * dim;
    for (int64_t d = 0; d < dim; ++d) gw[d] += gy[d];
  }
}

template void embedding_forward<float>(int64_t, int64_t, int64_t, float*, const float*, const int64_t*);
template void embedding_forward<double>(int64_t, int64_t, int64_t, double*, const double*, const int64_t*);
template void embedding_backward<float>(int64_t, int64_t, int64_t, int64_t, float*, const float*, const int64_t*);
template void embedding_backward<double>(int64_t, int64_t, int64_t, int64_t, double*, const double*, const int64_t*);

}  // namespace minidl::cpu
