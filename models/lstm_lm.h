// An LSTM character language model, the layout of PyTorch's word_language_model example
// (encoder, rnn, decoder; Zaremba et al. 2014) with the regularizers of AWD-LSTM (Merity et al.
// 2018): an embedding table with embedding dropout (whole rows), a multi-layer LSTM with
// variational dropout on each layer's input, on the recurrent state and on the output, and
// zoneout (framework/nn/recurrent.h), then a linear decoder, optionally tied to the embedding
// table (Press & Wolf 2017; Inan et al. 2017).
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "framework/nn/recurrent.h"
#include "framework/random/generator.h"
#include "models/language_model.h"

namespace minidl {

struct LstmLmConfig {
  int64_t vocab = 0;       // set from the corpus
  int64_t context = 128;   // the training window, and what sampling conditions on
  int64_t embedding = 128; // embedding width
  int64_t width = 256;     // LSTM hidden size
  int64_t layers = 2;
  bool tied = false;       // the decoder's weight is the embedding table (needs embedding == width)
  double embedding_dropout = 0.0;  // whole rows of the embedding table
  LstmRegularization regularization;
  nlohmann::json to_json() const;
  static LstmLmConfig from_json(const nlohmann::json& j);  // missing fields keep their defaults
  void validate() const;
};

class LstmLm : public LanguageModel {
 public:
  // Weights from init_gen (embedding and decoder U(-0.1, 0.1), decoder bias 0, the LSTM as
  // torch.nn.LSTM); masks and zoneout from dropout_gen (which must outlive it).
  LstmLm(const LstmLmConfig& config, Generator& init_gen, Generator& dropout_gen);
  // ids i64 [batch, T] (any T >= 1) -> logits [batch, T, vocab], from a zero state.
  Tensor forward(const Tensor& ids) override;
  const LstmLmConfig& config() const { return config_; }
  int64_t vocab() const override { return config_.vocab; }
  int64_t context() const override { return config_.context; }
  std::string model_name() const override { return "lstm"; }
  nlohmann::json config_json() const override { return config_.to_json(); }

 private:
  LstmLmConfig config_;
  Generator& dropout_gen_;
  Tensor encoder_, decoder_weight_, decoder_bias_;  // decoder_weight_ is encoder_ when tied
  std::shared_ptr<Lstm> rnn_;
};

}  // namespace minidl
