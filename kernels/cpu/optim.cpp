#include "kernels/cpu/optim.h"

#include <algorithm>

namespace minidl::cpu {

template <typename T, typename Params>
void optimizer_step(const Params& hp, int64_t begin, int64_t end, const ParamBuffers<T>& b) {
  for (int64_t i = begin; i < end; ++i) update_element(hp, b, i);
}

template <typename T>
void lamb_moments(const LambParams& hp, int64_t begin, int64_t end, const ParamBuffers<T>& b) {
  for (int64_t i = begin; i < end; ++i) lamb_moments_update(hp, b.grad[i], b.state[0][i], b.state[1][i]);
}

template <typename T>
LambSquares lamb_squares(const LambParams& hp, const ParamBuffers<T>& b) {
  LambSquares total{0, 0};
  for (int64_t start = 0; start < b.numel; start += kMultiTensorChunk) {
    LambSquares chunk{0, 0};
    for (int64_t i = start; i < std::min(start + kMultiTensorChunk, b.numel); ++i) {
      const double p = b.param[i], r = lamb_direction(hp, b.param[i], b.state[0][i], b.state[1][i]);
      chunk.param += p * p;
      chunk.direction += r * r;
    }
    total.param += chunk.param;
    total.direction += chunk.direction;
  }
  return total;
}

template <typename T>
void lamb_apply(const LambParams& hp, double trust, int64_t begin, int64_t end, const ParamBuffers<T>& b) {
  for (int64_t i = begin; i < end; ++i) lamb_param_update(hp, trust, b.param[i], b.state[0][i], b.state[1][i]);
}

template <typename T>
double norm(NormKind kind, int64_t n, const T* x) {
  double total = 0;
  for (int64_t start = 0; start < n; start += kMultiTensorChunk) {
    double chunk = 0;
    for (int64_t i = start; i < std::min(start + kMultiTensorChunk, n); ++i)
      chunk = norm_combine(kind, chunk, norm_term(kind, x[i]));
    total = norm_combine(kind, total, chunk);
  }
  return total;
}

template <typename T>
void clip(const ClipParams& hp, int64_t begin, int64_t end, T* out, const T* x) {
  for (int64_t i = begin; i < end; ++i) out[i] = clip_value(hp, x[i]);
}

#define MINIDL_OPTIMIZER_STEP(T, Params) \
  template void optimizer_step<T, Params>(const Params&, int64_t, int64_t, const ParamBuffers<T>&);
#define MINIDL_OPTIM_FOR_TYPE(T)                                                                        \
  MINIDL_ELEMENTWISE_OPTIM_RULES(MINIDL_OPTIMIZER_STEP, T)                                              \
  template void lamb_moments<T>(const LambParams&, int64_t, int64_t, const ParamBuffers<T>&);           \
  template LambSquares lamb_squares<T>(const LambParams&, const ParamBuffers<T>&);                      \
  template void lamb_apply<T>(const LambParams&, double, int64_t, int64_t, const ParamBuffers<T>&);     \
  template double norm<T>(NormKind, int64_t, const T*);                                                 \
  template void clip<T>(const ClipParams&, int64_t, int64_t, T*, const T*);

MINIDL_OPTIM_FOR_TYPE(float)
MINIDL_OPTIM_FOR_TYPE(double)

}  // namespace minidl::cpu
