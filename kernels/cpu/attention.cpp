#include "kernels/cpu/attention.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "kernels/cpu/dropout.h"

namespace minidl::cpu {

namespace {

// The Philox words of row `row`'s visible elements (empty without dropout).
const std::vector<uint32_t>& row_words(const SoftmaxDropoutShape& s, const PhiloxState& state, int64_t row,
                                       int64_t visible) {
  thread_local std::vector<uint32_t> words;
  words.resize(static_cast<size_t>(s.dropout ? visible : 0));
  PhiloxState at_row = state;
  at_row.offset += score_element(s, row, 0);
  if (s.dropout) philox_words(0, visible, at_row, words.data());
  return words;
}

// probs = softmax over x[0, visible) of row `row` (max-subtracted, exp in T, the sum in double), 0 on
// masked columns; y = kept ? probs * scale : 0 (probs without dropout). Returns the row's log-sum-exp.
template <typename T>
T softmax_dropout_row(const SoftmaxDropoutShape& s, const PhiloxState& state, uint64_t threshold, T scale, int64_t row,
                      const T* x, T* probs, T* y) {
  const int64_t visible = visible_columns(s, row);
  T max = -std::numeric_limits<T>::infinity();
  for (int64_t c = 0; c < visible; ++c) max = x[c] > max ? x[c] : max;
  double sum = 0;
  for (int64_t c = 0; c < visible; ++c) {  // each exp once, kept in probs until the sum is known
    probs[c] = std::exp(x[c] - max);
    sum += static_cast<double>(probs[c]);
  }
  const std::vector<uint32_t>& words = row_words(s, state, row, visible);
  for (int64_t c = 0; c < s.cols; ++c) {
    probs[c] = c < visible ? static_cast<T>(static_cast<double>(probs[c]) / sum) : T(0);
    y[c] = !s.dropout ? probs[c] : c < visible && dropout_keep(words[c], threshold) ? probs[c] * scale : T(0);
  }
  return static_cast<T>(static_cast<double>(max) + std::log(sum));
}

template <typename T>
double dot(const T* a, const T* b, int64_t n) {
  double sum = 0;
  for (int64_t i = 0; i < n; ++i) sum += static_cast<double>(a[i]) * static_cast<double>(b[i]);
  return sum;
}

// x[c] = (q_row . k_c) * score_scale for the `visible` first keys of a group.
template <typename T>
void score_row(const FlashAttentionShape& shape, const T* q_row, const T* keys, int64_t visible, T* x) {
  for (int64_t c = 0; c < visible; ++c)
    x[c] = static_cast<T>(dot(q_row, keys + c * shape.head_dim, shape.head_dim) * shape.score_scale);
}

}  // namespace

template <typename T>
void softmax_dropout_forward(int64_t begin, int64_t end, const SoftmaxDropoutShape& shape, const PhiloxState& state,
                             uint64_t threshold, T scale, T* y, T* probs, const T* x) {
  for (int64_t r = begin; r < end; ++r)
    softmax_dropout_row(shape, state, threshold, scale, r, x + r * shape.cols, probs + r * shape.cols,
                        y + r * shape.cols);
}

template <typename T>
void softmax_dropout_backward(int64_t begin, int64_t end, const SoftmaxDropoutShape& shape, const PhiloxState& state,
                              uint64_t threshold, T scale, T* grad_x, const T* grad_y, const T* probs) {
  for (int64_t r = begin; r < end; ++r) {
    const int64_t visible = visible_columns(shape, r);
    const T* gy = grad_y + r * shape.cols;
    const T* pr = probs + r * shape.cols;
    T* gx = grad_x + r * shape.cols;
    const std::vector<uint32_t>& words = row_words(shape, state, r, visible);
    const auto g = [&](int64_t c) {
      return !shape.dropout ? gy[c] : dropout_keep(words[c], threshold) ? gy[c] * scale : T(0);
    };
    double dot = 0;
    for (int64_t c = 0; c < visible; ++c) dot += static_cast<double>(g(c)) * static_cast<double>(pr[c]);
    for (int64_t c = 0; c < shape.cols; ++c) gx[c] = c < visible ? static_cast<T>(pr[c] * (g(c) - dot)) : T(0);
  }
}

template <typename T>
void flash_attention_forward(int64_t begin, int64_t end, const FlashAttentionShape& shape, const PhiloxState& state,
                             uint64_t threshold, T scale, T* out, T* lse, const T* q, const T* k, const T* v) {
  const int64_t q_len = shape.scores.q_len, cols = shape.scores.cols, dh = shape.head_dim;
  thread_local std::vector<T> x, probs, y;
  x.resize(static_cast<size_t>(cols));
  probs.resize(static_cast<size_t>(cols));
  y.resize(static_cast<size_t>(cols));
  std::vector<double> acc(static_cast<size_t>(dh));
  for (int64_t g = begin; g < end; ++g) {
    const T* keys = k + g * cols * dh;
    const T* values = v + g * cols * dh;
    for (int64_t i = 0; i < q_len; ++i) {
      const int64_t row = g * q_len + i, visible = visible_columns(shape.scores, row);
      score_row(shape, q + row * dh, keys, visible, x.data());
      lse[row] = softmax_dropout_row(shape.scores, state, threshold, scale, row, x.data(), probs.data(), y.data());
      std::fill(acc.begin(), acc.end(), 0.0);
      for (int64_t c = 0; c < visible; ++c)
        for (int64_t d = 0; d < dh; ++d) acc[d] += static_cast<double>(y[c]) * static_cast<double>(values[c * dh + d]);
      for (int64_t d = 0; d < dh; ++d) out[row * dh + d] = static_cast<T>(acc[d]);
    }
  }
}

template <typename T>
void flash_attention_backward(int64_t begin, int64_t end, const FlashAttentionShape& shape, const PhiloxState& state,
                              uint64_t threshold, T scale, T* grad_q, T* grad_k, T* grad_v, const T* grad_out,
                              const T* q, const T* k, const T* v, const T* out, const T* lse) {
  const int64_t q_len = shape.scores.q_len, cols = shape.scores.cols, dh = shape.head_dim;
  thread_local std::vector<T> x;
  x.resize(static_cast<size_t>(cols));
  std::vector<double> dq(static_cast<size_t>(dh)), dk(static_cast<size_t>(cols * dh)), dv(dk.size());
  for (int64_t g = begin; g < end; ++g) {
    const T* keys = k + g * cols * dh;
    const T* values = v + g * cols * dh;
    std::fill(dk.begin(), dk.end(), 0.0);
    std::fill(dv.begin(), dv.end(), 0.0);
    for (int64_t i = 0; i < q_len; ++i) {
      const int64_t row = g * q_len + i, visible = visible_columns(shape.scores, row);
      const T* q_row = q + row * dh;
      const T* grad_row = grad_out + row * dh;
      score_row(shape, q_row, keys, visible, x.data());
      const std::vector<uint32_t>& words = row_words(shape.scores, state, row, visible);
      const double row_dot = dot(grad_row, out + row * dh, dh);  // D
      std::fill(dq.begin(), dq.end(), 0.0);
      for (int64_t c = 0; c < visible; ++c) {
        const T p = std::exp(x[c] - lse[row]);
        const T factor = !shape.scores.dropout ? T(1) : dropout_keep(words[c], threshold) ? scale : T(0);
        const double dp = dot(grad_row, values + c * dh, dh);
        const double ds = static_cast<double>(p) * (static_cast<double>(factor) * dp - row_dot);
        const double weight = static_cast<double>(factor * p);  // the probability after dropout
        for (int64_t d = 0; d < dh; ++d) {
          dq[d] += ds * static_cast<double>(keys[c * dh + d]);
          dk[c * dh + d] += ds * static_cast<double>(q_row[d]);
          dv[c * dh + d] += weight * static_cast<double>(grad_row[d]);
        }
      }
      for (int64_t d = 0; d < dh; ++d) grad_q[row * dh + d] = static_cast<T>(dq[d] * shape.score_scale);
    }
    for (int64_t e = 0; e < cols * dh; ++e) {
      grad_k[g * cols * dh + e] = static_cast<T>(dk[e] * shape.score_scale);
      grad_v[g * cols * dh + e] = static_cast<T>(dv[e]);
    }
  }
}

template void softmax_dropout_forward<float>(int64_t, int64_t, const SoftmaxDropoutShape&, const PhiloxState&, uint64_t,
                                             float, float*, float*, const float*);
template void softmax_dropout_forward<double>(int64_t, int64_t, const SoftmaxDropoutShape&, const PhiloxState&,
                                              uint64_t, double, double*, double*, const double*);
template void softmax_dropout_backward<float>(int64_t, int64_t, const SoftmaxDropoutShape&, const PhiloxState&,
                                              uint64_t, float, float*, const float*, const float*);
template void softmax_dropout_backward<double>(int64_t, int64_t, const SoftmaxDropoutShape&, const PhiloxState&,
                                               uint64_t, double, double*, const double*, const double*);
template void flash_attention_forward<float>(int64_t, int64_t, const FlashAttentionShape&, const PhiloxState&, uint64_t,
                                             float, float*, float*, const float*, const float*, const float*);
template void flash_attention_forward<double>(int64_t, int64_t, const FlashAttentionShape&, const PhiloxState&,
                                              uint64_t, double, double*, double*, const double*, const double*,
                                              const double*);
template void flash_attention_backward<float>(int64_t, int64_t, const FlashAttentionShape&, const PhiloxState&,
                                              uint64_t, float, float*, float*, float*, const float*, const float*,
                                              const float*, const float*, const float*, const float*);
template void flash_attention_backward<double>(int64_t, int64_t, const FlashAttentionShape&, const PhiloxState&,
                                               uint64_t, double, double*, double*, double*, const double*,
                                               const double*, const double*, const double*, const double*,
                                               const double*);

}  // namespace minidl::cpu
