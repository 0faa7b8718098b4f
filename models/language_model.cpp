#include "models/language_model.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <numeric>

#include "framework/autograd/grad_mode.h"
#include "framework/core/check.h"
#include "framework/io/safetensors.h"
#include "framework/ops/ops.h"
#include "framework/optim/clip.h"
#include "models/classifier.h"
#include "models/gpt.h"
#include "models/lstm_lm.h"

namespace minidl {

double lm_train_step(LanguageModel& model, const TextBatch& batch, Optimizer& optimizer, double clip_norm) {
  const Device device = model.device();
  optimizer.zero_grad();
  const Tensor logits = reshape(model(to_device(batch.inputs, device)), {-1, model.vocab()});
  Tensor loss = cross_entropy(logits, to_device(reshape(batch.targets, {-1}), device));
  loss.backward();
  clip_grad_norm_(model.parameters(), clip_norm);
  optimizer.step();
  return loss.item();
}

std::unique_ptr<LanguageModel> make_language_model(const std::string& name, const nlohmann::json& config,
                                                   Generator& init_gen, Generator& dropout_gen) {
  if (name == "gpt") return std::make_unique<Gpt>(GptConfig::from_json(config), init_gen, dropout_gen);
  if (name == "lstm") return std::make_unique<LstmLm>(LstmLmConfig::from_json(config), init_gen, dropout_gen);
  MINIDL_FAIL("unknown language model '{}': expected gpt or lstm", name);
}

LoadedLanguageModel load_language_model_file(const std::string& path, Generator& dropout_gen) {
  const SafetensorsFile file = load_safetensors(path);
  const auto it = file.metadata.find(kModelMetadataKey);
  MINIDL_CHECK(it != file.metadata.end(), "{}: no '{}' metadata: not a minidl model file", path, kModelMetadataKey);
  LoadedLanguageModel loaded;
  loaded.info = nlohmann::json::parse(it->second, nullptr, false);
  const std::string name = loaded.info.is_object() ? loaded.info.value("model", "") : "?";
  MINIDL_CHECK(name == "gpt" || name == "lstm",
               "{}: not a language model file (its metadata names model '{}'; expected gpt or lstm)", path, name);
  const nlohmann::json vocab = loaded.info.value("vocab", nlohmann::json::array());
  for (const nlohmann::json& b : vocab) {
    MINIDL_CHECK(b.is_number_unsigned() && b.get<uint64_t>() < 256, "{}: vocabulary entry {} is not a byte", path,
                 b.dump());
    loaded.vocab.push_back(static_cast<uint8_t>(b.get<uint64_t>()));
  }
  Generator init;
  try {
    loaded.model = make_language_model(name, loaded.info.value("config", nlohmann::json::object()), init, dropout_gen);
  } catch (const Error& e) {
    MINIDL_FAIL("{}: {}", path, e.what());
  }
  MINIDL_CHECK(loaded.model->vocab() == static_cast<int64_t>(loaded.vocab.size()),
               "{}: the config's vocabulary of {} does not match the {} stored characters", path,
               loaded.model->vocab(), loaded.vocab.size());
  std::map<std::string, Tensor> values;
  for (const auto& [tensor_name, t] : file.tensors) values.emplace(tensor_name, t);
  loaded.model->load_parameters(values, path);
  return loaded;
}

std::vector<int64_t> generate(LanguageModel& model, const std::vector<int64_t>& prompt, int64_t length,
                              double temperature, int64_t top_k, Generator& gen) {
  const int64_t vocab = model.vocab(), context = model.context();
  MINIDL_CHECK(!prompt.empty(), "generate: the prompt must hold at least one character");
  MINIDL_CHECK(temperature > 0 && std::isfinite(temperature), "generate: temperature = {} must be finite and > 0",
               temperature);
  MINIDL_CHECK(top_k >= 0 && top_k <= vocab, "generate: top_k = {} is outside [0, {}]", top_k, vocab);
  MINIDL_CHECK(length >= 0, "generate: length = {} must be >= 0", length);
  const Device device = model.parameters().front().device();
  NoGradGuard no_grad;
  const bool was_training = model.is_training();
  model.eval();
  std::vector<int64_t> ids = prompt;
  for (int64_t n = 0; n < length; ++n) {
    const int64_t t = std::min<int64_t>(static_cast<int64_t>(ids.size()), context);
    const std::vector<int64_t> window(ids.end() - t, ids.end());
    const Tensor logits = model(to_device(Tensor::from_vector(window, {1, t}), device));
    const Tensor last_row = to_device(contiguous(slice(reshape(logits, {t, vocab}), 0, t - 1, t)), kCPU);
    const std::vector<float> last = to_dtype(last_row, DType::F32).to_vector<float>();  // bf16 under autocast
    std::vector<int64_t> order(last.size());
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return last[a] > last[b]; });
    order.resize(static_cast<size_t>(top_k > 0 ? top_k : vocab));
    std::vector<double> weights;
    for (int64_t v : order) weights.push_back(std::exp((last[v] - last[order.front()]) / temperature));
    double u = static_cast<double>(gen.next_below(uint64_t{1} << 53)) / 9007199254740992.0 *
               std::accumulate(weights.begin(), weights.end(), 0.0);
    size_t pick = 0;
    while (pick + 1 < weights.size() && u >= weights[pick]) u -= weights[pick++];
    ids.push_back(order[pick]);
  }
  model.train(was_training);
  return std::vector<int64_t>(ids.begin() + static_cast<std::ptrdiff_t>(prompt.size()), ids.end());
}

}  // namespace minidl
