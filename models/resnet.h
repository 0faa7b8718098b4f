// ResNets for 28x28 images (He et al. 2016), named as torchvision names their parameters:
// resnet20, the CIFAR-style network (3x3 stem of 16 channels, three stages of three basic blocks
// of 16, 32 and 64 channels), and resnet18 adapted to 28x28 (3x3 stem of 64 channels without max
// pooling, four stages of two blocks of 64 to 512 channels). A projection (1x1 convolution and
// BatchNorm) joins blocks that change shape.
//
// Stochastic depth (Huang et al. 2016): block l of L drops its residual branch per sample with
// p_l = stochastic_depth * l / L (the linear decay rule), scaling kept branches by 1 / (1 - p_l).
// A feature-map dropout variant (dropblock, dropout2d) goes on the branches of the last two
// stages, as DropBlock's paper places it; another variant goes before the classifier.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "framework/nn/layers.h"
#include "models/model.h"

namespace minidl {

struct ResNetConfig {
  std::string depth = "resnet20";  // or resnet18
  int64_t classes = 10;
  double stochastic_depth = 0;     // p_L of the last block
  double dropout = 0;
  std::string dropout_variant = "dropout";

  nlohmann::json to_json() const;
  static ResNetConfig from_json(const nlohmann::json& j);  // missing fields keep their defaults
};

class ResNet : public ImageClassifier {
 public:
  ResNet(const ResNetConfig& config, Generator& init_gen, Generator& dropout_gen);
  Tensor forward(const Tensor& x) override;
  nlohmann::json config_json() const override { return config_.to_json(); }
  int64_t blocks() const { return blocks_; }

 private:
  ResNetConfig config_;
  int64_t blocks_ = 0;
  std::shared_ptr<Sequential> body_, head_;
};

}  // namespace minidl
