// The index math of 2-D sliding windows over contiguous [planes, height, width] arrays, shared by
// the CPU reference kernels and the CUDA kernels of convolution (im2col / col2im) and pooling.
#pragma once

#include <cstdint>

#include "kernels/common/host_device.h"

namespace minidl {

// One spatial axis. Tap k of output o reads input o * stride - pad + k * dilation (a position
// outside [0, in) is padding). An adaptive axis (adaptive pooling) uses in and out only.
struct WindowAxis {
  int64_t in = 1, out = 1;
  int64_t kernel = 1, stride = 1, pad = 0, dilation = 1;
  bool adaptive = false;
};

struct Window2d {
  int64_t planes = 0;  // N * C
  WindowAxis h, w;
};

// [begin, end) of indices along one axis.
struct IndexRange {
  int64_t begin, end;
};

// Outputs of a fixed window over `in` inputs (PyTorch's floor mode).
FW_HOST_DEVICE FW_INLINE int64_t window_out_size(int64_t in, int64_t kernel, int64_t stride, int64_t pad,
                                                 int64_t dilation) {
  return (in + 2 * pad - dilation * (kernel - 1) - 1) / stride + 1;
}

FW_HOST_DEVICE FW_INLINE int64_t window_tap(const WindowAxis& a, int64_t o, int64_t k) {
  return o * a.stride - a.pad + k * a.dilation;
}

// Whether position i is an input (not padding).
FW_HOST_DEVICE FW_INLINE bool window_holds(const WindowAxis& a, int64_t i) { return i >= 0 && i < a.in; }

// The output whose tap k reads input i, or -1 when none does: col2im's gather inverts window_tap.
FW_HOST_DEVICE FW_INLINE int64_t window_output_of_tap(const WindowAxis& a, int64_t i, int64_t k) {
  const int64_t t = i + a.pad - k * a.dilation;
  if (t < 0 || t % a.stride != 0 || t / a.stride >= a.out) return -1;
  return t / a.stride;
}

FW_HOST_DEVICE FW_INLINE int64_t floor_div(int64_t a, int64_t b) { return a >= 0 ? a / b : -((-a + b - 1) / b); }
FW_HOST_DEVICE FW_INLINE int64_t ceil_div(int64_t a, int64_t b) { return -floor_div(-a, b); }

// The unclipped window of pooling output o: [o * stride - pad, + kernel), or PyTorch's adaptive
// window [floor(o * in / out), ceil((o + 1) * in / out)).
FW_HOST_DEVICE FW_INLINE IndexRange pool_window_padded(const WindowAxis& a, int64_t o) {
  if (a.adaptive) return {floor_div(o * a.in, a.out), ceil_div((o + 1) * a.in, a.out)};
  const int64_t begin = o * a.stride - a.pad;
  return {begin, begin + a.kernel};
}

// The inputs pooling output o reads: its window clipped to [0, in) (never empty: the ops check
// pad <= kernel / 2).
FW_HOST_DEVICE FW_INLINE IndexRange pool_window(const WindowAxis& a, int64_t o) {
  const IndexRange r = pool_window_padded(a, o);
  return {r.begin > 0 ? r.begin : 0, r.end < a.in ? r.end : a.in};
}

// The outputs whose window holds input i (the backward gathers), the exact inverse of pool_window:
// fixed windows: o * stride - pad <= i < o * stride - pad + kernel;
// adaptive: floor(o * in / out) <= i < ceil((o + 1) * in / out) iff
//           floor(i * out / in) <= o < ceil((i + 1) * out / in).
FW_HOST_DEVICE FW_INLINE IndexRange pool_outputs(const WindowAxis& a, int64_t i) {
  if (a.adaptive) return {floor_div(i * a.out, a.in), ceil_div((i + 1) * a.out, a.in)};
  const int64_t begin = floor_div(i + a.pad - a.kernel, a.stride) + 1, end = floor_div(i + a.pad, a.stride) + 1;
  return {begin > 0 ? begin : 0, end < a.out ? end : a.out};
}

// Average pooling's count along one axis for output o, as PyTorch: with count_include_pad the
// window counts its padding (but not past in + pad), else only the inputs it covers.
FW_HOST_DEVICE FW_INLINE int64_t pool_count(const WindowAxis& a, int64_t o, bool count_include_pad) {
  if (a.adaptive || !count_include_pad) {
    const IndexRange r = pool_window(a, o);
    return r.end - r.begin;
  }
  const IndexRange r = pool_window_padded(a, o);
  return (r.end < a.in + a.pad ? r.end : a.in + a.pad) - r.begin;
}

// Max pooling's order: v replaces the current best when larger, or when v is the first NaN (NaN
// propagates); ties keep the earlier element in window order (row by row).
template <typename T>
FW_HOST_DEVICE FW_INLINE bool pool_max_replaces(T v, T best) {
  return v > best || (v != v && best == best);
}

// Max pooling of output (oh, ow) of one plane: the maximum and its offset ih * width + iw in the plane.
template <typename T>
struct PoolMax {
  T value;
  int64_t index;
};

template <typename T>
FW_HOST_DEVICE FW_INLINE PoolMax<T> pool_max_at(const Window2d& g, const T* plane, int64_t oh, int64_t ow) {
  const IndexRange rh = pool_window(g.h, oh), rw = pool_window(g.w, ow);
  PoolMax<T> best{plane[rh.begin * g.w.in + rw.begin], rh.begin * g.w.in + rw.begin};
  for (int64_t ih = rh.begin; ih < rh.end; ++ih)
    for (int64_t iw = rw.begin; iw < rw.end; ++iw) {
      const T v = plane[ih * g.w.in + iw];
      if (pool_max_replaces(v, best.value)) best = {v, ih * g.w.in + iw};
    }
  return best;
}

// Average pooling's divisor for output (oh, ow): forward divides the window's sum by it, backward
// gives each input of the window the output's gradient divided by it.
template <typename T>
FW_HOST_DEVICE FW_INLINE T pool_avg_divisor(const Window2d& g, bool count_include_pad, int64_t oh, int64_t ow) {
  return static_cast<T>(pool_count(g.h, oh, count_include_pad) * pool_count(g.w, ow, count_include_pad));
}

// Average pooling of output (oh, ow) of one plane: the window's sum in T, row by row.
template <typename T>
FW_HOST_DEVICE FW_INLINE T pool_avg_at(const Window2d& g, bool count_include_pad, const T* plane, int64_t oh,
                                       int64_t ow) {
  const IndexRange rh = pool_window(g.h, oh), rw = pool_window(g.w, ow);
  T sum = 0;
  for (int64_t ih = rh.begin; ih < rh.end; ++ih)
    for (int64_t iw = rw.begin; iw < rw.end; ++iw) sum += plane[ih * g.w.in + iw];
  return sum / pool_avg_divisor<T>(g, count_include_pad, oh, ow);
}

}  // namespace minidl
