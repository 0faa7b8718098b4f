#include "models/gnn.h"

#include <algorithm>
#include <cmath>

#include "framework/autograd/grad_mode.h"
#include "framework/core/profiler.h"
#include "framework/nn/layers.h"
#include "framework/ops/ops.h"
#include "framework/regularize/dropout.h"

namespace minidl {

const std::vector<std::string>& gnn_kinds() {
  static const std::vector<std::string> kinds = {"gcn", "gat", "sage", "node-mlp"};
  return kinds;
}

bool is_gnn_kind(const std::string& name) {
  const auto& kinds = gnn_kinds();
  return std::find(kinds.begin(), kinds.end(), name) != kinds.end();
}

nlohmann::json GnnConfig::to_json() const {
  return {{"kind", kind},       {"in_features", in_features}, {"classes", classes},
          {"layers", layers},   {"hidden", hidden},           {"heads", heads},
          {"dropout", dropout}, {"drop_node", drop_node},     {"drop_edge", drop_edge},
          {"attention_dropout", attention_dropout}};
}

GnnConfig GnnConfig::from_json(const nlohmann::json& j) {
  GnnConfig c;
  c.kind = j.value("kind", c.kind);
  c.in_features = j.value("in_features", c.in_features);
  c.classes = j.value("classes", c.classes);
  c.layers = j.value("layers", c.layers);
  c.hidden = j.value("hidden", c.hidden);
  c.heads = j.value("heads", c.heads);
  c.dropout = j.value("dropout", c.dropout);
  c.drop_node = j.value("drop_node", c.drop_node);
  c.drop_edge = j.value("drop_edge", c.drop_edge);
  c.attention_dropout = j.value("attention_dropout", c.attention_dropout);
  return c;
}

void GnnConfig::validate() const {
  MINIDL_CHECK(is_gnn_kind(kind), "unknown graph model '{}': expected one of gcn, gat, sage, node-mlp", kind);
  for (auto [name, v] : {std::pair{"in_features", in_features}, std::pair{"classes", classes},
                         std::pair{"hidden", hidden}, std::pair{"heads", heads}})
    MINIDL_CHECK(v > 0, "graph model: {} = {} must be positive", name, v);
  MINIDL_CHECK(layers >= 1, "graph model: layers = {} must be at least 1", layers);
  for (auto [name, p] : {std::pair{"dropout", dropout}, std::pair{"drop-node", drop_node},
                         std::pair{"drop-edge", drop_edge}, std::pair{"attention-dropout", attention_dropout}})
    MINIDL_CHECK(p >= 0 && p < 1, "graph model: {} = {} must be in [0, 1)", name, p);
}

Gnn::Gnn(const GnnConfig& config, Generator& init_gen, Generator& dropout_gen)
    : config_(config), dropout_gen_(dropout_gen) {
  config_.validate();
  const GnnConfig& c = config_;
  for (int64_t l = 0; l < c.layers; ++l) {
    const bool last = l + 1 == c.layers;
    // A GAT's hidden layers concatenate their heads: the next layer sees heads * hidden features.
    const int64_t in = l == 0 ? c.in_features : (c.kind == "gat" ? c.heads * c.hidden : c.hidden);
    const int64_t out = last ? c.classes : c.hidden;
    const std::string name = "layers." + std::to_string(l);
    if (c.kind == "node-mlp") {
      linears_.push_back(register_module(name, std::make_shared<Linear>(in, out, true, init_gen)));
    } else if (c.kind == "gcn") {
      convs_.push_back(register_module(name, std::make_shared<GcnConv>(in, out, c.drop_edge, init_gen, dropout_gen)));
    } else if (c.kind == "sage") {
      convs_.push_back(register_module(name, std::make_shared<SageConv>(in, out, c.drop_edge, init_gen, dropout_gen)));
    } else {
      convs_.push_back(register_module(
          name, std::make_shared<GatConv>(in, out, last ? 1 : c.heads, !last, c.attention_dropout, c.drop_edge,
                                          init_gen, dropout_gen)));
    }
  }
}

Tensor Gnn::forward(const Tensor& x, const GraphEdges& edges) {
  Tensor h = drop_node(x, config_.drop_node, is_training(), dropout_gen_);
  const size_t count = static_cast<size_t>(config_.layers);
  for (size_t l = 0; l < count; ++l) {
    h = dropout(h, config_.dropout, is_training(), dropout_gen_);
    h = convs_.empty() ? (*linears_[l])(h) : convs_[l]->forward(h, edges);
    if (l + 1 < count) h = relu(h);
  }
  return h;
}

Tensor Gnn::forward(const Tensor&) { MINIDL_FAIL("Gnn: the model needs the graph: call forward(x, edges)"); }

namespace {

Tensor node_index(const std::vector<int64_t>& nodes, Device device) {
  return to_device(Tensor::from_vector(nodes, {static_cast<int64_t>(nodes.size())}), device);
}

double accuracy(const std::vector<int64_t>& predicted, const std::vector<int64_t>& labels,
                const std::vector<int64_t>& nodes) {
  if (nodes.empty()) return 0;
  int64_t correct = 0;
  for (int64_t v : nodes) correct += predicted[static_cast<size_t>(v)] == labels[static_cast<size_t>(v)];
  return static_cast<double>(correct) / static_cast<double>(nodes.size());
}

NodeAccuracy evaluate_nodes(Gnn& model, const GnnGraph& graph) {
  NoGradGuard no_grad;
  model.eval();
  const std::vector<int64_t> predicted =
      to_device(argmax(model.forward(graph.features, graph.edges), 1), kCPU).to_vector<int64_t>();
  return {accuracy(predicted, graph.labels, graph.train_nodes), accuracy(predicted, graph.labels, graph.val_nodes),
          accuracy(predicted, graph.labels, graph.test_nodes)};
}

}  // namespace

GnnGraph prepare_gnn_graph(const GraphData& data, Device device) {
  GnnGraph g;
  g.edges = graph_edges(data.num_nodes, data.src, data.dst, device);
  g.features = to_device(data.features, device);
  g.train_rows = group_index(node_index(data.train_nodes, device), data.num_nodes);
  g.labels = data.labels.to_vector<int64_t>();
  std::vector<int64_t> targets;
  for (int64_t v : data.train_nodes) targets.push_back(g.labels[static_cast<size_t>(v)]);
  g.train_targets = node_index(targets, device);
  g.train_nodes = data.train_nodes;
  g.val_nodes = data.val_nodes;
  g.test_nodes = data.test_nodes;
  return g;
}

GnnFit fit_gnn(Gnn& model, const GnnGraph& graph, Optimizer& optimizer, const LrSchedule& schedule, int64_t epochs,
               const std::function<void(const GnnEpoch&)>& on_epoch) {
  GnnFit fit;
  for (int64_t epoch = 1; epoch <= epochs; ++epoch) {
    const ProfileRange step_range("step", "train step");
    model.train();
    optimizer.set_lr(schedule.lr_at(epoch - 1));
    optimizer.zero_grad();
    Tensor loss =
        cross_entropy(gather_rows(model.forward(graph.features, graph.edges), graph.train_rows), graph.train_targets);
    loss.backward();
    optimizer.step();
    fit.last = evaluate_nodes(model, graph);
    if (graph.val_nodes.empty() || fit.last.val > fit.best_val) {
      fit.best_val = fit.last.val;
      fit.test_at_best = fit.last.test;
      fit.best_epoch = epoch;
    }
    if (on_epoch) on_epoch({epoch, loss.item(), fit.last});
  }
  return fit;
}

}  // namespace minidl
