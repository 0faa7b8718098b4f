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
#include "framework/nn/module.h"
#include "framework/random/generator.h"

namespace minidl {

struct GptConfig {
  int64_t vocab = 0;      // set from the corpus
  int64_t context = 128;  // the longest sequence
  int64_t layers = 4, heads = 4, width = 128;
  double dropout = 0.1;            // residual dropout
  double attention_dropout = 0.1;  // on the attention probabilities
  double embedding_dropout = 0.0;  // whole rows of the token table
  double layerdrop = 0.0;          // a block is skipped with this probability in training
  nlohmann::json to_json() const;
  static GptConfig from_json(const nlohmann::json& j);  // missing fields keep their defaults
  void validate() const;
};

class GptBlock;

class Gpt : public Module {
 public:
  // Weights from init_gen; dropout masks and LayerDrop from dropout_gen (which must outlive it).
  Gpt(const GptConfig& config, Generator& init_gen, Generator& dropout_gen);
  // ids i64 [batch, T] with T <= context -> logits [batch, T, vocab].
  Tensor forward(const Tensor& ids) override;
  const GptConfig& config() const { return config_; }

 private:
  GptConfig config_;
  Generator& dropout_gen_;
  Tensor token_table_, position_table_;
  std::vector<std::shared_ptr<GptBlock>> blocks_;
  std::shared_ptr<LayerNorm> final_norm_;
};

// A GPT model file written by `minidl train gpt --out` (model.safetensors): the model and the
// byte vocabulary its ids index.
struct LoadedGpt {
  std::unique_ptr<Gpt> model;
  std::vector<uint8_t> vocab;
  nlohmann::json info;  // the file's metadata
};
// dropout_gen serves the model's dropout when it is put in training mode; it must outlive it.
LoadedGpt load_gpt_file(const std::string& path, Generator& dropout_gen);

// Autoregressive sampling in eval mode: `length` new ids after `prompt` (at least one id), each
// drawn from softmax(logits / temperature) over the top_k most likely ids (all when top_k is 0),
// conditioning on the last `context` ids; the draws come from gen.
std::vector<int64_t> generate(Gpt& model, const std::vector<int64_t>& prompt, int64_t length, double temperature,
                              int64_t top_k, Generator& gen);

}  // namespace minidl
