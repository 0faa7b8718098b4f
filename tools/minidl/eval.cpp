// `minidl eval --checkpoint FILE`: test accuracy of a saved model on Fashion-MNIST.
#include <fmt/format.h>

#include "framework/io/fashion_mnist.h"
#include "framework/ops/backend.h"
#include "models/classifier.h"
#include "tools/minidl/commands.h"

namespace minidl::cli {

namespace {

struct EvalOptions {
  std::string checkpoint;
  std::string data_dir = kDefaultFashionMnistDir;
  std::string device = "cpu";
  int64_t batch_size = 1000;
};

void run_eval(const EvalOptions& o) {
  MINIDL_CHECK(o.batch_size > 0, "--batch-size {} must be positive", o.batch_size);
  const Device device = Device::parse(o.device);
  backend_for(device);  // fails now, with the reason, when the device is not available
  const LoadedModel loaded = load_model_file(o.checkpoint);
  loaded.model->to(device);
  const Dataset test = load_fashion_mnist(o.data_dir, false);
  const EvalResult r = evaluate_classifier(*loaded.model, test.images, test.labels, o.batch_size);
  fmt::print("{}: {} on {} test images\n", o.checkpoint, loaded.info.value("model", "?"), test.images.size(0));
  fmt::print("test loss {:.4f}\n", r.loss);
  fmt::print("test accuracy {:.4f}\n", r.accuracy);
}

}  // namespace

void add_eval_command(CLI::App& app) {
  auto o = std::make_shared<EvalOptions>();
  CLI::App* cmd = app.add_subcommand("eval", "Evaluate a saved model on the Fashion-MNIST test set");
  cmd->add_option("--checkpoint", o->checkpoint, "model.safetensors written by minidl train --out")->required();
  cmd->add_option("--data-dir", o->data_dir, "directory of the Fashion-MNIST .gz files")->capture_default_str();
  cmd->add_option("--device", o->device, "cpu, cuda or cuda-emu")->capture_default_str();
  cmd->add_option("--batch-size", o->batch_size, "evaluation batch size")->capture_default_str();
  cmd->callback([o] { run_eval(*o); });
}

}  // namespace minidl::cli
