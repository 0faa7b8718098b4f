#include "kernels/cpu/reduce.h"

#include <cmath>
#include <limits>
#include <vector>

namespace minidl::cpu {

template <typename T>
void reduce(ReduceKind kind, int64_t outer, int64_t extent, int64_t inner, T* out, const T* x) {
  std::vector<double> acc(static_cast<size_t>(inner));
  for (int64_t o = 0; o < outer; ++o) {
    const T* block = x + o * extent * inner;
    T* dst = out + o * inner;
    if (kind == ReduceKind::Max) {
      for (int64_t i = 0; i < inner; ++i) dst[i] = -std::numeric_limits<T>::infinity();
      for (int64_t r = 0; r < extent; ++r)
        for (int64_t i = 0; i < inner; ++i) {
          const T v = block[r * inner + i];
          dst[i] = (v > dst[i] || std::isnan(v)) ? v : dst[i];
        }
      continue;
    }
    const double scale = kind == ReduceKind::Mean ? 1.0 / static_cast<double>(extent) : 1.0;
    if (inner == 1) {
      // A row: eight independent partial sums, so the adds overlap instead of waiting on each other.
      constexpr int kLanes = 8;
      double lanes[kLanes] = {};
      int64_t r = 0;
      for (; r + kLanes <= extent; r += kLanes)
        for (int k = 0; k < kLanes; ++k) lanes[k] += block[r + k];
      for (; r < extent; ++r) lanes[0] += block[r];
      double total = 0;
      for (double lane : lanes) total += lane;
      dst[0] = static_cast<T>(total * scale);
      continue;
    }
    // Walking r outside i keeps the reads sequential for any inner.
    acc.assign(acc.size(), 0.0);
    for (int64_t r = 0; r < extent; ++r)
      for (int64_t i = 0; i < inner; ++i) acc[i] += block[r * inner + i];
    for (int64_t i = 0; i < inner; ++i) dst[i] = static_cast<T>(acc[i] * scale);
  }
}

template <typename T>
void argmax_rows(int64_t rows, int64_t cols, int64_t* out, const T* x) {
  for (int64_t r = 0; r < rows; ++r) {
    const T* row = x + r * cols;
    int64_t best = 0;
    for (int64_t c = 1; c < cols; ++c) {
      if (std::isnan(row[best])) break;
      if (row[c] > row[best] || std::isnan(row[c])) best = c;
    }
    out[r] = best;
  }
}

template void reduce<float>(ReduceKind, int64_t, int64_t, int64_t, float*, const float*);
template void reduce<double>(ReduceKind, int64_t, int64_t, int64_t, double*, const double*);
template void argmax_rows<float>(int64_t, int64_t, int64_t*, const float*);
template void argmax_rows<double>(int64_t, int64_t, int64_t*, const double*);

}  // namespace minidl::cpu
