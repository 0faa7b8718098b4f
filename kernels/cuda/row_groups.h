// Row kernels: a group of threads serves one row of a contiguous [rows, cols] matrix — a warp for
// short rows (lanes stride over the row, shuffles combine), a block for long rows (warps, then one
// shared slot per warp) — and groups loop grid-stride over the rows. A row op is a functor
// op(group, row) written once for both group kinds (softmax.cu, layer_norm.cu, attention.cu).
#pragma once

#include <cstdint>

#include "kernels/cuda/block_reduce.h"
#include "kernels/cuda/launch.h"

namespace minidl::MINIDL_CUDA_NS {

// exp and log in T, as std::exp(T) and std::log(T) in the CPU references of the row ops.
__device__ inline float exp_t(float x) { return expf(x); }
__device__ inline double exp_t(double x) { return exp(x); }
__device__ inline float log_t(float x) { return logf(x); }
__device__ inline double log_t(double x) { return log(x); }

// A warp serving one row: lanes 0..31.
struct WarpGroup {
  unsigned rank;
  template <typename V, typename Op>
  __device__ V allreduce(V v, Op op) const {
    return warp_allreduce(v, op);
  }
  __device__ unsigned size() const { return 32; }
};

// A block serving one row; scratch: 32 shared slots for each accumulator type.
template <typename T>
struct BlockGroup {
  unsigned rank;
  unsigned threads;
  T* scratch_t;
  double* scratch_d;
  __device__ T allreduce(T v, PlainMaxOp op) const { return block_allreduce(v, op, scratch_t); }
  __device__ double allreduce(double v, SumOp op) const { return block_allreduce(v, op, scratch_d); }
  __device__ unsigned size() const { return threads; }
};

// The max of a row's first cols elements (PlainMaxOp: exact in any order) and the double sum of
// exp(x - max) over them: the first passes of softmax, cross-entropy and attention. x is stored as
// S (T, or bf16 read as T = float).
template <typename T, typename S, typename G>
__device__ void row_max_and_sum(const G& g, int64_t cols, const S* x, T neg_inf, T& max_out, double& sum_out) {
  T mx = neg_inf;
  for (int64_t c = g.rank; c < cols; c += g.size()) mx = T(x[c]) > mx ? T(x[c]) : mx;
  mx = g.allreduce(mx, PlainMaxOp{});
  double sum = 0;
  for (int64_t c = g.rank; c < cols; c += g.size()) sum += static_cast<double>(exp_t(T(x[c]) - mx));
  sum_out = g.allreduce(sum, SumOp{});
  max_out = mx;
}

// A row per warp, grid-stride over rows (warp-uniform loop).
template <typename Op>
__global__ void rows_warp_kernel(int64_t rows, Op op) {
  const int64_t warps = blockDim.x / 32;
  const WarpGroup g{threadIdx.x % 32};
  for (int64_t row = int64_t{blockIdx.x} * warps + threadIdx.x / 32; row < rows; row += int64_t{gridDim.x} * warps)
    op(g, row);
}

// A row per block, grid-stride over rows (block-uniform loop).
template <typename T, typename Op>
__global__ void rows_block_kernel(int64_t rows, Op op) {
  MINIDL_SHARED(T, scratch_t, 32);
  MINIDL_SHARED(double, scratch_d, 32);
  const BlockGroup<T> g{threadIdx.x, blockDim.x, scratch_t, scratch_d};
  for (int64_t row = blockIdx.x; row < rows; row += gridDim.x) op(g, row);
}

// Runs op on every row: a warp per row for rows up to warp_row_max long, else a block per row.
template <typename T, typename Op>
void launch_rows(int64_t warp_row_max, KernelName name_warp, KernelName name_block, int64_t rows, int64_t cols, Op op,
                 Stream stream) {
  const unsigned threads = reduction_threads();
  if (cols <= warp_row_max) {
    launch(name_warp, rows_warp_kernel<Op>, dim3(reduction_blocks(rows, threads / 32)), dim3(threads), 0, stream, rows,
           op);
  } else {
    launch(name_block, rows_block_kernel<T, Op>, dim3(reduction_blocks(rows, 1)), dim3(threads), 0, stream, rows, op);
  }
}

}  // namespace minidl::MINIDL_CUDA_NS
