// `minidl train MODEL`: trains a model on Fashion-MNIST, prints per-epoch loss and test accuracy,
// and with --out writes DIR/model.safetensors, DIR/metrics.jsonl and DIR/checkpoint.safetensors
// (every epoch, and every --checkpoint-every steps). `--resume DIR` continues a run from its
// checkpoint bit for bit (docs/checkpoints.md). `--tensorboard DIR` also logs the metrics as
// TensorBoard scalars (docs/tensorboard.md).
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "framework/core/device.h"
#include "framework/io/atomic_file.h"
#include "framework/io/augment.h"
#include "framework/io/checkpoint.h"
#include "framework/io/data_loader.h"
#include "framework/io/fashion_mnist.h"
#include "framework/io/tensorboard.h"
#include "framework/ops/ops.h"
#include "framework/ops/backend.h"
#include "framework/optim/clip.h"
#include "framework/optim/schedule.h"
#include "framework/regularize/dropout_layers.h"
#include "framework/regularize/regularizers.h"
#include "models/classifier.h"
#include "models/model.h"
#include "tools/minidl/commands.h"
#include "framework/core/profiler.h"
#include "tools/minidl/progress.h"
#include "tools/minidl/train_graph.h"
#include "tools/minidl/train_lm.h"
#include "tools/minidl/train_options.h"

namespace minidl::cli {

namespace {

// --augment: a random crop of the image padded by 2 black pixels, and a horizontal flip.
Tensor augmented(const Tensor& rows, Generator& gen) {
  const float black = static_cast<float>(-kFashionMnistMean / kFashionMnistStd);
  const Tensor images = reshape(rows, {rows.size(0), 1, 28, 28});
  return reshape(random_crop_flip(images, 2, true, black, gen), rows.shape());
}

std::string checkpoint_path(const std::string& dir) {
  return (std::filesystem::path(dir) / "checkpoint.safetensors").string();
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
  const AutocastGuard autocast(autocast_dtype_of(o));

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
  const std::shared_ptr<const LrSchedule> schedule = make_schedule(o, total_steps, batches);

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

  if (resumed && !o.out.empty()) trim_metrics(MetricsLog::path(o.out), step);
  MetricsLog metrics(o.out, resumed.has_value());
  fmt::print("{} {} on Fashion-MNIST ({} train, {} test) on {}: {} epochs, batch {}, {} lr {} ({} schedule), dropout {}, "
             "{} precision, seed {}\n",
             resumed ? fmt::format("resuming {} at epoch {}, step {}:", o.resume, start_epoch, step) : "training",
             o.model, train.images.size(0), test.images.size(0), device.str(), o.epochs, o.batch_size, o.optimizer, o.lr,
             o.schedule, o.dropout, o.precision, o.seed);
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

  // --tensorboard: the steps metrics.jsonl records (every --log-every steps), or the last step of
  // each epoch without --log-every, log the training scalars. The gradient norm and the dropout
  // keep rate are measured on those steps only.
  std::optional<TensorBoardWriter> tensorboard;
  if (!o.tensorboard.empty()) tensorboard.emplace(o.tensorboard);
  const auto log_train_scalars = [&](double loss, double gradient_norm) {
    tensorboard->add_scalar("train/loss", loss, step);
    tensorboard->add_scalar("train/lr", optimizer->lr(), step);
    tensorboard->add_scalar("train/grad_norm", gradient_norm, step);
    if (const std::optional<double> keep_rate = observed_keep_rate(*model))
      tensorboard->add_scalar("train/dropout_keep_rate", *keep_rate, step);
  };

  EvalResult result;
  for (int64_t epoch = start_epoch; epoch <= o.epochs; ++epoch) {
    const auto start = std::chrono::steady_clock::now();
    model->train();
    const Generator shuffle_at_start = shuffle_gen;
    loader.start_epoch();
    const int64_t first_batch = epoch == start_epoch ? start_batch : 0;
    double loss_sum = epoch == start_epoch ? start_loss_sum : 0;
    double grad_norm_of_logged_step = 0;
    ProgressBar bar(fmt::format("epoch {}/{}", epoch, o.epochs), batches);
    for (int64_t b = first_batch; b < batches; ++b) {
      const ProfileRange step_range("step", "train step");
      const bool recorded_step = o.log_every > 0 && (step + 1) % o.log_every == 0;
      const bool tensorboard_step = tensorboard && (o.log_every > 0 ? recorded_step : b + 1 == batches);
      if (tensorboard) set_observe_keep_rate(*model, tensorboard_step);
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
      if (tensorboard_step) grad_norm_of_logged_step = grad_norm(model->parameters());
      optimizer->step();
      for (const auto& r : regularizers) r->after_step(*model, optimizer->lr());
      ++step;
      const double loss_value = data_loss;
      loss_sum += loss_value;
      bar.update(b + 1, fmt::format("loss {:.4f}", loss_sum / static_cast<double>(b + 1)));
      if (recorded_step)
        metrics.write({{"epoch", epoch}, {"step", step}, {"loss", loss_value}, {"lr", optimizer->lr()}});
      if (tensorboard && recorded_step) {
        log_train_scalars(loss_value, grad_norm_of_logged_step);
        tensorboard->flush();
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
    if (tensorboard && o.log_every == 0) log_train_scalars(train_loss, grad_norm_of_logged_step);
    result = evaluate_classifier(*model, test.images, test.labels, 1000);
    fmt::print("epoch {:>3}/{}  train loss {:.4f}  test loss {:.4f}  test acc {:.4f}  {:.1f} s\n", epoch, o.epochs,
               train_loss, result.loss, result.accuracy, seconds);
    std::fflush(stdout);
    metrics.write({{"epoch", epoch},
                   {"step", step},
                   {"train_loss", train_loss},
                   {"test_loss", result.loss},
                   {"test_accuracy", result.accuracy},
                   {"lr", optimizer->lr()},
                   {"seconds", seconds}});
    if (tensorboard) {
      tensorboard->add_scalar("test/loss", result.loss, step);
      tensorboard->add_scalar("test/accuracy", result.accuracy, step);
      tensorboard->flush();
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

void add_train_options(CLI::App* cmd, TrainOptions* o, LmOptions* lm, MfOptions* mf, GraphOptions* graph) {
  cmd->add_option("model", o->model, "model to train: one of " + model_names() + ", gpt, lstm, mf, gcn, gat, sage, node-mlp")->capture_default_str();
  cmd->add_option("--epochs", o->epochs, "training epochs")->capture_default_str();
  cmd->add_option("--seed", o->seed, "seed of initialization, shuffling and dropout")->capture_default_str();
  cmd->add_option("--out", o->out,
                  "directory for model.safetensors, metrics.jsonl and checkpoint.safetensors (written every epoch)");
  cmd->add_option("--device", o->device, "auto (the GPU when one is present, else the CPU), cpu, cuda, or cuda-emu (the CUDA kernels in the SIMT emulator)")
      ->capture_default_str();
  cmd->add_option("--precision", o->precision, kPrecisionHelp)->capture_default_str();
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
  cmd->add_option("--embedding-dropout", o->embedding_dropout,
                  "gpt, lstm and mf: drop whole rows of the embedding tables (the language models' token tables, "
                  "mf's factor tables)")
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
  cmd->add_option("--tensorboard", o->tensorboard,
                  "also write the metrics (and the gradient norm and dropout keep rate) to a TensorBoard event file "
                  "in DIR, at the steps metrics.jsonl records (per epoch without --log-every)");
  add_lm_options(*cmd, *lm);
  add_mf_options(*cmd, *mf);
  add_graph_options(*cmd, *graph);
}

void run_train_command(const TrainOptions& o, const LmOptions& lm, const MfOptions& mf, const GraphOptions& graph,
                       const CLI::App& cmd) {
  if (is_language_model(o.model)) return run_train_lm(o, lm, cmd);
  if (is_recommender(o.model)) return run_train_mf(o, mf, cmd);
  if (is_graph_model(o.model)) return run_train_graph(o, graph, cmd);
  run_train(o, cmd);
}

void add_train_command(CLI::App& app) {
  auto o = std::make_shared<TrainOptions>();
  auto lm = std::make_shared<LmOptions>();
  auto mf = std::make_shared<MfOptions>();
  auto graph = std::make_shared<GraphOptions>();
  CLI::App* cmd = app.add_subcommand(
      "train", "Train a model on Fashion-MNIST, gpt or lstm on the fortunes corpus, or mf on synthetic ratings");
  add_train_options(cmd, o.get(), lm.get(), mf.get(), graph.get());
  cmd->callback([o, lm, mf, graph, cmd] {
    MINIDL_CHECK(is_language_model(o->model) ||
                     !lm_options_given(*cmd, is_graph_model(o->model) ? lm_options_of_graph_models()
                                                                       : std::vector<std::string>{}),
                 "the language-model options (--steps, --context, ...) apply to gpt and lstm, not {}", o->model);
    MINIDL_CHECK(is_recommender(o->model) || !mf_options_given(*cmd),
                 "the recommender options (--users, --items, --rank, ...) apply to mf, not {}", o->model);
    MINIDL_CHECK(is_language_model(o->model) || is_recommender(o->model) || cmd->count("--embedding-dropout") == 0,
                 "--embedding-dropout applies to gpt, lstm and mf, not {}", o->model);
    MINIDL_CHECK(is_graph_model(o->model) || !graph_options_given(*cmd),
                 "the graph options (--graph, --hidden, --drop-edge, --drop-node) apply to gcn, gat, sage and "
                 "node-mlp, not {}",
                 o->model);
    run_train_command(*o, *lm, *mf, *graph, *cmd);
  });
}

}  // namespace minidl::cli
