// Elementwise unary functions and their derivatives, one host+device pair each, chosen through
// one switch, so the CPU reference and the CUDA kernels compute the same scalar math.
#pragma once

#include <cmath>
// The templates below call exp, log, sqrt, erf, tanh and pow unqualified. libstdc++'s <math.h> also declares
// std's float overloads globally, so on the host a float argument takes the float function in
// every translation unit. With <cmath> alone it would take the double one, or the float one where
// <math.h> happened to come first: an include-order-dependent result. Device code (nvcc) takes
// CUDA's float and double overloads.
#include <math.h>
#include <type_traits>

#include "kernels/common/host_device.h"

namespace minidl {

enum class UnaryKind { Neg, Exp, Log, Sqrt, Relu, Gelu, Tanh, Sigmoid };

template <typename T>
FW_HOST_DEVICE FW_INLINE T unary_forward(UnaryKind kind, T x) {
  switch (kind) {
    case UnaryKind::Neg: return -x;
    case UnaryKind::Exp: return exp(x);
    case UnaryKind::Log: return log(x);
    case UnaryKind::Sqrt: return sqrt(x);
    // A select, not max(x, 0): the derivative at 0 is then 0 by the same convention.
    case UnaryKind::Relu: return x > T(0) ? x : T(0);
    // Exact (erf) GELU, PyTorch's default: x * Phi(x).
    case UnaryKind::Gelu: return T(0.5) * x * (T(1) + erf(x * T(0.70710678118654752440)));
    case UnaryKind::Tanh: return tanh(x);
    case UnaryKind::Sigmoid: return T(1) / (T(1) + exp(-x));
  }
  return x;
}

// d unary(x) / dx, given the input x and the forward output y (whichever is cheaper to use).
template <typename T>
FW_HOST_DEVICE FW_INLINE T unary_derivative(UnaryKind kind, T x, T y) {
  switch (kind) {
    case UnaryKind::Neg: return T(-1);
    case UnaryKind::Exp: return y;
    case UnaryKind::Log: return T(1) / x;
    case UnaryKind::Sqrt: return T(0.5) / y;
    case UnaryKind::Relu: return x > T(0) ? T(1) : T(0);
    case UnaryKind::Gelu: {
      const T cdf = T(0.5) * (T(1) + erf(x * T(0.70710678118654752440)));
      const T pdf = T(0.39894228040143267794) * exp(T(-0.5) * x * x);
      return cdf + x * pdf;
    }
    case UnaryKind::Tanh: return T(1) - y * y;
    case UnaryKind::Sigmoid: return y * (T(1) - y);
  }
  return T(0);
}

enum class BinaryKind { Add, Sub, Mul, Div, Pow, Maximum, Eq };

template <typename T>
FW_HOST_DEVICE FW_INLINE T binary_forward(BinaryKind kind, T a, T b) {
  switch (kind) {
    case BinaryKind::Add: return a + b;
    case BinaryKind::Sub: return a - b;
    case BinaryKind::Mul: return a * b;
    case BinaryKind::Div: return a / b;
    case BinaryKind::Pow: return pow(a, b);
    case BinaryKind::Maximum: return a > b ? a : b;
    case BinaryKind::Eq: return a == b ? T(1) : T(0);
  }
  return a;
}

// Calls fn(std::integral_constant<Kind, k>{}) for the runtime kind k, so a kernel's loop is
// compiled once per kind with the switch above folded away (and vectorizable).
template <typename Fn>
void dispatch_kind(UnaryKind kind, Fn&& fn) {
  using K = UnaryKind;
  switch (kind) {
    case K::Neg: fn(std::integral_constant<K, K::Neg>{}); return;
    case K::Exp: fn(std::integral_constant<K, K::Exp>{}); return;
    case K::Log: fn(std::integral_constant<K, K::Log>{}); return;
    case K::Sqrt: fn(std::integral_constant<K, K::Sqrt>{}); return;
    case K::Relu: fn(std::integral_constant<K, K::Relu>{}); return;
    case K::Gelu: fn(std::integral_constant<K, K::Gelu>{}); return;
    case K::Tanh: fn(std::integral_constant<K, K::Tanh>{}); return;
    case K::Sigmoid: fn(std::integral_constant<K, K::Sigmoid>{}); return;
  }
}

template <typename Fn>
void dispatch_kind(BinaryKind kind, Fn&& fn) {
  using K = BinaryKind;
  switch (kind) {
    case K::Add: fn(std::integral_constant<K, K::Add>{}); return;
    case K::Sub: fn(std::integral_constant<K, K::Sub>{}); return;
    case K::Mul: fn(std::integral_constant<K, K::Mul>{}); return;
    case K::Div: fn(std::integral_constant<K, K::Div>{}); return;
    case K::Pow: fn(std::integral_constant<K, K::Pow>{}); return;
    case K::Maximum: fn(std::integral_constant<K, K::Maximum>{}); return;
    case K::Eq: fn(std::integral_constant<K, K::Eq>{}); return;
  }
}

}  // namespace minidl
