#include "models/gpt.h"

#include <cmath>
#include <string>

#include "framework/core/check.h"
#include "framework/nn/init.h"
#include "framework/ops/ops.h"
#include "framework/regularize/dropout.h"
#include "kernels/common/attention_rules.h"
#include "models/model.h"

namespace minidl {

nlohmann::json GptConfig::to_json() const {
  return {{"vocab", vocab},     {"context", context},
          {"layers", layers},   {"heads", heads},
          {"width", width},     {"dropout", dropout},
          {"attention_dropout", attention_dropout}, {"embedding_dropout", embedding_dropout},
          {"layerdrop", layerdrop}, {"fused_attention", fused_attention}};
}

GptConfig GptConfig::from_json(const nlohmann::json& j) {
  GptConfig c;
  read_config(j, "GPT", [&] {
    c.vocab = j.value("vocab", c.vocab);
    c.context = j.value("context", c.context);
    c.layers = j.value("layers", c.layers);
    c.heads = j.value("heads", c.heads);
    c.width = j.value("width", c.width);
    c.dropout = j.value("dropout", c.dropout);
    c.attention_dropout = j.value("attention_dropout", c.attention_dropout);
    c.embedding_dropout = j.value("embedding_dropout", c.embedding_dropout);
    c.layerdrop = j.value("layerdrop", c.layerdrop);
    c.fused_attention = j.value("fused_attention", c.fused_attention);  // absent in older model files
  });
  return c;
}

void GptConfig::validate() const {
  MINIDL_CHECK(vocab > 0 && context > 0 && layers > 0 && heads > 0 && width > 0,
               "GPT: vocab ({}), context ({}), layers ({}), heads ({}) and width ({}) must be positive", vocab,
               context, layers, heads, width);
  MINIDL_CHECK(width % heads == 0, "GPT: width {} is not divisible by heads = {}", width, heads);
  MINIDL_CHECK(!fused_attention || width / heads <= kFlashMaxHeadDim,
               "GPT: the fused attention takes heads of up to {} dims, got width {} / heads {} = {}: use more heads or "
               "the reference attention",
               kFlashMaxHeadDim, width, heads, width / heads);
  for (auto [name, p] : {std::pair{"dropout", dropout}, std::pair{"attention_dropout", attention_dropout},
                         std::pair{"embedding_dropout", embedding_dropout}, std::pair{"layerdrop", layerdrop}})
    MINIDL_CHECK(p >= 0 && p < 1, "GPT: {} = {} is outside [0, 1)", name, p);
}

namespace {

// Weights ~ U(-a, a) with standard deviation 0.02 (GPT-2's initialization scale).
Tensor small_uniform(const Shape& shape, Generator& gen) {
  const double a = 0.02 * std::sqrt(3.0);
  return uniform(shape, -a, a, gen);
}

}  // namespace

// x + attention(ln1(x)), then x + mlp(ln2(x)); each branch's last bias, its dropout and the
// residual add are one fused op.
class GptBlock : public Module {
 public:
  GptBlock(const GptConfig& c, Generator& init_gen, Generator& dropout_gen) : config_(c), dropout_gen_(dropout_gen) {
    norm1_ = register_module("ln1", std::make_shared<LayerNorm>(c.width));
    qkv_ = register_module("qkv", std::make_shared<Linear>(c.width, 3 * c.width, true, init_gen));
    attn_out_ = register_parameter("attn_out.weight", small_uniform({c.width, c.width}, init_gen));
    attn_out_bias_ = register_parameter("attn_out.bias", Tensor::zeros({c.width}));
    norm2_ = register_module("ln2", std::make_shared<LayerNorm>(c.width));
    fc_ = register_module("fc", std::make_shared<Linear>(c.width, 4 * c.width, true, init_gen));
    fc_out_ = register_parameter("fc_out.weight", small_uniform({c.width, 4 * c.width}, init_gen));
    fc_out_bias_ = register_parameter("fc_out.bias", Tensor::zeros({c.width}));
  }

  Tensor forward(const Tensor& x) override { return forward(x, nullptr); }

  // Also appends the attention probabilities to probs when it is given.
  Tensor forward(const Tensor& x, std::vector<Tensor>* probs) {
    const int64_t batch = x.size(0), t = x.size(1), d = config_.width, heads = config_.heads, dh = d / heads;
    const Tensor qkv = (*qkv_)((*norm1_)(x));  // [B, T, 3D]
    const auto head_view = [&](int64_t part) {  // [B, H, T, dh]
      return permute(reshape(slice(qkv, 2, part * d, (part + 1) * d), {batch, t, heads, dh}), {0, 2, 1, 3});
    };
    const Tensor context = attention(head_view(0), head_view(1), head_view(2), probs);
    const Tensor heads_out = reshape(contiguous(permute(context, {0, 2, 1, 3})), {batch, t, d});
    const Tensor h = bias_dropout_residual(matmul(heads_out, transpose(attn_out_, 0, 1)), attn_out_bias_, x,
                                           config_.dropout, is_training(), dropout_gen_);
    const Tensor m = gelu((*fc_)((*norm2_)(h)));
    return bias_dropout_residual(matmul(m, transpose(fc_out_, 0, 1)), fc_out_bias_, h, config_.dropout, is_training(),
                                 dropout_gen_);
  }

 private:
  // Causal attention of q, k, v [B, H, T, dh] -> [B, H, T, dh], with dropout on the probabilities.
  Tensor attention(const Tensor& q, const Tensor& k, const Tensor& v, std::vector<Tensor>* probs) {
    const double p = config_.attention_dropout;
    if (config_.fused_attention && probs == nullptr)
      return flash_attention(q, k, v, p, true, is_training(), dropout_gen_);
    // The scale goes on q, which is T / dh times smaller than the [T, T] scores it would otherwise pass over.
    const Tensor scores = matmul(mul(q, 1.0 / std::sqrt(static_cast<double>(q.size(-1)))), transpose(k, 2, 3));
    const Tensor probabilities = softmax_dropout(scores, p, true, is_training(), dropout_gen_);
    if (probs != nullptr) probs->push_back(probabilities);
    return matmul(probabilities, v);
  }

  GptConfig config_;
  Generator& dropout_gen_;
  std::shared_ptr<LayerNorm> norm1_, norm2_;
  std::shared_ptr<Linear> qkv_, fc_;
  Tensor attn_out_, attn_out_bias_, fc_out_, fc_out_bias_;
};

Gpt::Gpt(const GptConfig& config, Generator& init_gen, Generator& dropout_gen)
    : config_(config), dropout_gen_(dropout_gen) {
  config_.validate();
  token_table_ = register_parameter("token_embedding", small_uniform({config_.vocab, config_.width}, init_gen));
  position_table_ = register_parameter("position_embedding", small_uniform({config_.context, config_.width}, init_gen));
  for (int64_t l = 0; l < config_.layers; ++l)
    blocks_.push_back(
        register_module("blocks." + std::to_string(l), std::make_shared<GptBlock>(config_, init_gen, dropout_gen)));
  final_norm_ = register_module("ln_f", std::make_shared<LayerNorm>(config_.width));
}

Tensor Gpt::hidden_states(const Tensor& ids, std::vector<Tensor>* probs) {
  MINIDL_CHECK(ids.dim() == 2 && ids.dtype() == DType::I64 && ids.size(1) >= 1 && ids.size(1) <= config_.context,
               "GPT: expected i64 ids [batch, T] with 1 <= T <= {} (the context), got {}", config_.context,
               ids.describe());
  const int64_t t = ids.size(1);
  std::vector<int64_t> positions(static_cast<size_t>(t));
  for (int64_t i = 0; i < t; ++i) positions[static_cast<size_t>(i)] = i;
  const Tensor position_ids = to_device(Tensor::from_vector(positions, {t}), ids.device());
  const Tensor table = embedding_dropout(token_table_, config_.embedding_dropout, is_training(), dropout_gen_);
  Tensor x = add(embedding(table, ids), embedding(position_table_, position_ids));
  // Through operator() (its profiling range and forward hooks) unless the probabilities are asked for.
  for (const auto& block : blocks_)
    if (!layer_drop(config_.layerdrop, is_training(), dropout_gen_))
      x = probs == nullptr ? (*block)(x) : block->forward(x, probs);
  return x;
}

Tensor Gpt::forward(const Tensor& ids) {
  return matmul((*final_norm_)(hidden_states(ids, nullptr)), transpose(token_table_, 0, 1));  // tied output layer
}

std::vector<Tensor> Gpt::attention_probabilities(const Tensor& ids) {
  std::vector<Tensor> probs;
  hidden_states(ids, &probs);
  return probs;
}

}  // namespace minidl
