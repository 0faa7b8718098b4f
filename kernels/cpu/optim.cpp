#include "kernels/cpu/optim.h"

namespace minidl::cpu {

using std::sqrt;

template <typename T>
void sgd_step(const SgdParams& hp, int64_t begin, int64_t end, T* param, const T* grad, T* momentum_buf) {
  T unused{};  // plain SGD (momentum 0) has no buffer
  for (int64_t i = begin; i < end; ++i) sgd_update(hp, param[i], grad[i], momentum_buf ? momentum_buf[i] : unused);
}

template <typename T>
void adamw_step(const AdamWParams& hp, int64_t begin, int64_t end, T* param, const T* grad, T* exp_avg, T* exp_avg_sq) {
  for (int64_t i = begin; i < end; ++i) adamw_update(hp, param[i], grad[i], exp_avg[i], exp_avg_sq[i]);
}

template void sgd_step<float>(const SgdParams&, int64_t, int64_t, float*, const float*, float*);
template void sgd_step<double>(const SgdParams&, int64_t, int64_t, double*, const double*, double*);
template void adamw_step<float>(const AdamWParams&, int64_t, int64_t, float*, const float*, float*, float*);
template void adamw_step<double>(const AdamWParams&, int64_t, int64_t, double*, const double*, double*, double*);

}  // namespace minidl::cpu
