#include "kernels/cpu/attention.h"

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
  at_row.offset += static_cast<uint64_t>(row * s.cols);
  if (s.dropout) philox_words(0, visible, at_row, words.data());
  return words;
}

}  // namespace

template <typename T>
void softmax_dropout_forward(int64_t begin, int64_t end, const SoftmaxDropoutShape& shape, const PhiloxState& state,
                             uint64_t threshold, T scale, T* y, T* probs, const T* x) {
  for (int64_t r = begin; r < end; ++r) {
    const int64_t visible = visible_columns(shape, r);
    const T* xr = x + r * shape.cols;
    T* pr = probs + r * shape.cols;
    T* yr = y + r * shape.cols;
    T max = -std::numeric_limits<T>::infinity();
    for (int64_t c = 0; c < visible; ++c) max = xr[c] > max ? xr[c] : max;
    double sum = 0;
    for (int64_t c = 0; c < visible; ++c) sum += static_cast<double>(std::exp(xr[c] - max));
    const std::vector<uint32_t>& words = row_words(shape, state, r, visible);
    for (int64_t c = 0; c < shape.cols; ++c) {
      pr[c] = c < visible ? static_cast<T>(static_cast<double>(std::exp(xr[c] - max)) / sum) : T(0);
      yr[c] = !shape.dropout ? pr[c] : c < visible && dropout_keep(words[c], threshold) ? pr[c] * scale : T(0);
    }
  }
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

template void softmax_dropout_forward<float>(int64_t, int64_t, const SoftmaxDropoutShape&, const PhiloxState&, uint64_t,
                                             float, float*, float*, const float*);
template void softmax_dropout_forward<double>(int64_t, int64_t, const SoftmaxDropoutShape&, const PhiloxState&,
                                              uint64_t, double, double*, double*, const double*);
template void softmax_dropout_backward<float>(int64_t, int64_t, const SoftmaxDropoutShape&, const PhiloxState&,
                                              uint64_t, float, float*, const float*, const float*);
template void softmax_dropout_backward<double>(int64_t, int64_t, const SoftmaxDropoutShape&, const PhiloxState&,
                                               uint64_t, double, double*, const double*, const double*);

}  // namespace minidl::cpu
