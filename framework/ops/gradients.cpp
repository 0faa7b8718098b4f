#include "framework/ops/gradients.h"

#include <algorithm>

#include "framework/ops/autocast.h"
#include "framework/ops/backend.h"
#include "framework/ops/conv.h"
#include "framework/ops/cudnn_conv.h"
#include "framework/ops/ops.h"
#include "framework/ops/random_masks.h"

namespace minidl::grad {

namespace {

// g reshaped so the reduced dims are back (as size 1) and broadcast to the input shape.
Tensor unreduce(const Tensor& g, const Shape& input_shape, const std::vector<int64_t>& dims, bool keepdim) {
  Shape kept = input_shape;
  for (int64_t d : dims) kept[d] = 1;
  return minidl::expand(keepdim ? g : minidl::reshape(g, kept), input_shape);
}

}  // namespace

// d(a + b) = (g, g)
Grads add(const Tensor& g) { return {g, g}; }

// d(a - b) = (g, -g)
Grads sub(const Tensor& g) { return {g, neg(g)}; }

// d(a * b) = (g * b, g * a)
Grads mul(const Tensor& g, const Tensor& a, const Tensor& b) { return {g * b, g * a}; }

// d(a / b) = (g / b, -g * a / b^2)
Grads div(const Tensor& g, const Tensor& a, const Tensor& b) { return {g / b, neg(g * a / (b * b))}; }

// d(a^b) = (g * b * a^(b-1), g * a^b * log(a))
Grads pow(const Tensor& g, const Tensor& a, const Tensor& b, const Tensor& y) {
  return {g * b * minidl::pow(a, minidl::add(b, -1.0)), g * y * minidl::log(a)};
}

// d(a + b) = g, d(a * b) = g * b and d(a^b) = g * b * a^(b-1) for a number b.
Grads add_scalar(const Tensor& g) { return {g}; }
Grads mul_scalar(const Tensor& g, double b) { return {minidl::mul(g, b)}; }
Grads pow_scalar(const Tensor& g, const Tensor& a, double b) {
  return {minidl::mul(minidl::mul(g, minidl::pow(a, b - 1.0)), b)};
}

// d f(x) = g * f'(x, y), one fused kernel per activation.
Grads unary(UnaryKind kind, const Tensor& g, const Tensor& x, const Tensor& y) {
  const Tensor gc = minidl::contiguous(g);
  Tensor gx = Tensor::empty(x.shape(), x.dtype(), x.device());
  backend_for(x.device()).unary_backward(kind, gx, gc, x, y);
  return {gx};
}

// C = A @ B: dA = G @ B^T, dB = A^T @ G (batch broadcasting undone by the engine).
// When B is a transposed view (x @ W^T in Linear), dB is computed as (G^T @ A)^T so that it lands
// in W's own row-major layout and the optimizer reads it without a copy.
Grads matmul(const Tensor& g, const Tensor& a, const Tensor& b) {
  const Tensor ga = minidl::matmul(g, minidl::transpose(b, -1, -2));
  const bool b_transposed = a.dim() == 2 && b.dim() == 2 && b.strides()[0] == 1 && b.size(0) > 1;
  const Tensor gb = b_transposed ? minidl::transpose(minidl::matmul(minidl::transpose(g, -1, -2), a), -1, -2)
                                 : minidl::matmul(minidl::transpose(a, -1, -2), g);
  return {ga, gb};
}

// d sum(x) = g broadcast back over the reduced dims
Grads sum(const Tensor& g, const Shape& input_shape, const std::vector<int64_t>& dims, bool keepdim) {
  return {unreduce(g, input_shape, dims, keepdim)};
}

// d mean(x) = g / count broadcast back
Grads mean(const Tensor& g, const Shape& input_shape, const std::vector<int64_t>& dims, bool keepdim) {
  int64_t count = 1;
  for (int64_t d : dims) count *= input_shape[d];
  return {minidl::mul(unreduce(g, input_shape, dims, keepdim), 1.0 / static_cast<double>(std::max<int64_t>(count, 1)))};
}

// d max(x, dim) = g split evenly among the elements equal to the maximum
Grads max(const Tensor& g, const Tensor& x, const Tensor& values, int64_t dim, bool keepdim) {
  const Tensor mask = minidl::eq(x, unreduce(values, x.shape(), {dim}, keepdim));
  const Tensor ties = minidl::sum(mask, {dim}, true);
  return {unreduce(g, x.shape(), {dim}, keepdim) * mask / ties};
}

Grads reshape(const Tensor& g, const Shape& input_shape) { return {minidl::reshape(g, input_shape)}; }

// The inverse permutation.
Grads permute(const Tensor& g, const std::vector<int64_t>& dims) {
  std::vector<int64_t> inverse(dims.size());
  for (size_t i = 0; i < dims.size(); ++i) inverse[dims[i]] = static_cast<int64_t>(i);
  return {minidl::permute(g, inverse)};
}

// Zeros with g written into the sliced positions.
Grads slice(const Tensor& g, const Shape& input_shape, int64_t dim, int64_t start, int64_t end, int64_t step) {
  Tensor gx = Tensor::zeros(input_shape, g.dtype(), g.device());
  minidl::copy_(minidl::slice(gx, dim, start, end, step), g);
  return {gx};
}

Grads expand(const Tensor& g, const Shape& input_shape) { return {sum_to(g, input_shape)}; }

// Each input gets its slice of g.
Grads cat(const Tensor& g, const std::vector<int64_t>& sizes, int64_t dim) {
  Grads grads;
  int64_t start = 0;
  for (int64_t size : sizes) {
    grads.push_back(minidl::slice(g, dim, start, start + size));
    start += size;
  }
  return grads;
}

Grads stack(const Tensor& g, size_t count, int64_t dim) {
  Grads grads;
  Shape item_shape = g.shape();
  item_shape.erase(item_shape.begin() + dim);
  for (size_t i = 0; i < count; ++i) {
    const auto at = static_cast<int64_t>(i);
    grads.push_back(minidl::reshape(minidl::slice(g, dim, at, at + 1), item_shape));
  }
  return grads;
}

Grads cast(const Tensor& g, DType input_dtype) { return {to_dtype(g, input_dtype)}; }

// The gradient goes back to the device the input came from.
Grads to_device(const Tensor& g, Device input_device) { return {minidl::to_device(g, input_device)}; }

// softmax: dx = y * (g - sum(g * y)); log_softmax: dx = g - exp(y) * sum(g), along dim.
Grads softmax(bool log, const Tensor& g, const Tensor& y, int64_t dim) {
  const Tensor gl = minidl::contiguous(minidl::transpose(g, dim, -1));
  const Tensor yl = minidl::contiguous(minidl::transpose(y, dim, -1));
  Tensor gx = Tensor::empty(yl.shape(), yl.dtype(), yl.device());
  backend_for(y.device()).softmax_backward(log, gx, gl, yl, yl.dim() == 0 ? 1 : yl.size(-1));
  return {minidl::transpose(gx, dim, -1)};
}

// d CE / d logits = g / N * (softmax(logits) - onehot(target)); the target has no gradient.
Grads cross_entropy(const Tensor& g, const Tensor& logits, const Tensor& target, const Tensor& row_lse) {
  Tensor gx = Tensor::empty(logits.shape(), logits.dtype(), logits.device());
  backend_for(logits.device()).cross_entropy_backward(gx, logits, target, row_lse, minidl::contiguous(g));
  return {gx, Tensor()};
}

// gx from the fused kernel; gw = sum over rows of g * xhat, gb = sum over rows of g, with
// xhat = (x - mean) * rstd recomputed from the saved statistics.
Grads layer_norm(const Tensor& g, const Tensor& x, const Tensor& weight, const Tensor& mean, const Tensor& rstd) {
  const Tensor gc = minidl::contiguous(g);
  Tensor gx = Tensor::empty(x.shape(), x.dtype(), x.device());
  backend_for(x.device()).layer_norm_backward(gx, gc, x, weight, mean, rstd);
  const int64_t rows = mean.numel(), cols = weight.numel();
  const Tensor g2 = minidl::reshape(gc, {rows, cols});
  const Tensor xhat = (minidl::reshape(x, {rows, cols}) - minidl::reshape(mean, {rows, 1})) * minidl::reshape(rstd, {rows, 1});
  return {gx, minidl::sum(g2 * xhat, {0}), minidl::sum(g2, {0})};
}

// One fused kernel from [grad h | grad c] to the gate pre-activations and c_prev.
Grads lstm_cell(const Tensor& g, const Tensor& gates, const Tensor& c_prev, const Tensor& y) {
  Tensor grad_gates = Tensor::empty(gates.shape(), gates.dtype(), gates.device());
  Tensor grad_c_prev = Tensor::empty(c_prev.shape(), c_prev.dtype(), c_prev.device());
  backend_for(g.device()).lstm_cell_backward(grad_gates, grad_c_prev, minidl::contiguous(g), gates, c_prev, y);
  return {grad_gates, grad_c_prev};
}

// Gather and scatter-add are each other's adjoints; the index has no gradient.
Grads gather_rows(const Tensor& g, const IndexGroups& groups) { return {minidl::scatter_add_rows(g, groups)}; }
Grads scatter_add_rows(const Tensor& g, const IndexGroups& groups) { return {minidl::gather_rows(g, groups)}; }

Grads segment_softmax(const Tensor& g, const Tensor& y, const IndexGroups& groups) {
  Tensor gx = Tensor::empty(y.shape(), y.dtype(), y.device());
  backend_for(y.device()).segment_softmax_backward(gx, minidl::contiguous(g), y, groups.ptr, groups.order);
  return {gx};
}

// The mask regenerated from the Philox words, then softmax's rule on the saved probabilities.
Grads softmax_dropout(const Tensor& g, const Tensor& probs, const SoftmaxDropoutShape& shape, const PhiloxState& state,
                      uint64_t threshold, double scale) {
  Tensor gx = Tensor::empty(probs.shape(), probs.dtype(), probs.device());
  backend_for(g.device()).softmax_dropout_backward(shape, gx, minidl::contiguous(g), probs, state, threshold, scale);
  return {gx};
}

// FlashAttention-2's backward: the probabilities recomputed from q, k and the saved row
// log-sum-exp, the mask regenerated from the Philox words (kernels/cpu/attention.h states the rule).
Grads flash_attention(const Tensor& g, const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& out,
                      const Tensor& lse, const FlashAttentionShape& shape, const PhiloxState& state, uint64_t threshold,
                      double scale) {
  Tensor gq = Tensor::empty(q.shape(), q.dtype(), q.device());
  Tensor gk = Tensor::empty(k.shape(), k.dtype(), k.device()), gv = Tensor::empty(v.shape(), v.dtype(), v.device());
  backend_for(g.device())
      .flash_attention_backward(shape, gq, gk, gv, minidl::contiguous(g), q, k, v, out, lse, state, threshold, scale);
  return {gq, gk, gv};
}

// d mean((a - b)^2) = (2 (a - b) / n * g, -that)
Grads mse_loss(const Tensor& g, const Tensor& input, const Tensor& target) {
  const double n = static_cast<double>(std::max<int64_t>(input.numel(), 1));
  const Tensor ga = (input - target) * g * (2.0 / n);
  return {ga, minidl::neg(ga)};
}

// y[n, k] = W[k] @ cols[n, k] (+ b) for each group k, with cols = im2col(x) [N, C * kh * kw, L]:
// dx = col2im(dcols) with dcols[n, k] = W[k]^T @ g[n, k]; dW[k] = sum_n g[n, k] @ cols[n, k]^T
// (cols recomputed from x rather than kept from the forward); db = g summed over n, h, w.
Grads conv2d(const Tensor& g, const Tensor& x, const Tensor& weight, const Window2d& win, int64_t groups,
             bool has_bias) {
  const int64_t out_channels = weight.size(0);
  if (use_cudnn_conv(x, weight)) {
    const Tensor gy = minidl::contiguous(g);
    auto [gx, gw] = cudnn_conv2d_backward(gy, minidl::contiguous(x), minidl::contiguous(weight), win, groups);
    return {gx, gw, has_bias ? minidl::sum(gy, {0, 2, 3}) : Tensor()};
  }
  const Tensor gy = minidl::reshape(minidl::contiguous(g), {x.size(0), out_channels, win.h.out * win.w.out});
  const Tensor w = minidl::reshape(weight, {out_channels, weight.size(1) * weight.size(2) * weight.size(3)});
  const Tensor cols = im2col(x, win);
  const AutocastGuard f32_gemms(std::nullopt);  // convolution computes in f32, as cuDNN's path does
  const Tensor gcols = cat_groups(groups, 1, [&](int64_t k) {
    return minidl::matmul(minidl::transpose(group_part(w, 0, k, groups), 0, 1), group_part(gy, 1, k, groups));
  });
  const Tensor gw = cat_groups(groups, 0, [&](int64_t k) {
    const Tensor cols_t = minidl::transpose(group_part(cols, 1, k, groups), 1, 2);
    return minidl::sum(minidl::matmul(group_part(gy, 1, k, groups), cols_t), {0});
  });
  return {col2im(gcols, win, x.shape()), minidl::reshape(gw, weight.shape()),
          has_bias ? minidl::sum(gy, {0, 2}) : Tensor()};
}

// Each output's gradient goes to its argmax (indices, saved by the forward).
Grads max_pool2d(const Tensor& g, const Tensor& indices, const Window2d& win, const Shape& input_shape) {
  Tensor gx = Tensor::empty(input_shape, g.dtype(), g.device());
  backend_for(g.device()).max_pool2d_backward(win, gx, minidl::contiguous(g), indices);
  return {gx};
}

// Each output's gradient is shared equally by its window's inputs: g / pool_avg_divisor each.
Grads avg_pool2d(const Tensor& g, const Window2d& win, bool count_include_pad, const Shape& input_shape) {
  Tensor gx = Tensor::empty(input_shape, g.dtype(), g.device());
  backend_for(g.device()).avg_pool2d_backward(win, count_include_pad, gx, minidl::contiguous(g));
  return {gx};
}

// The random ops' masks and noise, regenerated from the same Philox words (none is stored but
// dropout_packed's bits): dx = g * d(out)/dx elementwise.
Grads bernoulli_dropout(const Tensor& g, const PhiloxState& state, uint64_t threshold, const DropoutAffine& rule,
                        const Shape& mask_shape) {
  const DropoutAffine slope{rule.keep_scale, 0, 0};
  if (mask_shape == g.shape()) {
    Tensor gx = Tensor::empty(g.shape(), g.dtype(), g.device());
    backend_for(g.device()).dropout_affine(gx, minidl::contiguous(g), state, threshold, slope);
    return {gx};
  }
  return {g * mask_factors(mask_shape, g.dtype(), g.device(), state, threshold, slope).scale};
}

Grads dropout_packed(const Tensor& g, const Tensor& bits, double scale) {
  Tensor gx = Tensor::empty(g.shape(), g.dtype(), g.device());
  backend_for(g.device()).dropout_apply_packed(gx, minidl::contiguous(g), bits, scale);
  return {gx};
}

Grads gaussian_noise(const Tensor& g, const PhiloxState& state, double mul_sigma) {
  if (mul_sigma == 0) return {g};  // additive noise: the slope is 1
  Tensor gx = Tensor::empty(g.shape(), g.dtype(), g.device());
  backend_for(g.device()).gaussian_noise(gx, minidl::contiguous(g), state, mul_sigma, 0.0);
  return {gx};
}

Grads dropblock(const Tensor& g, const PhiloxState& state, uint64_t threshold, int64_t block, double scale) {
  const Tensor mask = dropblock_mask(g.shape(), g.dtype(), g.device(), state, threshold, block);
  return {g * mask * scale};
}

Grads random_rule(RandomRule rule, const Tensor& g, const PhiloxState& state, double param) {
  Tensor gx = Tensor::empty(g.shape(), g.dtype(), g.device());
  backend_for(g.device()).random_rule(rule, gx, minidl::contiguous(g), state, param, true);
  return {gx};
}

// out = residual + dropout(x + bias): dx = dropout(g), dbias = dx summed over rows (by the
// engine's broadcast reduction), dresidual = g.
Grads bias_dropout_residual(const Tensor& g, const PhiloxState& state, uint64_t threshold, double scale,
                            DType x_dtype) {
  Tensor gx = Tensor::empty(g.shape(), g.dtype(), g.device());
  backend_for(g.device()).dropout_affine(gx, minidl::contiguous(g), state, threshold, DropoutAffine{scale, 0, 0});
  return {minidl::to_dtype(gx, x_dtype), gx, g};
}

}  // namespace minidl::grad
