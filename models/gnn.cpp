#include "models/gnn.h"

#include <algorithm>
#include <cmath>

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

}  // namespace minidl
