#include "models/model.h"

#include <functional>
#include <utility>

#include "framework/core/check.h"
#include "models/cnn.h"
#include "models/mlp.h"
#include "models/resnet.h"

namespace minidl {

namespace {

struct ModelEntry {
  std::string name;
  std::function<nlohmann::json()> defaults;
  std::function<std::shared_ptr<ImageClassifier>(const nlohmann::json&, Generator&, Generator&)> make;
};

ResNetConfig resnet_config(const std::string& depth, const nlohmann::json& j) {
  ResNetConfig c = ResNetConfig::from_json(j);
  c.depth = depth;
  return c;
}

const std::vector<ModelEntry>& models() {
  static const std::vector<ModelEntry> table = {
      {"mlp", [] { return MlpConfig{}.to_json(); },
       [](const nlohmann::json& j, Generator& init, Generator& drop) {
         return std::make_shared<Mlp>(MlpConfig::from_json(j), init, drop);
       }},
      {"cnn", [] { return CnnConfig{}.to_json(); },
       [](const nlohmann::json& j, Generator& init, Generator& drop) {
         return std::make_shared<Cnn>(CnnConfig::from_json(j), init, drop);
       }},
      {"resnet20", [] { return resnet_config("resnet20", nlohmann::json::object()).to_json(); },
       [](const nlohmann::json& j, Generator& init, Generator& drop) {
         return std::make_shared<ResNet>(resnet_config("resnet20", j), init, drop);
       }},
      {"resnet18", [] { return resnet_config("resnet18", nlohmann::json::object()).to_json(); },
       [](const nlohmann::json& j, Generator& init, Generator& drop) {
         return std::make_shared<ResNet>(resnet_config("resnet18", j), init, drop);
       }},
  };
  return table;
}

const ModelEntry& find_model(const std::string& name) {
  for (const ModelEntry& m : models())
    if (m.name == name) return m;
  MINIDL_FAIL("unknown model '{}': expected one of {}", name, model_names());
}

}  // namespace

nlohmann::json default_model_config(const std::string& name) { return find_model(name).defaults(); }

std::shared_ptr<ImageClassifier> make_model(const std::string& name, const nlohmann::json& config, Generator& init_gen,
                                            Generator& dropout_gen) {
  MINIDL_CHECK(config.is_object(), "model '{}': config {} is not a JSON object", name, config.dump());
  return find_model(name).make(config, init_gen, dropout_gen);
}

std::string model_names() {
  std::string names;
  for (const ModelEntry& m : models()) names += (names.empty() ? "" : ", ") + m.name;
  return names;
}

}  // namespace minidl
