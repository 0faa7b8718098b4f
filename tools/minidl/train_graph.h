// `minidl train gcn|gat|sage|node-mlp`: full-batch node classification on a graph
// (framework/io/graph_data.h: karate, csbm:..., files:...). The shared options (seed, device, out,
// epochs, optimizer, lr, weight decay, schedule, dropout, log-every) come from TrainOptions, with
// the graph models' own defaults unless given (200 epochs, adam, lr 0.01, weight decay 5e-4, a
// constant rate, dropout 0.5); --layers, --heads and --attention-dropout are shared with the
// language models; the graph and the rest of the model from GraphOptions.
#pragma once

#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "tools/minidl/train_options.h"

namespace minidl::cli {

struct GraphOptions {
  std::string graph = "csbm";
  int64_t hidden = 16;  // hidden features (per head for gat)
  double drop_edge = 0, drop_node = 0;
};

void add_graph_options(CLI::App& cmd, GraphOptions& g);
bool graph_options_given(const CLI::App& cmd);
bool is_graph_model(const std::string& model);
// The language-model options a graph model takes too: --layers, --heads, --attention-dropout.
const std::vector<std::string>& lm_options_of_graph_models();
void run_train_graph(TrainOptions o, const GraphOptions& g, const CLI::App& cmd);

}  // namespace minidl::cli
