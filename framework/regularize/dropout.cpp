#include "framework/regularize/dropout.h"

#include <cmath>

#include "framework/core/check.h"
#include "framework/ops/checks.h"
#include "framework/ops/ops.h"

namespace minidl {

namespace {

double inverted_scale(double p) { return p < 1.0 ? 1.0 / (1.0 - p) : 0.0; }

// x's shape with the dims from `from` on set to 1: one draw per leading index.
Shape leading_mask(const Tensor& x, int64_t from) {
  Shape s = x.shape();
  for (size_t d = static_cast<size_t>(from); d < s.size(); ++d) s[d] = 1;
  return s;
}

// Inverted Bernoulli dropout with one draw per element of mask_shape.
Tensor inverted(const Tensor& x, double p, const Shape& mask_shape, Generator& gen) {
  return bernoulli_dropout(x, p, DropoutAffine{inverted_scale(p), 0, 0}, mask_shape, gen);
}

// SELU's negative saturation value, -lambda * alpha (Klambauer et al. 2017).
constexpr double kAlphaPrime = -1.0507009873554804934193349852946 * 1.6732632423543772848170429916717;

DropoutAffine alpha_rule(double p) {
  // a and b keep mean 0 and variance 1: a = ((1 - p)(1 + p alpha'^2))^-1/2, b = -a alpha' p.
  const double a = 1.0 / std::sqrt((1.0 - p) * (1.0 + p * kAlphaPrime * kAlphaPrime));
  const double b = -a * kAlphaPrime * p;
  return {a, b, a * kAlphaPrime + b};
}

Tensor alpha_family(const Tensor& x, double p, bool training, const Shape& mask_shape, Generator& gen, const char* what) {
  check_drop_probability(p, training, what);
  if (!training || p == 0.0) return x;
  if (p == 1.0) return mul(x, 0.0);  // every unit at alpha' then mapped by a = 0: zeros, as torch
  return bernoulli_dropout(x, p, alpha_rule(p), mask_shape, gen);
}

// Classic dropout after the caller's checks: training keep ? x : 0, eval x * (1 - p).
Tensor classic(const Tensor& x, double p, bool training, Generator& gen) {
  if (!training) return mul(x, 1.0 - p);
  if (p == 0.0) return x;
  return bernoulli_dropout(x, p, DropoutAffine{1, 0, 0}, x.shape(), gen);
}

}  // namespace

Tensor classic_dropout(const Tensor& x, double p, bool training, Generator& gen) {
  check_drop_probability(p, training, "classic_dropout");
  return classic(x, p, training, gen);
}

Tensor alpha_dropout(const Tensor& x, double p, bool training, Generator& gen) {
  return alpha_family(x, p, training, x.shape(), gen, "alpha_dropout");
}

Tensor feature_alpha_dropout(const Tensor& x, double p, bool training, Generator& gen) {
  MINIDL_CHECK(x.dim() >= 2, "feature_alpha_dropout: x must be [N, C, ...], got {}", x.describe());
  return alpha_family(x, p, training, leading_mask(x, 2), gen, "feature_alpha_dropout");
}

Tensor spatial_dropout(const Tensor& x, double p, int spatial_dims, bool training, Generator& gen) {
  MINIDL_CHECK(spatial_dims >= 1 && spatial_dims <= 3, "spatial dropout: {} spatial dims, expected 1, 2 or 3",
               spatial_dims);
  MINIDL_CHECK(x.dim() == 2 + spatial_dims, "dropout{}d: x must be [N, C{}], got {}", spatial_dims,
               spatial_dims == 1 ? ", L" : spatial_dims == 2 ? ", H, W" : ", D, H, W", x.describe());
  check_drop_probability(p, training, "spatial dropout");
  if (!training || p == 0.0) return x;
  return inverted(x, p, leading_mask(x, 2), gen);
}

Tensor gaussian_dropout(const Tensor& x, double p, bool training, Generator& gen) {
  MINIDL_CHECK(p >= 0.0 && p < 1.0, "gaussian_dropout: p = {} is outside [0, 1) (the noise variance p / (1 - p))", p);
  if (!training || p == 0.0) return x;
  return gaussian_noise(x, std::sqrt(p / (1.0 - p)), 0.0, gen);
}

Tensor additive_gaussian_noise(const Tensor& x, double sigma, bool training, Generator& gen) {
  MINIDL_CHECK(sigma >= 0.0 && std::isfinite(sigma), "gaussian noise: sigma = {} must be finite and >= 0", sigma);
  if (!training || sigma == 0.0) return x;
  return gaussian_noise(x, 0.0, sigma, gen);
}

Tensor drop_connect_linear(const Tensor& x, const Tensor& weight, const Tensor& bias, double p, bool per_sample,
                           bool training, Generator& gen) {
  check_drop_probability(p, training, "drop_connect");
  MINIDL_CHECK(x.dim() == 2 && weight.dim() == 2 && x.size(1) == weight.size(1),
               "drop_connect: x must be [N, {}] for weight {}, got {}", weight.dim() == 2 ? weight.size(1) : 0,
               weight.describe(), x.describe());
  Tensor y;
  if (!training || p == 0.0) {
    y = matmul(x, transpose(weight, 0, 1));
  } else if (!per_sample) {
    y = matmul(x, transpose(inverted(weight, p, weight.shape(), gen), 0, 1));
  } else {
    // N masked copies of W: y[n] = x[n] (W * M_n)^T.
    const int64_t n = x.size(0), out = weight.size(0), in = weight.size(1);
    const Tensor copies = expand(reshape(weight, {1, out, in}), {n, out, in});
    const Tensor masked = inverted(copies, p, copies.shape(), gen);
    y = reshape(matmul(reshape(x, {n, 1, in}), transpose(masked, 1, 2)), {n, out});
  }
  return bias.defined() ? add(y, bias) : y;
}

Tensor drop_path(const Tensor& x, double p, bool per_sample, bool training, Generator& gen) {
  check_drop_probability(p, training, "drop_path");
  MINIDL_CHECK(x.dim() >= 1, "drop_path: x must be [N, ...], got {}", x.describe());
  if (!training || p == 0.0) return x;
  return inverted(x, p, leading_mask(x, per_sample ? 1 : 0), gen);
}

double stochastic_depth_rate(double final_p, int64_t block, int64_t blocks) {
  check_drop_probability(final_p, false, "stochastic depth");
  MINIDL_CHECK(blocks >= 1 && block >= 1 && block <= blocks, "stochastic depth: block {} of {} is out of range", block,
               blocks);
  return final_p * static_cast<double>(block) / static_cast<double>(blocks);
}

bool layer_drop(double p, bool training, Generator& gen) {
  check_drop_probability(p, training, "layer_drop");
  if (!training) return false;
  return !dropout_keep(philox_word(gen.reserve(1), 0), dropout_threshold(p));
}

Tensor locked_dropout(const Tensor& x, double p, bool training, Generator& gen) {
  MINIDL_CHECK(x.dim() == 3, "locked_dropout: x must be [T, N, F], got {}", x.describe());
  check_drop_probability(p, training, "locked_dropout");
  if (!training || p == 0.0) return x;
  return inverted(x, p, {1, x.size(1), x.size(2)}, gen);
}

Tensor zoneout(const Tensor& h_prev, const Tensor& h_new, double p, bool training, Generator& gen) {
  MINIDL_CHECK(h_prev.shape() == h_new.shape(), "zoneout: h_prev {} and h_new {} differ in shape", h_prev.describe(),
               h_new.describe());
  check_drop_probability(p, training, "zoneout");
  // Zoning out unit i (probability p) keeps h_prev: classic dropout of the update.
  return add(h_prev, classic(sub(h_new, h_prev), p, training, gen));
}

Tensor embedding_dropout(const Tensor& weight, double p, bool training, Generator& gen) {
  MINIDL_CHECK(weight.dim() == 2, "embedding_dropout: weight must be [V, D], got {}", weight.describe());
  check_drop_probability(p, training, "embedding_dropout");
  if (!training || p == 0.0) return weight;
  return inverted(weight, p, {weight.size(0), 1}, gen);
}

Tensor drop_edge(const Tensor& edge_weight, double p, bool training, Generator& gen) {
  MINIDL_CHECK(edge_weight.dim() >= 1, "drop_edge: edge weights must be [edges, ...], got {}", edge_weight.describe());
  check_drop_probability(p, training, "drop_edge");
  if (!training || p == 0.0) return edge_weight;
  Shape mask_shape(static_cast<size_t>(edge_weight.dim()), 1);
  mask_shape[0] = edge_weight.size(0);
  return inverted(edge_weight, p, mask_shape, gen);
}

Tensor drop_node(const Tensor& x, double p, bool training, Generator& gen) {
  MINIDL_CHECK(x.dim() == 2, "drop_node: x must be [nodes, F], got {}", x.describe());
  check_drop_probability(p, training, "drop_node");
  if (!training || p == 0.0) return x;
  return inverted(x, p, {x.size(0), 1}, gen);
}

Tensor concrete_dropout(const Tensor& x, const Tensor& p_logit, double temperature, bool training, Generator& gen) {
  MINIDL_CHECK(p_logit.numel() == 1, "concrete_dropout: p_logit must hold one value, got {}", p_logit.describe());
  MINIDL_CHECK(temperature > 0 && std::isfinite(temperature), "concrete_dropout: temperature = {} must be > 0",
               temperature);
  if (!training) return x;
  // The relaxed mask is computed in p_logit's dtype (f32 for a bf16 x: it needs f32 near 0 and 1).
  const Tensor u = rand(x.shape(), p_logit.dtype(), x.device(), gen);
  constexpr double kEps = 1e-7;  // keeps log finite where u rounds to 1 in f32
  const Tensor logistic = sub(log(add(u, kEps)), log(add(mul(u, -1.0), 1.0 + kEps)));
  const Tensor logit = reshape(p_logit, {});
  const Tensor drop = sigmoid(mul(add(logistic, logit), 1.0 / temperature));
  const Tensor keep_p = add(mul(sigmoid(logit), -1.0), 1.0);
  return div(mul(x, add(mul(drop, -1.0), 1.0)), keep_p);
}

Tensor concrete_dropout_penalty(const Tensor& weight, const Tensor& p_logit, double weight_reg, double dropout_reg,
                                int64_t input_dim) {
  const Tensor p = sigmoid(reshape(p_logit, {}));
  const Tensor q = add(mul(p, -1.0), 1.0);
  const Tensor weights = div(mul(sum(mul(weight, weight)), weight_reg), q);
  const Tensor entropy = add(mul(p, log(p)), mul(q, log(q)));
  return add(weights, mul(entropy, dropout_reg * static_cast<double>(input_dim)));
}

Tensor rdrop_loss(const Tensor& logits1, const Tensor& logits2, const Tensor& target, double alpha) {
  MINIDL_CHECK(logits1.shape() == logits2.shape(), "rdrop_loss: logits {} and {} differ in shape", logits1.describe(),
               logits2.describe());
  MINIDL_CHECK(alpha >= 0 && std::isfinite(alpha), "rdrop_loss: alpha = {} must be finite and >= 0", alpha);
  const Tensor ce = mul(add(cross_entropy(logits1, target), cross_entropy(logits2, target)), 0.5);
  const Tensor lp1 = log_softmax(logits1, -1), lp2 = log_softmax(logits2, -1);
  // KL(P1||P2) + KL(P2||P1) = sum (p1 - p2)(log p1 - log p2), per row; averaged over rows.
  const Tensor sym_kl = mean(sum(mul(sub(exp(lp1), exp(lp2)), sub(lp1, lp2)), {-1}));
  return add(ce, mul(sym_kl, 0.5 * alpha));
}

}  // namespace minidl
