// Warp- and block-wide reductions shared by the row kernels (reduce.cu, softmax.cu): a butterfly
// of full-mask shuffles inside a warp, then one shared slot per warp that every thread reads back
// in warp order. For a given block size the combination order is fixed, so results are
// deterministic; blockDim.x must be a multiple of 32 (reduction_threads() gives such a size).
#pragma once

#include <algorithm>
#include <cstdint>

#include "kernels/cuda/launch.h"

namespace minidl::MINIDL_CUDA_NS {

inline constexpr unsigned kFullWarpMask = 0xffffffffu;

struct SumOp {
  template <typename V>
  __device__ V operator()(V a, V b) const {
    return a + b;
  }
};

// The CPU reference's max: a NaN, once seen, wins (v > m || isnan(v)).
struct NanMaxOp {
  template <typename V>
  __device__ V operator()(V a, V b) const {
    return (b > a || b != b) ? b : a;
  }
};

// The CPU softmax's max (v > m ? v : m): NaNs never win, so partial maxima are never NaN and the
// combination is exact in any order.
struct PlainMaxOp {
  template <typename V>
  __device__ V operator()(V a, V b) const {
    return b > a ? b : a;
  }
};

// All 32 lanes must call it; every lane gets the result (commutative ops give every lane the
// same bits).
template <typename V, typename Op>
__device__ V warp_allreduce(V v, Op op) {
  for (int offset = 16; offset > 0; offset /= 2) v = op(v, __shfl_xor_sync(kFullWarpMask, v, offset));
  return v;
}

// Every thread of the (1-D) block must call it; every thread gets the result. scratch: 32 shared
// slots of V, free again when it returns.
template <typename V, typename Op>
__device__ V block_allreduce(V v, Op op, V* scratch) {
  const unsigned warps = blockDim.x / 32;
  v = warp_allreduce(v, op);
  if (threadIdx.x % 32 == 0) scratch[threadIdx.x / 32] = v;
  __syncthreads();
  V total = scratch[0];
  for (unsigned w = 1; w < warps; ++w) total = op(total, scratch[w]);
  __syncthreads();
  return total;
}

// The block size of reduction kernels: launch_policy().block rounded up to whole warps.
inline unsigned reduction_threads() { return std::clamp((launch_policy().block + 31u) / 32u * 32u, 32u, 1024u); }

// Blocks for `items` work items at `per_block` items a block, capped at launch_policy().max_blocks.
inline unsigned reduction_blocks(int64_t items, int64_t per_block) {
  return static_cast<unsigned>(
      std::clamp<int64_t>((items + per_block - 1) / per_block, 1, std::max(1u, launch_policy().max_blocks)));
}

}  // namespace minidl::MINIDL_CUDA_NS
