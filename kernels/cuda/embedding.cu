// Embedding lookup and its table gradient (CPU reference: kernels/cpu/embedding.h). Forward is a
// gather, a thread per output element. Backward gives each element (v, d) of the table gradient
// to one thread, which adds grad_y[n, d] over the ids n == v in increasing n: the reference's
// order, so the gradient is bit-identical to it and deterministic without atomics. Its work grows
// as vocab x count, right for character vocabularies; a large vocabulary would sort the ids
// first and sum segments.
#include <cstdint>

#include "kernels/cuda/grid_stride.h"
#include "kernels/cuda/launch.h"

namespace minidl::MINIDL_CUDA_NS {

#include "kernels/cuda/embedding.inc"

namespace {

template <typename T>
__global__ void embedding_forward_kernel(int64_t n, int64_t dim, T* y, const T* weight, const int64_t* ids) {
  for (int64_t i = thread_index(); i < n; i += thread_count()) y[i] = weight[ids[i / dim] * dim + i % dim];
}

template <typename T>
__global__ void embedding_backward_kernel(int64_t n, int64_t count, int64_t dim, T* grad_weight, const T* grad_y,
                                          const int64_t* ids) {
  for (int64_t i = thread_index(); i < n; i += thread_count()) {
    const int64_t v = i / dim, d = i % dim;
    T sum = 0;
    for (int64_t k = 0; k < count; ++k)
      if (ids[k] == v) sum += grad_y[k * dim + d];
    grad_weight[i] = sum;
  }
}

}  // namespace

template <typename T>
void embedding_forward(int64_t count, int64_t dim, T* y, const T* weight, const int64_t* ids, Stream stream) {
  launch_n("embedding_forward", embedding_forward_kernel<T>, count * dim, stream, dim, y, weight, ids);
}

template <typename T>
void embedding_backward(int64_t vocab, int64_t count, int64_t dim, T* grad_weight, const T* grad_y, const int64_t* ids,
                        Stream stream) {
  launch_n("embedding_backward", embedding_backward_kernel<T>, vocab * dim, stream, count, dim, grad_weight, grad_y,
           ids);
}

template void embedding_forward<float>(int64_t, int64_t, float*, const float*, const int64_t*, Stream);
template void embedding_forward<double>(int64_t, int64_t, double*, const double*, const int64_t*, Stream);
template void embedding_backward<float>(int64_t, int64_t, int64_t, float*, const float*, const int64_t*, Stream);
template void embedding_backward<double>(int64_t, int64_t, int64_t, double*, const double*, const int64_t*, Stream);

}  // namespace minidl::MINIDL_CUDA_NS
