// Node classifiers on a graph: two or more graph convolutions (GCN, GAT or GraphSAGE) with ReLU
// between them, or, as the baseline that ignores the edges, an MLP on the node features alone
// (node-mlp). Dropout sites: DropNode on the input features (whole rows), feature dropout before
// every layer, DropEdge on each layer's edge weights, and for GAT attention dropout on the
// attention weights.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "framework/nn/graph_layers.h"
#include "framework/nn/module.h"
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

}  // namespace minidl
