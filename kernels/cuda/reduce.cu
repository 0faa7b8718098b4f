// Reductions over the middle axis of a contiguous [outer, extent, inner] array, and row argmax
// (CPU references: kernels/cpu/reduce.h).
//
// inner == 1 (row reductions): short rows go a row per warp (lanes stride over the row, a shuffle
// butterfly combines), long rows a row per block (warps first, then one shared slot per warp);
// both loop grid-stride over the rows. inner > 1: a block serves a tile of w <= 32 adjacent output
// columns of one o, threadIdx.x picking the column (coalesced reads along inner) and threadIdx.y
// striding over the extent, then a tree over y in shared memory combines; blocks loop over tiles.
// Where that leaves too few tiles to fill the GPU (a bias gradient: 4096 rows, 128 columns), the
// extent splits into chunks, a tile per (columns, chunk), and a second pass combines the chunks'
// partials from scratch memory (reduce_scratch_size).
//
// Sum and Mean accumulate in double (for float, double and bf16 input) and round once, as the CPU
// reference does, so only the order of the double sum differs from it. bf16 (GPU only) is compared
// and shuffled as float. Max is exact in any
// order, a NaN anywhere giving NaN (NanMaxOp). Argmax keeps (value, index) candidates under a
// total order (NaN first, then larger value, then smaller index), so it matches the reference's
// "first maximum, NaN counts as maximum" exactly, whatever the launch configuration.
#include <algorithm>
#include <cstdint>
#include <limits>

#include "kernels/common/bfloat16.h"
#include "kernels/common/host_device.h"
#include "kernels/common/reduce_kind.h"
#include "kernels/cuda/block_reduce.h"
#include "kernels/cuda/launch.h"

namespace minidl::MINIDL_CUDA_NS {

#include "kernels/cuda/reduce.inc"

namespace {

// Rows no longer than this go a row per warp (as softmax.cu: at 1024 the block path reached 42% of
// copy bandwidth on an H200, layer_norm's warp path 71%).
constexpr int64_t kWarpRowMax = 1024;

// Sum and Mean: double accumulator, rounded once after scaling (scale = 1 for Sum, 1/extent for
// Mean, as the CPU reference computes it).
template <typename T>
struct SumReduce {
  using Acc = double;
  using Op = SumOp;
  __device__ static T finish(Acc acc, double scale) { return T(acc * scale); }
};

template <typename T>
struct MaxReduce {
  using Acc = compute_t<T>;
  using Op = NanMaxOp;
  __device__ static T finish(Acc acc, double) { return T(acc); }
};

template <typename T, typename R>
__global__ void reduce_rows_warp_kernel(int64_t rows, int64_t extent, typename R::Acc init, double scale, T* out,
                                        const T* x) {
  using Acc = typename R::Acc;
  const int64_t warps = blockDim.x / 32;
  const int64_t lane = threadIdx.x % 32;
  // The row is the same for the 32 lanes of a warp, so the loop (and its shuffles) is warp-uniform.
  for (int64_t row = int64_t{blockIdx.x} * warps + threadIdx.x / 32; row < rows; row += int64_t{gridDim.x} * warps) {
    const T* xr = x + row * extent;
    Acc acc = init;
    for (int64_t c = lane; c < extent; c += 32) acc = typename R::Op{}(acc, static_cast<Acc>(xr[c]));
    acc = warp_allreduce(acc, typename R::Op{});
    if (lane == 0) out[row] = R::finish(acc, scale);
  }
}

template <typename T, typename R>
__global__ void reduce_rows_block_kernel(int64_t rows, int64_t extent, typename R::Acc init, double scale, T* out,
                                         const T* x) {
  using Acc = typename R::Acc;
  MINIDL_SHARED(Acc, scratch, 32);
  for (int64_t row = blockIdx.x; row < rows; row += gridDim.x) {  // block-uniform
    const T* xr = x + row * extent;
    Acc acc = init;
    for (int64_t c = threadIdx.x; c < extent; c += blockDim.x) acc = typename R::Op{}(acc, static_cast<Acc>(xr[c]));
    acc = block_allreduce(acc, typename R::Op{}, scratch);
    if (threadIdx.x == 0) out[row] = R::finish(acc, scale);
  }
}

// Chunks of `chunk` rows an extent splits into: at least 1, so an empty extent still writes R's
// value of nothing.
FW_HOST_DEVICE FW_INLINE int64_t chunk_count(int64_t extent, int64_t chunk) {
  return extent > chunk ? (extent + chunk - 1) / chunk : 1;
}

// The first pass of a split column reduction: R's accumulator, stored as double (exact for every
// Acc) for the second pass to combine.
template <typename R>
struct PartialReduce {
  using Acc = typename R::Acc;
  using Op = typename R::Op;
  __device__ static double finish(Acc acc, double) { return static_cast<double>(acc); }
};

// Block (w, ny): tiles of w output columns over one chunk of `chunk` rows of the extent; partial
// holds w * ny <= 1024 accumulators. out is [outer, chunk_count(extent, chunk), inner].
template <typename In, typename Out, typename R>
__global__ void reduce_columns_kernel(int64_t outer, int64_t extent, int64_t inner, int64_t chunk, typename R::Acc init,
                                      double scale, Out* out, const In* x) {
  using Acc = typename R::Acc;
  MINIDL_SHARED(Acc, partial, 1024);
  const unsigned w = blockDim.x, ny = blockDim.y, tx = threadIdx.x, ty = threadIdx.y;
  unsigned top = 1;  // the smallest power of two >= ny
  while (top < ny) top *= 2;
  const int64_t col_tiles = (inner + w - 1) / w;
  const int64_t chunks = chunk_count(extent, chunk);
  for (int64_t tile = blockIdx.x; tile < outer * chunks * col_tiles; tile += gridDim.x) {  // block-uniform
    const int64_t o = tile / (chunks * col_tiles);
    const int64_t c = tile / col_tiles % chunks;
    const int64_t i = (tile % col_tiles) * w + tx;
    const int64_t end = (c + 1) * chunk < extent ? (c + 1) * chunk : extent;
    Acc acc = init;
    if (i < inner) {
      const In* col = x + o * extent * inner + i;
      for (int64_t r = c * chunk + ty; r < end; r += ny) acc = typename R::Op{}(acc, static_cast<Acc>(col[r * inner]));
    }
    partial[ty * w + tx] = acc;
    __syncthreads();
    // Tree over y: rows [s, 2s) fold into [0, s); rows >= s are not written in the same step.
    for (unsigned s = top / 2; s > 0; s /= 2) {
      if (ty < s && ty + s < ny)
        partial[ty * w + tx] = typename R::Op{}(partial[ty * w + tx], partial[(ty + s) * w + tx]);
      __syncthreads();
    }
    if (ty == 0 && i < inner) out[(o * chunks + c) * inner + i] = R::finish(partial[tx], scale);
    __syncthreads();
  }
}

// An argmax candidate; index < 0 is "none yet" and loses to everything.
template <typename T>
struct ArgCandidate {
  T value;
  int64_t index;
};

// The better of two candidates under the total order NaN > larger value > smaller index; ties
// between equal values (+0 and -0 included) go to the smaller index, as the reference's strict >.
template <typename T>
__device__ ArgCandidate<T> better(ArgCandidate<T> a, ArgCandidate<T> b) {
  if (b.index < 0) return a;
  if (a.index < 0) return b;
  const bool a_nan = a.value != a.value, b_nan = b.value != b.value;
  if (a_nan || b_nan) {
    if (a_nan && b_nan) return a.index < b.index ? a : b;
    return a_nan ? a : b;
  }
  if (a.value > b.value) return a;
  if (b.value > a.value) return b;
  return a.index < b.index ? a : b;
}

// A row per warp, grid-stride over rows.
template <typename T>
__global__ void argmax_rows_kernel(int64_t rows, int64_t cols, int64_t* out, const T* x) {
  const int64_t warps = blockDim.x / 32;
  const int64_t lane = threadIdx.x % 32;
  for (int64_t row = int64_t{blockIdx.x} * warps + threadIdx.x / 32; row < rows; row += int64_t{gridDim.x} * warps) {
    const T* xr = x + row * cols;
    using C = compute_t<T>;
    ArgCandidate<C> best{C(0), -1};
    for (int64_t c = lane; c < cols; c += 32) best = better(best, ArgCandidate<C>{C(xr[c]), c});
    for (int offset = 16; offset > 0; offset /= 2) {
      const ArgCandidate<C> other{
          __shfl_xor_sync(kFullWarpMask, best.value, offset),
          static_cast<int64_t>(__shfl_xor_sync(kFullWarpMask, static_cast<long long>(best.index), offset))};
      best = better(best, other);
    }
    if (lane == 0) out[row] = best.index < 0 ? 0 : best.index;
  }
}

// Output columns a column tile serves: a power of two up to a warp, coalescing reads along inner.
unsigned column_tile_width(int64_t inner) {
  unsigned w = 1;
  while (w < 32 && w < inner) w *= 2;
  return w;
}

// A column reduction with fewer tiles than this splits its extent (a 4096 x 128 bias gradient
// made 4 blocks, 110 us on an H100): a block per (tile, chunk of the extent), then a second launch
// combines each column's partials in chunk order. The split depends on the shape only, so the
// result does not depend on the device or the launch policy's grid cap.
constexpr int64_t kSplitBelowTiles = 256;
constexpr int64_t kColumnChunkRows = 128;  // the fewest rows a first-pass block reduces
constexpr int64_t kMaxColumnChunks = 64;   // the most partials the second pass combines per column

// Rows per chunk of a split column reduction, or 0 where it runs in one pass.
int64_t column_chunk_rows(int64_t outer, int64_t extent, int64_t inner) {
  const unsigned w = column_tile_width(inner);
  const int64_t tiles = outer * ((inner + w - 1) / w);
  if (inner == 1 || tiles >= kSplitBelowTiles || extent <= 2 * kColumnChunkRows) return 0;
  return std::max(kColumnChunkRows, (extent + kMaxColumnChunks - 1) / kMaxColumnChunks);
}

template <typename In, typename Out, typename R>
void reduce_columns(int64_t outer, int64_t extent, int64_t inner, int64_t chunk, typename R::Acc init, double scale,
                    Out* out, const In* x, Stream stream) {
  const unsigned w = column_tile_width(inner);
  const unsigned ny = static_cast<unsigned>(std::clamp<int64_t>(std::min(extent, chunk), 1, reduction_threads() / w));
  const int64_t tiles = outer * chunk_count(extent, chunk) * ((inner + w - 1) / w);
  launch("reduce_columns", reduce_columns_kernel<In, Out, R>, dim3(reduction_blocks(tiles, 1)), dim3(w, ny), 0, stream,
         outer, extent, inner, chunk, init, scale, out, x);
}

template <typename T, typename R>
void reduce_with(int64_t outer, int64_t extent, int64_t inner, typename R::Acc init, double scale, T* out, const T* x,
                 double* scratch, Stream stream) {
  const unsigned threads = reduction_threads();
  if (inner == 1) {
    if (extent <= kWarpRowMax) {
      launch("reduce_rows_warp", reduce_rows_warp_kernel<T, R>, dim3(reduction_blocks(outer, threads / 32)),
             dim3(threads), 0, stream, outer, extent, init, scale, out, x);
    } else {
      launch("reduce_rows_block", reduce_rows_block_kernel<T, R>, dim3(reduction_blocks(outer, 1)), dim3(threads), 0,
             stream, outer, extent, init, scale, out, x);
    }
    return;
  }
  const int64_t chunk = column_chunk_rows(outer, extent, inner);
  if (chunk == 0) {
    reduce_columns<T, T, R>(outer, extent, inner, std::max<int64_t>(extent, 1), init, scale, out, x, stream);
    return;
  }
  const int64_t chunks = chunk_count(extent, chunk);
  reduce_columns<T, double, PartialReduce<R>>(outer, extent, inner, chunk, init, 1.0, scratch, x, stream);
  reduce_columns<double, T, R>(outer, chunks, inner, chunks, init, scale, out, scratch, stream);
}

}  // namespace

template <typename T>
void reduce(ReduceKind kind, int64_t outer, int64_t extent, int64_t inner, T* out, const T* x, double* scratch,
            Stream stream) {
  if (outer <= 0 || inner <= 0) return;
  if (kind == ReduceKind::Max) {
    reduce_with<T, MaxReduce<T>>(outer, extent, inner, -std::numeric_limits<compute_t<T>>::infinity(), 1.0, out, x,
                                 scratch, stream);
  } else {
    // The reference's scale: 1 / 0 = inf for an empty Mean, and 0 * inf = NaN.
    const double scale = kind == ReduceKind::Mean ? 1.0 / static_cast<double>(extent) : 1.0;
    reduce_with<T, SumReduce<T>>(outer, extent, inner, 0.0, scale, out, x, scratch, stream);
  }
}

int64_t reduce_scratch_size(int64_t outer, int64_t extent, int64_t inner) {
  const int64_t chunk = column_chunk_rows(outer, extent, inner);
  return chunk == 0 ? 0 : outer * chunk_count(extent, chunk) * inner;
}

template <typename T>
void argmax_rows(int64_t rows, int64_t cols, int64_t* out, const T* x, Stream stream) {
  if (rows <= 0) return;
  const unsigned threads = reduction_threads();
  launch("argmax_rows", argmax_rows_kernel<T>, dim3(reduction_blocks(rows, threads / 32)), dim3(threads), 0, stream,
         rows, cols, out, x);
}

template void reduce<float>(ReduceKind, int64_t, int64_t, int64_t, float*, const float*, double*, Stream);
template void reduce<double>(ReduceKind, int64_t, int64_t, int64_t, double*, const double*, double*, Stream);
template void argmax_rows<float>(int64_t, int64_t, int64_t*, const float*, Stream);
template void argmax_rows<double>(int64_t, int64_t, int64_t*, const double*, Stream);
template void reduce<bf16>(ReduceKind, int64_t, int64_t, int64_t, bf16*, const bf16*, double*, Stream);
template void argmax_rows<bf16>(int64_t, int64_t, int64_t*, const bf16*, Stream);

}  // namespace minidl::MINIDL_CUDA_NS
