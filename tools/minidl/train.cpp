// `minidl train MODEL`: trains a model on Fashion-MNIST, prints per-epoch loss and test accuracy,
// and with --out writes DIR/model.safetensors, DIR/metrics.jsonl and DIR/checkpoint.safetensors
// (every epoch, and every --checkpoint-every steps). `--resume DIR` continues a run from its
// checkpoint bit for bit (docs/checkpoints.md).
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "framework/core/device.h"
#include "framework/io/atomic_file.h"
#include "framework/io/augment.h"
#include "framework/io/checkpoint.h"
#include "framework/io/data_loader.h"
#include "framework/io/fashion_mnist.h"
#include "framework/ops/ops.h"
#include "framework/ops/backend.h"
#include "framework/optim/optimizers.h"
#include "framework/optim/schedule.h"
#include "framework/regularize/dropout_layers.h"
#include "framework/regularize/regularizers.h"
#include "models/classifier.h"
#include "models/model.h"
#include "tools/minidl/commands.h"
#include "tools/minidl/progress.h"

namespace minidl::cli {

namespace {

struct TrainOptions {
  std::string model = "mlp";
  int64_t epochs = 10;
  uint64_t seed = 0;
  std::string out;
  std::string device = "cpu";
  std::string data_dir = kDefaultFashionMnistDir;
  std::string optimizer = "adamw";
  double lr = 1e-3;
  double weight_decay = 0.05;
  double momentum = 0.9;
  std::string dropout = "0.2";    // "NAME:p" or "p" (standard dropout)
  std::vector<std::string> regs;  // --reg NAME:args, in order
  double stochastic_depth = 0;    // resnet: p_L of the linear decay rule
  bool augment = false;           // random crop (pad 2) and horizontal flip
  int64_t batch_size = 128;
  std::string schedule = "cosine";
  int64_t warmup_steps = 0;
  int64_t lr_step_size = 0;  // 0: one epoch
  double lr_gamma = 0.1;
  int64_t limit_train = 0;  // 0: the whole training set
  int64_t limit_test = 0;   // 0: the whole test set
  int64_t checkpoint_every = 0;
  int64_t log_every = 0;
  // Per invocation, not part of the run's config.
  std::string resume;
  int64_t stop_after_steps = 0;
};

using Json = nlohmann::json;

// The options that define a run, saved in its checkpoints; `--resume` takes them from there. Each
// is named as on the command line, so a conflict names the flag.
struct ConfigField {
  enum Resume { kFixed, kExtend, kFree };  // on resume: must agree, may grow, may change

  const char* flag;
  Json (*get)(const TrainOptions&);
  bool (*set)(TrainOptions&, const Json&);  // false when the value has the wrong type
  Resume resume;
};

template <auto Member>
ConfigField config_field(const char* flag, ConfigField::Resume resume = ConfigField::kFixed) {
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
          resume};
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
  };
  return table;
}

std::string config_key(const ConfigField& f) { return std::string(f.flag).substr(f.flag[0] == '-' ? 2 : 0); }

Json config_to_json(const TrainOptions& o) {
  Json config = Json::object();
  for (const ConfigField& f : config_fields()) config[config_key(f)] = f.get(o);
  return config;
}

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

OptimizerFactory find_optimizer(const std::string& name) {
  for (const auto& [known, factory] : optimizers())
    if (known == name) return factory;
  return nullptr;
}

std::string optimizer_names() {
  std::string names;
  for (const auto& [name, factory] : optimizers()) names += (names.empty() ? "" : ", ") + name;
  return names;
}

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

ScheduleFactory find_schedule(const std::string& name) {
  for (const auto& [known, factory] : schedules())
    if (known == name) return factory;
  return nullptr;
}

std::string schedule_names() {
  std::string names;
  for (const auto& [name, factory] : schedules()) names += (names.empty() ? "" : ", ") + name;
  return names;
}

void validate(const TrainOptions& o) {
  default_model_config(o.model);  // fails for an unknown model, listing the known ones
  MINIDL_CHECK(o.stochastic_depth >= 0 && o.stochastic_depth < 1, "--stochastic-depth {} is outside [0, 1)",
               o.stochastic_depth);
  MINIDL_CHECK(o.stochastic_depth == 0 || o.model.rfind("resnet", 0) == 0,
               "--stochastic-depth applies to resnet20 and resnet18, not {}", o.model);
  MINIDL_CHECK(find_optimizer(o.optimizer) != nullptr, "unknown --optimizer '{}': expected one of {}", o.optimizer,
               optimizer_names());
  MINIDL_CHECK(o.epochs > 0, "--epochs {} must be positive", o.epochs);
  MINIDL_CHECK(o.batch_size > 0, "--batch-size {} must be positive", o.batch_size);
  MINIDL_CHECK(std::isfinite(o.lr) && o.lr > 0, "--lr {} must be a positive finite number", o.lr);
  MINIDL_CHECK(std::isfinite(o.weight_decay) && o.weight_decay >= 0, "--weight-decay {} must be finite and >= 0",
               o.weight_decay);
  MINIDL_CHECK(std::isfinite(o.momentum) && o.momentum >= 0, "--momentum {} must be finite and >= 0", o.momentum);
  parse_dropout_spec(o.dropout);
  for (const std::string& spec : o.regs) make_regularizer(spec);  // checks each spec
  MINIDL_CHECK(o.limit_train >= 0, "--limit-train {} must be >= 0", o.limit_train);
  MINIDL_CHECK(o.warmup_steps >= 0, "--warmup-steps {} must be >= 0", o.warmup_steps);
  MINIDL_CHECK(o.limit_test >= 0, "--limit-test {} must be >= 0", o.limit_test);
  MINIDL_CHECK(find_schedule(o.schedule) != nullptr, "unknown --schedule '{}': expected one of {}", o.schedule,
               schedule_names());
  MINIDL_CHECK(o.schedule != "onecycle" || o.warmup_steps == 0,
               "--warmup-steps {} does not apply to --schedule onecycle, which warms up over its first 30% of steps",
               o.warmup_steps);
  MINIDL_CHECK(o.lr_step_size >= 0, "--lr-step-size {} must be >= 0", o.lr_step_size);
  MINIDL_CHECK(std::isfinite(o.lr_gamma) && o.lr_gamma > 0, "--lr-gamma {} must be a positive finite number",
               o.lr_gamma);
  MINIDL_CHECK(o.checkpoint_every >= 0, "--checkpoint-every {} must be >= 0", o.checkpoint_every);
  MINIDL_CHECK(o.stop_after_steps >= 0, "--stop-after-steps {} must be >= 0", o.stop_after_steps);
  MINIDL_CHECK(o.log_every >= 0, "--log-every {} must be >= 0", o.log_every);
  MINIDL_CHECK(!o.out.empty() || (o.checkpoint_every == 0 && o.stop_after_steps == 0),
               "--checkpoint-every and --stop-after-steps write checkpoints: they need --out DIR");
  backend_for(Device::parse(o.device));  // fails now, with the reason, when the device is not available
}

// The model's config: its defaults with the run's dropout variant (and stochastic depth).
Json model_config(const TrainOptions& o) {
  Json config = default_model_config(o.model);
  const DropoutSpec dropout = parse_dropout_spec(o.dropout);
  config["dropout"] = dropout.p;
  config["dropout_variant"] = dropout.name;
  if (config.contains("stochastic_depth")) config["stochastic_depth"] = o.stochastic_depth;
  return config;
}

// --augment: a random crop of the image padded by 2 black pixels, and a horizontal flip.
Tensor augmented(const Tensor& rows, Generator& gen) {
  const float black = static_cast<float>(-kFashionMnistMean / kFashionMnistStd);
  const Tensor images = reshape(rows, {rows.size(0), 1, 28, 28});
  return reshape(random_crop_flip(images, 2, true, black, gen), rows.shape());
}

std::unique_ptr<Optimizer> make_optimizer(const TrainOptions& o, std::vector<Tensor> params) {
  return find_optimizer(o.optimizer)(o, std::move(params));
}

std::string checkpoint_path(const std::string& dir) {
  return (std::filesystem::path(dir) / "checkpoint.safetensors").string();
}

// --resume: the run's config comes from the checkpoint. A config flag given on the command line
// must agree with it, except --epochs, which may extend the run, and --checkpoint-every and
// --log-every, which may change; the other options (--device, --data-dir, --stop-after-steps)
// belong to this invocation.
void apply_saved_config(TrainOptions& o, const CLI::App& cmd, const Checkpoint& ck) {
  namespace fs = std::filesystem;
  MINIDL_CHECK(cmd.get_option("--out")->count() == 0 || fs::weakly_canonical(o.out) == fs::weakly_canonical(o.resume),
               "--out {} conflicts with --resume {}: a resumed run writes to its own directory", o.out, o.resume);
  TrainOptions saved = o;
  saved.out = o.resume;
  for (const ConfigField& f : config_fields()) {
    const std::string key = config_key(f);
    MINIDL_CHECK(ck.state.config.contains(key), "{}: the checkpoint's config has no '{}'", ck.path, key);
    const Json& value = ck.state.config.at(key);
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

// On resume, metrics.jsonl keeps the records up to the checkpoint's step (a crash after the
// checkpoint may have left later ones, which the resumed run writes again) and is appended to.
void trim_metrics(const std::string& path, int64_t step) {
  if (!std::filesystem::exists(path)) return;
  const std::vector<uint8_t> bytes = read_file(path);
  std::string kept, line;
  std::istringstream in(std::string(bytes.begin(), bytes.end()));
  while (std::getline(in, line)) {
    const Json record = Json::parse(line, nullptr, false);
    if (record.is_object() && record.contains("step") && record["step"].is_number_integer() &&
        record["step"].get<int64_t>() <= step)
      kept += line + '\n';
  }
  write_file_atomically(path, [&](std::FILE* f) { std::fwrite(kept.data(), 1, kept.size(), f); });
}

void run_train(TrainOptions o, const CLI::App& cmd) {
  std::optional<Checkpoint> resumed;
  if (!o.resume.empty()) {
    resumed = load_checkpoint(checkpoint_path(o.resume));
    apply_saved_config(o, cmd, *resumed);
  }
  validate(o);
  if (!o.out.empty()) std::filesystem::create_directories(o.out);
  Dataset train = load_fashion_mnist(o.data_dir, true);
  Dataset test = load_fashion_mnist(o.data_dir, false);
  for (auto [data, limit] : {std::pair{&train, o.limit_train}, std::pair{&test, o.limit_test}}) {
    if (limit > 0 && limit < data->images.size(0)) {
      data->images = slice(data->images, 0, 0, limit);
      data->labels = slice(data->labels, 0, 0, limit);
    }
  }
  const Device device = Device::parse(o.device);

  // Separate streams of one seed: initialization, shuffling, dropout and the regularizers' noise
  // never shift each other.
  Generator init_gen(o.seed, 0), shuffle_gen(o.seed, 1), dropout_gen(o.seed, 2), noise_gen(o.seed, 3);
  Generator augment_gen(o.seed, 4);
  const std::shared_ptr<ImageClassifier> model = make_model(o.model, model_config(o), init_gen, dropout_gen);
  model->to(device);
  std::vector<std::unique_ptr<Regularizer>> regularizers;
  double label_smoothing = 0;
  for (const std::string& spec : o.regs) {
    regularizers.push_back(make_regularizer(spec));
    regularizers.back()->attach(*model);
    label_smoothing = std::max(label_smoothing, regularizers.back()->label_smoothing());
  }
  DataLoader loader(train.images, train.labels, o.batch_size, true, shuffle_gen);
  loader.set_pin_memory(device.type == DeviceType::CUDA);
  auto optimizer = make_optimizer(o, model->parameters());
  const int64_t batches = loader.num_batches();
  const int64_t total_steps = o.epochs * batches;
  const std::shared_ptr<const LrSchedule> schedule = find_schedule(o.schedule)(o, total_steps, batches);

  // Where training starts: the beginning, or the checkpoint's position.
  int64_t start_epoch = 1, start_batch = 0, step = 0;
  double start_loss_sum = 0;
  if (resumed) {
    const TrainingState& s = resumed->state;
    MINIDL_CHECK(s.batch < batches && s.step == (s.epoch - 1) * batches + s.batch,
                 "{}: position epoch {}, batch {}, step {} does not fit {} batches per epoch: was the data changed?",
                 resumed->path, s.epoch, s.batch, s.step, batches);
    restore_checkpoint(*resumed, *model, *optimizer);
    for (auto [name, gen] : {std::pair{"init", &init_gen}, std::pair{"shuffle", &shuffle_gen},
                             std::pair{"dropout", &dropout_gen}, std::pair{"noise", &noise_gen},
                             std::pair{"augment", &augment_gen}}) {
      const auto it = s.generators.find(name);
      MINIDL_CHECK(it != s.generators.end(), "{}: no state for the '{}' generator", resumed->path, name);
      it->second.apply_to(*gen);
    }
    start_epoch = s.epoch;
    start_batch = s.batch;
    step = s.step;
    start_loss_sum = s.epoch_loss_sum;
  }

  std::ofstream metrics;
  if (!o.out.empty()) {
    const std::string path = (std::filesystem::path(o.out) / "metrics.jsonl").string();
    if (resumed) trim_metrics(path, step);
    metrics.open(path, resumed ? std::ios::app : std::ios::trunc);
    MINIDL_CHECK(metrics.good(), "cannot write {}", path);
  }
  fmt::print("{} {} on Fashion-MNIST ({} train, {} test) on {}: {} epochs, batch {}, {} lr {} ({} schedule), dropout {}, "
             "seed {}\n",
             resumed ? fmt::format("resuming {} at epoch {}, step {}:", o.resume, start_epoch, step) : "training",
             o.model, train.images.size(0), test.images.size(0), o.device, o.epochs, o.batch_size, o.optimizer, o.lr,
             o.schedule, o.dropout, o.seed);
  if (start_epoch > o.epochs) {
    fmt::print("nothing to train: the run has finished its {} epochs (pass --epochs to extend it)\n", o.epochs);
    return;
  }

  // The checkpoint of position (epoch, batch): `shuffle` is the shuffle generator as it was when
  // that epoch's permutation was drawn, so a resumed run draws the same one.
  const auto save = [&](int64_t epoch, int64_t batch, const Generator& shuffle, double loss_sum) {
    TrainingState s;
    s.config = config_to_json(o);
    s.epoch = epoch;
    s.batch = batch;
    s.step = step;
    s.epoch_loss_sum = loss_sum;
    s.generators = {{"init", GeneratorState::of(init_gen)},
                    {"shuffle", GeneratorState::of(shuffle)},
                    {"dropout", GeneratorState::of(dropout_gen)},
                    {"noise", GeneratorState::of(noise_gen)},
                    {"augment", GeneratorState::of(augment_gen)}};
    s.schedule = {{"name", o.schedule}, {"total_steps", total_steps}, {"lr", optimizer->lr()}};
    save_checkpoint(checkpoint_path(o.out), *model, *optimizer, s);
  };
  const auto stop_now = [&] { return o.stop_after_steps > 0 && step >= o.stop_after_steps; };
  const auto report_stop = [&] {
    fmt::print("stopped after step {} (--stop-after-steps): resume with --resume {}\n", step, o.out);
  };
  if (stop_now()) {
    report_stop();
    return;
  }

  EvalResult result;
  for (int64_t epoch = start_epoch; epoch <= o.epochs; ++epoch) {
    const auto start = std::chrono::steady_clock::now();
    model->train();
    const Generator shuffle_at_start = shuffle_gen;
    loader.start_epoch();
    const int64_t first_batch = epoch == start_epoch ? start_batch : 0;
    double loss_sum = epoch == start_epoch ? start_loss_sum : 0;
    ProgressBar bar(fmt::format("epoch {}/{}", epoch, o.epochs), batches);
    for (int64_t b = first_batch; b < batches; ++b) {
      const DataLoader::Batch batch = loader.batch(b);
      optimizer->set_lr(schedule->lr_at(step));
      optimizer->zero_grad();
      Tensor inputs = to_device(o.augment ? augmented(batch.inputs, augment_gen) : batch.inputs, device);
      for (const auto& r : regularizers) inputs = r->transform_input(inputs, noise_gen);
      for (const auto& r : regularizers) r->before_forward(*model, noise_gen);
      Tensor loss = cross_entropy((*model)(inputs), to_device(batch.targets, device), label_smoothing);
      const double data_loss = loss.item();  // what is reported: the penalties are not part of it
      for (const Tensor& penalty : model->penalties()) loss = add(loss, penalty);
      for (const auto& r : regularizers)
        if (const Tensor penalty = r->penalty(*model); penalty.defined()) loss = add(loss, penalty);
      loss.backward();
      for (const auto& r : regularizers) r->after_backward(*model);
      optimizer->step();
      for (const auto& r : regularizers) r->after_step(*model, optimizer->lr());
      ++step;
      const double loss_value = data_loss;
      loss_sum += loss_value;
      bar.update(b + 1, fmt::format("loss {:.4f}", loss_sum / static_cast<double>(b + 1)));
      if (metrics.is_open() && o.log_every > 0 && step % o.log_every == 0) {
        metrics << Json{{"epoch", epoch}, {"step", step}, {"loss", loss_value}, {"lr", optimizer->lr()}}.dump() << '\n'
                << std::flush;
      }
      // Mid-epoch checkpoints; the end of the epoch writes its own.
      if (b + 1 < batches && (stop_now() || (o.checkpoint_every > 0 && step % o.checkpoint_every == 0))) {
        save(epoch, b + 1, shuffle_at_start, loss_sum);
        if (stop_now()) {
          bar.finish();
          report_stop();
          return;
        }
      }
    }
    bar.finish();
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    const double train_loss = loss_sum / static_cast<double>(batches);
    result = evaluate_classifier(*model, test.images, test.labels, 1000);
    fmt::print("epoch {:>3}/{}  train loss {:.4f}  test loss {:.4f}  test acc {:.4f}  {:.1f} s\n", epoch, o.epochs,
               train_loss, result.loss, result.accuracy, seconds);
    std::fflush(stdout);
    if (metrics.is_open()) {
      metrics << Json{{"epoch", epoch},           {"step", step},
                      {"train_loss", train_loss}, {"test_loss", result.loss},
                      {"test_accuracy", result.accuracy}, {"lr", optimizer->lr()},
                      {"seconds", seconds}}.dump()
              << '\n' << std::flush;
    }
    bool stop_early = false;
    for (const auto& r : regularizers) stop_early = r->after_evaluation(*model, result.loss) || stop_early;
    if (stop_early) {
      result = evaluate_classifier(*model, test.images, test.labels, 1000);
      fmt::print("early stopping after epoch {}: restored the best parameters, test accuracy {:.4f}\n", epoch,
                 result.accuracy);
    }
    if (!o.out.empty()) save(epoch + 1, 0, shuffle_gen, 0);
    if (stop_early) break;
    if (stop_now() && epoch < o.epochs) {
      report_stop();
      return;
    }
  }
  fmt::print("test accuracy {:.4f}\n", result.accuracy);
  if (!o.out.empty()) {
    const std::string path = (std::filesystem::path(o.out) / "model.safetensors").string();
    save_model_file(path, *model,
                    {{"format_version", 1}, {"model", o.model}, {"config", model->config_json()}, {"seed", o.seed},
                     {"epochs", o.epochs}, {"test_accuracy", result.accuracy}});
    fmt::print("wrote {}, {} and {}/metrics.jsonl\n", path, checkpoint_path(o.out), o.out);
  }
}

}  // namespace

void add_train_command(CLI::App& app) {
  auto o = std::make_shared<TrainOptions>();
  CLI::App* cmd = app.add_subcommand("train", "Train a model on Fashion-MNIST");
  cmd->add_option("model", o->model, "model to train: one of " + model_names())->capture_default_str();
  cmd->add_option("--epochs", o->epochs, "training epochs")->capture_default_str();
  cmd->add_option("--seed", o->seed, "seed of initialization, shuffling and dropout")->capture_default_str();
  cmd->add_option("--out", o->out,
                  "directory for model.safetensors, metrics.jsonl and checkpoint.safetensors (written every epoch)");
  cmd->add_option("--device", o->device, "cpu, cuda (a GPU), or cuda-emu (the CUDA kernels in the SIMT emulator)")
      ->capture_default_str();
  cmd->add_option("--data-dir", o->data_dir, "directory of the Fashion-MNIST .gz files")->capture_default_str();
  cmd->add_option("--optimizer", o->optimizer, "one of " + optimizer_names())->capture_default_str();
  cmd->add_option("--lr", o->lr, "base (peak) learning rate of the schedule")->capture_default_str();
  cmd->add_option("--weight-decay", o->weight_decay, "weight decay (decoupled for adamw, lion and lamb)")
      ->capture_default_str();
  cmd->add_option("--momentum", o->momentum, "SGD momentum")->capture_default_str();
  cmd->add_option("--dropout", o->dropout,
                  "NAME:p, the dropout variant after each hidden layer (one of " +
                      dropout_variant_names(activation_dropout_variants()) +
                      ", or dropconnect on the hidden weights); for cnn and resnet also one for feature maps (" +
                      dropout_variant_names(feature_map_dropout_variants()) + "); p alone means dropout:p")
      ->capture_default_str();
  cmd->add_option("--stochastic-depth", o->stochastic_depth,
                  "resnet: drop residual branches per sample, block l of L with p * l / L")
      ->capture_default_str();
  cmd->add_flag("--augment", o->augment, "random crop (2-pixel padding) and horizontal flip of training images");
  cmd->add_option("--reg", o->regs, "NAME:args, a regularizer (repeatable): one of " + regularizer_names())
      ->expected(1)
      ->take_all();
  cmd->add_option("--batch-size", o->batch_size, "mini-batch size")->capture_default_str();
  cmd->add_option("--schedule", o->schedule, "learning-rate schedule over the run's steps, one of " + schedule_names())
      ->capture_default_str();
  cmd->add_option("--warmup-steps", o->warmup_steps, "linear warmup steps before the schedule (not onecycle)")
      ->capture_default_str();
  cmd->add_option("--lr-step-size", o->lr_step_size, "steps between decays of --schedule step (0: one epoch)")
      ->capture_default_str();
  cmd->add_option("--lr-gamma", o->lr_gamma,
                  "factor on the rate every --lr-step-size steps (--schedule step) or every step (exponential)")
      ->capture_default_str();
  cmd->add_option("--limit-train", o->limit_train, "use only the first N training samples (0: all)")->capture_default_str();
  cmd->add_option("--limit-test", o->limit_test, "evaluate on the first N test samples only (0: all)")->capture_default_str();
  cmd->add_option("--resume", o->resume,
                  "continue the run saved in DIR (DIR/checkpoint.safetensors) bit for bit, with its config: flags "
                  "given must agree with it, except a larger --epochs, --checkpoint-every and --log-every");
  cmd->add_option("--checkpoint-every", o->checkpoint_every, "also write the checkpoint every N steps (0: only per epoch)")
      ->capture_default_str();
  cmd->add_option("--stop-after-steps", o->stop_after_steps,
                  "stop once the run has taken N steps in all, writing a checkpoint (for testing --resume; 0: never)")
      ->capture_default_str();
  cmd->add_option("--log-every", o->log_every, "append the loss of every Nth step to metrics.jsonl (0: per epoch only)")
      ->capture_default_str();
  cmd->callback([o, cmd] { run_train(*o, *cmd); });
}

}  // namespace minidl::cli
