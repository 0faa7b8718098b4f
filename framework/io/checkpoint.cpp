#include "framework/io/checkpoint.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <set>
#include <utility>
#include <vector>

#include "framework/ops/ops.h"

namespace minidl {

namespace {

using Json = nlohmann::json;

std::string param_key(const std::string& name) { return "param/" + name; }
std::string optim_key(const std::string& name, const std::string& what) { return "optim/" + name + "/" + what; }

// The model's name of each of the optimizer's parameters, in the optimizer's order.
std::vector<std::string> optimizer_param_names(const Module& model, const Optimizer& optimizer,
                                               const std::string& context) {
  const NamedTensors named = model.named_parameters();
  std::vector<std::string> names;
  for (size_t i = 0; i < optimizer.params().size(); ++i) {
    const Tensor& p = optimizer.params()[i];
    auto it = std::find_if(named.begin(), named.end(), [&](const auto& np) { return np.second.same(p); });
    MINIDL_CHECK(it != named.end(), "{}: {} parameter {} ({}) is not a parameter of the model", context,
                 optimizer.name(), i, p.describe());
    names.push_back(it->first);
  }
  return names;
}

Json double_to_json(double x) {
  if (std::isfinite(x)) return x;
  return std::isnan(x) ? "nan" : (x > 0 ? "inf" : "-inf");
}

Json generator_to_json(const GeneratorState& g) {
  return {{"seed", std::to_string(g.seed)}, {"stream", std::to_string(g.stream)}, {"offset", std::to_string(g.offset)}};
}

// Reads the metadata's fields, each error naming the file, the field and its value.
class MetadataReader {
 public:
  explicit MetadataReader(std::string path) : path_(std::move(path)) {}

  const Json& field(const Json& object, const std::string& key, const std::string& where) const {
    MINIDL_CHECK(object.contains(key), "{}: checkpoint metadata{} has no '{}'", path_, where, key);
    return object.at(key);
  }

  int64_t integer(const Json& object, const std::string& key, int64_t min, const std::string& where = "") const {
    const Json& v = field(object, key, where);
    const bool fits = v.is_number_integer() && (!v.is_number_unsigned() || v.get<uint64_t>() <= INT64_MAX);
    MINIDL_CHECK(fits && v.get<int64_t>() >= min,
                 "{}: checkpoint metadata{}: '{}' is {}: expected an integer >= {}", path_, where, key, v.dump(), min);
    return v.get<int64_t>();
  }

  double real(const Json& object, const std::string& key, const std::string& where = "") const {
    const Json& v = field(object, key, where);
    if (v.is_number()) return v.get<double>();
    if (v == "inf") return INFINITY;
    if (v == "-inf") return -INFINITY;
    if (v == "nan") return NAN;
    MINIDL_FAIL("{}: checkpoint metadata{}: '{}' is {}: expected a number, \"inf\", \"-inf\" or \"nan\"", path_, where,
                key, v.dump());
  }

  std::string string(const Json& object, const std::string& key, const std::string& where = "") const {
    const Json& v = field(object, key, where);
    MINIDL_CHECK(v.is_string(), "{}: checkpoint metadata{}: '{}' is {}: expected a string", path_, where, key,
                 v.dump());
    return v.get<std::string>();
  }

  const Json& object(const Json& parent, const std::string& key, const std::string& where = "") const {
    const Json& v = field(parent, key, where);
    MINIDL_CHECK(v.is_object(), "{}: checkpoint metadata{}: '{}' is {}: expected a JSON object", path_, where, key,
                 v.dump());
    return v;
  }

  // A u64 written as a decimal string: only digits, no sign, no overflow.
  uint64_t u64(const Json& object, const std::string& key, const std::string& where) const {
    const std::string s = string(object, key, where);
    uint64_t value = 0;
    const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
    MINIDL_CHECK(!s.empty() && ec == std::errc() && end == s.data() + s.size(),
                 "{}: checkpoint metadata{}: '{}' is {}: expected a decimal integer in [0, 2^64)", path_, where, key,
                 Json(s).dump());
    return value;
  }

 private:
  std::string path_;
};

}  // namespace

Json schedule_state_json(const ReduceOnPlateau& schedule) {
  const ReduceOnPlateau::State st = schedule.state();
  return {{"name", "plateau"},
          {"lr", double_to_json(st.lr)},
          {"best", double_to_json(st.best)},
          {"bad_epochs", st.bad_epochs},
          {"cooldown_left", st.cooldown_left}};
}

void restore_schedule_state(ReduceOnPlateau& schedule, const Json& state, const std::string& source) {
  const MetadataReader read(source);
  const std::string where = " schedule";
  MINIDL_CHECK(state.is_object(), "{}: checkpoint metadata{} is {}: expected a JSON object", source, where,
               state.dump());
  const std::string name = read.string(state, "name", where);
  MINIDL_CHECK(name == "plateau", "{}: checkpoint metadata{} is '{}': expected the state of a plateau schedule",
               source, where, name);
  const ReduceOnPlateau::State st{read.real(state, "lr", where), read.real(state, "best", where),
                                  read.integer(state, "bad_epochs", 0, where),
                                  read.integer(state, "cooldown_left", 0, where)};
  try {
    schedule.set_state(st);
  } catch (const Error& e) {
    MINIDL_FAIL("{}: checkpoint metadata{}: {}", source, where, e.what());
  }
}

void save_checkpoint(const std::string& path, const Module& model, const Optimizer& optimizer,
                     const TrainingState& state) {
  const std::string context = "cannot save " + path;
  const std::vector<std::string> names = optimizer_param_names(model, optimizer, context);
  std::vector<std::pair<std::string, Tensor>> tensors;
  for (const auto& [name, p] : model.named_state()) {  // parameters and buffers
    tensors.emplace_back(param_key(name), to_device(p.detach(), kCPU));
  }

  const auto state_names = optimizer.state_names();
  const std::vector<std::string> scalar_names = optimizer.scalar_state_names();
  for (size_t i = 0; i < names.size(); ++i) {
    const int64_t steps = optimizer.param_steps(i);
    tensors.emplace_back(optim_key(names[i], "step"), Tensor::from_vector(std::vector<int64_t>{steps}, {}));
    const Optimizer::StateBuffers& buffers = optimizer.param_state(i);
    for (int k = 0; k < kMaxOptimizerState; ++k) {
      if (state_names[k].empty() || !buffers[k].defined()) continue;
      tensors.emplace_back(optim_key(names[i], state_names[k]), to_device(buffers[k].detach(), kCPU));
    }
    const std::vector<double> scalars = optimizer.param_scalars(i);
    for (size_t k = 0; k < scalar_names.size(); ++k) {
      tensors.emplace_back(optim_key(names[i], scalar_names[k]),
                           Tensor::from_vector(std::vector<double>{scalars[k]}, {}));
    }
  }

  Json generators = Json::object();
  for (const auto& [name, g] : state.generators) generators[name] = generator_to_json(g);
  const Json meta = {
      {"format_version", kCheckpointFormatVersion},
      {"config", state.config},
      {"epoch", state.epoch},
      {"batch", state.batch},
      {"step", state.step},
      {"epoch_loss_sum", double_to_json(state.epoch_loss_sum)},
      {"generators", generators},
      {"schedule", state.schedule},
      {"optimizer", {{"name", optimizer.name()}, {"lr", double_to_json(optimizer.lr())}}},
  };
  save_safetensors(path, tensors, {{kCheckpointMetadataKey, meta.dump()}});
}

Checkpoint load_checkpoint(const std::string& path) {
  Checkpoint ck;
  ck.path = path;
  ck.file = load_safetensors(path);
  const auto it = ck.file.metadata.find(kCheckpointMetadataKey);
  MINIDL_CHECK(it != ck.file.metadata.end(), "{}: no '{}' metadata: not a minidl training checkpoint", path,
               kCheckpointMetadataKey);
  // A depth no checkpoint needs stops the parse: copying or printing a value nested a million
  // levels deep would recurse as deep.
  constexpr int kMaxDepth = 64;
  const auto limit_depth = [&](int depth, Json::parse_event_t, Json&) {
    MINIDL_CHECK(depth <= kMaxDepth, "{}: '{}' metadata nests deeper than {} levels", path, kCheckpointMetadataKey,
                 kMaxDepth);
    return true;
  };
  Json meta;
  try {
    meta = Json::parse(it->second, limit_depth);
  } catch (const nlohmann::json::exception& e) {
    MINIDL_FAIL("{}: malformed '{}' metadata: {}", path, kCheckpointMetadataKey, e.what());
  }
  MINIDL_CHECK(meta.is_object(), "{}: '{}' metadata is a JSON {}: expected an object", path, kCheckpointMetadataKey,
               meta.type_name());
  const MetadataReader read(path);
  const Json& version = read.field(meta, "format_version", "");
  MINIDL_CHECK(version == Json(kCheckpointFormatVersion),
               "{}: checkpoint format_version {} is not supported: this build reads format_version {}", path,
               version.dump(), kCheckpointFormatVersion);

  TrainingState& s = ck.state;
  s.config = read.object(meta, "config");
  s.epoch = read.integer(meta, "epoch", 1);
  s.batch = read.integer(meta, "batch", 0);
  s.step = read.integer(meta, "step", 0);
  s.epoch_loss_sum = read.real(meta, "epoch_loss_sum");
  for (const auto& [name, g] : read.object(meta, "generators").items()) {
    const std::string where = fmt::format(" generator '{}'", name);
    MINIDL_CHECK(g.is_object(), "{}: checkpoint metadata{} is {}: expected a JSON object", path, where, g.dump());
    const GeneratorState state{read.u64(g, "seed", where), read.u64(g, "stream", where), read.u64(g, "offset", where)};
    MINIDL_CHECK(state.offset % 4 == 0, "{}: checkpoint metadata{}: offset {} is not a multiple of 4", path, where,
                 state.offset);
    s.generators.emplace(name, state);
  }
  s.schedule = read.object(meta, "schedule");
  const Json& optimizer = read.object(meta, "optimizer");
  ck.optimizer = read.string(optimizer, "name", " optimizer");
  ck.lr = read.real(optimizer, "lr", " optimizer");
  MINIDL_CHECK(std::isfinite(ck.lr) && ck.lr >= 0, "{}: checkpoint metadata optimizer: lr {} must be finite and >= 0",
               path, ck.lr);
  return ck;
}

void restore_checkpoint(const Checkpoint& ck, Module& model, Optimizer& optimizer) {
  const std::string& path = ck.path;
  MINIDL_CHECK(ck.optimizer == optimizer.name(), "{}: the checkpoint holds {} state: cannot restore it into {}", path,
               ck.optimizer, optimizer.name());
  std::map<std::string, Tensor> tensors;
  for (const auto& [name, t] : ck.file.tensors) tensors.emplace(name, t);
  std::set<std::string> used;
  // The tensor `key`, checked against the shape and dtype expected.
  const auto take = [&](const std::string& key, const Shape& shape, DType dtype) -> const Tensor& {
    const auto it = tensors.find(key);
    MINIDL_CHECK(it != tensors.end(), "{}: missing tensor '{}' (expected {}{})", path, key, dtype_name(dtype),
                 shape_str(shape));
    MINIDL_CHECK(it->second.shape() == shape && it->second.dtype() == dtype, "{}: tensor '{}' is {}: expected {}{}",
                 path, key, it->second.describe(), dtype_name(dtype), shape_str(shape));
    used.insert(key);
    return it->second;
  };

  std::map<std::string, Tensor> params;
  for (const auto& [name, p] : model.named_state()) {
    params.emplace(name, take(param_key(name), p.shape(), p.dtype()));
  }

  struct ParamState {
    int64_t steps;
    Optimizer::StateBuffers buffers;
    std::vector<double> scalars;
  };
  std::vector<ParamState> states;
  const std::vector<std::string> names = optimizer_param_names(model, optimizer, path);
  const auto state_names = optimizer.state_names();
  const std::vector<std::string> scalar_names = optimizer.scalar_state_names();
  for (size_t i = 0; i < names.size(); ++i) {
    const Tensor& p = optimizer.params()[i];
    ParamState st{take(optim_key(names[i], "step"), {}, DType::I64).to_vector<int64_t>()[0], {}, {}};
    MINIDL_CHECK(st.steps >= 0, "{}: tensor '{}' is {}: expected a step count >= 0", path,
                 optim_key(names[i], "step"), st.steps);
    for (int k = 0; k < kMaxOptimizerState; ++k) {
      if (state_names[k].empty() || st.steps == 0) continue;
      st.buffers[k] = take(optim_key(names[i], state_names[k]), p.shape(), p.dtype());
    }
    for (const std::string& scalar : scalar_names) {
      st.scalars.push_back(take(optim_key(names[i], scalar), {}, DType::F64).to_vector<double>()[0]);
      MINIDL_CHECK(std::isfinite(st.scalars.back()), "{}: tensor '{}' is {}: expected a finite value", path,
                   optim_key(names[i], scalar), st.scalars.back());
    }
    states.push_back(std::move(st));
  }
  for (const auto& [name, t] : ck.file.tensors) {
    MINIDL_CHECK(used.count(name) == 1, "{}: unexpected tensor '{}' ({}) for this model and {}", path, name,
                 t.describe(), optimizer.name());
  }

  // Everything is checked: now change the model and the optimizer.
  model.load_parameters(params, path);
  for (size_t i = 0; i < states.size(); ++i) {
    optimizer.set_param_state(i, states[i].steps, states[i].buffers, states[i].scalars);
  }
  optimizer.set_lr(ck.lr);
}

}  // namespace minidl
