#include "kernels/cpu/conv.h"

namespace minidl::cpu {

namespace {

// Runs fn(col, in) for every tap of planes [begin, end): col indexes cols, in indexes x (-1 for
// padding). im2col and col2im are the same walk with the copy in opposite directions.
template <typename Fn>
void for_each_tap(int64_t begin, int64_t end, const Window2d& g, Fn&& fn) {
  const int64_t in_plane = g.h.in * g.w.in, out_plane = g.h.out * g.w.out;
  for (int64_t p = begin; p < end; ++p)
    for (int64_t ki = 0; ki < g.h.kernel; ++ki)
      for (int64_t kj = 0; kj < g.w.kernel; ++kj) {
        const int64_t row = (p * g.h.kernel + ki) * g.w.kernel + kj;
        for (int64_t oh = 0; oh < g.h.out; ++oh) {
          const int64_t ih = window_tap(g.h, oh, ki);
          for (int64_t ow = 0; ow < g.w.out; ++ow) {
            const int64_t iw = window_tap(g.w, ow, kj);
            const bool inside = window_holds(g.h, ih) && window_holds(g.w, iw);
            fn(row * out_plane + oh * g.w.out + ow, inside ? p * in_plane + ih * g.w.in + iw : int64_t{-1});
          }
        }
      }
}

}  // namespace

template <typename T>
void im2col(int64_t begin, int64_t end, const Window2d& g, T* cols, const T* x) {
  for_each_tap(begin, end, g, [&](int64_t col, int64_t in) { cols[col] = in >= 0 ? x[in] : T(0); });
}

template <typename T>
void col2im(int64_t begin, int64_t end, const Window2d& g, T* x, const T* cols) {
  const int64_t in_plane = g.h.in * g.w.in;
  for (int64_t i = begin * in_plane; i < end * in_plane; ++i) x[i] = T(0);
  for_each_tap(begin, end, g, [&](int64_t col, int64_t in) {
    if (in >= 0) x[in] += cols[col];
  });
}

template void im2col<float>(int64_t, int64_t, const Window2d&, float*, const float*);
template void im2col<double>(int64_t, int64_t, const Window2d&, double*, const double*);
template void col2im<float>(int64_t, int64_t, const Window2d&, float*, const float*);
template void col2im<double>(int64_t, int64_t, const Window2d&, double*, const double*);

}  // namespace minidl::cpu
