// GPT: a decoder-only Transformer over character ids (Radford et al. 2018/2019, nanoGPT's layout):
// token and learned position embeddings, pre-LayerNorm blocks of causal multi-head self-attention
// and a GELU MLP, a final LayerNorm and an output layer tied to the token embedding. Dropout sites:
// embedding dropout (whole rows of the token table), attention dropout on the probabilities (fused
// with the softmax), residual dropout on each block's output (fused with the bias and the residual
// add), and LayerDrop over whole blocks.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "framework/nn/layers.h"
#include "framework/random/generator.h"
#include "models/language_model.h"

namespace minidl {

struct GptConfig {
  int64_t vocab = 0;      // set from the corpus
  int64_t context = 128;  // the longest sequence
  int64_t layers = 4, heads = 4, width = 128;
  double dropout = 0.1;            // residual dropout
  double attention_dropout = 0.1;  // on the attention probabilities
  double embedding_dropout = 0.0;  // whole rows of the token table
  double layerdrop = 0.0;          // a block is skipped with this probability in training
  // Attention by the fused flash_attention op (true) or by matmul, softmax_dropout and matmul; the
  // same masks either way. attention_probabilities always takes the second path. Off by default:
  // on the CPU the composition is faster, and the fused kernel has not yet been timed on a GPU.
  bool fused_attention = false;
  nlohmann::json to_json() const;
  static GptConfig from_json(const nlohmann::json& j);  // missing fields keep their defaults
  void validate() const;
};

class GptBlock;

class Gpt : public LanguageModel {
 public:
  // Weights from init_gen; dropout masks and LayerDrop from dropout_gen (which must outlive it).
  Gpt(const GptConfig& config, Generator& init_gen, Generator& dropout_gen);
  // ids i64 [batch, T] with T <= context -> logits [batch, T, vocab].
  Tensor forward(const Tensor& ids) override;
  // The attention probabilities [batch, heads, T, T] of each block for ids, as forward computes
  // them in the model's current mode (in training with attention dropout applied; a block that
  // LayerDrop skips gives none), through the unfused attention, which has them.
  std::vector<Tensor> attention_probabilities(const Tensor& ids);
  const GptConfig& config() const { return config_; }
  int64_t vocab() const override { return config_.vocab; }
  int64_t context() const override { return config_.context; }
  std::string model_name() const override { return "gpt"; }
  nlohmann::json config_json() const override { return config_.to_json(); }

 private:
  // The blocks' output for ids (before the final LayerNorm); each block's attention probabilities
  // are appended to probs when it is given.
  Tensor hidden_states(const Tensor& ids, std::vector<Tensor>* probs);

  GptConfig config_;
  Generator& dropout_gen_;
  Tensor token_table_, position_table_;
  std::vector<std::shared_ptr<GptBlock>> blocks_;
  std::shared_ptr<LayerNorm> final_norm_;
};

}  // namespace minidl
