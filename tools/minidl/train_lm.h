// `minidl train gpt|lstm`: a character-level language model on the `fortunes` corpus, both models
// trained by one loop (models/language_model.h). The options the
// classifiers share (seed, device, out, optimizer, lr, weight decay, batch, schedule, warmup,
// dropout, log-every) come from TrainOptions; the model's shape and the step budget from
// LmOptions.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "tools/minidl/train_graph.h"
#include "tools/minidl/train_mf.h"
#include "tools/minidl/train_options.h"

namespace minidl::cli {

inline constexpr int64_t kDefaultLmBatch = 32;

struct LmOptions {
  int64_t steps = 2000;
  int64_t context = 128;
  int64_t layers = 4, heads = 4, width = 128;
  double attention_dropout = 0.1, layerdrop = 0.0;  // gpt
  std::string attention = "reference";              // gpt: reference (softmax_dropout) or fused (flash_attention)
  // lstm (--dropout is its output dropout)
  int64_t embedding_size = 0;  // 0: the width
  bool tie_weights = false;
  double input_dropout = 0.1, recurrent_dropout = 0.1, zoneout = 0.0;
  int64_t eval_every = 250;   // validation loss every this many steps, and at the end
  int64_t eval_windows = 256; // validation windows of `context` characters each
};

// Registers the language-model options on the train command, in their own group.
void add_lm_options(CLI::App& cmd, LmOptions& lm);
// True when an LM option not in `allowed` was given on the command line (an error for the image
// classifiers; the graph models take a few).
bool lm_options_given(const CLI::App& cmd, const std::vector<std::string>& allowed = {});
bool is_language_model(const std::string& model);
// The batch is 32 windows unless --batch-size is given (the classifiers' default, 128, makes
// steps four times longer).
void run_train_lm(TrainOptions o, const LmOptions& lm, const CLI::App& cmd);

// The options of `minidl train` (the classifiers', the language models' and the recommender's),
// shared by `profile`.
void add_train_options(CLI::App* cmd, TrainOptions* o, LmOptions* lm, MfOptions* mf, GraphOptions* graph);
// Runs `train` with parsed options: the language-model trainer for gpt and lstm, the recommender's for mf,
// else the classifiers'.
void run_train_command(const TrainOptions& o, const LmOptions& lm, const MfOptions& mf, const GraphOptions& graph,
                       const CLI::App& cmd);

}  // namespace minidl::cli
