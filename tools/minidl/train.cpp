// `minidl train MODEL`: trains a model on Fashion-MNIST, prints per-epoch loss and test accuracy,
// and with --out writes DIR/model.safetensors and DIR/metrics.jsonl.
#include <fmt/format.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <memory>
#include <utility>

#include "framework/core/device.h"
#include "framework/io/data_loader.h"
#include "framework/io/fashion_mnist.h"
#include "framework/ops/ops.h"
#include "framework/ops/backend.h"
#include "framework/optim/optimizers.h"
#include "framework/optim/schedule.h"
#include "models/classifier.h"
#include "models/mlp.h"
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
  double dropout = 0.2;
  int64_t batch_size = 128;
  int64_t warmup_steps = 0;
  int64_t limit_train = 0;  // 0: the whole training set
  int64_t limit_test = 0;   // 0: the whole test set
};

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

void validate(const TrainOptions& o) {
  MINIDL_CHECK(o.model == "mlp", "unknown model '{}': expected mlp", o.model);
  MINIDL_CHECK(find_optimizer(o.optimizer) != nullptr, "unknown --optimizer '{}': expected one of {}", o.optimizer,
               optimizer_names());
  MINIDL_CHECK(o.epochs > 0, "--epochs {} must be positive", o.epochs);
  MINIDL_CHECK(o.batch_size > 0, "--batch-size {} must be positive", o.batch_size);
  MINIDL_CHECK(std::isfinite(o.lr) && o.lr > 0, "--lr {} must be a positive finite number", o.lr);
  MINIDL_CHECK(std::isfinite(o.weight_decay) && o.weight_decay >= 0, "--weight-decay {} must be finite and >= 0",
               o.weight_decay);
  MINIDL_CHECK(std::isfinite(o.momentum) && o.momentum >= 0, "--momentum {} must be finite and >= 0", o.momentum);
  MINIDL_CHECK(o.dropout >= 0.0 && o.dropout <= 1.0, "--dropout {} is outside [0, 1]", o.dropout);
  MINIDL_CHECK(o.limit_train >= 0, "--limit-train {} must be >= 0", o.limit_train);
  MINIDL_CHECK(o.warmup_steps >= 0, "--warmup-steps {} must be >= 0", o.warmup_steps);
  MINIDL_CHECK(o.limit_test >= 0, "--limit-test {} must be >= 0", o.limit_test);
  backend_for(Device::parse(o.device));  // fails now, with the reason, when the device is not available
}

std::unique_ptr<Optimizer> make_optimizer(const TrainOptions& o, std::vector<Tensor> params) {
  return find_optimizer(o.optimizer)(o, std::move(params));
}

void run_train(const TrainOptions& o) {
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

  // Separate streams of one seed: initialization, shuffling and dropout never shift each other.
  Generator init_gen(o.seed, 0), shuffle_gen(o.seed, 1), dropout_gen(o.seed, 2);
  MlpConfig config;
  config.dropout = o.dropout;
  Mlp model(config, init_gen, dropout_gen);
  model.to(device);
  DataLoader loader(train.images, train.labels, o.batch_size, true, shuffle_gen);
  loader.set_pin_memory(device.type == DeviceType::CUDA);
  auto optimizer = make_optimizer(o, model.parameters());
  const int64_t total_steps = o.epochs * loader.num_batches();
  const CosineSchedule schedule(o.lr, total_steps, std::min(o.warmup_steps, total_steps - 1));

  std::ofstream metrics;
  if (!o.out.empty()) {
    metrics.open(std::filesystem::path(o.out) / "metrics.jsonl", std::ios::trunc);
    MINIDL_CHECK(metrics.good(), "cannot write {}/metrics.jsonl", o.out);
  }
  fmt::print("training {} on Fashion-MNIST ({} train, {} test) on {}: {} epochs, batch {}, {} lr {}, dropout {}, seed {}\n",
             o.model, train.images.size(0), test.images.size(0), o.device, o.epochs, o.batch_size, o.optimizer, o.lr,
             o.dropout, o.seed);
  int64_t step = 0;
  EvalResult result;
  for (int64_t epoch = 1; epoch <= o.epochs; ++epoch) {
    const auto start = std::chrono::steady_clock::now();
    model.train();
    loader.start_epoch();
    ProgressBar bar(fmt::format("epoch {}/{}", epoch, o.epochs), loader.num_batches());
    double loss_sum = 0;
    for (int64_t b = 0; b < loader.num_batches(); ++b, ++step) {
      const DataLoader::Batch batch = loader.batch(b);
      optimizer->set_lr(schedule.lr_at(step));
      optimizer->zero_grad();
      const Tensor loss = cross_entropy(model(to_device(batch.inputs, device)), to_device(batch.targets, device));
      loss.backward();
      optimizer->step();
      loss_sum += loss.item();
      bar.update(b + 1, fmt::format("loss {:.4f}", loss_sum / static_cast<double>(b + 1)));
    }
    bar.finish();
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    const double train_loss = loss_sum / static_cast<double>(loader.num_batches());
    result = evaluate_classifier(model, test.images, test.labels, 1000);
    fmt::print("epoch {:>3}/{}  train loss {:.4f}  test loss {:.4f}  test acc {:.4f}  {:.1f} s\n", epoch, o.epochs,
               train_loss, result.loss, result.accuracy, seconds);
    std::fflush(stdout);
    if (metrics.is_open()) {
      metrics << nlohmann::json{{"epoch", epoch},           {"step", step},
                                {"train_loss", train_loss}, {"test_loss", result.loss},
                                {"test_accuracy", result.accuracy}, {"lr", optimizer->lr()},
                                {"seconds", seconds}}.dump()
              << '\n' << std::flush;
    }
  }
  fmt::print("test accuracy {:.4f}\n", result.accuracy);
  if (!o.out.empty()) {
    const std::string path = (std::filesystem::path(o.out) / "model.safetensors").string();
    save_model_file(path, model,
                    {{"format_version", 1}, {"model", o.model}, {"config", config.to_json()}, {"seed", o.seed},
                     {"epochs", o.epochs}, {"test_accuracy", result.accuracy}});
    fmt::print("wrote {} and {}/metrics.jsonl\n", path, o.out);
  }
}

}  // namespace

void add_train_command(CLI::App& app) {
  auto o = std::make_shared<TrainOptions>();
  CLI::App* cmd = app.add_subcommand("train", "Train a model on Fashion-MNIST");
  cmd->add_option("model", o->model, "model to train: mlp")->capture_default_str();
  cmd->add_option("--epochs", o->epochs, "training epochs")->capture_default_str();
  cmd->add_option("--seed", o->seed, "seed of initialization, shuffling and dropout")->capture_default_str();
  cmd->add_option("--out", o->out, "directory for model.safetensors and metrics.jsonl");
  cmd->add_option("--device", o->device, "cpu, cuda (a GPU), or cuda-emu (the CUDA kernels in the SIMT emulator)")
      ->capture_default_str();
  cmd->add_option("--data-dir", o->data_dir, "directory of the Fashion-MNIST .gz files")->capture_default_str();
  cmd->add_option("--optimizer", o->optimizer, "one of " + optimizer_names())->capture_default_str();
  cmd->add_option("--lr", o->lr, "peak learning rate (cosine decay to 0)")->capture_default_str();
  cmd->add_option("--weight-decay", o->weight_decay, "weight decay (decoupled for adamw, lion and lamb)")
      ->capture_default_str();
  cmd->add_option("--momentum", o->momentum, "SGD momentum")->capture_default_str();
  cmd->add_option("--dropout", o->dropout, "dropout p after each hidden layer")->capture_default_str();
  cmd->add_option("--batch-size", o->batch_size, "mini-batch size")->capture_default_str();
  cmd->add_option("--warmup-steps", o->warmup_steps, "linear warmup steps before the cosine decay")->capture_default_str();
  cmd->add_option("--limit-train", o->limit_train, "use only the first N training samples (0: all)")->capture_default_str();
  cmd->add_option("--limit-test", o->limit_test, "evaluate on the first N test samples only (0: all)")->capture_default_str();
  cmd->callback([o] { run_train(*o); });
}

}  // namespace minidl::cli
