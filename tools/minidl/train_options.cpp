#include "tools/minidl/train_options.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <type_traits>
#include <utility>

#include "framework/ops/backend.h"
#include "framework/optim/optimizers.h"
#include "framework/regularize/dropout_layers.h"
#include "framework/regularize/regularizers.h"
#include "models/model.h"

namespace minidl::cli {

namespace {

// The tables of named factories below (--optimizer, --schedule): lookup (null when unknown) and
// the names in order, for help and errors.
template <typename Factory>
Factory find_in(const std::vector<std::pair<std::string, Factory>>& table, const std::string& name) {
  for (const auto& [known, factory] : table)
    if (known == name) return factory;
  return nullptr;
}

template <typename Factory>
std::string names_of(const std::vector<std::pair<std::string, Factory>>& table) {
  std::string names;
  for (const auto& [name, factory] : table) names += (names.empty() ? "" : ", ") + name;
  return names;
}

// The options that define a run, saved in its checkpoints; `--resume` takes them from there. Each
// is named as on the command line, so a conflict names the flag.
struct ConfigField {
  enum Resume { kFixed, kExtend, kFree };  // on resume: must agree, may grow, may change

  const char* flag;
  Json (*get)(const TrainOptions&);
  bool (*set)(TrainOptions&, const Json&);  // false when the value has the wrong type
  Resume resume;
  Json absent;  // the value of checkpoints written before the option existed; null: required
};

template <auto Member>
ConfigField config_field(const char* flag, ConfigField::Resume resume = ConfigField::kFixed, Json absent = nullptr) {
  return {flag, [](const TrainOptions& o) { return Json(o.*Member); },
          [](TrainOptions& o, const Json& j) {
            using T = std::remove_cvref_t<decltype(o.*Member)>;
            const auto all_strings = [](const Json& a) {
              return a.is_array() && std::all_of(a.begin(), a.end(), [](const Json& e) { return e.is_string(); });
            };
            const bool ok = std::is_same_v<T, std::vector<std::string>> ? all_strings(j)
                            : std::is_same_v<T, std::string>            ? j.is_string()
                            : std::is_same_v<T, bool>                   ? j.is_boolean()
                            : std::is_unsigned_v<T>        ? j.is_number_unsigned()
                            : std::is_integral_v<T>        ? j.is_number_integer() &&
                                                                 (!j.is_number_unsigned() || j.get<uint64_t>() <= INT64_MAX)
                                                           : j.is_number();
            if (ok) o.*Member = j.get<T>();
            return ok;
          },
          resume, std::move(absent)};
}

const std::vector<ConfigField>& config_fields() {
  static const std::vector<ConfigField> table = {
      config_field<&TrainOptions::model>("model"),
      config_field<&TrainOptions::epochs>("--epochs", ConfigField::kExtend),
      config_field<&TrainOptions::seed>("--seed"),
      config_field<&TrainOptions::optimizer>("--optimizer"),
      config_field<&TrainOptions::lr>("--lr"),
      config_field<&TrainOptions::weight_decay>("--weight-decay"),
      config_field<&TrainOptions::momentum>("--momentum"),
      config_field<&TrainOptions::dropout>("--dropout"),
      config_field<&TrainOptions::regs>("--reg"),
      config_field<&TrainOptions::stochastic_depth>("--stochastic-depth"),
      config_field<&TrainOptions::augment>("--augment"),
      config_field<&TrainOptions::batch_size>("--batch-size"),
      config_field<&TrainOptions::schedule>("--schedule"),
      config_field<&TrainOptions::warmup_steps>("--warmup-steps"),
      config_field<&TrainOptions::lr_step_size>("--lr-step-size"),
      config_field<&TrainOptions::lr_gamma>("--lr-gamma"),
      config_field<&TrainOptions::limit_train>("--limit-train"),
      config_field<&TrainOptions::limit_test>("--limit-test"),
      config_field<&TrainOptions::checkpoint_every>("--checkpoint-every", ConfigField::kFree),
      config_field<&TrainOptions::log_every>("--log-every", ConfigField::kFree),
      config_field<&TrainOptions::precision>("--precision", ConfigField::kFixed, "f32"),
  };
  return table;
}

std::string config_key(const ConfigField& f) { return std::string(f.flag).substr(f.flag[0] == '-' ? 2 : 0); }

}  // namespace

Json config_to_json(const TrainOptions& o) {
  Json config = Json::object();
  for (const ConfigField& f : config_fields()) config[config_key(f)] = f.get(o);
  return config;
}

namespace {

// An optimizer from --lr and --weight-decay (decoupled for adamw, lion and lamb, an L2 penalty
// on the gradient for the others), its other options at their defaults.
template <typename Opt, typename Options>
std::unique_ptr<Optimizer> with_lr_and_decay(const TrainOptions& o, std::vector<Tensor> params) {
  Options options;
  options.lr = o.lr;
  options.weight_decay = o.weight_decay;
  return std::make_unique<Opt>(std::move(params), options);
}

std::unique_ptr<Optimizer> sgd_with_momentum(const TrainOptions& o, std::vector<Tensor> params) {
  return std::make_unique<SGD>(std::move(params),
                               SgdOptions{.lr = o.lr, .momentum = o.momentum, .weight_decay = o.weight_decay});
}

using OptimizerFactory = std::unique_ptr<Optimizer> (*)(const TrainOptions&, std::vector<Tensor>);

// What --optimizer NAME builds, in the order the help lists them.
const std::vector<std::pair<std::string, OptimizerFactory>>& optimizers() {
  static const std::vector<std::pair<std::string, OptimizerFactory>> table = {
      {"adamw", with_lr_and_decay<AdamW, AdamWOptions>},
      {"adam", with_lr_and_decay<Adam, AdamOptions>},
      {"sgd", sgd_with_momentum},
      {"adagrad", with_lr_and_decay<Adagrad, AdagradOptions>},
      {"adadelta", with_lr_and_decay<Adadelta, AdadeltaOptions>},
      {"rmsprop", with_lr_and_decay<RMSprop, RmspropOptions>},
      {"adamax", with_lr_and_decay<Adamax, AdamaxOptions>},
      {"nadam", with_lr_and_decay<NAdam, NadamOptions>},
      {"radam", with_lr_and_decay<RAdam, RadamOptions>},
      {"lion", with_lr_and_decay<Lion, LionOptions>},
      {"lamb", with_lr_and_decay<Lamb, LambOptions>},
  };
  return table;
}

}  // namespace

std::string optimizer_names() { return names_of(optimizers()); }

namespace {

// A schedule from --lr (its base or peak rate) over the run's total steps.
using ScheduleFactory = std::shared_ptr<const LrSchedule> (*)(const TrainOptions&, int64_t total_steps,
                                                              int64_t steps_per_epoch);

// --warmup-steps in front of a schedule that has no warmup of its own.
std::shared_ptr<const LrSchedule> with_warmup(const TrainOptions& o, std::shared_ptr<const LrSchedule> schedule) {
  if (o.warmup_steps == 0) return schedule;
  return std::make_shared<WarmupSchedule>(std::move(schedule), o.warmup_steps);
}

// What --schedule NAME builds, in the order the help lists them.
const std::vector<std::pair<std::string, ScheduleFactory>>& schedules() {
  static const std::vector<std::pair<std::string, ScheduleFactory>> table = {
      {"cosine",
       [](const TrainOptions& o, int64_t total, int64_t) -> std::shared_ptr<const LrSchedule> {
         return std::make_shared<CosineSchedule>(o.lr, total, std::min(o.warmup_steps, total - 1));
       }},
      {"constant",
       [](const TrainOptions& o, int64_t, int64_t) {
         return with_warmup(o, std::make_shared<ConstantSchedule>(o.lr));
       }},
      {"step",
       [](const TrainOptions& o, int64_t, int64_t per_epoch) {
         return with_warmup(o, std::make_shared<StepSchedule>(o.lr, o.lr_step_size > 0 ? o.lr_step_size : per_epoch,
                                                              o.lr_gamma));
       }},
      {"exponential",
       [](const TrainOptions& o, int64_t, int64_t) {
         return with_warmup(o, std::make_shared<ExponentialSchedule>(o.lr, o.lr_gamma));
       }},
      {"onecycle",
       [](const TrainOptions& o, int64_t total, int64_t) -> std::shared_ptr<const LrSchedule> {
         return std::make_shared<OneCycleSchedule>(o.lr, total);
       }},
  };
  return table;
}

}  // namespace

std::string schedule_names() { return names_of(schedules()); }

void validate_optimization(const TrainOptions& o) {
  MINIDL_CHECK(find_in(optimizers(), o.optimizer) != nullptr, "unknown --optimizer '{}': expected one of {}", o.optimizer,
               optimizer_names());
  MINIDL_CHECK(o.epochs > 0, "--epochs {} must be positive", o.epochs);
  MINIDL_CHECK(o.batch_size > 0, "--batch-size {} must be positive", o.batch_size);
  MINIDL_CHECK(std::isfinite(o.lr) && o.lr > 0, "--lr {} must be a positive finite number", o.lr);
  MINIDL_CHECK(std::isfinite(o.weight_decay) && o.weight_decay >= 0, "--weight-decay {} must be finite and >= 0",
               o.weight_decay);
  MINIDL_CHECK(std::isfinite(o.momentum) && o.momentum >= 0, "--momentum {} must be finite and >= 0", o.momentum);
  MINIDL_CHECK(o.warmup_steps >= 0, "--warmup-steps {} must be >= 0", o.warmup_steps);
  MINIDL_CHECK(find_in(schedules(), o.schedule) != nullptr, "unknown --schedule '{}': expected one of {}", o.schedule,
               schedule_names());
  MINIDL_CHECK(o.schedule != "onecycle" || o.warmup_steps == 0,
               "--warmup-steps {} does not apply to --schedule onecycle, which warms up over its first 30% of steps",
               o.warmup_steps);
  MINIDL_CHECK(o.lr_step_size >= 0, "--lr-step-size {} must be >= 0", o.lr_step_size);
  MINIDL_CHECK(std::isfinite(o.lr_gamma) && o.lr_gamma > 0, "--lr-gamma {} must be a positive finite number",
               o.lr_gamma);
  MINIDL_CHECK(o.log_every >= 0, "--log-every {} must be >= 0", o.log_every);
  const Device device = Device::parse(o.device);
  backend_for(device);  // fails now, with the reason, when the device is not available
  checked_autocast_dtype(o.precision, device, o.device);
}

const char* const kPrecisionHelp =
    "f32, or bf16 on a CUDA device: autocast, as torch.autocast: matmuls multiply in bf16 with f32 accumulation and "
    "the activations that follow them are stored in bf16; weights, their gradients, the optimizer, normalizations "
    "and losses stay f32";

std::optional<DType> checked_autocast_dtype(const std::string& precision, Device device, const std::string& device_flag) {
  MINIDL_CHECK(precision == "f32" || precision == "bf16", "unknown --precision '{}': expected f32 or bf16", precision);
  MINIDL_CHECK(precision == "f32" || device.type != DeviceType::CPU,
               "--precision bf16 runs on a CUDA device (cuda, cuda-emu), but --device {} is the CPU, which computes "
               "in f32",
               device_flag);
  return precision == "bf16" ? std::optional(DType::BF16) : std::nullopt;
}

std::optional<DType> autocast_dtype_of(const TrainOptions& o) {
  return checked_autocast_dtype(o.precision, Device::parse(o.device), o.device);
}

void validate(const TrainOptions& o) {
  default_model_config(o.model);  // fails for an unknown model, listing the known ones
  MINIDL_CHECK(o.stochastic_depth >= 0 && o.stochastic_depth < 1, "--stochastic-depth {} is outside [0, 1)",
               o.stochastic_depth);
  MINIDL_CHECK(o.stochastic_depth == 0 || o.model.rfind("resnet", 0) == 0,
               "--stochastic-depth applies to resnet20 and resnet18, not {}", o.model);
  parse_dropout_spec(o.dropout);
  for (const std::string& spec : o.regs) make_regularizer(spec);  // checks each spec
  MINIDL_CHECK(o.limit_train >= 0, "--limit-train {} must be >= 0", o.limit_train);
  MINIDL_CHECK(o.limit_test >= 0, "--limit-test {} must be >= 0", o.limit_test);
  MINIDL_CHECK(o.checkpoint_every >= 0, "--checkpoint-every {} must be >= 0", o.checkpoint_every);
  MINIDL_CHECK(o.stop_after_steps >= 0, "--stop-after-steps {} must be >= 0", o.stop_after_steps);
  MINIDL_CHECK(!o.out.empty() || (o.checkpoint_every == 0 && o.stop_after_steps == 0),
               "--checkpoint-every and --stop-after-steps write checkpoints: they need --out DIR");
  validate_optimization(o);
}

Json model_config(const TrainOptions& o) {
  Json config = default_model_config(o.model);
  const DropoutSpec dropout = parse_dropout_spec(o.dropout);
  config["dropout"] = dropout.p;
  config["dropout_variant"] = dropout.name;
  if (config.contains("stochastic_depth")) config["stochastic_depth"] = o.stochastic_depth;
  return config;
}

std::unique_ptr<Optimizer> make_optimizer(const TrainOptions& o, std::vector<Tensor> params) {
  return find_in(optimizers(), o.optimizer)(o, std::move(params));
}

std::shared_ptr<const LrSchedule> make_schedule(const TrainOptions& o, int64_t total_steps, int64_t steps_per_epoch) {
  return find_in(schedules(), o.schedule)(o, total_steps, steps_per_epoch);
}

void apply_saved_config(TrainOptions& o, const CLI::App& cmd, const Checkpoint& ck) {
  namespace fs = std::filesystem;
  MINIDL_CHECK(cmd.get_option("--out")->count() == 0 || fs::weakly_canonical(o.out) == fs::weakly_canonical(o.resume),
               "--out {} conflicts with --resume {}: a resumed run writes to its own directory", o.out, o.resume);
  TrainOptions saved = o;
  saved.out = o.resume;
  for (const ConfigField& f : config_fields()) {
    const std::string key = config_key(f);
    MINIDL_CHECK(ck.state.config.contains(key) || !f.absent.is_null(), "{}: the checkpoint's config has no '{}'",
                 ck.path, key);
    const Json& value = ck.state.config.contains(key) ? ck.state.config.at(key) : f.absent;
    MINIDL_CHECK(f.set(saved, value), "{}: the checkpoint's config has '{}' = {}: expected a {} like {}", ck.path, key,
                 value.dump(), f.get(o).type_name(), f.get(o).dump());
  }
  for (const ConfigField& f : config_fields()) {
    if (cmd.get_option(f.flag)->count() == 0) continue;
    if (f.resume == ConfigField::kExtend) {
      MINIDL_CHECK(f.get(o) >= f.get(saved), "{} {} would shorten the run in {}, which has {} {}: a resumed run may "
                   "only be extended", f.flag, f.get(o).dump(), ck.path, f.flag, f.get(saved).dump());
    }
    if (f.resume != ConfigField::kFixed) {
      f.set(saved, f.get(o));
    } else {
      MINIDL_CHECK(f.get(o) == f.get(saved),
                   "{} {} conflicts with the checkpoint {}, whose run has {} {}: leave the flag out to resume",
                   f.flag, f.get(o).dump(), ck.path, f.flag, f.get(saved).dump());
    }
  }
  o = saved;
}

MetricsLog::MetricsLog(const std::string& out, bool append) {
  if (out.empty()) return;
  std::filesystem::create_directories(out);
  file_.open(path(out), append ? std::ios::app : std::ios::trunc);
  MINIDL_CHECK(file_.good(), "cannot write {}", path(out));
}

std::string MetricsLog::path(const std::string& out) { return (std::filesystem::path(out) / "metrics.jsonl").string(); }

void MetricsLog::write(const Json& record) {
  if (file_.is_open()) file_ << record.dump() << '\n' << std::flush;
}

}  // namespace minidl::cli
