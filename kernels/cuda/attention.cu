// Attention's fused softmax + dropout over score rows, with the causal mask (CPU reference:
// kernels/cpu/attention.h). A warp or a block serves a row (kernels/cuda/row_groups.h): the max
// and the double sum of exp over the visible columns, then the probabilities (saved for
// backward) and the dropped-out output in one pass. Element i uses Philox word (offset + i), so
// the mask equals the CPU's bit for bit and backward regenerates it instead of reading it. The
// passes that need the mask walk the row by Philox blocks, so each block of 4 words is computed
// once per pass. bf16 scores are computed in float and rounded once on store.
#include <cstdint>
#include <limits>

#include "kernels/common/attention_rules.h"
#include "kernels/common/bfloat16.h"
#include "kernels/common/philox.h"
#include "kernels/cuda/launch.h"
#include "kernels/cuda/row_groups.h"

namespace minidl::MINIDL_CUDA_NS {

#include "kernels/cuda/attention.inc"

namespace {

// Rows no longer than this go a row per warp.
constexpr int64_t kWarpRowMax = 1024;

// The op's mask.
struct DropoutDraw {
  SoftmaxDropoutShape shape;
  PhiloxState state;
  uint64_t threshold;
};

// Calls fn(c, kept) for the columns c < cols of `row` that this member of the group serves, with
// kept the mask's verdict for the columns c < visible (true without dropout; unspecified past
// visible, where the mask is never drawn). With dropout, members take the Philox blocks spanning
// the row in turn (rank, rank + size, ...), so each block is computed once; a word per element
// would compute most blocks four times. Without, members take columns in turn, so a warp's
// accesses stay contiguous.
template <typename G, typename Fn>
__device__ void for_row_columns(const G& g, const DropoutDraw& d, int64_t row, int64_t cols, int64_t visible, Fn&& fn) {
  if (!d.shape.dropout) {
    for (int64_t c = g.rank; c < cols; c += g.size()) fn(c, true);
    return;
  }
  if (cols <= 0) return;
  const uint64_t first = d.state.offset + score_element(d.shape, row, 0);  // the position of column 0
  const uint64_t block0 = first / 4, blocks = (first + static_cast<uint64_t>(cols) - 1) / 4 - block0 + 1;
  for (uint64_t b = g.rank; b < blocks; b += g.size()) {
    PhiloxBlock words{};
    if ((block0 + b) * 4 < first + static_cast<uint64_t>(visible)) words = philox_block(d.state, block0 + b);
    for (int j = 0; j < 4; ++j) {
      const uint64_t position = (block0 + b) * 4 + j;
      if (position < first) continue;
      const int64_t c = static_cast<int64_t>(position - first);
      if (c >= cols) break;
      fn(c, dropout_keep(words.w[j], d.threshold));
    }
  }
}

// S is the stored type: T, or bf16 computed in T = float and rounded once on store.
template <typename S, typename T = compute_t<S>>
struct SoftmaxDropoutForwardOp {
  DropoutDraw draw;
  T scale;
  S *y, *probs;
  const S* x;
  T neg_inf;  // from the host: numeric_limits is host-only in device code
  template <typename G>
  __device__ void operator()(const G& g, int64_t row) const {
    const int64_t cols = draw.shape.cols, visible = visible_columns(draw.shape, row);
    const S* xr = x + row * cols;
    T mx;
    double sum;
    row_max_and_sum(g, visible, xr, neg_inf, mx, sum);
    for_row_columns(g, draw, row, cols, visible, [&](int64_t c, bool kept) {
      const T p = c < visible ? static_cast<T>(static_cast<double>(exp_t(T(xr[c]) - mx)) / sum) : T(0);
      probs[row * cols + c] = S(p);
      y[row * cols + c] = S(!draw.shape.dropout ? p : c < visible && kept ? p * scale : T(0));
    });
  }
};

template <typename S, typename T = compute_t<S>>
struct SoftmaxDropoutBackwardOp {
  DropoutDraw draw;
  T scale;
  S* grad_x;
  const S *grad_y, *probs;
  // The gradient reaching the probability (row, c): through the mask and its scale.
  __device__ T upstream(int64_t row, int64_t c, bool kept) const {
    const T gy = T(grad_y[row * draw.shape.cols + c]);
    return !draw.shape.dropout ? gy : kept ? gy * scale : T(0);
  }
  template <typename G>
  __device__ void operator()(const G& g, int64_t row) const {
    const int64_t cols = draw.shape.cols, visible = visible_columns(draw.shape, row);
    const S* pr = probs + row * cols;
    double dot = 0;
    for_row_columns(g, draw, row, visible, visible, [&](int64_t c, bool kept) {
      dot += static_cast<double>(upstream(row, c, kept)) * static_cast<double>(T(pr[c]));
    });
    dot = g.allreduce(dot, SumOp{});
    for_row_columns(g, draw, row, cols, visible, [&](int64_t c, bool kept) {
      grad_x[row * cols + c] = S(c < visible ? static_cast<T>(T(pr[c]) * (upstream(row, c, kept) - dot)) : T(0));
    });
  }
};

}  // namespace

template <typename T>
void softmax_dropout_forward(int64_t rows, const SoftmaxDropoutShape& shape, const PhiloxState& state,
                             uint64_t threshold, compute_t<T> scale, T* y, T* probs, const T* x, Stream stream) {
  if (rows <= 0 || shape.cols <= 0) return;
  using C = compute_t<T>;
  launch_rows<C>(
      kWarpRowMax, "softmax_dropout_forward_warp", "softmax_dropout_forward_block", rows, shape.cols,
      SoftmaxDropoutForwardOp<T>{{shape, state, threshold}, scale, y, probs, x, -std::numeric_limits<C>::infinity()},
      stream);
}

template <typename T>
void softmax_dropout_backward(int64_t rows, const SoftmaxDropoutShape& shape, const PhiloxState& state,
                              uint64_t threshold, compute_t<T> scale, T* grad_x, const T* grad_y, const T* probs,
                              Stream stream) {
  if (rows <= 0 || shape.cols <= 0) return;
  launch_rows<compute_t<T>>(
      kWarpRowMax, "softmax_dropout_backward_warp", "softmax_dropout_backward_block", rows, shape.cols,
      SoftmaxDropoutBackwardOp<T>{{shape, state, threshold}, scale, grad_x, grad_y, probs}, stream);
}

#define MINIDL_SOFTMAX_DROPOUT(T)                                                                              \
  template void softmax_dropout_forward<T>(int64_t, const SoftmaxDropoutShape&, const PhiloxState&, uint64_t,  \
                                           compute_t<T>, T*, T*, const T*, Stream);                            \
  template void softmax_dropout_backward<T>(int64_t, const SoftmaxDropoutShape&, const PhiloxState&, uint64_t, \
                                            compute_t<T>, T*, const T*, const T*, Stream);
MINIDL_SOFTMAX_DROPOUT(float)
MINIDL_SOFTMAX_DROPOUT(double)
MINIDL_SOFTMAX_DROPOUT(bf16)
#undef MINIDL_SOFTMAX_DROPOUT

}  // namespace minidl::MINIDL_CUDA_NS
