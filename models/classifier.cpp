#include "models/classifier.h"

#include <algorithm>
#include <cmath>

#include "framework/autograd/grad_mode.h"
#include "framework/io/safetensors.h"
#include "framework/ops/ops.h"
#include "framework/regularize/dropout_layers.h"
#include "models/model.h"

namespace minidl {

EvalResult evaluate_classifier(Module& model, const Tensor& inputs, const Tensor& labels, int64_t batch_size,
                               const EvalProgress& progress) {
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
    if (progress) progress(end, n);
  }
  model.train(was_training);
  return {loss_sum / static_cast<double>(n), static_cast<double>(correct) / static_cast<double>(n)};
}

McDropoutResult evaluate_mc_dropout(Module& model, const Tensor& inputs, const Tensor& labels, int64_t batch_size,
                                    int64_t samples, const EvalProgress& progress) {
  MINIDL_CHECK(samples >= 1, "MC dropout: {} samples, expected at least 1", samples);
  MINIDL_CHECK(batch_size > 0, "evaluation batch size {} must be positive", batch_size);
  const int64_t n = inputs.size(0);
  MINIDL_CHECK(n > 0 && labels.size(0) == n, "evaluation: {} inputs and {} labels", n, labels.size(0));
  const bool was_training = model.is_training();
  model.eval();
  set_mc_sampling(model, true);
  NoGradGuard no_grad;
  McDropoutResult r;
  for (int64_t start = 0; start < n; start += batch_size) {
    const int64_t end = std::min(n, start + batch_size);
    const Tensor x = to_device(slice(inputs, 0, start, end), model.device());
    Tensor sum_p, sum_p2;
    for (int64_t s = 0; s < samples; ++s) {
      const Tensor p = softmax(model(x), 1);
      sum_p = s == 0 ? p : add(sum_p, p);
      sum_p2 = s == 0 ? mul(p, p) : add(sum_p2, mul(p, p));
    }
    const std::vector<double> mean_p = to_device(mul(sum_p, 1.0 / static_cast<double>(samples)), kCPU).to_vector<double>();
    const std::vector<double> mean_p2 = to_device(mul(sum_p2, 1.0 / static_cast<double>(samples)), kCPU).to_vector<double>();
    const std::vector<int64_t> truth = slice(labels, 0, start, end).to_vector<int64_t>();
    const size_t classes = mean_p.size() / truth.size();
    for (size_t i = 0; i < truth.size(); ++i) {
      const double* p = &mean_p[i * classes];
      r.accuracy += static_cast<double>(std::max_element(p, p + classes) - p == truth[i]);
      r.nll -= std::log(std::max(p[truth[i]], 1e-300));
      for (size_t c = 0; c < classes; ++c) {
        if (p[c] > 0) r.predictive_entropy -= p[c] * std::log(p[c]);
        r.predictive_variance += std::max(0.0, mean_p2[i * classes + c] - p[c] * p[c]) / static_cast<double>(classes);
      }
    }
    if (progress) progress(end, n);
  }
  set_mc_sampling(model, false);
  model.train(was_training);
  for (double* v : {&r.accuracy, &r.nll, &r.predictive_entropy, &r.predictive_variance}) *v /= static_cast<double>(n);
  return r;
}

void save_model_file(const std::string& path, const Module& model, const nlohmann::json& info) {
  std::vector<std::pair<std::string, Tensor>> state;
  for (const auto& [name, t] : model.named_state()) state.emplace_back(name, to_device(t.detach(), kCPU));
  save_safetensors(path, state, {{kModelMetadataKey, info.dump()}});
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
  // The weights come from the file; dropout layers draw from the default generator (MC dropout).
  Generator init;
  try {
    loaded.model = make_model(name, info.value("config", nlohmann::json::object()), init, default_generator());
  } catch (const Error& e) {
    MINIDL_FAIL("{}: {}", path, e.what());
  }
  std::map<std::string, Tensor> values;
  for (const auto& [tensor_name, t] : file.tensors) values.emplace(tensor_name, t);
  loaded.model->load_parameters(values, path);
  return loaded;
}

}  // namespace minidl
