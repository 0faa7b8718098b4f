// Optimizer steps: one grid-stride loop over the elements of one contiguous parameter tensor, each
// element updated by the rule the CPU reference uses (kernels/common/optim_rules.h), so the step
// does not depend on the launch configuration. The emulator matches the CPU reference bit for bit
// (tests/test_parity_elementwise.cpp); on a real GPU, the rules' arithmetic is the same IEEE
// operations (sqrt is correctly rounded on both), but nvcc contracts a * b + c into fused
// multiply-adds, so results may differ from the host's in the last ulp.
#include <cstdint>

#include "kernels/common/optim_rules.h"
#include "kernels/cuda/launch.h"

namespace minidl::MINIDL_CUDA_NS {

#include "kernels/cuda/optim.inc"

namespace {

template <typename T, bool HasBuffer>
__global__ void sgd_kernel(int64_t n, SgdParams hp, T* param, const T* grad, T* momentum_buf) {
  const int64_t step = int64_t{gridDim.x} * blockDim.x;
  for (int64_t i = int64_t{blockIdx.x} * blockDim.x + threadIdx.x; i < n; i += step) {
    if constexpr (HasBuffer) {
      ::minidl::sgd_update(hp, param[i], grad[i], momentum_buf[i]);
    } else {
      T unused{};  // plain SGD (momentum 0) has no buffer
      ::minidl::sgd_update(hp, param[i], grad[i], unused);
    }
  }
}

template <typename T>
__global__ void adamw_kernel(int64_t n, AdamWParams hp, T* param, const T* grad, T* exp_avg, T* exp_avg_sq) {
  const int64_t step = int64_t{gridDim.x} * blockDim.x;
  for (int64_t i = int64_t{blockIdx.x} * blockDim.x + threadIdx.x; i < n; i += step)
    ::minidl::adamw_update(hp, param[i], grad[i], exp_avg[i], exp_avg_sq[i]);
}

}  // namespace

template <typename T>
void sgd_step(const SgdParams& hp, int64_t n, T* param, const T* grad, T* momentum_buf, Stream stream) {
  if (n <= 0) return;
  if (momentum_buf) {
    launch_n("sgd_step", sgd_kernel<T, true>, n, stream, hp, param, grad, momentum_buf);
  } else {
    launch_n("sgd_step", sgd_kernel<T, false>, n, stream, hp, param, grad, momentum_buf);
  }
}

template <typename T>
void adamw_step(const AdamWParams& hp, int64_t n, T* param, const T* grad, T* exp_avg, T* exp_avg_sq, Stream stream) {
  launch_n("adamw_step", adamw_kernel<T>, n, stream, hp, param, grad, exp_avg, exp_avg_sq);
}

template void sgd_step<float>(const SgdParams&, int64_t, float*, const float*, float*, Stream);
template void sgd_step<double>(const SgdParams&, int64_t, double*, const double*, double*, Stream);
template void adamw_step<float>(const AdamWParams&, int64_t, float*, const float*, float*, float*, Stream);
template void adamw_step<double>(const AdamWParams&, int64_t, double*, const double*, double*, double*, Stream);

}  // namespace minidl::MINIDL_CUDA_NS
