// Gradient rules, one named function per op, all in one place. Each returns one gradient per
// input (undefined where an input has none), in the broadcast shape of the forward; the engine
// sums broadcast gradients back to each input's shape. Rules run with grad mode off.
#pragma once

#include <vector>

#include "framework/core/tensor.h"
#include "framework/ops/ops.h"
#include "kernels/common/attention_rules.h"
#include "kernels/common/dropout_rules.h"
#include "kernels/common/philox.h"
#include "kernels/common/random_rules.h"
#include "kernels/common/unary.h"
#include "kernels/common/window2d.h"

namespace minidl::grad {

using Grads = std::vector<Tensor>;

Grads add(const Tensor& g);
Grads sub(const Tensor& g);
Grads mul(const Tensor& g, const Tensor& a, const Tensor& b);
Grads div(const Tensor& g, const Tensor& a, const Tensor& b);
Grads pow(const Tensor& g, const Tensor& a, const Tensor& b, const Tensor& y);
// The same with a number b (not differentiated).
Grads add_scalar(const Tensor& g);
Grads mul_scalar(const Tensor& g, double b);
Grads pow_scalar(const Tensor& g, const Tensor& a, double b);
Grads unary(UnaryKind kind, const Tensor& g, const Tensor& x, const Tensor& y);
Grads matmul(const Tensor& g, const Tensor& a, const Tensor& b);
Grads sum(const Tensor& g, const Shape& input_shape, const std::vector<int64_t>& dims, bool keepdim);
Grads mean(const Tensor& g, const Shape& input_shape, const std::vector<int64_t>& dims, bool keepdim);
Grads max(const Tensor& g, const Tensor& x, const Tensor& values, int64_t dim, bool keepdim);
Grads reshape(const Tensor& g, const Shape& input_shape);
Grads permute(const Tensor& g, const std::vector<int64_t>& dims);
Grads slice(const Tensor& g, const Shape& input_shape, int64_t dim, int64_t start, int64_t end, int64_t step);
Grads expand(const Tensor& g, const Shape& input_shape);
Grads cat(const Tensor& g, const std::vector<int64_t>& sizes, int64_t dim);
Grads stack(const Tensor& g, size_t count, int64_t dim);
Grads cast(const Tensor& g, DType input_dtype);
Grads to_device(const Tensor& g, Device input_device);
Grads softmax(bool log, const Tensor& g, const Tensor& y, int64_t dim);
Grads cross_entropy(const Tensor& g, const Tensor& logits, const Tensor& target, const Tensor& row_lse);
Grads mse_loss(const Tensor& g, const Tensor& input, const Tensor& target);
Grads layer_norm(const Tensor& g, const Tensor& x, const Tensor& weight, const Tensor& mean, const Tensor& rstd);
Grads lstm_cell(const Tensor& g, const Tensor& gates, const Tensor& c_prev, const Tensor& y);
Grads gather_rows(const Tensor& g, const IndexGroups& groups);
Grads scatter_add_rows(const Tensor& g, const IndexGroups& groups);
Grads segment_softmax(const Tensor& g, const Tensor& y, const IndexGroups& groups);
Grads softmax_dropout(const Tensor& g, const Tensor& probs, const SoftmaxDropoutShape& shape, const PhiloxState& state,
                      uint64_t threshold, double scale);
Grads flash_attention(const Tensor& g, const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& out,
                      const Tensor& lse, const FlashAttentionShape& shape, const PhiloxState& state, uint64_t threshold,
                      double scale);
Grads conv2d(const Tensor& g, const Tensor& x, const Tensor& weight, const Window2d& win, int64_t groups,
             bool has_bias);
Grads max_pool2d(const Tensor& g, const Tensor& indices, const Window2d& win, const Shape& input_shape);
Grads avg_pool2d(const Tensor& g, const Window2d& win, bool count_include_pad, const Shape& input_shape);
Grads bernoulli_dropout(const Tensor& g, const PhiloxState& state, uint64_t threshold, const DropoutAffine& rule,
                        const Shape& mask_shape);
Grads dropout_packed(const Tensor& g, const Tensor& bits, double scale);
Grads gaussian_noise(const Tensor& g, const PhiloxState& state, double mul_sigma);
Grads dropblock(const Tensor& g, const PhiloxState& state, uint64_t threshold, int64_t block, double scale);
Grads random_rule(RandomRule rule, const Tensor& g, const PhiloxState& state, double param);
// x_dtype: the forward's x, which may be bf16 under an f32 residual.
Grads bias_dropout_residual(const Tensor& g, const PhiloxState& state, uint64_t threshold, double scale, DType x_dtype);

}  // namespace minidl::grad
