#include "models/classifier.h"

#include <algorithm>

#include "framework/autograd/grad_mode.h"
#include "framework/io/safetensors.h"
#include "framework/ops/ops.h"
#include "models/mlp.h"

namespace minidl {

EvalResult evaluate_classifier(Module& model, const Tensor& inputs, const Tensor& labels, int64_t batch_size) {
  MINIDL_CHECK(batch_size > 0, "evaluation batch size {} must be positive", batch_size);
  const int64_t n = inputs.size(0);
  MINIDL_CHECK(n > 0 && labels.size(0) == n, "evaluation: {} inputs and {} labels", n, labels.size(0));
  const bool was_training = model.is_training();
  model.eval();
  NoGradGuard no_grad;
  double loss_sum = 0;
  int64_t correct = 0;
  for (int64_t start = 0; start < n; start += batch_size) {
    const int64_t end = std::min(n, start + batch_size);
    const Tensor x = to_device(slice(inputs, 0, start, end), model.device());
    const Tensor y = to_device(slice(labels, 0, start, end), model.device());
    const Tensor logits = model(x);
    loss_sum += cross_entropy(logits, y).item() * static_cast<double>(end - start);
    const std::vector<int64_t> pred = argmax(logits, 1).to_vector<int64_t>(), truth = y.to_vector<int64_t>();
    for (size_t i = 0; i < pred.size(); ++i) correct += pred[i] == truth[i];
  }
  model.train(was_training);
  return {loss_sum / static_cast<double>(n), static_cast<double>(correct) / static_cast<double>(n)};
}

void save_model_file(const std::string& path, const Module& model, const nlohmann::json& info) {
  save_safetensors(path, model.named_parameters(), {{kModelMetadataKey, info.dump()}});
}

LoadedModel load_model_file(const std::string& path) {
  const SafetensorsFile file = load_safetensors(path);
  auto it = file.metadata.find(kModelMetadataKey);
  MINIDL_CHECK(it != file.metadata.end(), "{}: no '{}' metadata: not a minidl model file", path, kModelMetadataKey);
  nlohmann::json info;
  try {
    info = nlohmann::json::parse(it->second);
  } catch (const nlohmann::json::exception& e) {
    MINIDL_FAIL("{}: malformed '{}' metadata: {}", path, kModelMetadataKey, e.what());
  }
  const std::string name = info.value("model", "");
  LoadedModel loaded{nullptr, info};
  if (name == "mlp") {
    Generator init;
    loaded.model = std::make_shared<Mlp>(MlpConfig::from_json(info.value("config", nlohmann::json::object())), init);
  } else {
    MINIDL_FAIL("{}: unknown model '{}': expected mlp", path, name);
  }
  std::map<std::string, Tensor> values;
  for (const auto& [tensor_name, t] : file.tensors) values.emplace(tensor_name, t);
  loaded.model->load_parameters(values, path);
  return loaded;
}

}  // namespace minidl
