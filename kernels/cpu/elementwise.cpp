#include "kernels/cpu/elementwise.h"

#include <algorithm>
#include <cmath>

namespace minidl::cpu {

using std::erf, std::exp, std::log, std::pow, std::sqrt, std::tanh;

namespace {

// Calls fn(i, offset_a, offset_b) for i in [begin, end), computing the strided offsets once per
// run of the innermost dims instead of once per element. Both views index one logical shape, so
// the shorter run divides the longer and a run never wraps.
template <typename Fn>
void for_each_offset(int64_t begin, int64_t end, const StridedIndexer& ia, const StridedIndexer& ib, Fn&& fn) {
  if (begin >= end) return;
  const int64_t run = std::min(ia.inner_size(end), ib.inner_size(end));
  const int64_t sa = ia.inner_stride(), sb = ib.inner_stride();
  for (int64_t start = begin; start < end;) {
    const int64_t stop = std::min(end, (start / run + 1) * run);
    const int64_t oa = ia.offset(start), ob = ib.offset(start);
    // The common cases, kept separate so the compiler vectorizes them: both contiguous, or one
    // operand broadcast along the run (a per-channel scale or bias).
    if (sa == 1 && sb == 1) {
      for (int64_t j = 0; j < stop - start; ++j) fn(start + j, oa + j, ob + j);
    } else if (sa == 1 && sb == 0) {
      for (int64_t j = 0; j < stop - start; ++j) fn(start + j, oa + j, ob);
    } else if (sa == 0 && sb == 1) {
      for (int64_t j = 0; j < stop - start; ++j) fn(start + j, oa, ob + j);
    } else {
      for (int64_t j = 0; j < stop - start; ++j) fn(start + j, oa + j * sa, ob + j * sb);
    }
    start = stop;
  }
}

}  // namespace

template <typename T>
void unary_forward(UnaryKind kind, int64_t begin, int64_t end, T* out, const T* x, const StridedIndexer& ix) {
  dispatch_kind(kind, [&](auto k) {
    if (ix.contiguous) {
      for (int64_t i = begin; i < end; ++i) out[i] = minidl::unary_forward(k(), x[i]);
    } else {
      for_each_offset(begin, end, ix, ix, [&](int64_t i, int64_t ox, int64_t) { out[i] = minidl::unary_forward(k(), x[ox]); });
    }
  });
}

template <typename T>
void unary_backward(UnaryKind kind, int64_t begin, int64_t end, T* grad_x, const T* grad_y, const T* x,
                    const T* y) {
  dispatch_kind(kind, [&](auto k) {
    for (int64_t i = begin; i < end; ++i) grad_x[i] = grad_y[i] * unary_derivative(k(), x[i], y[i]);
  });
}

template <typename T>
void binary_forward(BinaryKind kind, int64_t begin, int64_t end, T* out, const T* a, const StridedIndexer& ia,
                    const T* b, const StridedIndexer& ib) {
  dispatch_kind(kind, [&](auto k) {
    for_each_offset(begin, end, ia, ib,
                    [&](int64_t i, int64_t oa, int64_t ob) { out[i] = minidl::binary_forward(k(), a[oa], b[ob]); });
  });
}

template <typename D, typename S>
void copy_cast(int64_t begin, int64_t end, D* dst, const StridedIndexer& id, const S* src, const StridedIndexer& is) {
  for_each_offset(begin, end, id, is, [&](int64_t, int64_t od, int64_t os) { dst[od] = static_cast<D>(src[os]); });
}

template <typename S>
void copy_to_bool(int64_t begin, int64_t end, uint8_t* dst, const StridedIndexer& id, const S* src,
                  const StridedIndexer& is) {
  for_each_offset(begin, end, id, is, [&](int64_t, int64_t od, int64_t os) { dst[od] = src[os] != S(0) ? 1 : 0; });
}

template <typename T>
void fill(int64_t n, T* out, T value) {
  for (int64_t i = 0; i < n; ++i) out[i] = value;
}

#define MINIDL_FLOAT_KERNELS(T)                                                                \
  template void unary_forward<T>(UnaryKind, int64_t, int64_t, T*, const T*, const StridedIndexer&); \
  template void unary_backward<T>(UnaryKind, int64_t, int64_t, T*, const T*, const T*, const T*);   \
  template void binary_forward<T>(BinaryKind, int64_t, int64_t, T*, const T*, const StridedIndexer&, \
                                  const T*, const StridedIndexer&);
MINIDL_FLOAT_KERNELS(float)
MINIDL_FLOAT_KERNELS(double)

#define MINIDL_FILL(T) template void fill<T>(int64_t, T*, T);
MINIDL_FILL(float)
MINIDL_FILL(double)
MINIDL_FILL(int32_t)
MINIDL_FILL(int64_t)
MINIDL_FILL(uint8_t)
MINIDL_FILL(bf16)

#define MINIDL_COPY(D, S) \
  template void copy_cast<D, S>(int64_t, int64_t, D*, const StridedIndexer&, const S*, const StridedIndexer&);
#define MINIDL_COPY_FROM(S)                                                                    \
  template void copy_to_bool<S>(int64_t, int64_t, uint8_t*, const StridedIndexer&, const S*,          \
                                const StridedIndexer&);                                              \
  MINIDL_COPY(float, S) MINIDL_COPY(double, S) MINIDL_COPY(int32_t, S) MINIDL_COPY(int64_t, S) MINIDL_COPY(uint8_t, S) \
  MINIDL_COPY(bf16, S)
MINIDL_COPY_FROM(float)
MINIDL_COPY_FROM(double)
MINIDL_COPY_FROM(int32_t)
MINIDL_COPY_FROM(int64_t)
MINIDL_COPY_FROM(uint8_t)
MINIDL_COPY_FROM(bf16)

}  // namespace minidl::cpu
