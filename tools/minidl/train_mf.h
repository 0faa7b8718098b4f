// `minidl train mf`: a matrix-factorization recommender on synthetic ratings (framework/io/ratings.h).
// The shared options (seed, device, out, epochs, batch, optimizer, lr, weight decay, schedule,
// embedding dropout, log-every) come from TrainOptions; the data's and the model's shape from
// MfOptions.
#pragma once

#include <cstdint>
#include <string>

#include <CLI/CLI.hpp>

#include "tools/minidl/train_options.h"

namespace minidl::cli {

struct MfOptions {
  int64_t users = 1000, items = 1000;
  int64_t rank = 32;       // the model's factors per user and per item
  int64_t true_rank = 4;   // the rank of the generated matrix
  double density = 0.05;   // the fraction of entries observed
  double noise = 0.5;      // sigma of the noise on each rating
  uint64_t data_seed = 0;  // the generated data's seed, apart from --seed (initialization, order, dropout)
};

// Registers the recommender's options on the train command, in their own group.
void add_mf_options(CLI::App& cmd, MfOptions& mf);
// True when a recommender option was given on the command line (an error for the other models).
bool mf_options_given(const CLI::App& cmd);
bool is_recommender(const std::string& model);
// Trains mf. The learning rate, batch size and epoch count have their own defaults unless given.
void run_train_mf(TrainOptions o, const MfOptions& mf, const CLI::App& cmd);

}  // namespace minidl::cli
