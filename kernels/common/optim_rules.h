// Per-element optimizer update rules, shared by the CPU reference (kernels/cpu/optim.h) and the
// CUDA kernels (kernels/cuda/optim.cu). Each follows the formula PyTorch documents for
// torch.optim; Lion and LAMB, which torch.optim lacks, follow their papers (docs/optim.md lists
// the sources).
//
// A rule's params struct holds its hyper-parameters and the factors of the parameter's current
// step t (bias corrections and the like), computed once per step on the host in double
// (framework/optim); the rule applies them to one element. Scalars are cast to T where they meet
// an element, so f32 parameters are updated in f32 arithmetic.
#pragma once

#include <cmath>
#include <cstdint>
// The rules below call ::sqrt and ::fabs. libstdc++'s <math.h> also declares std's float
// overloads globally, so on the host a float argument takes the float function in every
// translation unit. With <cmath> alone it would take the double one, or the float one where
// <math.h> happened to come first: an include-order-dependent result. Device code (nvcc) takes
// CUDA's float and double overloads. (Qualified, because framework code that includes this header
// declares minidl::sqrt for tensors, which would hide the global functions.)
#include <math.h>

#include "kernels/common/host_device.h"

namespace minidl {

inline constexpr int kMaxOptimizerState = 3;

// One parameter tensor of an optimizer step as the kernels see it: numel elements each of the
// parameter (updated in place), its gradient, and the optimizer's state buffers in the order its
// rule names them; state[k] is null where the configuration keeps no k-th buffer.
template <typename T>
struct ParamBuffers {
  T* param;
  const T* grad;
  T* state[kMaxOptimizerState];
  int64_t numel;
};

// Multi-tensor work is cut into chunks of this many elements of one tensor: a CUDA block serves
// one chunk at a time, and a tensor's norm is summed per chunk, then over its chunks in order (on
// the CPU too), so norms depend on the launch configuration only through the order inside a chunk.
inline constexpr int64_t kMultiTensorChunk = 16384;

FW_HOST_DEVICE FW_INLINE int64_t multi_tensor_chunks(int64_t numel) {
  return (numel + kMultiTensorChunk - 1) / kMultiTensorChunk;
}

// max(a, b) where a NaN in either wins, as torch.maximum / torch.amax.
template <typename T>
FW_HOST_DEVICE FW_INLINE T nan_max(T a, T b) {
  return (b > a || b != b) ? b : a;
}

// ---- SGD (torch.optim.SGD). State: momentum_buffer (when momentum != 0).

struct SgdParams {
  double lr, momentum, dampening, weight_decay;
  bool nesterov;
  bool first_step;  // the momentum buffer starts as the first gradient
  bool operator==(const SgdParams&) const = default;
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

template <typename T>
FW_HOST_DEVICE FW_INLINE void update_element(const SgdParams& hp, const ParamBuffers<T>& b, int64_t i) {
  T unused{};  // plain SGD (momentum 0) has no buffer
  sgd_update(hp, b.param[i], b.grad[i], b.state[0] ? b.state[0][i] : unused);
}

// ---- Adam and AdamW (torch.optim.Adam, AdamW), each with its AMSGrad variant.
// State: exp_avg, exp_avg_sq, max_exp_avg_sq (AMSGrad only).

struct AdamParams {
  double lr, beta1, beta2, eps, weight_decay;
  bool decoupled_weight_decay;  // AdamW: p *= 1 - lr * wd; Adam: g += wd * p (an L2 penalty)
  bool amsgrad;                 // normalize by the largest second moment seen so far
  double bias_correction1, bias_correction2;  // 1 - beta^t
  bool operator==(const AdamParams&) const = default;
};

// AdamW: p *= 1 - lr * wd; Adam: g += wd * p;
// m = b1 m + (1 - b1) g; v = b2 v + (1 - b2) g^2; AMSGrad: v_max = max(v_max, v), used for v below;
// p -= lr * (m / bc1) / (sqrt(v / bc2) + eps)
template <typename T>
FW_HOST_DEVICE FW_INLINE void adam_update(const AdamParams& hp, T& param, T grad, T& m, T& v, T& v_max) {
  T g = grad;
  if (hp.decoupled_weight_decay) {
    param *= static_cast<T>(1 - hp.lr * hp.weight_decay);
  } else if (hp.weight_decay != 0) {
    g += static_cast<T>(hp.weight_decay) * param;
  }
  m = static_cast<T>(hp.beta1) * m + static_cast<T>(1 - hp.beta1) * g;
  v = static_cast<T>(hp.beta2) * v + static_cast<T>(1 - hp.beta2) * g * g;
  if (hp.amsgrad) v_max = nan_max(v_max, v);
  const T denom = ::sqrt((hp.amsgrad ? v_max : v) / static_cast<T>(hp.bias_correction2)) + static_cast<T>(hp.eps);
  param -= static_cast<T>(hp.lr / hp.bias_correction1) * m / denom;
}

template <typename T>
FW_HOST_DEVICE FW_INLINE void update_element(const AdamParams& hp, const ParamBuffers<T>& b, int64_t i) {
  T unused{};  // no max_exp_avg_sq without AMSGrad
  adam_update(hp, b.param[i], b.grad[i], b.state[0][i], b.state[1][i], hp.amsgrad ? b.state[2][i] : unused);
}

// ---- Adagrad (torch.optim.Adagrad). State: sum (starts at initial_accumulator_value).

struct AdagradParams {
  double lr;  // of this step: lr / (1 + (t - 1) * lr_decay)
  double weight_decay, eps;
  bool operator==(const AdagradParams&) const = default;
};

// g += wd * p; sum += g^2; p -= lr * g / (sqrt(sum) + eps)
template <typename T>
FW_HOST_DEVICE FW_INLINE void adagrad_update(const AdagradParams& hp, T& param, T grad, T& sum) {
  const T g = grad + static_cast<T>(hp.weight_decay) * param;
  sum += g * g;
  param -= static_cast<T>(hp.lr) * g / (::sqrt(sum) + static_cast<T>(hp.eps));
}

template <typename T>
FW_HOST_DEVICE FW_INLINE void update_element(const AdagradParams& hp, const ParamBuffers<T>& b, int64_t i) {
  adagrad_update(hp, b.param[i], b.grad[i], b.state[0][i]);
}

// ---- Adadelta (torch.optim.Adadelta). State: square_avg, acc_delta.

struct AdadeltaParams {
  double lr, rho, eps, weight_decay;
  bool operator==(const AdadeltaParams&) const = default;
};

// g += wd * p; square_avg = rho square_avg + (1 - rho) g^2;
// delta = sqrt(acc_delta + eps) / sqrt(square_avg + eps) * g;
// acc_delta = rho acc_delta + (1 - rho) delta^2; p -= lr * delta
template <typename T>
FW_HOST_DEVICE FW_INLINE void adadelta_update(const AdadeltaParams& hp, T& param, T grad, T& square_avg,
                                              T& acc_delta) {
  const T g = grad + static_cast<T>(hp.weight_decay) * param;
  const T rho = static_cast<T>(hp.rho), one_minus_rho = static_cast<T>(1 - hp.rho), eps = static_cast<T>(hp.eps);
  square_avg = rho * square_avg + one_minus_rho * g * g;
  const T delta = ::sqrt(acc_delta + eps) / ::sqrt(square_avg + eps) * g;
  acc_delta = rho * acc_delta + one_minus_rho * delta * delta;
  param -= static_cast<T>(hp.lr) * delta;
}

template <typename T>
FW_HOST_DEVICE FW_INLINE void update_element(const AdadeltaParams& hp, const ParamBuffers<T>& b, int64_t i) {
  adadelta_update(hp, b.param[i], b.grad[i], b.state[0][i], b.state[1][i]);
}

// ---- RMSprop (torch.optim.RMSprop). State: square_avg, momentum_buffer (when momentum > 0),
// grad_avg (when centered).

struct RmspropParams {
  double lr, alpha, eps, weight_decay, momentum;
  bool centered;
  bool operator==(const RmspropParams&) const = default;
};

// g += wd * p; square_avg = alpha square_avg + (1 - alpha) g^2;
// centered: grad_avg = alpha grad_avg + (1 - alpha) g, avg = sqrt(square_avg - grad_avg^2) + eps;
// otherwise avg = sqrt(square_avg) + eps;
// momentum > 0: buf = momentum buf + g / avg, p -= lr * buf; otherwise p -= lr * g / avg
template <typename T>
FW_HOST_DEVICE FW_INLINE void rmsprop_update(const RmspropParams& hp, T& param, T grad, T& square_avg, T& buf,
                                             T& grad_avg) {
  const T g = grad + static_cast<T>(hp.weight_decay) * param;
  const T alpha = static_cast<T>(hp.alpha), one_minus_alpha = static_cast<T>(1 - hp.alpha);
  square_avg = alpha * square_avg + one_minus_alpha * g * g;
  T avg;
  if (hp.centered) {
    grad_avg = alpha * grad_avg + one_minus_alpha * g;
    avg = ::sqrt(square_avg - grad_avg * grad_avg) + static_cast<T>(hp.eps);
  } else {
    avg = ::sqrt(square_avg) + static_cast<T>(hp.eps);
  }
  if (hp.momentum > 0) {
    buf = static_cast<T>(hp.momentum) * buf + g / avg;
    param -= static_cast<T>(hp.lr) * buf;
  } else {
    param -= static_cast<T>(hp.lr) * g / avg;
  }
}

template <typename T>
FW_HOST_DEVICE FW_INLINE void update_element(const RmspropParams& hp, const ParamBuffers<T>& b, int64_t i) {
  T no_buf{}, no_grad_avg{};  // without momentum / centering those buffers are not kept
  rmsprop_update(hp, b.param[i], b.grad[i], b.state[0][i], hp.momentum > 0 ? b.state[1][i] : no_buf,
                 hp.centered ? b.state[2][i] : no_grad_avg);
}

// ---- Adamax (torch.optim.Adamax). State: exp_avg, exp_inf.

struct AdamaxParams {
  double lr, beta1, beta2, eps, weight_decay;
  double bias_correction1;  // 1 - beta1^t
  bool operator==(const AdamaxParams&) const = default;
};

// g += wd * p; m = b1 m + (1 - b1) g; u = max(b2 u, |g| + eps); p -= lr / bc1 * m / u
template <typename T>
FW_HOST_DEVICE FW_INLINE void adamax_update(const AdamaxParams& hp, T& param, T grad, T& m, T& u) {
  const T g = grad + static_cast<T>(hp.weight_decay) * param;
  m = static_cast<T>(hp.beta1) * m + static_cast<T>(1 - hp.beta1) * g;
  u = nan_max(static_cast<T>(hp.beta2) * u, ::fabs(g) + static_cast<T>(hp.eps));
  param -= static_cast<T>(hp.lr / hp.bias_correction1) * m / u;
}

template <typename T>
FW_HOST_DEVICE FW_INLINE void update_element(const AdamaxParams& hp, const ParamBuffers<T>& b, int64_t i) {
  adamax_update(hp, b.param[i], b.grad[i], b.state[0][i], b.state[1][i]);
}

// ---- NAdam (torch.optim.NAdam). State: exp_avg, exp_avg_sq (and, on the host, the running
// product of the momentum coefficients mu_t = b1 (1 - 0.5 * 0.96^(t * momentum_decay))).

struct NadamParams {
  double beta1, beta2, eps, weight_decay;
  double bias_correction2;  // 1 - beta2^t
  double grad_lr;           // lr (1 - mu_t) / (1 - mu_1 ... mu_t)
  double avg_lr;            // lr mu_{t+1} / (1 - mu_1 ... mu_{t+1})
  bool operator==(const NadamParams&) const = default;
};

// g += wd * p; m = b1 m + (1 - b1) g; v = b2 v + (1 - b2) g^2; denom = sqrt(v / bc2) + eps;
// p -= grad_lr * g / denom + avg_lr * m / denom
template <typename T>
FW_HOST_DEVICE FW_INLINE void nadam_update(const NadamParams& hp, T& param, T grad, T& m, T& v) {
  const T g = grad + static_cast<T>(hp.weight_decay) * param;
  m = static_cast<T>(hp.beta1) * m + static_cast<T>(1 - hp.beta1) * g;
  v = static_cast<T>(hp.beta2) * v + static_cast<T>(1 - hp.beta2) * g * g;
  const T denom = ::sqrt(v / static_cast<T>(hp.bias_correction2)) + static_cast<T>(hp.eps);
  param -= static_cast<T>(hp.grad_lr) * g / denom;
  param -= static_cast<T>(hp.avg_lr) * m / denom;
}

template <typename T>
FW_HOST_DEVICE FW_INLINE void update_element(const NadamParams& hp, const ParamBuffers<T>& b, int64_t i) {
  nadam_update(hp, b.param[i], b.grad[i], b.state[0][i], b.state[1][i]);
}

// ---- RAdam (torch.optim.RAdam). State: exp_avg, exp_avg_sq.

struct RadamParams {
  double lr, beta1, beta2, eps, weight_decay;
  double bias_correction1, bias_correction2;  // 1 - beta^t
  bool rectified;        // rho_t > 5: the variance of the adaptive rate is tractable
  double rectification;  // r_t, when rectified
  bool operator==(const RadamParams&) const = default;
};

// g += wd * p; m = b1 m + (1 - b1) g; v = b2 v + (1 - b2) g^2;
// rectified: p -= (m / bc1) * lr * sqrt(bc2) / (sqrt(v) + eps) * r_t; otherwise p -= (m / bc1) * lr
template <typename T>
FW_HOST_DEVICE FW_INLINE void radam_update(const RadamParams& hp, T& param, T grad, T& m, T& v) {
  const T g = grad + static_cast<T>(hp.weight_decay) * param;
  m = static_cast<T>(hp.beta1) * m + static_cast<T>(1 - hp.beta1) * g;
  v = static_cast<T>(hp.beta2) * v + static_cast<T>(1 - hp.beta2) * g * g;
  const T step = m / static_cast<T>(hp.bias_correction1) * static_cast<T>(hp.lr);
  if (hp.rectified) {
    const T adaptive_lr = static_cast<T>(::sqrt(hp.bias_correction2)) / (::sqrt(v) + static_cast<T>(hp.eps));
    param -= step * adaptive_lr * static_cast<T>(hp.rectification);
  } else {
    param -= step;
  }
}

template <typename T>
FW_HOST_DEVICE FW_INLINE void update_element(const RadamParams& hp, const ParamBuffers<T>& b, int64_t i) {
  radam_update(hp, b.param[i], b.grad[i], b.state[0][i], b.state[1][i]);
}

// ---- Lion (Chen et al. 2023, "Symbolic Discovery of Optimization Algorithms", Algorithm 2).
// State: exp_avg.

struct LionParams {
  double lr, beta1, beta2, weight_decay;
  bool operator==(const LionParams&) const = default;
};

// sign(x): -1, 0 or 1 (a NaN stays NaN).
template <typename T>
FW_HOST_DEVICE FW_INLINE T sign_of(T x) {
  return x > T(0) ? T(1) : (x < T(0) ? T(-1) : x);
}

// update = sign(b1 m + (1 - b1) g); p -= lr * (update + wd * p); m = b2 m + (1 - b2) g
template <typename T>
FW_HOST_DEVICE FW_INLINE void lion_update(const LionParams& hp, T& param, T grad, T& m) {
  const T update = sign_of(static_cast<T>(hp.beta1) * m + static_cast<T>(1 - hp.beta1) * grad);
  param -= static_cast<T>(hp.lr) * (update + static_cast<T>(hp.weight_decay) * param);
  m = static_cast<T>(hp.beta2) * m + static_cast<T>(1 - hp.beta2) * grad;
}

template <typename T>
FW_HOST_DEVICE FW_INLINE void update_element(const LionParams& hp, const ParamBuffers<T>& b, int64_t i) {
  lion_update(hp, b.param[i], b.grad[i], b.state[0][i]);
}

// ---- LAMB (You et al. 2019, "Large Batch Optimization for Deep Learning", Algorithm 2, with
// phi the identity). State: exp_avg, exp_avg_sq. The trust ratio needs norms of whole tensors, so
// a step is three passes over each tensor:
// 1. m = b1 m + (1 - b1) g; v = b2 v + (1 - b2) g^2
// 2. r = (m / bc1) / (sqrt(v / bc2) + eps) + wd * p; sums of p^2 and r^2 over the tensor
// 3. trust = ||p|| / ||r|| (1 when either is 0); p -= lr * trust * r

struct LambParams {
  double lr, beta1, beta2, eps, weight_decay;
  double bias_correction1, bias_correction2;  // 1 - beta^t
  bool operator==(const LambParams&) const = default;
};

// The sums of squares of one tensor's parameter and update direction, in double.
struct LambSquares {
  double param, direction;
};

template <typename T>
FW_HOST_DEVICE FW_INLINE void lamb_moments_update(const LambParams& hp, T grad, T& m, T& v) {
  m = static_cast<T>(hp.beta1) * m + static_cast<T>(1 - hp.beta1) * grad;
  v = static_cast<T>(hp.beta2) * v + static_cast<T>(1 - hp.beta2) * grad * grad;
}

template <typename T>
FW_HOST_DEVICE FW_INLINE T lamb_direction(const LambParams& hp, T param, T m, T v) {
  const T adam_step = m / static_cast<T>(hp.bias_correction1) /
                      (::sqrt(v / static_cast<T>(hp.bias_correction2)) + static_cast<T>(hp.eps));
  return adam_step + static_cast<T>(hp.weight_decay) * param;
}

FW_HOST_DEVICE FW_INLINE double lamb_trust_ratio(const LambSquares& s) {
  return s.param > 0 && s.direction > 0 ? ::sqrt(s.param) / ::sqrt(s.direction) : 1.0;
}

template <typename T>
FW_HOST_DEVICE FW_INLINE void lamb_param_update(const LambParams& hp, double trust, T& param, T m, T v) {
  param -= static_cast<T>(hp.lr * trust) * lamb_direction(hp, param, m, v);
}

// ---- Gradient clipping (torch.nn.utils.clip_grad_norm_ / clip_grad_value_).

// What a norm pass sums per tensor: squares (the 2-norm, squared) or the largest |x| (the
// inf-norm, a NaN winning).
enum class NormKind { SumOfSquares, MaxAbs };

template <typename T>
FW_HOST_DEVICE FW_INLINE double norm_term(NormKind kind, T x) {
  const double d = static_cast<double>(x);
  return kind == NormKind::SumOfSquares ? d * d : ::fabs(d);
}

FW_HOST_DEVICE FW_INLINE double norm_combine(NormKind kind, double a, double b) {
  return kind == NormKind::SumOfSquares ? a + b : nan_max(a, b);
}

// out = clamp(x * scale, -limit, limit): by norm, scale = the clip coefficient and limit = inf;
// by value, scale = 1 and limit = the clip value. A NaN stays NaN.
struct ClipParams {
  double scale, limit;
};

template <typename T>
FW_HOST_DEVICE FW_INLINE T clip_value(const ClipParams& hp, T x) {
  const T y = x * static_cast<T>(hp.scale), limit = static_cast<T>(hp.limit);
  return y > limit ? limit : (y < -limit ? -limit : y);
}

// The rules that update each element on its own (every rule but LAMB, which needs the tensor's
// norms): X(T, Params) for each, so the CPU and CUDA builds instantiate the same list.
#define MINIDL_ELEMENTWISE_OPTIM_RULES(X, T) \
  X(T, SgdParams) X(T, AdamParams) X(T, AdagradParams) X(T, AdadeltaParams) X(T, RmspropParams) \
  X(T, AdamaxParams) X(T, NadamParams) X(T, RadamParams) X(T, LionParams)

}  // namespace minidl
