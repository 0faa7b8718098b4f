// FlashAttention-style attention (Dao et al. 2022, with FlashAttention-2's backward, Dao 2023):
// out = dropout(softmax(q k^T * score_scale, causal mask)) v, computed tile by tile so that the
// [q_len, cols] scores and probabilities never reach global memory (CPU reference:
// kernels/cpu/attention.h flash_attention_*).
//
// Forward. A block serves `tile` query rows of one group (batch x head): it keeps them in shared
// memory and walks the key tiles those rows see (with the causal mask, up to the last row's
// visible prefix), `tile` rows of k and v at a time. Per key tile: (1) the tile x tile scores;
// (2) a thread per query row updates the row's running max m and its sum l of exp(s - m) (the
// online softmax), and the factor exp(m_old - m_new) that rescales what the row has accumulated;
// (3) the probabilities exp(s - m) after dropout; (4) acc = acc * rescale + P v. At the end
// out = acc / l, and the row's log-sum-exp m + log(l) is saved: with it backward recomputes any
// probability as exp(s - lse).
//
// Backward (FlashAttention-2's). D = rowsum(grad_out * out) first, a warp per row (row_groups.h).
// Then the score gradients dS = p (factor dP - D), with p recomputed from q, k and lse, the mask
// regenerated from its Philox word and dP = grad_out . v recomputed, are formed tile by tile by two
// kernels: a block per query tile walks its key tiles (grad_q += dS k), and a block per key tile
// walks the query tiles that see it (grad_k += dS^T q, grad_v += (factor p)^T grad_out). Every
// gradient element is summed by one thread in a fixed order: no atomics and the same bits at every
// launch, for the price of computing the scores and dP twice.
//
// Threads. Score loops give thread t the pairs t, t + kThreads, ... of a tile x tile block, with
// i = pair / tile and j = pair % tile: a warp reads one query row (a broadcast) and consecutive
// key rows, which are padded to head_dim + 1 elements against bank conflicts. Accumulator loops
// give thread t the elements t, t + kThreads, ... of a [tile, head_dim] block, kept in registers
// across the walk: consecutive threads take consecutive columns. The tile is the largest of 32, 16
// and 8 rows whose shared arrays fit the 48 KiB any block gets without opt-in (32 for f32 up to
// head_dim 64); the block shape is fixed, so only the grid follows the launch policy and results
// do not depend on it. Sums are in T.
//
// Storage. q, k, v, out and the gradients are stored as S: T, or bf16 (autocast's activations)
// computed in T = float. Tiles are widened to T as they enter shared memory and results are
// rounded once on store; lse and D stay in T.
//
// Dropout: score (row, c) uses Philox word (offset + row * cols + c), as softmax_dropout's kernels
// do (kernels/common/attention_rules.h), so the masks are the same and none is stored.
#include <cstdint>
#include <limits>

#include "kernels/common/attention_rules.h"
#include "kernels/common/bfloat16.h"
#include "kernels/common/philox.h"
#include "kernels/cuda/launch.h"
#include "kernels/cuda/row_groups.h"

namespace minidl::MINIDL_CUDA_NS {

#include "kernels/cuda/flash_attention.inc"

namespace {

constexpr int kThreads = 256;
constexpr int kMaxTile = 32, kMinTile = 8;
constexpr size_t kSharedBytes = 48 * 1024;
// Accumulators per thread: a [tile, head_dim] block spread over the block.
constexpr int kPerThread = kMaxTile * kFlashMaxHeadDim / kThreads;

// nvcc unrolls the accumulator loops fully, which keeps the accumulators in registers (else they
// go to local memory); the host compiler of the emulator needs no hint.
#if defined(MINIDL_EMU)
#define MINIDL_FLASH_UNROLL
#else
#define MINIDL_FLASH_UNROLL _Pragma("unroll")
#endif

// A kernel's shared arrays, carved in order out of the dynamic buffer: `row_tiles` tiles of rows
// [tile, head_dim + 1], `score_tiles` [tile, tile + 1] (padded so a thread per row reads across
// banks) and `row_values` [tile]. The host sizes the launch with the same numbers.
struct SharedLayout {
  int tile;
  int64_t ld;  // head_dim + 1
  int row_tiles, score_tiles, row_values;
  __host__ __device__ int64_t lds() const { return tile + 1; }
  __host__ __device__ int64_t elements() const { return (row_tiles * ld + score_tiles * lds() + row_values) * tile; }
  template <typename T>
  __device__ T* rows(T* base, int n) const {
    return base + n * tile * ld;
  }
  template <typename T>
  __device__ T* scores(T* base, int n) const {
    return rows(base, row_tiles) + n * tile * lds();
  }
  template <typename T>
  __device__ T* values(T* base, int n) const {
    return scores(base, score_tiles) + n * tile;
  }
};

// The arguments every kernel of the family takes, by value.
template <typename T>
struct FlashArgs {
  FlashAttentionShape shape;
  PhiloxState state;
  uint64_t threshold;
  T scale;  // 1 / (1 - p)
  SharedLayout smem;
  T neg_inf;  // from the host: numeric_limits is host-only in device code
  __device__ int tile() const { return smem.tile; }
  __device__ T score_scale() const { return static_cast<T>(shape.score_scale); }
  // Where a group's rows start in q, out and grad_out, and in k and v.
  __device__ int64_t q_offset(int64_t group) const { return group * shape.scores.q_len * shape.head_dim; }
  __device__ int64_t kv_offset(int64_t group) const { return group * shape.scores.cols * shape.head_dim; }
};

// Query rows [q0, q0 + tile) against keys [k0, k0 + tile) of one group.
struct TilePair {
  int64_t group, q0, k0;
  // The score row of the tile's query i (softmax_dropout's row index).
  __device__ int64_t row(const SoftmaxDropoutShape& s, int i) const { return group * s.q_len + q0 + i; }
  __device__ bool visible(const SoftmaxDropoutShape& s, int i, int j) const {
    return q0 + i < s.q_len && k0 + j < visible_columns(s, row(s, i));
  }
};

// Calls fn(i, j, factor) for every score (i, j) of the tile pair (i, j < tile) with its dropout
// factor: scale when its word keeps it, else 0 (1 without dropout). With dropout the block's
// threads take (row, Philox block) units, so each block of 4 words is computed once, not once per
// score; without, they take scores in turn.
template <typename T, typename Fn>
__device__ void for_tile_scores(const FlashArgs<T>& a, const TilePair& tp, Fn&& fn) {
  const SoftmaxDropoutShape& s = a.shape.scores;
  const int tile = a.tile(), units_per_row = tile / 4 + 1;  // the blocks `tile` positions can span
  if (!s.dropout) {
    for (int pair = static_cast<int>(threadIdx.x); pair < tile * tile; pair += kThreads)
      fn(pair / tile, pair % tile, T(1));
    return;
  }
  for (int unit = static_cast<int>(threadIdx.x); unit < tile * units_per_row; unit += kThreads) {
    const int i = unit / units_per_row;
    const uint64_t first = a.state.offset + score_element(s, tp.row(s, i), tp.k0);  // the position of (i, 0)
    const uint64_t block = first / 4 + static_cast<uint64_t>(unit % units_per_row);
    if (block * 4 >= first + static_cast<uint64_t>(tile)) continue;
    const PhiloxBlock words = philox_block(a.state, block);
    for (int w = 0; w < 4; ++w) {
      const uint64_t position = block * 4 + static_cast<uint64_t>(w);
      if (position < first || position >= first + static_cast<uint64_t>(tile)) continue;
      const T factor = dropout_keep(words.w[w], a.threshold) ? a.scale : T(0);
      fn(i, static_cast<int>(position - first), factor);
    }
  }
}

// Rows [first, first + tile) of a [count, head_dim] matrix into a padded shared tile; rows past
// the end become zeros, so tails need no other care.
template <typename T, typename S>
__device__ void load_rows(const FlashArgs<T>& a, T* tile_rows, const S* src, int64_t first, int64_t count) {
  const int64_t dh = a.shape.head_dim;
  const int head_dim = static_cast<int>(dh);  // int division: a 64-bit one is a long routine on a GPU
  for (int e = static_cast<int>(threadIdx.x); e < a.tile() * head_dim; e += kThreads) {
    const int r = e / head_dim, d = e % head_dim;
    tile_rows[r * a.smem.ld + d] = first + r < count ? T(src[(first + r) * dh + d]) : T(0);
  }
}

template <typename T>
__device__ T dot(const T* a, const T* b, int64_t n) {
  T sum = 0;
  for (int64_t d = 0; d < n; ++d) sum += a[d] * b[d];
  return sum;
}

template <typename S, typename T = compute_t<S>>
__global__ void flash_forward_kernel(FlashArgs<T> a, S* out, T* lse, const S* q, const S* k, const S* v) {
  MINIDL_DYNAMIC_SHARED(T, smem);
  const SoftmaxDropoutShape& s = a.shape.scores;
  const int tile = a.tile(), tid = static_cast<int>(threadIdx.x);
  const int64_t dh = a.shape.head_dim, ld = a.smem.ld, lds = a.smem.lds();
  const int head_dim = static_cast<int>(dh);  // for the tile index math, in int
  T *qs = a.smem.rows(smem, 0), *ks = a.smem.rows(smem, 1), *vs = a.smem.rows(smem, 2);
  T* ps = a.smem.scores(smem, 0);
  T *row_max = a.smem.values(smem, 0), *row_sum = a.smem.values(smem, 1), *rescale = a.smem.values(smem, 2);
  const int64_t q_tiles = (s.q_len + tile - 1) / tile;
  for (int64_t t = blockIdx.x; t < a.shape.groups * q_tiles; t += gridDim.x) {  // block-uniform
    TilePair tp{t / q_tiles, t % q_tiles * tile, 0};
    const int rows = s.q_len - tp.q0 < tile ? static_cast<int>(s.q_len - tp.q0) : tile;
    load_rows(a, qs, q + a.q_offset(tp.group), tp.q0, s.q_len);
    if (tid < rows) {
      row_max[tid] = a.neg_inf;
      row_sum[tid] = T(0);
    }
    T acc[kPerThread];
    for (int e = 0; e < kPerThread; ++e) acc[e] = T(0);
    const int64_t keys = visible_columns(s, tp.row(s, rows - 1));  // the tile's last row sees the most
    for (tp.k0 = 0; tp.k0 < keys; tp.k0 += tile) {
      load_rows(a, ks, k + a.kv_offset(tp.group), tp.k0, s.cols);
      load_rows(a, vs, v + a.kv_offset(tp.group), tp.k0, s.cols);
      __syncthreads();
      for (int pair = tid; pair < tile * tile; pair += kThreads) {  // (1) scores, -inf where masked
        const int i = pair / tile, j = pair % tile;
        ps[i * lds + j] = tp.visible(s, i, j) ? dot(qs + i * ld, ks + j * ld, dh) * a.score_scale() : a.neg_inf;
      }
      __syncthreads();
      if (tid < rows) {  // (2) the online softmax; m is finite from the first tile on (key 0 is visible to all)
        const T* sr = ps + tid * lds;
        T m = row_max[tid], sum = 0;
        for (int j = 0; j < tile; ++j) m = sr[j] > m ? sr[j] : m;
        for (int j = 0; j < tile; ++j) sum += exp_t(sr[j] - m);
        rescale[tid] = exp_t(row_max[tid] - m);
        row_sum[tid] = row_sum[tid] * rescale[tid] + sum;
        row_max[tid] = m;
      }
      __syncthreads();
      for_tile_scores(a, tp, [&](int i, int j, T factor) {  // (3) probabilities after dropout
        T& p = ps[i * lds + j];
        p = tp.visible(s, i, j) ? exp_t(p - row_max[i]) * factor : T(0);
      });
      __syncthreads();
      MINIDL_FLASH_UNROLL
      for (int e = 0; e < kPerThread; ++e) {  // (4) acc = acc * rescale + P v
        const int o = tid + e * kThreads, i = o / head_dim, d = o % head_dim;
        if (o < rows * dh) {
          T sum = acc[e] * rescale[i];
          for (int j = 0; j < tile; ++j) sum += ps[i * lds + j] * vs[j * ld + d];
          acc[e] = sum;
        }
      }
      __syncthreads();  // the next key tile rewrites ks, vs and ps
    }
    MINIDL_FLASH_UNROLL
    for (int e = 0; e < kPerThread; ++e) {
      const int o = tid + e * kThreads, i = o / head_dim, d = o % head_dim;
      if (o < rows * dh) out[tp.row(s, static_cast<int>(i)) * dh + d] = S(acc[e] / row_sum[i]);
    }
    if (tid < rows) lse[tp.row(s, tid)] = row_max[tid] + log_t(row_sum[tid]);
    __syncthreads();  // the next query tile rewrites qs and the row values
  }
}

// D = rowsum(grad_out * out) of one query row, summed in double.
template <typename S, typename T = compute_t<S>>
struct RowDeltaOp {
  int64_t head_dim;
  T* delta;
  const S *grad_out, *out;
  template <typename G>
  __device__ void operator()(const G& g, int64_t row) const {
    double sum = 0;
    for (int64_t c = g.rank; c < head_dim; c += g.size())
      sum += static_cast<double>(T(grad_out[row * head_dim + c])) * static_cast<double>(T(out[row * head_dim + c]));
    sum = g.allreduce(sum, SumOp{});
    if (g.rank == 0) delta[row] = static_cast<T>(sum);
  }
};

// A query tile's rows of grad_out in shared memory, with their lse and D.
template <typename T>
struct QueryTile {
  T *q, *grad_out, *lse, *delta;
};

// Loads the query tile at tp.q0 (the caller synchronizes).
template <typename T, typename S>
__device__ void load_query_tile(const FlashArgs<T>& a, const TilePair& tp, const QueryTile<T>& qt, const S* q,
                                const S* grad_out, const T* lse, const T* delta) {
  const SoftmaxDropoutShape& s = a.shape.scores;
  load_rows(a, qt.q, q + a.q_offset(tp.group), tp.q0, s.q_len);
  load_rows(a, qt.grad_out, grad_out + a.q_offset(tp.group), tp.q0, s.q_len);
  const int i = static_cast<int>(threadIdx.x);
  if (i < a.tile() && tp.q0 + i < s.q_len) {
    qt.lse[i] = lse[tp.row(s, i)];
    qt.delta[i] = delta[tp.row(s, i)];
  }
}

// The score gradients of a query tile x key tile, recomputed: p = exp(s - lse),
// ds = p (factor * dP - D) with dP = grad_out_i . v_j, and (when w is given) the probabilities after
// dropout w = factor * p; zeros where masked.
template <typename T>
__device__ void score_grads(const FlashArgs<T>& a, const TilePair& tp, const QueryTile<T>& qt, const T* ks,
                            const T* vs, T* ds, T* w) {
  const int64_t dh = a.shape.head_dim, ld = a.smem.ld, lds = a.smem.lds();
  for_tile_scores(a, tp, [&](int i, int j, T factor) {
    T grad = 0, weight = 0;
    if (tp.visible(a.shape.scores, i, j)) {
      const T p = exp_t(dot(qt.q + i * ld, ks + j * ld, dh) * a.score_scale() - qt.lse[i]);
      grad = p * (factor * dot(qt.grad_out + i * ld, vs + j * ld, dh) - qt.delta[i]);
      weight = factor * p;
    }
    ds[i * lds + j] = grad;
    if (w != nullptr) w[i * lds + j] = weight;
  });
}

// grad_q = score_scale * sum over the key tiles of dS k: a block per query tile.
template <typename S, typename T = compute_t<S>>
__global__ void flash_backward_dq_kernel(FlashArgs<T> a, S* grad_q, const S* grad_out, const S* q, const S* k,
                                         const S* v, const T* lse, const T* delta) {
  MINIDL_DYNAMIC_SHARED(T, smem);
  const SoftmaxDropoutShape& s = a.shape.scores;
  const int tile = a.tile(), tid = static_cast<int>(threadIdx.x);
  const int64_t dh = a.shape.head_dim, ld = a.smem.ld, lds = a.smem.lds();
  const int head_dim = static_cast<int>(dh);  // for the tile index math, in int
  const QueryTile<T> qt{a.smem.rows(smem, 0), a.smem.rows(smem, 1), a.smem.values(smem, 0), a.smem.values(smem, 1)};
  T *ks = a.smem.rows(smem, 2), *vs = a.smem.rows(smem, 3), *ds = a.smem.scores(smem, 0);
  const int64_t q_tiles = (s.q_len + tile - 1) / tile;
  for (int64_t t = blockIdx.x; t < a.shape.groups * q_tiles; t += gridDim.x) {  // block-uniform
    TilePair tp{t / q_tiles, t % q_tiles * tile, 0};
    const int rows = s.q_len - tp.q0 < tile ? static_cast<int>(s.q_len - tp.q0) : tile;
    load_query_tile(a, tp, qt, q, grad_out, lse, delta);
    T acc[kPerThread];
    for (int e = 0; e < kPerThread; ++e) acc[e] = T(0);
    const int64_t keys = visible_columns(s, tp.row(s, rows - 1));
    for (tp.k0 = 0; tp.k0 < keys; tp.k0 += tile) {
      load_rows(a, ks, k + a.kv_offset(tp.group), tp.k0, s.cols);
      load_rows(a, vs, v + a.kv_offset(tp.group), tp.k0, s.cols);
      __syncthreads();
      score_grads(a, tp, qt, ks, vs, ds, static_cast<T*>(nullptr));
      __syncthreads();
      MINIDL_FLASH_UNROLL
      for (int e = 0; e < kPerThread; ++e) {
        const int o = tid + e * kThreads, i = o / head_dim, d = o % head_dim;
        if (o < rows * dh)
          for (int j = 0; j < tile; ++j) acc[e] += ds[i * lds + j] * ks[j * ld + d];
      }
      __syncthreads();  // the next key tile rewrites ks, vs and ds
    }
    MINIDL_FLASH_UNROLL
    for (int e = 0; e < kPerThread; ++e) {
      const int o = tid + e * kThreads, i = o / head_dim, d = o % head_dim;
      if (o < rows * dh) grad_q[tp.row(s, static_cast<int>(i)) * dh + d] = S(acc[e] * a.score_scale());
    }
  }
}

// grad_k = score_scale * sum of dS^T q and grad_v = sum of (factor p)^T grad_out over the query
// tiles that see the key tile: a block per key tile.
template <typename S, typename T = compute_t<S>>
__global__ void flash_backward_dkdv_kernel(FlashArgs<T> a, S* grad_k, S* grad_v, const S* grad_out, const S* q,
                                           const S* k, const S* v, const T* lse, const T* delta) {
  MINIDL_DYNAMIC_SHARED(T, smem);
  const SoftmaxDropoutShape& s = a.shape.scores;
  const int tile = a.tile(), tid = static_cast<int>(threadIdx.x);
  const int64_t dh = a.shape.head_dim, ld = a.smem.ld, lds = a.smem.lds();
  const int head_dim = static_cast<int>(dh);  // for the tile index math, in int
  T *ks = a.smem.rows(smem, 0), *vs = a.smem.rows(smem, 1);
  const QueryTile<T> qt{a.smem.rows(smem, 2), a.smem.rows(smem, 3), a.smem.values(smem, 0), a.smem.values(smem, 1)};
  T *ds = a.smem.scores(smem, 0), *ws = a.smem.scores(smem, 1);
  const int64_t k_tiles = (s.cols + tile - 1) / tile;
  for (int64_t t = blockIdx.x; t < a.shape.groups * k_tiles; t += gridDim.x) {  // block-uniform
    TilePair tp{t / k_tiles, 0, t % k_tiles * tile};
    const int keys = s.cols - tp.k0 < tile ? static_cast<int>(s.cols - tp.k0) : tile;
    load_rows(a, ks, k + a.kv_offset(tp.group), tp.k0, s.cols);
    load_rows(a, vs, v + a.kv_offset(tp.group), tp.k0, s.cols);
    T dk[kPerThread], dv[kPerThread];
    for (int e = 0; e < kPerThread; ++e) dk[e] = dv[e] = T(0);
    for (tp.q0 = first_query_seeing(s, tp.k0); tp.q0 < s.q_len; tp.q0 += tile) {
      load_query_tile(a, tp, qt, q, grad_out, lse, delta);
      __syncthreads();
      score_grads(a, tp, qt, ks, vs, ds, ws);
      __syncthreads();
      MINIDL_FLASH_UNROLL
      for (int e = 0; e < kPerThread; ++e) {
        const int o = tid + e * kThreads, j = o / head_dim, d = o % head_dim;
        if (o < keys * dh)
          for (int i = 0; i < tile; ++i) {
            dk[e] += ds[i * lds + j] * qt.q[i * ld + d];
            dv[e] += ws[i * lds + j] * qt.grad_out[i * ld + d];
          }
      }
      __syncthreads();  // the next query tile rewrites the query tile, ds and ws
    }
    MINIDL_FLASH_UNROLL
    for (int e = 0; e < kPerThread; ++e) {
      const int o = tid + e * kThreads, j = o / head_dim, d = o % head_dim;
      if (o < keys * dh) {
        grad_k[a.kv_offset(tp.group) + (tp.k0 + j) * dh + d] = S(dk[e] * a.score_scale());
        grad_v[a.kv_offset(tp.group) + (tp.k0 + j) * dh + d] = S(dv[e]);
      }
    }
  }
}

// The arguments of a kernel whose shared arrays are `row_tiles`, `score_tiles` and `row_values`
// (SharedLayout), with the largest tile that fits.
template <typename T>
FlashArgs<T> flash_args(const FlashAttentionShape& shape, const PhiloxState& state, uint64_t threshold, T scale,
                        int row_tiles, int score_tiles, int row_values) {
  SharedLayout smem{kMaxTile, shape.head_dim + 1, row_tiles, score_tiles, row_values};
  while (smem.tile > kMinTile && smem.elements() * sizeof(T) > kSharedBytes) smem.tile /= 2;
  return {shape, state, threshold, scale, smem, -std::numeric_limits<T>::infinity()};
}

template <typename T>
size_t shared_bytes(const FlashArgs<T>& a) {
  return static_cast<size_t>(a.smem.elements()) * sizeof(T);
}

// Blocks for the group's tiles of n rows, capped by the launch policy (kernels loop over the rest).
template <typename T>
dim3 grid_of(const FlashArgs<T>& a, int64_t n) {
  return dim3(reduction_blocks(a.shape.groups * ((n + a.smem.tile - 1) / a.smem.tile), 1));
}

}  // namespace

template <typename S>
void flash_attention_forward(const FlashAttentionShape& shape, const PhiloxState& state, uint64_t threshold,
                             compute_t<S> scale, S* out, compute_t<S>* lse, const S* q, const S* k, const S* v,
                             Stream stream) {
  if (shape.groups <= 0 || shape.scores.q_len <= 0) return;
  const auto a = flash_args(shape, state, threshold, scale, 3, 1, 3);
  launch("flash_attention_forward", flash_forward_kernel<S>, grid_of(a, shape.scores.q_len), dim3(kThreads),
         shared_bytes(a), stream, a, out, lse, q, k, v);
}

template <typename S>
void flash_attention_backward(const FlashAttentionShape& shape, const PhiloxState& state, uint64_t threshold,
                              compute_t<S> scale, S* grad_q, S* grad_k, S* grad_v, compute_t<S>* delta,
                              const S* grad_out, const S* q, const S* k, const S* v, const S* out,
                              const compute_t<S>* lse, Stream stream) {
  if (shape.groups <= 0 || shape.scores.q_len <= 0) return;
  launch_rows<compute_t<S>>(kFlashMaxHeadDim, "flash_attention_delta_warp", "flash_attention_delta_block",
                            shape.groups * shape.scores.q_len, shape.head_dim,
                            RowDeltaOp<S>{shape.head_dim, delta, grad_out, out}, stream);
  const auto dq = flash_args(shape, state, threshold, scale, 4, 1, 2);
  launch("flash_attention_backward_dq", flash_backward_dq_kernel<S>, grid_of(dq, shape.scores.q_len), dim3(kThreads),
         shared_bytes(dq), stream, dq, grad_q, grad_out, q, k, v, lse, delta);
  const auto dkdv = flash_args(shape, state, threshold, scale, 4, 2, 2);
  launch("flash_attention_backward_dkdv", flash_backward_dkdv_kernel<S>, grid_of(dkdv, shape.scores.cols),
         dim3(kThreads), shared_bytes(dkdv), stream, dkdv, grad_k, grad_v, grad_out, q, k, v, lse, delta);
}

#define MINIDL_FLASH_ATTENTION(S)                                                                                  \
  template void flash_attention_forward<S>(const FlashAttentionShape&, const PhiloxState&, uint64_t, compute_t<S>, \
                                           S*, compute_t<S>*, const S*, const S*, const S*, Stream);               \
  template void flash_attention_backward<S>(const FlashAttentionShape&, const PhiloxState&, uint64_t, compute_t<S>, \
                                            S*, S*, S*, compute_t<S>*, const S*, const S*, const S*, const S*,     \
                                            const S*, const compute_t<S>*, Stream);
MINIDL_FLASH_ATTENTION(float)
MINIDL_FLASH_ATTENTION(double)
MINIDL_FLASH_ATTENTION(bf16)
#undef MINIDL_FLASH_ATTENTION

}  // namespace minidl::MINIDL_CUDA_NS
