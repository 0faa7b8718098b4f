#include "models/mlp.h"

#include "framework/core/check.h"
#include "framework/ops/ops.h"
#include "framework/regularize/dropout.h"

namespace minidl {

nlohmann::json MlpConfig::to_json() const {
  return {{"inputs", inputs}, {"hidden", hidden}, {"classes", classes}, {"dropout", dropout}, {"dropout_variant", dropout_variant}};
}

MlpConfig MlpConfig::from_json(const nlohmann::json& j) {
  MlpConfig c;
  read_config(j, "MLP", [&] {
    c.inputs = j.value("inputs", c.inputs);
    c.hidden = j.value("hidden", c.hidden);
    c.classes = j.value("classes", c.classes);
    c.dropout = j.value("dropout", c.dropout);
    c.dropout_variant = j.value("dropout_variant", c.dropout_variant);
  });
  return c;
}

Mlp::Mlp(const MlpConfig& config, Generator& init_gen, Generator& dropout_gen) : config_(config) {
  MINIDL_CHECK(config.inputs > 0 && config.classes > 0, "MLP: inputs ({}) and classes ({}) must be positive",
               config.inputs, config.classes);
  MINIDL_CHECK(config.dropout >= 0.0 && config.dropout <= 1.0, "MLP: dropout p = {} is outside [0, 1]",
               config.dropout);
  MINIDL_CHECK(config.dropout_variant == "dropconnect" || !is_feature_map_variant(config.dropout_variant),
               "MLP: dropout variant '{}' is for convolutional feature maps: choose one of {}, or dropconnect",
               config.dropout_variant, dropout_variant_names(activation_dropout_variants()));
  layers_ = register_module("layers", std::make_shared<Sequential>());
  int64_t width = config.inputs;
  std::shared_ptr<ConcreteDropout> pending;  // a concrete dropout layer waiting for the layer after it
  const auto add_linear = [&](int64_t out) {
    auto linear = std::make_shared<Linear>(width, out, true, init_gen);
    if (pending) concrete_.push_back({pending, linear, width});
    pending = nullptr;
    layers_->add(linear);
  };
  for (int64_t h : config.hidden) {
    MINIDL_CHECK(h > 0, "MLP: hidden width {} must be positive", h);
    if (config.dropout_variant == "dropconnect") {
      layers_->add(std::make_shared<DropConnectLinear>(width, h, config.dropout, false, init_gen, dropout_gen));
      layers_->add(std::make_shared<ReLU>());
    } else {
      add_linear(h);
      layers_->add(std::make_shared<ReLU>());
      std::shared_ptr<Module> dropout = make_dropout_layer(config.dropout_variant, config.dropout, dropout_gen);
      pending = std::dynamic_pointer_cast<ConcreteDropout>(dropout);
      layers_->add(dropout);
    }
    width = h;
  }
  add_linear(config.classes);
}

std::vector<Tensor> Mlp::penalties() const {
  constexpr double kWeightReg = 1e-6, kDropoutReg = 1e-5;
  std::vector<Tensor> out;
  for (const ConcreteLayer& c : concrete_) {
    const Tensor& w = c.next->weight();
    out.push_back(concrete_dropout_penalty(w, to_dtype(c.dropout->p_logit(), w.dtype()), kWeightReg, kDropoutReg, c.inputs));
  }
  return out;
}

Tensor Mlp::forward(const Tensor& x) { return layers_->forward(x); }

}  // namespace minidl
