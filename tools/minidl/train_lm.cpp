#include "tools/minidl/train_lm.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cmath>
#include <filesystem>
#include <string>
#include <vector>

#include "framework/autograd/grad_mode.h"
#include "framework/core/profiler.h"
#include "framework/io/fashion_mnist.h"
#include "framework/io/text_corpus.h"
#include "framework/ops/ops.h"
#include "framework/regularize/dropout_layers.h"
#include "models/classifier.h"
#include "models/gpt.h"
#include "models/lstm_lm.h"
#include "tools/minidl/progress.h"

namespace minidl::cli {

namespace {

const char* const kLmOptionNames[] = {"--steps",          "--context",           "--layers",       "--heads",
                                      "--width",          "--attention-dropout", "--attention",    "--layerdrop",
                                      "--embedding-size", "--tie-weights",       "--input-dropout", "--recurrent-dropout",
                                      "--zoneout",        "--eval-every",        "--eval-windows"};
// Of those, the ones only one of the language models takes.
const char* const kGptOnlyOptions[] = {"--heads", "--attention-dropout", "--attention", "--layerdrop"};
const char* const kLstmOnlyOptions[] = {"--embedding-size", "--tie-weights", "--input-dropout", "--recurrent-dropout",
                                        "--zoneout"};

void validate_lm(const TrainOptions& o, const LmOptions& lm, const CLI::App& cmd) {
  for (auto [flag, v] : {std::pair{"--steps", lm.steps}, std::pair{"--context", lm.context},
                         std::pair{"--eval-every", lm.eval_every}, std::pair{"--eval-windows", lm.eval_windows}})
    MINIDL_CHECK(v > 0, "{} {} must be positive", flag, v);
  MINIDL_CHECK(lm.attention == "fused" || lm.attention == "reference",
               "unknown --attention '{}': expected fused or reference", lm.attention);
  MINIDL_CHECK(parse_dropout_spec(o.dropout).name == "dropout",
               "--dropout {}: the language models take one rate, --dropout P (gpt's residual dropout, lstm's output "
               "dropout)",
               o.dropout);
  const auto reject = [&](const auto& names, const char* owner) {
    for (const char* name : names) MINIDL_CHECK(cmd.count(name) == 0, "{} applies to {}, not {}", name, owner, o.model);
  };
  if (o.model == "gpt") {
    reject(kLstmOnlyOptions, "lstm");
  } else {
    reject(kGptOnlyOptions, "gpt");
  }
  MINIDL_CHECK(o.regs.empty() && o.stochastic_depth == 0 && !o.augment && o.resume.empty() && o.limit_train == 0 &&
                   o.limit_test == 0 && o.checkpoint_every == 0 && o.stop_after_steps == 0,
               "minidl train {}: --reg, --stochastic-depth, --augment, --resume, --limit-*, --checkpoint-every and "
               "--stop-after-steps apply to the image classifiers",
               o.model);
  validate_optimization(o);
}

GptConfig gpt_config(const TrainOptions& o, const LmOptions& lm, int64_t vocab) {
  GptConfig c;
  c.vocab = vocab;
  c.context = lm.context;
  c.layers = lm.layers;
  c.heads = lm.heads;
  c.width = lm.width;
  c.dropout = parse_dropout_spec(o.dropout).p;
  c.attention_dropout = lm.attention_dropout;
  c.embedding_dropout = o.embedding_dropout;
  c.layerdrop = lm.layerdrop;
  c.fused_attention = lm.attention == "fused";
  c.validate();
  return c;
}

LstmLmConfig lstm_config(const TrainOptions& o, const LmOptions& lm, int64_t vocab) {
  LstmLmConfig c;
  c.vocab = vocab;
  c.context = lm.context;
  c.layers = lm.layers;
  c.width = lm.width;
  c.embedding = lm.embedding_size > 0 ? lm.embedding_size : lm.width;
  c.tied = lm.tie_weights;
  c.embedding_dropout = o.embedding_dropout;
  c.regularization = {lm.input_dropout, lm.recurrent_dropout, parse_dropout_spec(o.dropout).p, lm.zoneout};
  c.validate();
  return c;
}

// The run's model, and its shape and dropout rates as the log's first line gives them.
struct LmModel {
  std::unique_ptr<LanguageModel> model;
  std::string summary;
};

LmModel build_model(const TrainOptions& o, const LmOptions& lm, int64_t vocab, Generator& init_gen,
                    Generator& dropout_gen) {
  if (o.model == "gpt") {
    const GptConfig c = gpt_config(o, lm, vocab);
    return {std::make_unique<Gpt>(c, init_gen, dropout_gen),
            fmt::format("{} layers, {} heads, width {}, dropout {}, attention dropout {}, {} attention", c.layers,
                        c.heads, c.width, c.dropout, c.attention_dropout, lm.attention)};
  }
  const LstmLmConfig c = lstm_config(o, lm, vocab);
  const LstmRegularization& r = c.regularization;
  return {std::make_unique<LstmLm>(c, init_gen, dropout_gen),
          fmt::format("{} layers, width {}, embedding {}{}, dropout: embedding {}, input {}, recurrent {}, output {}, "
                      "zoneout {}",
                      c.layers, c.width, c.embedding, c.tied ? " (tied)" : "", c.embedding_dropout, r.input_dropout,
                      r.recurrent_dropout, r.output_dropout, r.zoneout)};
}

// Mean cross-entropy (nats per character) over the first `windows` non-overlapping windows of
// the text, in eval mode: the same characters every time, so evaluations compare.
double validation_loss(LanguageModel& model, const Tensor& ids, int64_t windows, int64_t batch, Device device) {
  const int64_t context = model.context();
  windows = std::min(windows, (ids.numel() - 1) / context);
  MINIDL_CHECK(windows > 0, "the validation text ({} characters) is shorter than one context of {}", ids.numel(),
               context);
  NoGradGuard no_grad;
  model.eval();
  double total = 0;
  for (int64_t first = 0; first < windows; first += batch) {
    const int64_t count = std::min(batch, windows - first);
    const Tensor inputs = reshape(slice(ids, 0, first * context, (first + count) * context), {count, context});
    const Tensor targets = reshape(slice(ids, 0, first * context + 1, (first + count) * context + 1), {count * context});
    const Tensor logits = reshape(model(to_device(contiguous(inputs), device)), {count * context, -1});
    total += cross_entropy(logits, to_device(contiguous(targets), device)).item() * static_cast<double>(count);
  }
  model.train();
  return total / static_cast<double>(windows);
}

}  // namespace

void add_lm_options(CLI::App& cmd, LmOptions& lm) {
  const std::string group = "Language models (gpt, lstm)";
  cmd.add_option("--steps", lm.steps, "optimizer steps")->capture_default_str()->group(group);
  cmd.add_option("--context", lm.context, "characters per sequence")->capture_default_str()->group(group);
  cmd.add_option("--layers", lm.layers, "Transformer blocks (gpt), LSTM layers (lstm)")
      ->capture_default_str()
      ->group(group);
  cmd.add_option("--heads", lm.heads, "gpt: attention heads")->capture_default_str()->group(group);
  cmd.add_option("--width", lm.width, "model width (gpt), LSTM hidden size (lstm)")
      ->capture_default_str()
      ->group(group);
  cmd.add_option("--attention-dropout", lm.attention_dropout, "gpt: dropout on the attention probabilities")
      ->capture_default_str()
      ->group(group);
  cmd.add_option("--attention", lm.attention,
                 "gpt: reference (matmul, softmax_dropout, matmul) or fused (flash_attention: the scores never "
                 "stored); the same dropout masks")
      ->capture_default_str()
      ->group(group);
  cmd.add_option("--layerdrop", lm.layerdrop, "gpt: probability of skipping a block in training")
      ->capture_default_str()
      ->group(group);
  cmd.add_option("--embedding-size", lm.embedding_size, "lstm: embedding width (0: the --width)")
      ->capture_default_str()
      ->group(group);
  cmd.add_flag("--tie-weights", lm.tie_weights, "lstm: the decoder uses the embedding table (needs equal widths)")
      ->group(group);
  cmd.add_option("--input-dropout", lm.input_dropout,
                 "lstm: variational dropout on each layer's input, one mask per sequence")
      ->capture_default_str()
      ->group(group);
  cmd.add_option("--recurrent-dropout", lm.recurrent_dropout,
                 "lstm: variational dropout on the state h fed back to each layer, one mask per sequence")
      ->capture_default_str()
      ->group(group);
  cmd.add_option("--zoneout", lm.zoneout, "lstm: each unit of h and c keeps its previous value with this probability")
      ->capture_default_str()
      ->group(group);
  cmd.add_option("--eval-every", lm.eval_every, "validation loss every N steps")->capture_default_str()->group(group);
  cmd.add_option("--eval-windows", lm.eval_windows, "validation windows of --context characters")
      ->capture_default_str()
      ->group(group);
}

bool lm_options_given(const CLI::App& cmd, const std::vector<std::string>& allowed) {
  for (const char* name : kLmOptionNames)
    if (cmd.count(name) > 0 && std::find(allowed.begin(), allowed.end(), name) == allowed.end()) return true;
  return false;
}

bool is_language_model(const std::string& model) { return model == "gpt" || model == "lstm"; }

void run_train_lm(TrainOptions o, const LmOptions& lm, const CLI::App& cmd) {
  if (cmd.count("--batch-size") == 0) o.batch_size = kDefaultLmBatch;
  validate_lm(o, lm, cmd);
  const Device device = Device::parse(o.device);
  const CharCorpus corpus = load_fortunes(o.data_dir == kDefaultFashionMnistDir ? kDefaultFortunesDir : o.data_dir);
  const int64_t vocab = static_cast<int64_t>(corpus.vocab.size());
  Generator init_gen(o.seed, 0), batch_gen(o.seed, 1), dropout_gen(o.seed, 2);
  const LmModel built = build_model(o, lm, vocab, init_gen, dropout_gen);
  const AutocastGuard autocast(autocast_dtype_of(o));
  LanguageModel& model = *built.model;
  model.to(device);
  auto optimizer = make_optimizer(o, model.parameters());
  const std::shared_ptr<const LrSchedule> schedule = make_schedule(o, lm.steps, lm.eval_every);
  int64_t parameters = 0;
  for (const Tensor& p : model.parameters()) parameters += p.numel();
  const double unigram = unigram_cross_entropy(corpus);
  fmt::print("training {} on fortunes ({} train, {} validation characters, vocabulary {}) on {}: {} steps, batch {}, "
             "context {}, {} ({} parameters), {} precision, {} lr {} ({} schedule), seed {}\n",
             o.model, corpus.train.numel(), corpus.validation.numel(), vocab, device.str(), lm.steps, o.batch_size,
             lm.context, built.summary, parameters, o.precision, o.optimizer, o.lr, o.schedule, o.seed);
  fmt::print("unigram baseline: {:.4f} nats per character on the validation text\n", unigram);

  MetricsLog metrics(o.out);
  double val_loss = 0, loss_sum = 0, train_seconds = 0;
  int64_t since_eval = 0;
  ProgressBar bar("steps", lm.steps);
  for (int64_t step = 1; step <= lm.steps; ++step) {
    double loss_value = 0;
    {  // the step's range and time leave out the evaluation below
      const ProfileRange step_range("step", "train step");
      const auto start = std::chrono::steady_clock::now();
      const TextBatch batch = sample_windows(corpus.train, o.batch_size, lm.context, batch_gen);
      optimizer->set_lr(schedule->lr_at(step - 1));
      loss_value = lm_train_step(model, batch, *optimizer, 1.0);
      train_seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    }
    loss_sum += loss_value;
    ++since_eval;
    bar.update(step, fmt::format("loss {:.4f}", loss_value));
    if (o.log_every > 0 && step % o.log_every == 0)
      metrics.write({{"step", step}, {"loss", loss_value}, {"lr", optimizer->lr()}});
    if (step % lm.eval_every == 0 || step == lm.steps) {
      val_loss = validation_loss(model, corpus.validation, lm.eval_windows, o.batch_size, device);
      const double chars_per_s = static_cast<double>(step * o.batch_size * lm.context) / train_seconds;
      bar.finish();
      fmt::print("step {:>6}/{}  train loss {:.4f}  validation loss {:.4f}  ({:.0f} characters/s)\n", step, lm.steps,
                 loss_sum / static_cast<double>(since_eval), val_loss, chars_per_s);
      std::fflush(stdout);  // progress reaches a log file as it happens
      metrics.write({{"step", step}, {"validation_loss", val_loss}, {"characters_per_s", chars_per_s}});
      loss_sum = 0;
      since_eval = 0;
    }
  }
  fmt::print("validation loss {:.4f} nats per character (unigram baseline {:.4f})\n", val_loss, unigram);
  if (!o.out.empty()) {
    const std::string path = (std::filesystem::path(o.out) / "model.safetensors").string();
    save_model_file(path, model,
                    {{"format_version", 1}, {"model", model.model_name()}, {"config", model.config_json()},
                     {"vocab", corpus.vocab}, {"seed", o.seed}, {"steps", lm.steps}, {"precision", o.precision},
                     {"validation_loss", val_loss}, {"unigram_baseline", unigram}});
    fmt::print("wrote {} and {}/metrics.jsonl\n", path, o.out);
  }
}

}  // namespace minidl::cli
