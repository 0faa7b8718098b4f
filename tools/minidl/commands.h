// The minidl subcommands. Each registers its options on the app and runs when chosen.
#pragma once

#include <CLI/CLI.hpp>

namespace minidl::cli {

void add_train_command(CLI::App& app);
void add_eval_command(CLI::App& app);
void add_rng_command(CLI::App& app);
void add_bench_command(CLI::App& app);
void add_sample_command(CLI::App& app);
void add_profile_command(CLI::App& app);
void add_lab_command(CLI::App& app);

}  // namespace minidl::cli
