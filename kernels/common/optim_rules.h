// Per-element optimizer update rules, shared by the CPU reference and the CUDA kernels.
// Each follows the formula PyTorch documents for torch.optim.
#pragma once

#include <cmath>
// The templates below call sqrt unqualified. libstdc++'s <math.h> also declares
// std's float overloads globally, so on the host a float argument takes the float function in
// every translation unit. With <cmath> alone it would take the double one, or the float one where
// <math.h> happened to come first: an include-order-dependent result. Device code (nvcc) takes
// CUDA's float and double overloads.
#include <math.h>

#include "kernels/common/host_device.h"

namespace minidl {

struct SgdParams {
  double lr, momentum, dampening, weight_decay;
  bool nesterov;
  bool first_step;  // the momentum buffer starts as the first gradient
};

// g += wd * p; buf = first ? g : momentum * buf + (1 - dampening) * g;
// d = nesterov ? g + momentum * buf : buf; p -= lr * d
template <typename T>
FW_HOST_DEVICE FW_INLINE void sgd_update(const SgdParams& hp, T& param, T grad, T& buf) {
  T g = grad + static_cast<T>(hp.weight_decay) * param;
  T d = g;
  if (hp.momentum != 0) {
    buf = hp.first_step ? g : static_cast<T>(hp.momentum) * buf + static_cast<T>(1 - hp.dampening) * g;
    d = hp.nesterov ? g + static_cast<T>(hp.momentum) * buf : buf;
  }
  param -= static_cast<T>(hp.lr) * d;
}

struct AdamWParams {
  double lr, beta1, beta2, eps, weight_decay;
  double bias_correction1, bias_correction2;  // 1 - beta^t for the current step t
};

// p *= 1 - lr * wd; m = b1 m + (1 - b1) g; v = b2 v + (1 - b2) g^2;
// p -= lr * (m / bc1) / (sqrt(v / bc2) + eps)
template <typename T>
FW_HOST_DEVICE FW_INLINE void adamw_update(const AdamWParams& hp, T& param, T grad, T& m, T& v) {
  param *= static_cast<T>(1 - hp.lr * hp.weight_decay);
  m = static_cast<T>(hp.beta1) * m + static_cast<T>(1 - hp.beta1) * grad;
  v = static_cast<T>(hp.beta2) * v + static_cast<T>(1 - hp.beta2) * grad * grad;
  const T denom = sqrt(v / static_cast<T>(hp.bias_correction2)) + static_cast<T>(hp.eps);
  param -= static_cast<T>(hp.lr / hp.bias_correction1) * m / denom;
}

}  // namespace minidl
