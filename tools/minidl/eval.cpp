// `minidl eval --checkpoint FILE`: test accuracy of a saved model on Fashion-MNIST, or with
// --mc-samples T its MC-dropout accuracy, predictive entropy and variance.
#include <fmt/format.h>

#include "framework/io/fashion_mnist.h"
#include "framework/ops/autocast.h"
#include "framework/ops/backend.h"
#include "framework/ops/ops.h"
#include "framework/random/generator.h"
#include "models/classifier.h"
#include "tools/minidl/commands.h"
#include "tools/minidl/progress.h"
#include "tools/minidl/train_options.h"

namespace minidl::cli {

namespace {

struct EvalOptions {
  std::string checkpoint;
  std::string data_dir = kDefaultFashionMnistDir;
  std::string device = "auto";
  std::string precision = "f32";
  int64_t batch_size = 1000;
  int64_t mc_samples = 0;  // 0: deterministic evaluation
  int64_t limit_test = 0;  // 0: the whole test set
  uint64_t seed = 0;
};

void run_eval(const EvalOptions& o) {
  MINIDL_CHECK(o.batch_size > 0, "--batch-size {} must be positive", o.batch_size);
  MINIDL_CHECK(o.mc_samples >= 0, "--mc-samples {} must be >= 0", o.mc_samples);
  MINIDL_CHECK(o.limit_test >= 0, "--limit-test {} must be >= 0", o.limit_test);
  const Device device = Device::parse(o.device);
  backend_for(device);  // fails now, with the reason, when the device is not available
  const AutocastGuard autocast(checked_autocast_dtype(o.precision, device, o.device));
  const LoadedModel loaded = load_model_file(o.checkpoint);
  loaded.model->to(device);
  Dataset test = load_fashion_mnist(o.data_dir, false);
  if (o.limit_test > 0 && o.limit_test < test.images.size(0)) {
    test.images = slice(test.images, 0, 0, o.limit_test);
    test.labels = slice(test.labels, 0, 0, o.limit_test);
  }
  fmt::print("{}: {} on {} test images, {} precision\n", o.checkpoint, loaded.info.value("model", "?"),
             test.images.size(0), o.precision);
  if (o.mc_samples > 0) {
    manual_seed(o.seed);  // the dropout layers of a loaded model draw from the default generator
    ProgressBar bar(fmt::format("MC dropout x{}", o.mc_samples), test.images.size(0));
    const McDropoutResult r = evaluate_mc_dropout(*loaded.model, test.images, test.labels, o.batch_size, o.mc_samples,
                                                  [&](int64_t done, int64_t) { bar.update(done); });
    bar.finish();
    fmt::print("MC dropout, {} samples per image (seed {})\n", o.mc_samples, o.seed);
    fmt::print("test nll {:.4f}\n", r.nll);
    fmt::print("predictive entropy {:.4f} nats\n", r.predictive_entropy);
    fmt::print("predictive variance {:.6f}\n", r.predictive_variance);
    fmt::print("test accuracy {:.4f}\n", r.accuracy);
    return;
  }
  ProgressBar bar("evaluating", test.images.size(0));
  const EvalResult r = evaluate_classifier(*loaded.model, test.images, test.labels, o.batch_size,
                                           [&](int64_t done, int64_t) { bar.update(done); });
  bar.finish();
  fmt::print("test loss {:.4f}\n", r.loss);
  fmt::print("test accuracy {:.4f}\n", r.accuracy);
}

}  // namespace

void add_eval_command(CLI::App& app) {
  auto o = std::make_shared<EvalOptions>();
  CLI::App* cmd = app.add_subcommand("eval", "Evaluate a saved model on the Fashion-MNIST test set");
  cmd->add_option("--checkpoint", o->checkpoint, "model.safetensors written by minidl train --out")->required();
  cmd->add_option("--data-dir", o->data_dir, "directory of the Fashion-MNIST .gz files")->capture_default_str();
  cmd->add_option("--device", o->device, "auto (the GPU if present), cpu, cuda or cuda-emu")->capture_default_str();
  cmd->add_option("--precision", o->precision, kPrecisionHelp)->capture_default_str();
  cmd->add_option("--batch-size", o->batch_size, "evaluation batch size")->capture_default_str();
  cmd->add_option("--mc-samples", o->mc_samples,
                  "MC dropout: keep dropout active and average T samples per image (0: off)")
      ->capture_default_str();
  cmd->add_option("--seed", o->seed, "seed of the MC dropout masks")->capture_default_str();
  cmd->add_option("--limit-test", o->limit_test, "evaluate on the first N test images only (0: all)")
      ->capture_default_str();
  cmd->callback([o] { run_eval(*o); });
}

}  // namespace minidl::cli
