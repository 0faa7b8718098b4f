// The functional API: every op validates its operands, runs the backend kernel of their device,
// and records its gradient rule (framework/ops/gradients.cpp) when autograd needs it.
#pragma once

#include <array>
#include <cstdint>
#include <vector>

#include "framework/core/tensor.h"
#include "framework/random/generator.h"
#include "kernels/common/dropout_rules.h"
#include "kernels/common/random_rules.h"

namespace minidl {

// Elementwise binary ops broadcast their operands (numpy rules); both must be floating tensors
// of one dtype on one device.
Tensor add(const Tensor& a, const Tensor& b);
Tensor sub(const Tensor& a, const Tensor& b);
Tensor mul(const Tensor& a, const Tensor& b);
Tensor div(const Tensor& a, const Tensor& b);
Tensor pow(const Tensor& a, const Tensor& b);
Tensor eq(const Tensor& a, const Tensor& b);  // 1 where equal, else 0, in a's dtype; no gradient

// A scalar operand becomes a 0-d tensor of the other operand's dtype.
Tensor add(const Tensor& a, double b);
Tensor mul(const Tensor& a, double b);
Tensor pow(const Tensor& a, double b);
Tensor operator+(const Tensor& a, const Tensor& b);
Tensor operator-(const Tensor& a, const Tensor& b);
Tensor operator*(const Tensor& a, const Tensor& b);
Tensor operator/(const Tensor& a, const Tensor& b);
Tensor operator-(const Tensor& a);
Tensor operator*(const Tensor& a, double b);
Tensor operator+(const Tensor& a, double b);

Tensor neg(const Tensor& x);
Tensor exp(const Tensor& x);
Tensor log(const Tensor& x);
Tensor sqrt(const Tensor& x);
Tensor relu(const Tensor& x);
Tensor gelu(const Tensor& x);  // exact (erf) form
Tensor tanh(const Tensor& x);
Tensor sigmoid(const Tensor& x);

// [..., m, k] @ [..., k, n] with broadcast batch dims; 1-d operands are not promoted.
Tensor matmul(const Tensor& a, const Tensor& b);

// Reductions over `dims` (all dims when empty).
Tensor sum(const Tensor& x, std::vector<int64_t> dims = {}, bool keepdim = false);
Tensor mean(const Tensor& x, std::vector<int64_t> dims = {}, bool keepdim = false);
// Max over one dim; the gradient is split evenly among tied maxima.
Tensor max(const Tensor& x, int64_t dim, bool keepdim = false);
Tensor argmax(const Tensor& x, int64_t dim, bool keepdim = false);  // i64, first maximum
// Sums a broadcast gradient back to `shape`.
Tensor sum_to(const Tensor& x, const Shape& shape);

// Shape ops. reshape, permute, transpose, slice and expand return views sharing storage
// (reshape copies only when the strides make a view impossible).
Tensor reshape(const Tensor& x, Shape shape);  // one size may be -1
Tensor permute(const Tensor& x, std::vector<int64_t> dims);
Tensor transpose(const Tensor& x, int64_t dim0, int64_t dim1);
Tensor slice(const Tensor& x, int64_t dim, int64_t start, int64_t end, int64_t step = 1);
Tensor expand(const Tensor& x, const Shape& shape);
Tensor cat(const std::vector<Tensor>& xs, int64_t dim);
Tensor stack(const std::vector<Tensor>& xs, int64_t dim);
Tensor contiguous(const Tensor& x);  // x itself when already contiguous
Tensor clone(const Tensor& x);       // always a fresh contiguous copy
Tensor to_dtype(const Tensor& x, DType dtype);
// A contiguous copy on `device` (x itself when already there); gradients flow back.
Tensor to_device(const Tensor& x, Device device);
// Moves a leaf's storage to `device` in place, so every handle to it (a module's parameters)
// follows. No autograd history is recorded.
void move_to_device(const Tensor& leaf, Device device);

Tensor softmax(const Tensor& x, int64_t dim);
Tensor log_softmax(const Tensor& x, int64_t dim);
// Mean cross-entropy of logits [N, C] against class indices target (i64 [N], values in [0, C)).
Tensor cross_entropy(const Tensor& logits, const Tensor& target);
// With label smoothing eps (Szegedy et al. 2016), as torch.nn.functional.cross_entropy computes it:
// the target distribution puts 1 - eps on the class and eps spread uniformly over all C classes,
// so the loss is (1 - eps) * CE + eps * mean over rows of (-1/C) sum_c log softmax(logits)_c.
Tensor cross_entropy(const Tensor& logits, const Tensor& target, double label_smoothing);
Tensor mse_loss(const Tensor& input, const Tensor& target);  // mean squared error
// LayerNorm over the last dim: (x - mean) / sqrt(var + eps) * weight + bias, weight and bias
// [last dim]; statistics summed in double.
Tensor layer_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, double eps = 1e-5);
// The LSTM cell, fused: gates [batch, 4 hidden] are the pre-activations (x W_ih^T + h W_hh^T + b)
// in PyTorch's order i, f, g, o; c = sigmoid(f) c_prev + sigmoid(i) tanh(g), h = sigmoid(o)
// tanh(c). Returns [batch, 2 hidden] = [h | c] (slice it; framework/nn/recurrent.h does).
Tensor lstm_cell(const Tensor& gates, const Tensor& c_prev);

// Row ops over an index (framework/ops/index_ops.cpp). An index [count] of values in [0, rows)
// is grouped once: group v lists the positions holding v, in increasing position, as
// order[ptr[v] .. ptr[v + 1]). Scatters sum each group in that order on every device, with no
// atomics, so their results are deterministic and bit-identical across devices. A graph groups
// its edge endpoints this way once and reuses the groups every step.
struct IndexGroups {
  Tensor index;  // i64 [count], contiguous
  Tensor ptr;    // i64 [rows + 1]
  Tensor order;  // i64 [count]
  int64_t rows = 0;
};
// Groups a 1-d i64 index (a host pass; the result stays on the index's device). Errors name op.
IndexGroups group_index(const Tensor& index, int64_t rows, const char* op = "group_index");
// y[i, ...] = x[index[i], ...]: x [rows, ...] -> [count, ...]. The gradient scatter-adds by group.
Tensor gather_rows(const Tensor& x, const IndexGroups& groups);
// y[v, ...] = the sum of src[i, ...] over the positions i of group v: [count, ...] -> [rows, ...].
Tensor scatter_add_rows(const Tensor& src, const IndexGroups& groups);
// Softmax of scores [count, ...] over the positions of each group, separately for each trailing
// element (graph attention: a node's weights over its in-edges, per head).
Tensor segment_softmax(const Tensor& scores, const IndexGroups& groups);
// Rows of weight [vocab, dim] picked by i64 ids of any shape: ids.shape + [dim] (gather_rows).
Tensor embedding(const Tensor& weight, const Tensor& ids);

// 2-D convolution and pooling over x [N, C, H, W] (framework/ops/conv_ops.cpp), with PyTorch's
// semantics and output sizes (floor mode). Size2 is {height, width}.
using Size2 = std::array<int64_t, 2>;
// Cross-correlation with weight [O, C / groups, kh, kw] and bias [O] (or undefined): im2col, then
// one batched GEMM per group. Output [N, O, out_h, out_w].
Tensor conv2d(const Tensor& x, const Tensor& weight, const Tensor& bias, Size2 stride = {1, 1}, Size2 padding = {0, 0},
              Size2 dilation = {1, 1}, int64_t groups = 1);
// The maximum of each window, padding never chosen (padding <= kernel / 2). The gradient goes to
// the first maximum in row order (NaN counts as the maximum).
Tensor max_pool2d(const Tensor& x, Size2 kernel, Size2 stride, Size2 padding = {0, 0});
// The mean of each window: over kh * kw positions, padding included, or with !count_include_pad
// over the inputs the window covers.
Tensor avg_pool2d(const Tensor& x, Size2 kernel, Size2 stride, Size2 padding = {0, 0}, bool count_include_pad = true);
// The mean over PyTorch's adaptive windows: output i of an axis of n inputs averages
// [floor(i * n / out), ceil((i + 1) * n / out)).
Tensor adaptive_avg_pool2d(const Tensor& x, int64_t out_h, int64_t out_w);

// Random ops (framework/ops/random_ops.cpp). Each draws its words from gen (docs/reproducibility.md):
// element i (or mask element i) uses word (offset + i), so results are identical on every device
// and launch configuration; backward regenerates the mask from the same words.

// Attention probabilities: softmax over the last dim of scores [..., queries, keys], with the
// causal mask (query t sees keys up to t + keys - queries) when asked, then inverted dropout
// with probability p in training, fused in one kernel. Element i uses Philox word (offset + i);
// backward regenerates the mask from the words and stores only the probabilities.
Tensor softmax_dropout(const Tensor& scores, double p, bool causal, bool training,
                       Generator& gen = default_generator());
// Attention fused end to end: dropout(softmax(q k^T / sqrt(dh), causal mask)) v for q [B, H, Tq, dh]
// and k, v [B, H, Tk, dh] (1 <= dh <= 128), giving [B, H, Tq, dh]. It equals
// matmul(softmax_dropout(matmul(q, k^T) / sqrt(dh), p, causal, training, gen), v) up to the order of
// float sums, with the same dropout masks from the same generator state, but its kernels walk k and
// v in tiles with an online softmax and never store the [Tq, Tk] scores: it saves only the row
// log-sum-exp [B, H, Tq], and backward recomputes the probabilities and regenerates the mask.
Tensor flash_attention(const Tensor& q, const Tensor& k, const Tensor& v, double p, bool causal, bool training,
                       Generator& gen = default_generator());

// Inverted dropout: in training, keeps element i iff word (offset + i) of gen's stream clears
// the threshold of p, and scales kept values by 1 / (1 - p). Identity when !training or p == 0.
Tensor dropout(const Tensor& x, double p, bool training, Generator& gen = default_generator());
// The same values, with the mask stored as 1 bit per element for backward instead of regenerated.
Tensor dropout_packed(const Tensor& x, double p, bool training, Generator& gen = default_generator());
// Bernoulli dropout in its general form: a mask of mask_shape (x's shape, or x's with some dims 1
// so that one draw covers a whole channel, sample or row), drop probability p; kept elements
// become x * rule.keep_scale + rule.keep_shift, dropped ones rule.drop_value.
Tensor bernoulli_dropout(const Tensor& x, double p, const DropoutAffine& rule, const Shape& mask_shape,
                         Generator& gen = default_generator());
// x * (1 + mul_sigma * z) + add_sigma * z with z ~ N(0, 1) per element: elements 2j, 2j + 1 take
// the Box-Muller pair of words (offset + 2j, offset + 2j + 1), as curand_normal2 computes it.
Tensor gaussian_noise(const Tensor& x, double mul_sigma, double add_sigma, Generator& gen = default_generator());
// Uniform in (0, 1): (word + 1/2) / 2^32, one word per element (not differentiable).
Tensor rand(const Shape& shape, DType dtype = DType::F32, Device device = kCPU, Generator& gen = default_generator());
// DropBlock (Ghiasi et al. 2018) on x [..., H, W]: blocks of block_size x block_size (odd) are
// dropped around seeds drawn with rate gamma = dropblock_gamma(p, ...) at the positions where a
// whole block fits; the kept values are scaled by numel / kept. Identity when !training or p == 0;
// p = 1 drops everything (seeds alone would not cover every unit).
Tensor dropblock(const Tensor& x, double p, int64_t block_size, bool training, Generator& gen = default_generator());
// gamma = p / block^2 * H W / ((H - block + 1)(W - block + 1)): the seed rate whose blocks would
// drop a fraction p of the map if they did not overlap.
double dropblock_gamma(double p, int64_t block_size, int64_t height, int64_t width);
// A plug-in rule of kernels/common/random_rules.h with parameter `param`: y = x * scale_i + shift_i
// from the word of element i. Identity when !training.
Tensor random_rule(RandomRule rule, const Tensor& x, double param, bool training, Generator& gen = default_generator());
// The rule's name ("uniform-noise"); the rule of a name, or an error listing the names.
const char* random_rule_name(RandomRule rule);
// residual + dropout(x + bias) in one kernel (the transformer's hot path); bias is [x's last dim].
Tensor bias_dropout_residual(const Tensor& x, const Tensor& bias, const Tensor& residual, double p, bool training,
                             Generator& gen = default_generator());

// In-place writes (they bump the version counter of the storage).
void copy_(const Tensor& dst, const Tensor& src);
void fill_(const Tensor& dst, double value);

}  // namespace minidl
