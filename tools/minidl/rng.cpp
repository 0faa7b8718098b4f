// `minidl rng`: the reference tool for Philox words and dropout masks of the reproducibility
// contract. Word i is curand_init(seed, stream, offset + i) followed by curand().
#include <fmt/format.h>

#include <vector>

#include "framework/core/check.h"
#include "kernels/common/philox.h"
#include "kernels/cpu/dropout.h"
#include "tools/minidl/commands.h"

namespace minidl::cli {

namespace {

struct RngOptions {
  uint64_t seed = 0, offset = 0, stream = 0;
  int64_t count = 8;
  double dropout = -1;  // unset: print words
};

void run_rng(const RngOptions& o, bool mask) {
  MINIDL_CHECK(o.count >= 0, "--count {} must be >= 0", o.count);
  const PhiloxState state{o.seed, o.stream, o.offset};
  std::string out;
  if (mask) {
    MINIDL_CHECK(o.dropout >= 0.0 && o.dropout <= 1.0, "--dropout {} is outside [0, 1]", o.dropout);
    std::vector<uint8_t> keep(static_cast<size_t>(o.count));
    cpu::dropout_mask(0, o.count, state, dropout_threshold(o.dropout), keep.data());
    for (uint8_t k : keep) out += k ? "1\n" : "0\n";
  } else {
    std::vector<uint32_t> words(static_cast<size_t>(o.count));
    cpu::philox_words(0, o.count, state, words.data());
    for (uint32_t w : words) out += fmt::format("{}\n", w);
  }
  fmt::print("{}", out);
}

}  // namespace

void add_rng_command(CLI::App& app) {
  auto options = std::make_shared<RngOptions>();
  CLI::App* cmd = app.add_subcommand("rng", "Print Philox words (or a dropout keep mask) of the reproducibility contract");
  cmd->add_option("--seed", options->seed, "Philox key")->capture_default_str();
  cmd->add_option("--offset", options->offset, "index of the first word in the stream")->capture_default_str();
  cmd->add_option("--stream", options->stream, "subsequence (cuRAND's subsequence argument)")->capture_default_str();
  cmd->add_option("--count", options->count, "number of words")->capture_default_str();
  CLI::Option* dropout = cmd->add_option("--dropout", options->dropout, "print the keep mask (0/1) for drop probability P");
  cmd->callback([options, dropout] { run_rng(*options, dropout->count() > 0); });
}

}  // namespace minidl::cli
