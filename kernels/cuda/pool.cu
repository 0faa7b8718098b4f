// 2-D max and average pooling (CPU references: kernels/cpu/pool.h). Forward: a thread per output,
// running the reference's per-output code (kernels/common/window2d.h). Backward gathers instead
// of scattering: a thread per input element walks the outputs whose window holds it
// (pool_outputs) in output order, the order the reference's scatter adds them, so results are
// bit-identical for any launch and need no atomics.
#include <cstdint>

#include "kernels/common/window2d.h"
#include "kernels/cuda/grid_stride.h"
#include "kernels/cuda/launch.h"

namespace minidl::MINIDL_CUDA_NS {

#include "kernels/cuda/pool.inc"

namespace {

// n = planes * out_h * out_w: output i.
template <typename T, typename Index>
__global__ void max_pool2d_forward_kernel(int64_t n, Window2d g, T* y, int64_t* indices, const T* x) {
  for (int64_t i = thread_index(); i < n; i += thread_count()) {
    const PlanePosition o = plane_position<Index>(i, g.h.out, g.w.out);
    const PoolMax<T> m = pool_max_at(g, x + o.plane * g.h.in * g.w.in, o.y, o.x);
    y[i] = m.value;
    indices[i] = m.index;
  }
}

template <typename T, typename Index>
__global__ void avg_pool2d_forward_kernel(int64_t n, Window2d g, bool count_include_pad, T* y, const T* x) {
  for (int64_t i = thread_index(); i < n; i += thread_count()) {
    const PlanePosition o = plane_position<Index>(i, g.h.out, g.w.out);
    y[i] = pool_avg_at(g, count_include_pad, x + o.plane * g.h.in * g.w.in, o.y, o.x);
  }
}

// A pooling backward gather: n = planes * H * W; grad_x[i] = the terms that the outputs o of i's
// plane whose window holds i add with add(sum, o, oh, ow, offset of i in its plane), in output order.
template <typename Index, typename T, typename Add>
__device__ void pool_gather(int64_t n, const Window2d& g, T* grad_x, Add add) {
  for (int64_t i = thread_index(); i < n; i += thread_count()) {
    const PlanePosition in = plane_position<Index>(i, g.h.in, g.w.in);
    const int64_t p = in.plane, ih = in.y, iw = in.x;
    const IndexRange rh = pool_outputs(g.h, ih), rw = pool_outputs(g.w, iw);
    T sum = 0;
    for (int64_t oh = rh.begin; oh < rh.end; ++oh)
      for (int64_t ow = rw.begin; ow < rw.end; ++ow)
        add(sum, (p * g.h.out + oh) * g.w.out + ow, oh, ow, ih * g.w.in + iw);
    grad_x[i] = sum;
  }
}

// Max pooling: output o's gradient goes to its argmax alone.
template <typename T>
struct MaxPoolAdd {
  const T* grad_y;
  const int64_t* indices;
  __device__ void operator()(T& sum, int64_t o, int64_t, int64_t, int64_t offset) const {
    if (indices[o] == offset) sum += grad_y[o];
  }
};

// Average pooling: output o's gradient is shared by its window.
template <typename T>
struct AvgPoolAdd {
  Window2d g;
  bool count_include_pad;
  const T* grad_y;
  __device__ void operator()(T& sum, int64_t o, int64_t oh, int64_t ow, int64_t) const {
    sum += grad_y[o] / pool_avg_divisor<T>(g, count_include_pad, oh, ow);
  }
};

template <typename T, typename Index>
__global__ void max_pool2d_backward_kernel(int64_t n, Window2d g, T* grad_x, const T* grad_y, const int64_t* indices) {
  pool_gather<Index>(n, g, grad_x, MaxPoolAdd<T>{grad_y, indices});
}

template <typename T, typename Index>
__global__ void avg_pool2d_backward_kernel(int64_t n, Window2d g, bool count_include_pad, T* grad_x, const T* grad_y) {
  pool_gather<Index>(n, g, grad_x, AvgPoolAdd<T>{g, count_include_pad, grad_y});
}

}  // namespace

template <typename T>
void max_pool2d_forward(const Window2d& g, T* y, int64_t* indices, const T* x, Stream stream) {
  launch_indexed("max_pool2d_forward",
                 [](auto index_type) { return max_pool2d_forward_kernel<T, decltype(index_type)>; },
                 g.planes * g.h.out * g.w.out, stream, g, y, indices, x);
}

template <typename T>
void max_pool2d_backward(const Window2d& g, T* grad_x, const T* grad_y, const int64_t* indices, Stream stream) {
  launch_indexed("max_pool2d_backward",
                 [](auto index_type) { return max_pool2d_backward_kernel<T, decltype(index_type)>; },
                 g.planes * g.h.in * g.w.in, stream, g, grad_x, grad_y, indices);
}

template <typename T>
void avg_pool2d_forward(const Window2d& g, bool count_include_pad, T* y, const T* x, Stream stream) {
  launch_indexed("avg_pool2d_forward",
                 [](auto index_type) { return avg_pool2d_forward_kernel<T, decltype(index_type)>; },
                 g.planes * g.h.out * g.w.out, stream, g, count_include_pad, y, x);
}

template <typename T>
void avg_pool2d_backward(const Window2d& g, bool count_include_pad, T* grad_x, const T* grad_y, Stream stream) {
  launch_indexed("avg_pool2d_backward",
                 [](auto index_type) { return avg_pool2d_backward_kernel<T, decltype(index_type)>; },
                 g.planes * g.h.in * g.w.in, stream, g, count_include_pad, grad_x, grad_y);
}

#define MINIDL_POOL_INSTANTIATE(T)                                                             \
  template void max_pool2d_forward<T>(const Window2d&, T*, int64_t*, const T*, Stream);        \
  template void max_pool2d_backward<T>(const Window2d&, T*, const T*, const int64_t*, Stream); \
  template void avg_pool2d_forward<T>(const Window2d&, bool, T*, const T*, Stream);            \
  template void avg_pool2d_backward<T>(const Window2d&, bool, T*, const T*, Stream);
MINIDL_POOL_INSTANTIATE(float)
MINIDL_POOL_INSTANTIATE(double)
#undef MINIDL_POOL_INSTANTIATE

}  // namespace minidl::MINIDL_CUDA_NS
