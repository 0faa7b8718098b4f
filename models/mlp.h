// The multilayer perceptron: Linear -> ReLU -> dropout layer per hidden layer, then a Linear head.
// Its parameters are named like torch.nn.Sequential's inside a `layers` attribute
// (layers.0.weight, layers.3.weight, ...), so a checkpoint loads into the PyTorch twin.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "framework/nn/layers.h"
#include "models/model.h"
#include "framework/regularize/dropout_layers.h"

namespace minidl {

struct MlpConfig {
  int64_t inputs = 784;
  std::vector<int64_t> hidden = {512, 512};
  int64_t classes = 10;
  double dropout = 0.2;  // after each hidden activation
  // framework/regularize/dropout_layers.h's variant name, or "dropconnect" (on the hidden layers'
  // weights instead of a dropout layer).
  std::string dropout_variant = "dropout";

  nlohmann::json to_json() const;
  static MlpConfig from_json(const nlohmann::json& j);  // missing fields keep their defaults
};

class Mlp : public ImageClassifier {
 public:
  Mlp(const MlpConfig& config, Generator& init_gen, Generator& dropout_gen = default_generator());
  Tensor forward(const Tensor& x) override;
  const MlpConfig& config() const { return config_; }
  nlohmann::json config_json() const override { return config_.to_json(); }
  // Terms the variant adds to the loss: concrete dropout's regularizer for each of its layers
  // (Gal et al. 2017, with weight_reg 1e-6 and dropout_reg 1e-5 for N = 60000 samples); none else.
  std::vector<Tensor> penalties() const override;

 private:
  MlpConfig config_;
  std::shared_ptr<Sequential> layers_;
  struct ConcreteLayer {
    std::shared_ptr<ConcreteDropout> dropout;
    std::shared_ptr<Linear> next;  // the layer whose input it drops
    int64_t inputs;
  };
  std::vector<ConcreteLayer> concrete_;
};

}  // namespace minidl
