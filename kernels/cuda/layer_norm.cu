// LayerNorm over the rows of a contiguous [rows, cols] matrix, forward and the input gradient
// (CPU reference: kernels/cpu/layer_norm.h). A warp or a block serves a row
// (kernels/cuda/row_groups.h) and makes the reference's passes with its expressions; only the
// order of the double sums differs from it.
#include <cstdint>

#include "kernels/cuda/launch.h"
#include "kernels/cuda/row_groups.h"

namespace minidl::MINIDL_CUDA_NS {

#include "kernels/cuda/layer_norm.inc"

namespace {

// Rows no longer than this go a row per warp.
constexpr int64_t kWarpRowMax = 1024;

template <typename T>
struct LayerNormForwardOp {
  int64_t cols;
  double eps;
  T *y, *mean, *rstd;
  const T *x, *weight, *bias;
  template <typename G>
  __device__ void operator()(const G& g, int64_t row) const {
    const T* xr = x + row * cols;
    T* yr = y + row * cols;
    double sum = 0;
    for (int64_t c = g.rank; c < cols; c += g.size()) sum += xr[c];
    const T mu = static_cast<T>(g.allreduce(sum, SumOp{}) / static_cast<double>(cols));
    double squares = 0;
    for (int64_t c = g.rank; c < cols; c += g.size())
      squares += static_cast<double>(xr[c] - mu) * static_cast<double>(xr[c] - mu);
    squares = g.allreduce(squares, SumOp{});
    const T rs = static_cast<T>(1 / sqrt(squares / static_cast<double>(cols) + eps));
    for (int64_t c = g.rank; c < cols; c += g.size()) yr[c] = (xr[c] - mu) * rs * weight[c] + bias[c];
    if (g.rank == 0) {
      mean[row] = mu;
      rstd[row] = rs;
    }
  }
};

template <typename T>
struct LayerNormBackwardOp {
  int64_t cols;
  T* grad_x;
  const T *grad_y, *x, *weight, *mean, *rstd;
  template <typename G>
  __device__ void operator()(const G& g, int64_t row) const {
    const T* xr = x + row * cols;
    const T* gy = grad_y + row * cols;
    T* gx = grad_x + row * cols;
    const T mu = mean[row], rs = rstd[row];
    double sum_g = 0, sum_gx = 0;
    for (int64_t c = g.rank; c < cols; c += g.size()) {
      const T gc = gy[c] * weight[c];
      sum_g += gc;
      sum_gx += static_cast<double>(gc) * static_cast<double>((xr[c] - mu) * rs);
    }
    const T mean_g = static_cast<T>(g.allreduce(sum_g, SumOp{}) / static_cast<double>(cols));
    const T mean_gx = static_cast<T>(g.allreduce(sum_gx, SumOp{}) / static_cast<double>(cols));
    for (int64_t c = g.rank; c < cols; c += g.size()) {
      const T xhat = (xr[c] - mu) * rs;
      gx[c] = rs * (gy[c] * weight[c] - mean_g - xhat * mean_gx);
    }
  }
};

}  // namespace

template <typename T>
void layer_norm_forward(int64_t rows, int64_t cols, double eps, T* y, T* mean, T* rstd, const T* x, const T* weight,
                        const T* bias, Stream stream) {
  if (rows <= 0 || cols <= 0) return;
  launch_rows<T>(kWarpRowMax, "layer_norm_forward_warp", "layer_norm_forward_block", rows, cols,
                 LayerNormForwardOp<T>{cols, eps, y, mean, rstd, x, weight, bias}, stream);
}

template <typename T>
void layer_norm_backward(int64_t rows, int64_t cols, T* grad_x, const T* grad_y, const T* x, const T* weight,
                         const T* mean, const T* rstd, Stream stream) {
  if (rows <= 0 || cols <= 0) return;
  launch_rows<T>(kWarpRowMax, "layer_norm_backward_warp", "layer_norm_backward_block", rows, cols,
                 LayerNormBackwardOp<T>{cols, grad_x, grad_y, x, weight, mean, rstd}, stream);
}

template void layer_norm_forward<float>(int64_t, int64_t, double, float*, float*, float*, const float*, const float*,
                                        const float*, Stream);
template void layer_norm_forward<double>(int64_t, int64_t, double, double*, double*, double*, const double*,
                                         const double*, const double*, Stream);
template void layer_norm_backward<float>(int64_t, int64_t, float*, const float*, const float*, const float*,
                                         const float*, const float*, Stream);
template void layer_norm_backward<double>(int64_t, int64_t, double*, const double*, const double*, const double*,
                                          const double*, const double*, Stream);

}  // namespace minidl::MINIDL_CUDA_NS
