#include "kernels/cpu/lstm.h"

#include "kernels/common/lstm_rules.h"

namespace minidl::cpu {

template <typename T>
void lstm_cell_forward(int64_t begin, int64_t end, int64_t hidden, T* y, const T* gates, const T* c_prev) {
  for (int64_t b = begin; b < end; ++b) {
    const T* g = gates + b * 4 * hidden;
    for (int64_t j = 0; j < hidden; ++j)
      lstm_unit_forward(g[j], g[hidden + j], g[2 * hidden + j], g[3 * hidden + j], c_prev[b * hidden + j],
                        y[b * 2 * hidden + j], y[b * 2 * hidden + hidden + j]);
  }
}

template <typename T>
void lstm_cell_backward(int64_t begin, int64_t end, int64_t hidden, T* grad_gates, T* grad_c_prev, const T* grad_y,
                        const T* gates, const T* c_prev, const T* y) {
  for (int64_t b = begin; b < end; ++b) {
    const T* g = gates + b * 4 * hidden;
    T* gg = grad_gates + b * 4 * hidden;
    for (int64_t j = 0; j < hidden; ++j) {
      const int64_t hj = b * 2 * hidden + j, cj = hj + hidden;
      lstm_unit_backward(g[j], g[hidden + j], g[2 * hidden + j], g[3 * hidden + j], c_prev[b * hidden + j], y[cj],
                         grad_y[hj], grad_y[cj], gg[j], gg[hidden + j], gg[2 * hidden + j], gg[3 * hidden + j],
                         grad_c_prev[b * hidden + j]);
    }
  }
}

template void lstm_cell_forward<float>(int64_t, int64_t, int64_t, float*, const float*, const float*);
template void lstm_cell_forward<double>(int64_t, int64_t, int64_t, double*, const double*, const double*);
template void lstm_cell_backward<float>(int64_t, int64_t, int64_t, float*, float*, const float*, const float*,
                                        const float*, const float*);
template void lstm_cell_backward<double>(int64_t, int64_t, int64_t, double*, double*, const double*, const double*,
                                         const double*, const double*);

}  // namespace minidl::cpu
