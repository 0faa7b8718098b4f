// A small CNN for 28x28 images: per entry of `channels`, a 3x3 convolution (padding 1, no bias),
// BatchNorm2d, ReLU and 2x2 max pooling; then a hidden fully connected layer with ReLU and the
// classifier. The dropout variant goes after each convolutional block when it is one for feature
// maps (dropout2d, dropblock) or dropout_on_maps is set, else after the hidden layer.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "framework/nn/layers.h"
#include "models/model.h"

namespace minidl {

struct CnnConfig {
  std::vector<int64_t> channels = {32, 64};
  int64_t hidden = 128;
  int64_t classes = 10;
  double dropout = 0.3;
  std::string dropout_variant = "dropout";
  // Puts an activation variant (element-wise dropout, ...) after each convolutional block, where the
  // feature-map variants go, instead of after the hidden layer: to compare variants at one place.
  bool dropout_on_maps = false;

  nlohmann::json to_json() const;
  static CnnConfig from_json(const nlohmann::json& j);  // missing fields keep their defaults
};

class Cnn : public ImageClassifier {
 public:
  Cnn(const CnnConfig& config, Generator& init_gen, Generator& dropout_gen);
  Tensor forward(const Tensor& x) override;
  nlohmann::json config_json() const override { return config_.to_json(); }

 private:
  CnnConfig config_;
  std::shared_ptr<Sequential> features_, classifier_;
};

}  // namespace minidl
