// The kernel interface one device implements. Ops validate, infer shapes, allocate outputs and
// record autograd; a Backend only runs kernels on tensors that are already checked and
// allocated on its device. The CPU backend calls kernels/cpu; the CUDA backends call kernels/cuda.
#pragma once

#include <array>
#include <span>
#include <variant>
#include <vector>

#include "framework/core/tensor.h"
#include "kernels/common/attention_rules.h"
#include "kernels/common/dropout_rules.h"
#include "kernels/common/optim_rules.h"
#include "kernels/common/philox.h"
#include "kernels/common/random_rules.h"
#include "kernels/common/unary.h"
#include "kernels/common/reduce_kind.h"
#include "kernels/common/window2d.h"

namespace minidl {

// The elements per row of a tensor viewed as rows along dim 0 (the row ops' `cols`).
inline int64_t row_size(const Tensor& t) {
  int64_t n = 1;
  for (int64_t d = 1; d < t.dim(); ++d) n *= t.size(d);
  return n;
}

// flash_attention's least work in flops (ops/dispatch.h): 2 per multiply-add of its [q_len, cols,
// head_dim] products, two forward (q k^T, P v) and five backward (the scores and dP recomputed,
// grad_v, grad_k, grad_q), halved under the causal mask, which hides about half the scores.
inline double flash_attention_flops(const FlashAttentionShape& s, bool backward) {
  const double products = backward ? 5 : 2;
  return 2 * products * static_cast<double>(s.groups * s.scores.q_len * s.scores.cols * s.head_dim) *
         (s.scores.causal ? 0.5 : 1.0);
}

// An optimizer step's update rule: one params struct of kernels/common/optim_rules.h per
// optimizer family (Adam's serves AdamW and both AMSGrad variants too).
using OptimizerRule = std::variant<SgdParams, AdamParams, AdagradParams, AdadeltaParams, RmspropParams, AdamaxParams,
                                   NadamParams, RadamParams, LionParams, LambParams>;

// One parameter tensor of an optimizer step: the parameter, its gradient and its state buffers in
// the order the rule reads them (undefined where the configuration keeps none), all contiguous,
// of one shape, dtype and device.
struct OptimizerTensors {
  Tensor param, grad;
  std::array<Tensor, kMaxOptimizerState> state;
};

// Each tensor of each parameter once (ops/dispatch.h): the optimizer kernels' least traffic.
double operand_bytes(std::span<const OptimizerTensors> tensors);

// The kernels' view of one OptimizerTensors.
template <typename T>
ParamBuffers<T> param_buffers(const OptimizerTensors& t) {
  ParamBuffers<T> b{t.param.data<T>(), t.grad.data<T>(), {}, t.param.numel()};
  for (int k = 0; k < kMaxOptimizerState; ++k) b.state[k] = t.state[k].defined() ? t.state[k].data<T>() : nullptr;
  return b;
}

class Backend {
 public:
  virtual ~Backend() = default;

  // dst = src elementwise, any strides, casting between dtypes. Shapes are equal.
  virtual void copy(const Tensor& dst, const Tensor& src) = 0;
  virtual void fill(const Tensor& dst, double value) = 0;
  // out contiguous; x any view of out's shape.
  virtual void unary(UnaryKind kind, const Tensor& out, const Tensor& x) = 0;
  // All contiguous and of one shape: grad_x = grad_y * f'(x, y).
  virtual void unary_backward(UnaryKind kind, const Tensor& grad_x, const Tensor& grad_y, const Tensor& x,
                              const Tensor& y) = 0;
  // out contiguous; a and b views expanded to out's shape.
  virtual void binary(BinaryKind kind, const Tensor& out, const Tensor& a, const Tensor& b) = 0;
  // out = a op b for a number b, computed with b in a's compute type (f32 for bf16 a).
  virtual void binary_scalar(BinaryKind kind, const Tensor& out, const Tensor& a, double b) = 0;
  // x contiguous, viewed as [outer, extent, inner]; out contiguous [outer, inner].
  virtual void reduce(ReduceKind kind, const Tensor& out, const Tensor& x, int64_t outer, int64_t extent,
                      int64_t inner) = 0;
  // x contiguous [rows, cols]; out contiguous i64 [rows].
  virtual void argmax_rows(const Tensor& out, const Tensor& x, int64_t cols) = 0;
  // out[b] = op(a[b]) @ op(b[b]) for each batch b; each matrix row-major with its own leading
  // dimension; batch strides may be 0 (broadcast).
  struct GemmBatch {
    int64_t batch, m, n, k;
    bool trans_a, trans_b;
    int64_t lda, ldb;
    int64_t stride_a, stride_b;
  };
  virtual void matmul(const GemmBatch& g, const Tensor& out, const Tensor& a, const Tensor& b) = 0;
  // Row-wise softmax / log-softmax of contiguous [rows, cols].
  virtual void softmax(bool log, const Tensor& y, const Tensor& x, int64_t cols) = 0;
  virtual void softmax_backward(bool log, const Tensor& grad_x, const Tensor& grad_y, const Tensor& y,
                                int64_t cols) = 0;
  // logits [rows, classes] contiguous, target i64 [rows]; row_lse [rows]; loss scalar.
  virtual void cross_entropy(const Tensor& loss, const Tensor& row_lse, const Tensor& logits,
                             const Tensor& target) = 0;
  // grad_loss: the one-element gradient of the loss, on this device.
  virtual void cross_entropy_backward(const Tensor& grad_logits, const Tensor& logits, const Tensor& target,
                                      const Tensor& row_lse, const Tensor& grad_loss) = 0;
  // Sliding windows over the planes of contiguous x [planes, H, W] (kernels/cpu/conv.h,
  // kernels/cpu/pool.h state each rule). cols: [planes, kh * kw, out_h * out_w]; y, indices
  // (i64: the argmax's offset in its input plane): [planes, out_h, out_w]; all contiguous.
  virtual void im2col(const Window2d& g, const Tensor& cols, const Tensor& x) = 0;
  virtual void col2im(const Window2d& g, const Tensor& x, const Tensor& cols) = 0;
  virtual void max_pool2d(const Window2d& g, const Tensor& y, const Tensor& indices, const Tensor& x) = 0;
  virtual void max_pool2d_backward(const Window2d& g, const Tensor& grad_x, const Tensor& grad_y,
                                   const Tensor& indices) = 0;
  virtual void avg_pool2d(const Window2d& g, bool count_include_pad, const Tensor& y, const Tensor& x) = 0;
  virtual void avg_pool2d_backward(const Window2d& g, bool count_include_pad, const Tensor& grad_x,
                                   const Tensor& grad_y) = 0;
  // The dropout family (kernels/cpu/dropout.h states each rule). Tensors are contiguous; masks
  // come from the Philox words of `state`. mask: u8; bits: i32 words holding the 1-bit mask.
  virtual void dropout_mask(const Tensor& mask, const PhiloxState& state, uint64_t threshold) = 0;
  virtual void dropout_affine(const Tensor& out, const Tensor& x, const PhiloxState& state, uint64_t threshold,
                              const DropoutAffine& rule) = 0;
  virtual void dropout_pack_mask(const Tensor& bits, int64_t n, const PhiloxState& state, uint64_t threshold) = 0;
  virtual void dropout_apply_packed(const Tensor& out, const Tensor& x, const Tensor& bits, double scale) = 0;
  virtual void gaussian_noise(const Tensor& out, const Tensor& x, const PhiloxState& state, double mul_sigma,
                              double add_sigma) = 0;
  virtual void uniform_fill(const Tensor& out, const PhiloxState& state) = 0;
  // mask [planes, height, width] from the u8 Bernoulli(gamma) keep flags `draws` of the same shape.
  virtual void dropblock_mask(const Tensor& mask, const Tensor& draws, int64_t block) = 0;
  // A plug-in rule of kernels/common/random_rules.h (kernels/cpu/dropout.h random_rule).
  virtual void random_rule(RandomRule rule, const Tensor& out, const Tensor& x, const PhiloxState& state, double param,
                           bool slope_only) = 0;
  // x and residual of out's shape, bias [cols] with cols = out's last dim.
  virtual void bias_dropout_residual(const Tensor& out, const Tensor& x, const Tensor& bias, const Tensor& residual,
                                     const PhiloxState& state, uint64_t threshold, double scale) = 0;
  // LayerNorm over the last axis of contiguous x [rows, cols] (kernels/cpu/layer_norm.h): y like
  // x, weight and bias [cols], mean and rstd [rows], all contiguous.
  virtual void layer_norm(const Tensor& y, const Tensor& mean, const Tensor& rstd, const Tensor& x,
                          const Tensor& weight, const Tensor& bias, double eps) = 0;
  virtual void layer_norm_backward(const Tensor& grad_x, const Tensor& grad_y, const Tensor& x, const Tensor& weight,
                                   const Tensor& mean, const Tensor& rstd) = 0;
  // The LSTM cell (kernels/cpu/lstm.h): gates [batch, 4 hidden], c_prev [batch, hidden], y
  // [batch, 2 hidden] = [h | c]; all contiguous.
  virtual void lstm_cell(const Tensor& y, const Tensor& gates, const Tensor& c_prev) = 0;
  virtual void lstm_cell_backward(const Tensor& grad_gates, const Tensor& grad_c_prev, const Tensor& grad_y,
                                  const Tensor& gates, const Tensor& c_prev, const Tensor& y) = 0;
  // Row ops over an index and its groups (kernels/cpu/index_rows.h), on contiguous tensors viewed
  // as rows of `cols` = numel / size(0) elements: y [count, ...] = x rows picked by index [count];
  // y [groups, ...] = src rows summed by group (ptr [groups + 1], order [count]); softmax of x
  // [count, ...] over each group's rows.
  virtual void gather_rows(const Tensor& y, const Tensor& x, const Tensor& index) = 0;
  virtual void scatter_add_rows(const Tensor& y, const Tensor& src, const Tensor& ptr, const Tensor& order) = 0;
  virtual void segment_softmax(const Tensor& y, const Tensor& x, const Tensor& ptr, const Tensor& order) = 0;
  virtual void segment_softmax_backward(const Tensor& grad_x, const Tensor& grad_y, const Tensor& y, const Tensor& ptr,
                                        const Tensor& order) = 0;
  // Attention's fused softmax + dropout over contiguous score rows [rows, shape.cols]
  // (kernels/cpu/attention.h): y the output, probs the probabilities saved for backward.
  virtual void softmax_dropout(const SoftmaxDropoutShape& shape, const Tensor& y, const Tensor& probs, const Tensor& x,
                               const PhiloxState& state, uint64_t threshold, double scale) = 0;
  virtual void softmax_dropout_backward(const SoftmaxDropoutShape& shape, const Tensor& grad_x, const Tensor& grad_y,
                                        const Tensor& probs, const PhiloxState& state, uint64_t threshold,
                                        double scale) = 0;
  // Attention in one op, without the scores in memory (kernels/cpu/attention.h flash_attention_*):
  // q, out, grad_out [shape.groups, q_len, head_dim], k, v [groups, cols, head_dim] and their
  // gradients alike, lse [groups * q_len] (the row log-sum-exp, saved for backward); all contiguous.
  virtual void flash_attention(const FlashAttentionShape& shape, const Tensor& out, const Tensor& lse, const Tensor& q,
                               const Tensor& k, const Tensor& v, const PhiloxState& state, uint64_t threshold,
                               double scale) = 0;
  virtual void flash_attention_backward(const FlashAttentionShape& shape, const Tensor& grad_q, const Tensor& grad_k,
                                        const Tensor& grad_v, const Tensor& grad_out, const Tensor& q, const Tensor& k,
                                        const Tensor& v, const Tensor& out, const Tensor& lse, const PhiloxState& state,
                                        uint64_t threshold, double scale) = 0;
  // One optimizer step over many parameter tensors, with the rule of `rule`'s alternative: every
  // tensor of a call shares the dtype and the rule's params (the optimizer groups them); the
  // device's kernels serve them in as few launches as they can.
  virtual void optimizer_step(const OptimizerRule& rule, std::span<const OptimizerTensors> tensors) = 0;
  // Gradient clipping over many tensors of one dtype, all contiguous. grad_norms: for each tensor,
  // the sum of squares or the largest |x|, in double, on the host. clip_grads: out[k] =
  // clip_value(hp, grads[k]) elementwise, out[k] of grads[k]'s shape.
  virtual std::vector<double> grad_norms(NormKind kind, std::span<const Tensor> grads) = 0;
  virtual void clip_grads(const ClipParams& hp, std::span<const Tensor> out, std::span<const Tensor> grads) = 0;
};

// The backend of a device; an error naming the device when this build or machine lacks it.
Backend& backend_for(Device device);

// The backends themselves (framework/ops/cpu_backend.cpp, device_backend_*.cpp).
Backend& cpu_backend();
Backend& emulated_cuda_backend();
Backend& cuda_backend();

}  // namespace minidl
