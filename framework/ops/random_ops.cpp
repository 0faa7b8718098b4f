// Random ops on the Philox contract (docs/reproducibility.md): each reserves its words from a
// Generator before it runs, so the result is a pure function of (seed, stream, offset) on every
// device. Backward regenerates masks and noise from the same words; only dropout_packed stores
// its mask (1 bit per element).
#include <cmath>

#include "framework/autograd/node.h"
#include "framework/ops/autocast.h"
#include "framework/ops/backend.h"
#include "framework/ops/checks.h"
#include "framework/ops/gradients.h"
#include "framework/ops/ops.h"
#include "framework/ops/random_masks.h"

namespace minidl {

namespace {

void check_finite(double value, const char* op, const char* what) {
  MINIDL_CHECK(std::isfinite(value), "{}: {} = {} must be finite", op, what, value);
}

// The inverted-dropout scale; p = 1 drops everything, and the scale is then kept finite.
double inverted_scale(double p) { return p < 1.0 ? 1.0 / (1.0 - p) : 0.0; }

// Bernoulli dropout after the caller's checks, recorded as op `name`: the fused kernel when the
// mask has x's shape, else the mask's factors broadcast over x.
Tensor bernoulli(const char* name, const Tensor& x, double p, const DropoutAffine& rule, const Shape& mask_shape,
                 Generator& gen) {
  const uint64_t threshold = dropout_threshold(p);
  const PhiloxState state = gen.reserve(static_cast<uint64_t>(shape_numel(mask_shape)));
  Tensor out;
  if (mask_shape == x.shape()) {
    const Tensor xc = contiguous(x.detach());
    out = Tensor::empty(x.shape(), x.dtype(), x.device());
    backend_for(x.device()).dropout_affine(out, xc, state, threshold, rule);
  } else {
    const MaskFactors f = mask_factors(mask_shape, x.dtype(), x.device(), state, threshold, rule);
    out = f.shift.defined() ? add(mul(x.detach(), f.scale), f.shift) : mul(x.detach(), f.scale);
  }
  record_op(name, {x}, out, {}, [state, threshold, rule, mask_shape](const Tensor& g, const std::vector<Tensor>&) {
    return grad::bernoulli_dropout(g, state, threshold, rule, mask_shape);
  });
  return out;
}

}  // namespace

Tensor bernoulli_dropout(const Tensor& x, double p, const DropoutAffine& rule, const Shape& mask_shape, Generator& gen) {
  if (autocast_widens(x)) return bernoulli_dropout(autocast_to_f32(x), p, rule, mask_shape, gen);
  check_floating(x, "bernoulli_dropout");
  // The building block of the named variants, which warn about p = 1 under their own names.
  check_drop_probability(p, false, "bernoulli_dropout");
  for (double v : {rule.keep_scale, rule.keep_shift, rule.drop_value}) check_finite(v, "bernoulli_dropout", "rule value");
  MINIDL_CHECK(mask_shape.size() == x.shape().size(),
               "bernoulli_dropout: mask shape {} must have x's rank {} (x is {})", shape_str(mask_shape), x.dim(),
               x.describe());
  for (size_t d = 0; d < mask_shape.size(); ++d)
    MINIDL_CHECK(mask_shape[d] == x.shape()[d] || mask_shape[d] == 1,
                 "bernoulli_dropout: mask shape {} does not broadcast to x {}: dim {} is {}, expected {} or 1",
                 shape_str(mask_shape), x.describe(), d, mask_shape[d], x.shape()[d]);
  return bernoulli("bernoulli_dropout", x, p, rule, mask_shape, gen);
}

Tensor dropout(const Tensor& x, double p, bool training, Generator& gen) {
  check_floating(x, "dropout");
  check_drop_probability(p, training, "dropout");
  if (!training || p == 0.0) return x;
  return bernoulli("dropout", x, p, DropoutAffine{inverted_scale(p), 0, 0}, x.shape(), gen);
}

Tensor dropout_packed(const Tensor& x, double p, bool training, Generator& gen) {
  if (autocast_widens(x)) return dropout_packed(autocast_to_f32(x), p, training, gen);
  check_floating(x, "dropout_packed");
  check_drop_probability(p, training, "dropout_packed");
  if (!training || p == 0.0) return x;
  const double scale = inverted_scale(p);
  const PhiloxState state = gen.reserve(static_cast<uint64_t>(x.numel()));
  Backend& backend = backend_for(x.device());
  const Tensor bits = Tensor::empty({(x.numel() + 31) / 32}, DType::I32, x.device());
  backend.dropout_pack_mask(bits, x.numel(), state, dropout_threshold(p));
  const Tensor xc = contiguous(x.detach());
  Tensor out = Tensor::empty(x.shape(), x.dtype(), x.device());
  backend.dropout_apply_packed(out, xc, bits, scale);
  record_op("dropout_packed", {x}, out, {bits}, [scale](const Tensor& g, const std::vector<Tensor>& s) {
    return grad::dropout_packed(g, s[0], scale);
  });
  return out;
}

Tensor gaussian_noise(const Tensor& x, double mul_sigma, double add_sigma, Generator& gen) {
  if (autocast_widens(x)) return gaussian_noise(autocast_to_f32(x), mul_sigma, add_sigma, gen);
  check_floating(x, "gaussian_noise");
  MINIDL_CHECK(mul_sigma >= 0 && std::isfinite(mul_sigma), "gaussian_noise: mul_sigma = {} must be finite and >= 0",
               mul_sigma);
  MINIDL_CHECK(add_sigma >= 0 && std::isfinite(add_sigma), "gaussian_noise: add_sigma = {} must be finite and >= 0",
               add_sigma);
  const PhiloxState state = gen.reserve(static_cast<uint64_t>(x.numel() + x.numel() % 2));
  const Tensor xc = contiguous(x.detach());
  Tensor out = Tensor::empty(x.shape(), x.dtype(), x.device());
  backend_for(x.device()).gaussian_noise(out, xc, state, mul_sigma, add_sigma);
  record_op("gaussian_noise", {x}, out, {}, [state, mul_sigma](const Tensor& g, const std::vector<Tensor>&) {
    return grad::gaussian_noise(g, state, mul_sigma);
  });
  return out;
}

Tensor rand(const Shape& shape, DType dtype, Device device, Generator& gen) {
  MINIDL_CHECK(is_floating(dtype), "rand: dtype {} is not floating point", dtype_name(dtype));
  Tensor out = Tensor::empty(shape, dtype, device);
  backend_for(device).uniform_fill(out, gen.reserve(static_cast<uint64_t>(out.numel())));
  return out;
}

double dropblock_gamma(double p, int64_t block, int64_t height, int64_t width) {
  return p / static_cast<double>(block * block) * static_cast<double>(height * width) /
         static_cast<double>((height - block + 1) * (width - block + 1));
}

Tensor dropblock(const Tensor& x, double p, int64_t block, bool training, Generator& gen) {
  if (autocast_widens(x)) return dropblock(autocast_to_f32(x), p, block, training, gen);
  check_floating(x, "dropblock");
  check_drop_probability(p, training, "dropblock");
  MINIDL_CHECK(x.dim() >= 2, "dropblock: x must be [..., H, W], got {}", x.describe());
  const int64_t height = x.size(-2), width = x.size(-1);
  MINIDL_CHECK(block >= 1 && block % 2 == 1, "dropblock: block_size = {} must be odd and >= 1 (blocks are centred)",
               block);
  MINIDL_CHECK(block <= height && block <= width, "dropblock: block_size = {} is larger than the {}x{} feature map",
               block, height, width);
  if (!training || p == 0.0) return x;
  // Seeds at rate gamma cannot cover every unit; p = 1 means dropping all of them.
  if (p == 1.0) return mul(x, 0.0);
  // gamma <= p: (H - b + 1) b >= H for 1 <= b <= H, and likewise for W.
  const double gamma = dropblock_gamma(p, block, height, width);
  const PhiloxState state = gen.reserve(static_cast<uint64_t>(x.numel()));
  const Tensor mask = dropblock_mask(x.shape(), x.dtype(), x.device(), state, dropout_threshold(gamma), block);
  const double kept = sum(mask).item();
  const double scale = kept > 0 ? static_cast<double>(x.numel()) / kept : 0.0;
  Tensor out = mul(mul(x.detach(), mask), Tensor::scalar(scale, x.dtype(), x.device()));
  record_op("dropblock", {x}, out, {},
            [state, threshold = dropout_threshold(gamma), block, scale](const Tensor& g, const std::vector<Tensor>&) {
              return grad::dropblock(g, state, threshold, block, scale);
            });
  return out;
}

const char* random_rule_name(RandomRule rule) {
  const char* name = "";
  visit_random_rule(rule, [&](auto r) { name = decltype(r)::kName; });
  return name;
}

Tensor random_rule(RandomRule rule, const Tensor& x, double param, bool training, Generator& gen) {
  if (autocast_widens(x)) return random_rule(rule, autocast_to_f32(x), param, training, gen);
  const char* name = random_rule_name(rule);
  check_floating(x, name);
  bool valid = false;
  visit_random_rule(rule, [&](auto r) { valid = decltype(r)::valid(param); });
  MINIDL_CHECK(valid, "{}: parameter {} is outside the rule's range", name, param);
  if (!training) return x;
  const PhiloxState state = gen.reserve(static_cast<uint64_t>(x.numel()));
  Tensor out = Tensor::empty(x.shape(), x.dtype(), x.device());
  backend_for(x.device()).random_rule(rule, out, contiguous(x.detach()), state, param, false);
  record_op(name, {x}, out, {}, [rule, state, param](const Tensor& g, const std::vector<Tensor>&) {
    return grad::random_rule(rule, g, state, param);
  });
  return out;
}

Tensor bias_dropout_residual(const Tensor& x, const Tensor& bias, const Tensor& residual, double p, bool training,
                             Generator& gen) {
  if (autocast_widens(residual))
    return bias_dropout_residual(x, bias, autocast_to_f32(residual), p, training, gen);
  check_floating(x, "bias_dropout_residual");
  check_compatible(residual, bias, "bias_dropout_residual");
  // x, a GEMM's output, may be bf16 under an f32 bias and residual stream: the kernel reads it as f32.
  const bool bf16_x = x.dtype() == DType::BF16 && residual.dtype() == DType::F32;
  if (!bf16_x) check_compatible(x, residual, "bias_dropout_residual");
  MINIDL_CHECK(x.device() == residual.device(), "bias_dropout_residual: x on {}, residual on {}", x.device().str(),
               residual.device().str());
  check_drop_probability(p, training, "bias_dropout_residual");
  MINIDL_CHECK(x.dim() >= 1 && bias.dim() == 1 && bias.size(0) == x.size(-1),
               "bias_dropout_residual: bias must be [{}] (x's last dim), got {}", x.dim() >= 1 ? x.size(-1) : 0,
               bias.describe());
  MINIDL_CHECK(residual.shape() == x.shape(), "bias_dropout_residual: residual {} must have x's shape {}",
               residual.describe(), shape_str(x.shape()));
  const double effective_p = training ? p : 0.0;
  const double scale = inverted_scale(effective_p);
  const uint64_t threshold = dropout_threshold(effective_p);
  const PhiloxState state = gen.reserve(training ? static_cast<uint64_t>(x.numel()) : 0);
  Tensor out = Tensor::empty(x.shape(), residual.dtype(), x.device());
  backend_for(x.device())
      .bias_dropout_residual(out, contiguous(x.detach()), contiguous(bias.detach()), contiguous(residual.detach()),
                             state, threshold, scale);
  record_op("bias_dropout_residual", {x, bias, residual}, out, {},
            [state, threshold, scale, x_dtype = x.dtype()](const Tensor& g, const std::vector<Tensor>&) {
              return grad::bias_dropout_residual(g, state, threshold, scale, x_dtype);
            });
  return out;
}

Tensor softmax_dropout(const Tensor& scores, double p, bool causal, bool training, Generator& gen) {
  check_floating(scores, "softmax_dropout");
  check_drop_probability(p, training, "softmax_dropout");
  MINIDL_CHECK(scores.dim() >= 2 && scores.size(-1) > 0, "softmax_dropout: expected scores [..., queries, keys], got {}",
               scores.describe());
  const SoftmaxDropoutShape shape{scores.size(-1), scores.size(-2), causal, training && p > 0};
  MINIDL_CHECK(!causal || shape.cols >= shape.q_len,
               "softmax_dropout: a causal mask needs at least as many keys as queries, got {}", scores.describe());
  const double scale = inverted_scale(p);
  const uint64_t threshold = dropout_threshold(p);
  const PhiloxState state = gen.reserve(shape.dropout ? static_cast<uint64_t>(scores.numel()) : 0);
  const Tensor xc = contiguous(scores.detach());
  Tensor out = Tensor::empty(scores.shape(), scores.dtype(), scores.device());
  Tensor probs = Tensor::empty(scores.shape(), scores.dtype(), scores.device());
  backend_for(scores.device()).softmax_dropout(shape, out, probs, xc, state, threshold, scale);
  record_op("softmax_dropout", {scores}, out, {probs},
            [shape, state, threshold, scale](const Tensor& g, const std::vector<Tensor>& s) {
              return grad::softmax_dropout(g, s[0], shape, state, threshold, scale);
            });
  return out;
}

Tensor flash_attention(const Tensor& q, const Tensor& k, const Tensor& v, double p, bool causal, bool training,
                       Generator& gen) {
  check_floating(q, "flash_attention");
  check_compatible(q, k, "flash_attention");
  check_compatible(q, v, "flash_attention");
  check_drop_probability(p, training, "flash_attention");
  MINIDL_CHECK(q.dim() == 4 && k.dim() == 4 && k.shape() == v.shape() && q.size(0) == k.size(0) &&
                   q.size(1) == k.size(1) && q.size(3) == k.size(3),
               "flash_attention: expected q [B, H, Tq, dh] and k, v [B, H, Tk, dh], got {}, {} and {}", q.describe(),
               k.describe(), v.describe());
  const int64_t dh = q.size(3);
  MINIDL_CHECK(dh >= 1 && dh <= kFlashMaxHeadDim,
               "flash_attention: head dim {} is outside [1, {}] (the kernels' tiles)", dh, kFlashMaxHeadDim);
  MINIDL_CHECK(q.size(2) > 0 && k.size(2) > 0,
               "flash_attention: expected at least one query and one key, got {} and {}", q.describe(), k.describe());
  const FlashAttentionShape shape{q.size(0) * q.size(1), dh, 1.0 / std::sqrt(static_cast<double>(dh)),
                                  {k.size(2), q.size(2), causal, training && p > 0}};
  MINIDL_CHECK(!causal || shape.scores.cols >= shape.scores.q_len,
               "flash_attention: a causal mask needs at least as many keys as queries, got q {} and k {}", q.describe(),
               k.describe());
  const double scale = inverted_scale(p);
  const uint64_t threshold = dropout_threshold(p);
  // The words softmax_dropout reserves for the [B, H, Tq, Tk] scores: the same masks.
  const uint64_t scores = static_cast<uint64_t>(shape.groups * shape.scores.q_len * shape.scores.cols);
  const PhiloxState state = gen.reserve(shape.scores.dropout ? scores : 0);
  const Tensor qc = contiguous(q.detach()), kc = contiguous(k.detach()), vc = contiguous(v.detach());
  Tensor out = Tensor::empty(q.shape(), q.dtype(), q.device());
  // The row log-sum-exp stays in f32 for bf16 q, k, v: backward recomputes every probability from it.
  const DType lse_dtype = q.dtype() == DType::BF16 ? DType::F32 : q.dtype();
  Tensor lse = Tensor::empty({q.size(0), q.size(1), q.size(2)}, lse_dtype, q.device());
  backend_for(q.device()).flash_attention(shape, out, lse, qc, kc, vc, state, threshold, scale);
  record_op("flash_attention", {q, k, v}, out, {qc, kc, vc, out, lse},
            [shape, state, threshold, scale](const Tensor& g, const std::vector<Tensor>& s) {
              return grad::flash_attention(g, s[0], s[1], s[2], s[3], s[4], shape, state, threshold, scale);
            });
  return out;
}

}  // namespace minidl
