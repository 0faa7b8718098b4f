// The LSTM cell's pointwise math (Hochreiter & Schmidhuber 1997, with the forget gate of Gers et
// al. 2000), one host+device function each way, so the CPU reference and the CUDA kernel compute
// the same scalars. Gate pre-activations come in PyTorch's order: input, forget, cell, output.
#pragma once

#include "kernels/common/unary.h"

namespace minidl {

// c = sigmoid(f) c_prev + sigmoid(i) tanh(g); h = sigmoid(o) tanh(c).
template <typename T>
FW_HOST_DEVICE FW_INLINE void lstm_unit_forward(T i, T f, T g, T o, T c_prev, T& h, T& c) {
  const T ig = unary_forward(UnaryKind::Sigmoid, i), fg = unary_forward(UnaryKind::Sigmoid, f);
  const T gg = unary_forward(UnaryKind::Tanh, g), og = unary_forward(UnaryKind::Sigmoid, o);
  c = fg * c_prev + ig * gg;
  h = og * unary_forward(UnaryKind::Tanh, c);
}

// From the gradients of h and c (grad_c: from the next step and the caller) to those of the four
// pre-activations and of c_prev; the gates are recomputed from the pre-activations.
template <typename T>
FW_HOST_DEVICE FW_INLINE void lstm_unit_backward(T i, T f, T g, T o, T c_prev, T c, T grad_h, T grad_c, T& grad_i,
                                                 T& grad_f, T& grad_g, T& grad_o, T& grad_c_prev) {
  const T ig = unary_forward(UnaryKind::Sigmoid, i), fg = unary_forward(UnaryKind::Sigmoid, f);
  const T gg = unary_forward(UnaryKind::Tanh, g), og = unary_forward(UnaryKind::Sigmoid, o);
  const T tc = unary_forward(UnaryKind::Tanh, c);
  const T dc = grad_c + grad_h * og * (T(1) - tc * tc);
  grad_i = dc * gg * ig * (T(1) - ig);
  grad_f = dc * c_prev * fg * (T(1) - fg);
  grad_g = dc * ig * (T(1) - gg * gg);
  grad_o = grad_h * tc * og * (T(1) - og);
  grad_c_prev = dc * fg;
}

}  // namespace minidl
