#include "kernels/cpu/pool.h"

namespace minidl::cpu {

namespace {

// Zeroes planes [begin, end) of grad_x for a backward scatter.
template <typename T>
void zero_planes(int64_t begin, int64_t end, const Window2d& g, T* grad_x) {
  const int64_t in_plane = g.h.in * g.w.in;
  for (int64_t i = begin * in_plane; i < end * in_plane; ++i) grad_x[i] = T(0);
}

}  // namespace

template <typename T>
void max_pool2d_forward(int64_t begin, int64_t end, const Window2d& g, T* y, int64_t* indices, const T* x) {
  const int64_t in_plane = g.h.in * g.w.in, out_plane = g.h.out * g.w.out;
  for (int64_t p = begin; p < end; ++p)
    for (int64_t oh = 0; oh < g.h.out; ++oh)
      for (int64_t ow = 0; ow < g.w.out; ++ow) {
        const int64_t o = p * out_plane + oh * g.w.out + ow;
        const PoolMax<T> m = pool_max_at(g, x + p * in_plane, oh, ow);
        y[o] = m.value;
        indices[o] = m.index;
      }
}

template <typename T>
void max_pool2d_backward(int64_t begin, int64_t end, const Window2d& g, T* grad_x, const T* grad_y,
                         const int64_t* indices) {
  zero_planes(begin, end, g, grad_x);
  const int64_t in_plane = g.h.in * g.w.in, out_plane = g.h.out * g.w.out;
  for (int64_t p = begin; p < end; ++p)
    for (int64_t o = p * out_plane; o < (p + 1) * out_plane; ++o) grad_x[p * in_plane + indices[o]] += grad_y[o];
}

template <typename T>
void avg_pool2d_forward(int64_t begin, int64_t end, const Window2d& g, bool count_include_pad, T* y, const T* x) {
  const int64_t in_plane = g.h.in * g.w.in, out_plane = g.h.out * g.w.out;
  for (int64_t p = begin; p < end; ++p)
    for (int64_t oh = 0; oh < g.h.out; ++oh)
      for (int64_t ow = 0; ow < g.w.out; ++ow)
        y[p * out_plane + oh * g.w.out + ow] = pool_avg_at(g, count_include_pad, x + p * in_plane, oh, ow);
}

template <typename T>
void avg_pool2d_backward(int64_t begin, int64_t end, const Window2d& g, bool count_include_pad, T* grad_x,
                         const T* grad_y) {
  zero_planes(begin, end, g, grad_x);
  const int64_t in_plane = g.h.in * g.w.in, out_plane = g.h.out * g.w.out;
  for (int64_t p = begin; p < end; ++p)
    for (int64_t oh = 0; oh < g.h.out; ++oh)
      for (int64_t ow = 0; ow < g.w.out; ++ow) {
        const T share = grad_y[p * out_plane + oh * g.w.out + ow] / pool_avg_divisor<T>(g, count_include_pad, oh, ow);
        const IndexRange rh = pool_window(g.h, oh), rw = pool_window(g.w, ow);
        for (int64_t ih = rh.begin; ih < rh.end; ++ih)
          for (int64_t iw = rw.begin; iw < rw.end; ++iw) grad_x[p * in_plane + ih * g.w.in + iw] += share;
      }
}

#define MINIDL_POOL_INSTANTIATE(T)                                                                       \
  template void max_pool2d_forward<T>(int64_t, int64_t, const Window2d&, T*, int64_t*, const T*);        \
  template void max_pool2d_backward<T>(int64_t, int64_t, const Window2d&, T*, const T*, const int64_t*); \
  template void avg_pool2d_forward<T>(int64_t, int64_t, const Window2d&, bool, T*, const T*);            \
  template void avg_pool2d_backward<T>(int64_t, int64_t, const Window2d&, bool, T*, const T*);
MINIDL_POOL_INSTANTIATE(float)
MINIDL_POOL_INSTANTIATE(double)
#undef MINIDL_POOL_INSTANTIATE

}  // namespace minidl::cpu
