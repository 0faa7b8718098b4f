// im2col and col2im of 2-D convolution (CPU references: kernels/cpu/conv.h); the GEMMs between
// them are matmul's. A thread per element, grid-stride. col2im gathers instead of scattering: a
// thread per input element sums the taps that read it in (ki, kj) order, the order the
// reference's scatter adds them, so results are bit-identical for any launch and need no atomics.
#include <cstdint>

#include "kernels/common/window2d.h"
#include "kernels/cuda/grid_stride.h"
#include "kernels/cuda/launch.h"

namespace minidl::MINIDL_CUDA_NS {

#include "kernels/cuda/conv.inc"

namespace {

// n = planes * kh * kw * out_h * out_w: element i of cols.
template <typename T, typename Index>
__global__ void im2col_kernel(int64_t n, Window2d g, T* cols, const T* x) {
  for (int64_t i = thread_index(); i < n; i += thread_count()) {
    const PlanePosition out = plane_position<Index>(i, g.h.out, g.w.out);          // (tap, oh, ow)
    const PlanePosition tap = plane_position<Index>(out.plane, g.h.kernel, g.w.kernel);  // (p, ki, kj)
    const int64_t ih = window_tap(g.h, out.y, tap.y), iw = window_tap(g.w, out.x, tap.x);
    cols[i] = window_holds(g.h, ih) && window_holds(g.w, iw) ? x[(tap.plane * g.h.in + ih) * g.w.in + iw] : T(0);
  }
}

// n = planes * H * W: element i of x.
template <typename T, typename Index>
__global__ void col2im_kernel(int64_t n, Window2d g, T* x, const T* cols) {
  for (int64_t i = thread_index(); i < n; i += thread_count()) {
    const PlanePosition in = plane_position<Index>(i, g.h.in, g.w.in);
    const int64_t p = in.plane, ih = in.y, iw = in.x;
    T sum = 0;
    for (int64_t ki = 0; ki < g.h.kernel; ++ki) {
      const int64_t oh = window_output_of_tap(g.h, ih, ki);
      if (oh < 0) continue;
      for (int64_t kj = 0; kj < g.w.kernel; ++kj) {
        const int64_t ow = window_output_of_tap(g.w, iw, kj);
        if (ow < 0) continue;
        const int64_t row = (p * g.h.kernel + ki) * g.w.kernel + kj;
        sum += cols[(row * g.h.out + oh) * g.w.out + ow];
      }
    }
    x[i] = sum;
  }
}

}  // namespace

template <typename T>
void im2col(const Window2d& g, T* cols, const T* x, Stream stream) {
  launch_indexed("im2col", [](auto index_type) { return im2col_kernel<T, decltype(index_type)>; },
                 g.planes * g.h.kernel * g.w.kernel * g.h.out * g.w.out, stream, g, cols, x);
}

template <typename T>
void col2im(const Window2d& g, T* x, const T* cols, Stream stream) {
  launch_indexed("col2im", [](auto index_type) { return col2im_kernel<T, decltype(index_type)>; },
                 g.planes * g.h.in * g.w.in, stream, g, x, cols);
}

template void im2col<float>(const Window2d&, float*, const float*, Stream);
template void im2col<double>(const Window2d&, double*, const double*, Stream);
template void col2im<float>(const Window2d&, float*, const float*, Stream);
template void col2im<double>(const Window2d&, double*, const double*, Stream);

}  // namespace minidl::MINIDL_CUDA_NS
