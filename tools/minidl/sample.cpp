// `minidl sample --checkpoint F`: text from a language model trained by `minidl train gpt|lstm --out DIR`.
#include <fmt/format.h>

#include <memory>
#include <string>

#include "framework/core/device.h"
#include "framework/io/text_corpus.h"
#include "framework/ops/autocast.h"
#include "framework/ops/backend.h"
#include "models/language_model.h"
#include "tools/minidl/commands.h"
#include "tools/minidl/train_options.h"

namespace minidl::cli {

namespace {

struct SampleOptions {
  std::string checkpoint;
  std::string prompt = "\\n";
  int64_t length = 400;
  double temperature = 0.8;
  int64_t top_k = 0;
  uint64_t seed = 0;
  std::string device = "auto";
  std::string precision = "f32";
};

// "\\n" in the prompt means a newline, so a prompt can start a fresh fortune.
std::string unescape(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 1 < s.size() && s[i + 1] == 'n') {
      out.push_back('\n');
      ++i;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

void run_sample(const SampleOptions& o) {
  const Device device = Device::parse(o.device);
  backend_for(device);
  const AutocastGuard autocast(checked_autocast_dtype(o.precision, device, o.device));
  Generator dropout_gen(o.seed, 2), sample_gen(o.seed, 5);
  LoadedLanguageModel loaded = load_language_model_file(o.checkpoint, dropout_gen);
  loaded.model->to(device);
  const std::string prompt = unescape(o.prompt);
  const std::vector<int64_t> ids = encode(prompt, loaded.vocab).to_vector<int64_t>();
  const std::vector<int64_t> generated = generate(*loaded.model, ids, o.length, o.temperature, o.top_k, sample_gen);
  fmt::print("{}{}\n", prompt, decode(generated, loaded.vocab));
}

}  // namespace

void add_sample_command(CLI::App& app) {
  auto o = std::make_shared<SampleOptions>();
  CLI::App* cmd =
      app.add_subcommand("sample", "Generate text with a language model trained by minidl train gpt or lstm");
  cmd->add_option("--checkpoint", o->checkpoint, "model.safetensors written by minidl train gpt|lstm --out")
      ->required();
  cmd->add_option("--prompt", o->prompt, "text to continue (\\n for a newline)")->capture_default_str();
  cmd->add_option("--length", o->length, "characters to generate")->capture_default_str();
  cmd->add_option("--temperature", o->temperature, "softmax temperature (> 0)")->capture_default_str();
  cmd->add_option("--top-k", o->top_k, "sample among the k most likely characters (0: all)")->capture_default_str();
  cmd->add_option("--seed", o->seed, "seed of the sampling draws")->capture_default_str();
  cmd->add_option("--device", o->device, "auto (the GPU if present), cpu, cuda or cuda-emu")->capture_default_str();
  cmd->add_option("--precision", o->precision, kPrecisionHelp)->capture_default_str();
  cmd->callback([o] { run_sample(*o); });
}

}  // namespace minidl::cli
