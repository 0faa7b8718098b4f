#include "models/cnn.h"

#include "framework/core/check.h"
#include "framework/nn/batch_norm.h"
#include "framework/nn/conv_layers.h"
#include "framework/ops/ops.h"
#include "framework/regularize/dropout_layers.h"

namespace minidl {

nlohmann::json CnnConfig::to_json() const {
  return {{"channels", channels}, {"hidden", hidden}, {"classes", classes}, {"dropout", dropout},
          {"dropout_variant", dropout_variant}, {"dropout_on_maps", dropout_on_maps}};
}

CnnConfig CnnConfig::from_json(const nlohmann::json& j) {
  CnnConfig c;
  read_config(j, "CNN", [&] {
    c.channels = j.value("channels", c.channels);
    c.hidden = j.value("hidden", c.hidden);
    c.classes = j.value("classes", c.classes);
    c.dropout = j.value("dropout", c.dropout);
    c.dropout_variant = j.value("dropout_variant", c.dropout_variant);
    c.dropout_on_maps = j.value("dropout_on_maps", c.dropout_on_maps);
  });
  return c;
}

Cnn::Cnn(const CnnConfig& config, Generator& init_gen, Generator& dropout_gen) : config_(config) {
  MINIDL_CHECK(!config.channels.empty() && config.channels.size() <= 4,
               "CNN: {} convolutional blocks: expected 1 to 4 (each halves the 28x28 map)", config.channels.size());
  MINIDL_CHECK(config.hidden > 0 && config.classes > 0, "CNN: hidden ({}) and classes ({}) must be positive",
               config.hidden, config.classes);
  MINIDL_CHECK(config.dropout_variant != "dropconnect", "CNN: dropconnect applies to the MLP only");
  const bool on_maps = config.dropout_on_maps || is_feature_map_variant(config.dropout_variant);
  features_ = register_module("features", std::make_shared<Sequential>());
  int64_t channels = 1, side = 28;
  for (int64_t c : config.channels) {
    MINIDL_CHECK(c > 0, "CNN: channel count {} must be positive", c);
    features_->add(std::make_shared<Conv2d>(channels, c, Conv2dOptions{.padding = {1, 1}, .bias = false}, init_gen));
    features_->add(std::make_shared<BatchNorm2d>(c));
    features_->add(std::make_shared<ReLU>());
    features_->add(std::make_shared<MaxPool2d>(Size2{2, 2}));
    if (on_maps) features_->add(make_dropout_layer(config.dropout_variant, config.dropout, dropout_gen));
    channels = c;
    side /= 2;
  }
  classifier_ = register_module("classifier", std::make_shared<Sequential>());
  classifier_->add(std::make_shared<Flatten>());
  classifier_->add(std::make_shared<Linear>(channels * side * side, config.hidden, true, init_gen));
  classifier_->add(std::make_shared<ReLU>());
  if (!on_maps) classifier_->add(make_dropout_layer(config.dropout_variant, config.dropout, dropout_gen));
  classifier_->add(std::make_shared<Linear>(config.hidden, config.classes, true, init_gen));
}

Tensor Cnn::forward(const Tensor& x) {
  MINIDL_CHECK(x.dim() == 2 && x.size(1) == 28 * 28, "CNN: input must be [N, 784] images, got {}", x.describe());
  return (*classifier_)((*features_)(reshape(x, {x.size(0), 1, 28, 28})));
}

}  // namespace minidl
