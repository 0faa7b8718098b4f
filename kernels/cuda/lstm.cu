// The LSTM cell over a batch (CPU reference: kernels/cpu/lstm.h; scalar rules shared through
// kernels/common/lstm_rules.h). A thread per (sample, unit): it reads the unit's four gate
// pre-activations and writes h and c, so one launch replaces the dozen elementwise ops of the
// composed cell and its backward.
#include <cstdint>

#include "kernels/common/lstm_rules.h"
#include "kernels/cuda/grid_stride.h"
#include "kernels/cuda/launch.h"

namespace minidl::MINIDL_CUDA_NS {

#include "kernels/cuda/lstm.inc"

namespace {

template <typename T, typename Index>
__global__ void lstm_cell_forward_kernel(int64_t n, int64_t hidden, T* y, const T* gates, const T* c_prev) {
  for (int64_t k = thread_index(); k < n; k += thread_count()) {
    const int64_t b = index_div<Index>(k, hidden), j = k - b * hidden;
    const T* g = gates + b * 4 * hidden;
    lstm_unit_forward(g[j], g[hidden + j], g[2 * hidden + j], g[3 * hidden + j], c_prev[k], y[b * 2 * hidden + j],
                      y[b * 2 * hidden + hidden + j]);
  }
}

template <typename T, typename Index>
__global__ void lstm_cell_backward_kernel(int64_t n, int64_t hidden, T* grad_gates, T* grad_c_prev, const T* grad_y,
                                          const T* gates, const T* c_prev, const T* y) {
  for (int64_t k = thread_index(); k < n; k += thread_count()) {
    const int64_t b = index_div<Index>(k, hidden), j = k - b * hidden;
    const T* g = gates + b * 4 * hidden;
    T* gg = grad_gates + b * 4 * hidden;
    const int64_t hj = b * 2 * hidden + j, cj = hj + hidden;
    lstm_unit_backward(g[j], g[hidden + j], g[2 * hidden + j], g[3 * hidden + j], c_prev[k], y[cj], grad_y[hj],
                       grad_y[cj], gg[j], gg[hidden + j], gg[2 * hidden + j], gg[3 * hidden + j], grad_c_prev[k]);
  }
}

}  // namespace

template <typename T>
void lstm_cell_forward(int64_t batch, int64_t hidden, T* y, const T* gates, const T* c_prev, Stream stream) {
  launch_indexed("lstm_cell_forward", [](auto index_type) { return lstm_cell_forward_kernel<T, decltype(index_type)>; },
                 batch * hidden, stream, hidden, y, gates, c_prev);
}

template <typename T>
void lstm_cell_backward(int64_t batch, int64_t hidden, T* grad_gates, T* grad_c_prev, const T* grad_y, const T* gates,
                        const T* c_prev, const T* y, Stream stream) {
  launch_indexed("lstm_cell_backward",
                 [](auto index_type) { return lstm_cell_backward_kernel<T, decltype(index_type)>; }, batch * hidden,
                 stream, hidden, grad_gates, grad_c_prev, grad_y, gates, c_prev, y);
}

template void lstm_cell_forward<float>(int64_t, int64_t, float*, const float*, const float*, Stream);
template void lstm_cell_forward<double>(int64_t, int64_t, double*, const double*, const double*, Stream);
template void lstm_cell_backward<float>(int64_t, int64_t, float*, float*, const float*, const float*, const float*,
                                        const float*, Stream);
template void lstm_cell_backward<double>(int64_t, int64_t, double*, double*, const double*, const double*,
                                         const double*, const double*, Stream);

}  // namespace minidl::MINIDL_CUDA_NS
