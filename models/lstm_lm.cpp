#include "models/lstm_lm.h"

#include <cmath>

#include "framework/core/check.h"
#include "framework/nn/init.h"
#include "framework/ops/ops.h"
#include "framework/regularize/dropout.h"
#include "models/model.h"

namespace minidl {

nlohmann::json LstmLmConfig::to_json() const {
  return {{"vocab", vocab},
          {"context", context},
          {"embedding", embedding},
          {"width", width},
          {"layers", layers},
          {"tied", tied},
          {"embedding_dropout", embedding_dropout},
          {"input_dropout", regularization.input_dropout},
          {"recurrent_dropout", regularization.recurrent_dropout},
          {"output_dropout", regularization.output_dropout},
          {"zoneout", regularization.zoneout}};
}

LstmLmConfig LstmLmConfig::from_json(const nlohmann::json& j) {
  LstmLmConfig c;
  read_config(j, "LSTM LM", [&] {
    c.vocab = j.value("vocab", c.vocab);
    c.context = j.value("context", c.context);
    c.embedding = j.value("embedding", c.embedding);
    c.width = j.value("width", c.width);
    c.layers = j.value("layers", c.layers);
    c.tied = j.value("tied", c.tied);
    c.embedding_dropout = j.value("embedding_dropout", c.embedding_dropout);
    LstmRegularization& r = c.regularization;
    r.input_dropout = j.value("input_dropout", r.input_dropout);
    r.recurrent_dropout = j.value("recurrent_dropout", r.recurrent_dropout);
    r.output_dropout = j.value("output_dropout", r.output_dropout);
    r.zoneout = j.value("zoneout", r.zoneout);
  });
  return c;
}

void LstmLmConfig::validate() const {
  MINIDL_CHECK(vocab > 0 && context > 0 && embedding > 0 && width > 0 && layers > 0,
               "LSTM LM: vocab ({}), context ({}), embedding ({}), width ({}) and layers ({}) must be positive", vocab,
               context, embedding, width, layers);
  MINIDL_CHECK(!tied || embedding == width,
               "LSTM LM: tied weights need the embedding width ({}) to equal the LSTM width ({})", embedding, width);
  MINIDL_CHECK(embedding_dropout >= 0 && embedding_dropout < 1, "LSTM LM: embedding_dropout = {} is outside [0, 1)",
               embedding_dropout);
  regularization.validate();
}

LstmLm::LstmLm(const LstmLmConfig& config, Generator& init_gen, Generator& dropout_gen)
    : config_(config), dropout_gen_(dropout_gen) {
  config_.validate();
  encoder_ = register_parameter("encoder.weight", uniform({config_.vocab, config_.embedding}, -0.1, 0.1, init_gen));
  rnn_ = register_module("rnn", std::make_shared<Lstm>(config_.embedding, config_.width, config_.layers,
                                                       config_.regularization, init_gen, dropout_gen));
  decoder_weight_ = config_.tied ? encoder_
                                 : register_parameter("decoder.weight",
                                                      uniform({config_.vocab, config_.width}, -0.1, 0.1, init_gen));
  decoder_bias_ = register_parameter("decoder.bias", Tensor::zeros({config_.vocab}));
}

Tensor LstmLm::forward(const Tensor& ids) {
  MINIDL_CHECK(ids.dim() == 2 && ids.dtype() == DType::I64 && ids.size(1) >= 1,
               "LSTM LM: expected i64 ids [batch, T] with T >= 1, got {}", ids.describe());
  const Tensor table = embedding_dropout(encoder_, config_.embedding_dropout, is_training(), dropout_gen_);
  const Tensor outputs = (*rnn_)(embedding(table, transpose(ids, 0, 1)));  // time-major [T, batch, width]
  return add(matmul(contiguous(transpose(outputs, 0, 1)), transpose(decoder_weight_, 0, 1)), decoder_bias_);
}

}  // namespace minidl
