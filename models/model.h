// The image classifiers `minidl train MODEL` builds, behind one factory: each takes Fashion-MNIST
// rows [N, 784] and returns logits [N, 10], and is rebuilt from its JSON config (stored in model
// files and checkpoints).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "framework/core/check.h"
#include "framework/nn/module.h"
#include "framework/random/generator.h"

namespace minidl {

class ImageClassifier : public Module {
 public:
  virtual nlohmann::json config_json() const = 0;
  // Terms the model adds to the training loss (concrete dropout's regularizer); none by default.
  virtual std::vector<Tensor> penalties() const { return {}; }
};

// Runs read (which fills a config struct from j), turning a JSON type error into one naming the
// model and the config.
template <typename Read>
void read_config(const nlohmann::json& j, const char* model, Read&& read) {
  try {
    read();
  } catch (const nlohmann::json::exception& e) {
    throw Error(std::string(model) + " config " + j.dump() + ": " + e.what());
  }
}

// The model's config with every field at its default.
nlohmann::json default_model_config(const std::string& name);
// Builds model `name` from config (missing fields take their defaults); weights from init_gen,
// dropout masks from dropout_gen (which must outlive the model).
std::shared_ptr<ImageClassifier> make_model(const std::string& name, const nlohmann::json& config, Generator& init_gen,
                                            Generator& dropout_gen);
std::string model_names();

}  // namespace minidl
