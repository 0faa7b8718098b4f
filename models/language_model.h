// The character language models trained on the fortunes corpus (the GPT and the LSTM LM) behind
// one interface: `minidl train gpt|lstm` runs one loop over it, and `minidl sample` loads either
// from its model file and samples from it.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "framework/io/text_corpus.h"
#include "framework/nn/module.h"
#include "framework/optim/optimizer.h"
#include "framework/random/generator.h"

namespace minidl {

// forward(ids): i64 ids [batch, T] -> logits [batch, T, vocab].
class LanguageModel : public Module {
 public:
  virtual int64_t vocab() const = 0;
  // The window the model is trained and sampled on: the longest sequence a GPT takes (its
  // position table); an LSTM takes any length and is trained on windows of this many ids.
  virtual int64_t context() const = 0;
  // "gpt", "lstm": the name `minidl train` knows the model by, recorded in its model file.
  virtual std::string model_name() const = 0;
  virtual nlohmann::json config_json() const = 0;
};

// One optimizer step on a batch of windows at the optimizer's current rate: the mean
// next-character cross-entropy, gradients clipped to global norm clip_norm. Returns the loss.
double lm_train_step(LanguageModel& model, const TextBatch& batch, Optimizer& optimizer, double clip_norm);

// Builds model `name` ("gpt" or "lstm") from its JSON config; weights from init_gen, dropout from
// dropout_gen (which must outlive the model).
std::unique_ptr<LanguageModel> make_language_model(const std::string& name, const nlohmann::json& config,
                                                   Generator& init_gen, Generator& dropout_gen);

// A model file written by `minidl train gpt|lstm --out` (model.safetensors): the model and the
// byte vocabulary its ids index.
struct LoadedLanguageModel {
  std::unique_ptr<LanguageModel> model;
  std::vector<uint8_t> vocab;
  nlohmann::json info;  // the file's metadata
};
// dropout_gen serves the model's dropout when it is put in training mode; it must outlive it.
LoadedLanguageModel load_language_model_file(const std::string& path, Generator& dropout_gen);

// Autoregressive sampling in eval mode: `length` new ids after `prompt` (at least one id), each
// drawn from softmax(logits / temperature) over the top_k most likely ids (all when top_k is 0),
// conditioning on the last context() ids; the draws come from gen.
std::vector<int64_t> generate(LanguageModel& model, const std::vector<int64_t>& prompt, int64_t length,
                              double temperature, int64_t top_k, Generator& gen);

}  // namespace minidl
