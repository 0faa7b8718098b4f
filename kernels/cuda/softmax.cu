// Softmax / log-softmax over the rows of a contiguous [rows, cols] matrix, their backward rules,
// and cross-entropy over class indices (CPU references: kernels/cpu/softmax.h, kernels/cpu/loss.h).
//
// A row is served by a group of threads: a warp for short rows (lanes stride over the row,
// shuffles combine), a block for long rows (warps, then one shared slot per warp); groups loop
// grid-stride over the rows. Each row makes the reference's passes: the max (in T, NaNs never
// win, so it is exact in any order), the sum of exp(x - max) (exp in T, as the reference: a
// double exp per element made the f32 kernels compute-bound) accumulated in double, then the
// outputs with the reference's expressions; only the order of the double sums differs from it
// (and, on a GPU, expf's last bit).
//
// Cross-entropy forward is deterministic without atomics: the row kernel writes row_lse, then
// one block of a fixed size sums row_lse[r] - logits[r, target[r]] in double in a fixed order
// and writes the mean. Each of its threads keeps kLossLanes partial sums over interleaved rows, so
// that many rows' gathers are in flight at once (one accumulator made the sum a chain of
// dependent loads, most of the op's time on an H200). (The reference subtracts the unrounded
// double lse; here the loss is consistent with the stored row_lse, which backward uses too: for
// float that differs by at most 2^-24 * mean |row_lse|.) Backward is elementwise.
#include <cstdint>
#include <limits>

#include "kernels/cuda/block_reduce.h"
#include "kernels/cuda/grid_stride.h"
#include "kernels/cuda/launch.h"
#include "kernels/cuda/row_groups.h"

namespace minidl::MINIDL_CUDA_NS {

#include "kernels/cuda/softmax.inc"

namespace {

// Rows no longer than this go a row per warp: up to 32 elements a lane and no block barriers. At
// 1024 columns the block path reached 33% of copy bandwidth on an H200, layer_norm's warp path 71%.
constexpr int64_t kWarpRowMax = 1024;
// The block size and partial sums per thread of the loss sum: fixed, so the loss does not depend
// on the launch policy.
constexpr unsigned kLossThreads = 1024;
constexpr int kLossLanes = 4;

template <typename T, typename G>
__device__ void softmax_row(const G& g, bool log_softmax, int64_t cols, T* y, const T* x, T neg_inf) {
  T mx;
  double sum;
  row_max_and_sum(g, cols, x, neg_inf, mx, sum);
  if (log_softmax) {
    const T log_sum = static_cast<T>(log(sum));
    for (int64_t c = g.rank; c < cols; c += g.size()) y[c] = x[c] - mx - log_sum;
  } else {
    for (int64_t c = g.rank; c < cols; c += g.size()) y[c] = static_cast<T>(static_cast<double>(exp_t(x[c] - mx)) / sum);
  }
}

template <typename T, typename G>
__device__ void softmax_backward_row(const G& g, bool log_softmax, int64_t cols, T* gx, const T* gy, const T* y) {
  double dot = 0;
  for (int64_t c = g.rank; c < cols; c += g.size()) dot += log_softmax ? gy[c] : gy[c] * y[c];
  dot = g.allreduce(dot, SumOp{});
  for (int64_t c = g.rank; c < cols; c += g.size()) {
    gx[c] = log_softmax ? static_cast<T>(gy[c] - exp_t(y[c]) * dot) : static_cast<T>(y[c] * (gy[c] - dot));
  }
}

template <typename T, typename G>
__device__ void cross_entropy_row(const G& g, int64_t classes, const T* logits, T* lse_out, T neg_inf) {
  T mx;
  double sum;
  row_max_and_sum(g, classes, logits, neg_inf, mx, sum);
  const double lse = mx + log(sum);
  if (g.rank == 0) *lse_out = static_cast<T>(lse);
}

// What each row op needs besides the row pointers. Kernels call op(group, row).
template <typename T>
struct SoftmaxForwardOp {
  bool log_softmax;
  int64_t cols;
  T* y;
  const T* x;
  T neg_inf;
  template <typename G>
  __device__ void operator()(const G& g, int64_t row) const {
    softmax_row(g, log_softmax, cols, y + row * cols, x + row * cols, neg_inf);
  }
};

template <typename T>
struct SoftmaxBackwardOp {
  bool log_softmax;
  int64_t cols;
  T* grad_x;
  const T* grad_y;
  const T* y;
  template <typename G>
  __device__ void operator()(const G& g, int64_t row) const {
    softmax_backward_row(g, log_softmax, cols, grad_x + row * cols, grad_y + row * cols, y + row * cols);
  }
};

template <typename T>
struct CrossEntropyRowOp {
  int64_t classes;
  const T* logits;
  T* row_lse;
  T neg_inf;
  template <typename G>
  __device__ void operator()(const G& g, int64_t row) const {
    cross_entropy_row(g, classes, logits + row * classes, row_lse + row, neg_inf);
  }
};

// One block of kLossThreads: loss = mean_r(row_lse[r] - logits[r, target[r]]), NaN for no rows.
template <typename T>
__global__ void cross_entropy_loss_kernel(int64_t rows, int64_t classes, const T* logits, const int64_t* target,
                                          const T* row_lse, T* loss, T nan) {
  MINIDL_SHARED(double, scratch, 32);
  double partial[kLossLanes] = {};
  const int64_t stride = int64_t{blockDim.x} * kLossLanes;
  for (int64_t r0 = threadIdx.x; r0 < rows; r0 += stride) {
    for (int lane = 0; lane < kLossLanes; ++lane) {
      const int64_t r = r0 + lane * int64_t{blockDim.x};
      if (r < rows)
        partial[lane] += static_cast<double>(row_lse[r]) - static_cast<double>(logits[r * classes + target[r]]);
    }
  }
  double total = 0;
  for (int lane = 0; lane < kLossLanes; ++lane) total += partial[lane];
  total = block_allreduce(total, SumOp{}, scratch);
  if (threadIdx.x == 0) *loss = rows > 0 ? static_cast<T>(total / static_cast<double>(rows)) : nan;
}

template <typename T, typename Index>
__global__ void cross_entropy_backward_kernel(int64_t n, int64_t rows, int64_t classes, const T* logits,
                                              const int64_t* target, const T* row_lse, const T* grad_loss,
                                              T* grad_logits) {
  const T scale = *grad_loss / static_cast<T>(rows);
  for (int64_t i = thread_index(); i < n; i += thread_count()) {
    const int64_t r = index_div<Index>(i, classes), c = i - r * classes;
    const T p = exp_t(logits[i] - row_lse[r]);
    grad_logits[i] = scale * (p - (c == target[r] ? T(1) : T(0)));
  }
}

}  // namespace

template <typename T>
void softmax_forward(bool log, int64_t rows, int64_t cols, T* y, const T* x, Stream stream) {
  if (rows <= 0 || cols <= 0) return;
  launch_rows<T>(kWarpRowMax, "softmax_forward_warp", "softmax_forward_block", rows, cols,
                 SoftmaxForwardOp<T>{log, cols, y, x, -std::numeric_limits<T>::infinity()}, stream);
}

template <typename T>
void softmax_backward(bool log, int64_t rows, int64_t cols, T* grad_x, const T* grad_y, const T* y, Stream stream) {
  if (rows <= 0 || cols <= 0) return;
  launch_rows<T>(kWarpRowMax, "softmax_backward_warp", "softmax_backward_block", rows, cols,
                 SoftmaxBackwardOp<T>{log, cols, grad_x, grad_y, y}, stream);
}

template <typename T>
void cross_entropy_forward(int64_t rows, int64_t classes, const T* logits, const int64_t* target, T* row_lse, T* loss,
                           Stream stream) {
  if (rows > 0) {
    launch_rows<T>(kWarpRowMax, "cross_entropy_lse_warp", "cross_entropy_lse_block", rows, classes,
                   CrossEntropyRowOp<T>{classes, logits, row_lse, -std::numeric_limits<T>::infinity()}, stream);
  }
  // Always runs: with no rows it writes the reference's NaN.
  launch("cross_entropy_loss", cross_entropy_loss_kernel<T>, dim3(1), dim3(kLossThreads), 0, stream, rows, classes,
         logits, target, row_lse, loss, std::numeric_limits<T>::quiet_NaN());
}

template <typename T>
void cross_entropy_backward(int64_t rows, int64_t classes, const T* logits, const int64_t* target, const T* row_lse,
                            const T* grad_loss, T* grad_logits, Stream stream) {
  launch_indexed("cross_entropy_backward",
                 [](auto index_type) { return cross_entropy_backward_kernel<T, decltype(index_type)>; },
                 rows * classes, stream, rows, classes, logits, target, row_lse, grad_loss, grad_logits);
}

template void softmax_forward<float>(bool, int64_t, int64_t, float*, const float*, Stream);
template void softmax_forward<double>(bool, int64_t, int64_t, double*, const double*, Stream);
template void softmax_backward<float>(bool, int64_t, int64_t, float*, const float*, const float*, Stream);
template void softmax_backward<double>(bool, int64_t, int64_t, double*, const double*, const double*, Stream);
template void cross_entropy_forward<float>(int64_t, int64_t, const float*, const int64_t*, float*, float*, Stream);
template void cross_entropy_forward<double>(int64_t, int64_t, const double*, const int64_t*, double*, double*, Stream);
template void cross_entropy_backward<float>(int64_t, int64_t, const float*, const int64_t*, const float*, const float*,
                                            float*, Stream);
template void cross_entropy_backward<double>(int64_t, int64_t, const double*, const int64_t*, const double*,
                                             const double*, double*, Stream);

}  // namespace minidl::MINIDL_CUDA_NS
