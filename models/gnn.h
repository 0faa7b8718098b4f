// Node classifiers on a graph: two or more graph convolutions (GCN, GAT or GraphSAGE) with ReLU
// between them, or, as the baseline that ignores the edges, an MLP on the node features alone
// (node-mlp). Dropout sites: DropNode on the input features (whole rows), feature dropout before
// every layer, DropEdge on each layer's edge weights, and for GAT attention dropout on the
// attention weights.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "framework/io/graph_data.h"
#include "framework/nn/graph_layers.h"
#include "framework/nn/module.h"
#include "framework/optim/optimizer.h"
#include "framework/optim/schedule.h"
#include "framework/random/generator.h"

namespace minidl {

struct GnnConfig {
  std::string kind = "gcn";  // gcn, gat, sage or node-mlp
  int64_t in_features = 0, classes = 0;  // set from the graph
  int64_t layers = 2, hidden = 16;
  int64_t heads = 8;  // gat: heads of the hidden layers (hidden features per head); the output layer has one
  double dropout = 0.5;            // on each layer's input features
  double drop_node = 0.0;          // whole rows of the input features
  double drop_edge = 0.0;          // each layer's edge weights
  double attention_dropout = 0.6;  // gat: on the attention weights
  nlohmann::json to_json() const;
  static GnnConfig from_json(const nlohmann::json& j);  // missing fields keep their defaults
  void validate() const;
};

// The kinds GnnConfig takes, for help and errors: "gcn, gat, sage, node-mlp".
const std::vector<std::string>& gnn_kinds();
bool is_gnn_kind(const std::string& name);

class Gnn : public Module {
 public:
  // Weights from init_gen; every dropout draw from dropout_gen (which must outlive it).
  Gnn(const GnnConfig& config, Generator& init_gen, Generator& dropout_gen);
  // Node features [nodes, in_features] -> logits [nodes, classes].
  Tensor forward(const Tensor& x, const GraphEdges& edges);
  Tensor forward(const Tensor& x) override;  // an error: the model needs the graph
  const GnnConfig& config() const { return config_; }

 private:
  GnnConfig config_;
  Generator& dropout_gen_;
  std::vector<std::shared_ptr<GraphLayer>> convs_;
  std::vector<std::shared_ptr<Module>> linears_;  // node-mlp
};

// A graph ready to train a Gnn on a device: its edges and features there, the training nodes'
// rows and targets, and the labels and splits on the host for the accuracies.
struct GnnGraph {
  GraphEdges edges;
  Tensor features;
  IndexGroups train_rows;
  Tensor train_targets;
  std::vector<int64_t> labels, train_nodes, val_nodes, test_nodes;
};
GnnGraph prepare_gnn_graph(const GraphData& data, Device device);

// Accuracy of the argmax prediction on each split (0 for an empty split).
struct NodeAccuracy {
  double train = 0, val = 0, test = 0;
};
struct GnnEpoch {
  int64_t epoch = 0;  // from 1
  double loss = 0;    // the training cross-entropy of the epoch's step (dropout on)
  NodeAccuracy accuracy;
};
struct GnnFit {
  NodeAccuracy last;                       // after the last epoch
  double best_val = -1, test_at_best = 0;  // at the first epoch of best validation accuracy
  int64_t best_epoch = 0;
};
// Full-batch training: each epoch one optimizer step on the training nodes' mean cross-entropy,
// with the rate schedule.lr_at(epoch - 1), then the accuracies in eval mode without gradients,
// passed to on_epoch when given. test_at_best is the test accuracy at the first epoch of best
// validation accuracy; without validation nodes, the last epoch's.
GnnFit fit_gnn(Gnn& model, const GnnGraph& graph, Optimizer& optimizer, const LrSchedule& schedule, int64_t epochs,
               const std::function<void(const GnnEpoch&)>& on_epoch = nullptr);

}  // namespace minidl
