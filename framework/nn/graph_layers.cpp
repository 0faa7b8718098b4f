#include "framework/nn/graph_layers.h"

#include <cmath>

#include "framework/nn/init.h"
#include "framework/regularize/dropout.h"

namespace minidl {

namespace {

Tensor glorot(int64_t fan_in, int64_t fan_out, const Shape& shape, Generator& gen, DType dtype) {
  const double bound = std::sqrt(6.0 / static_cast<double>(fan_in + fan_out));
  return uniform(shape, -bound, bound, gen, dtype);
}

void check_features(const Tensor& x, int64_t in_features, const GraphEdges& edges, const char* layer) {
  MINIDL_CHECK(x.defined() && x.dim() == 2 && x.size(0) == edges.num_nodes && x.size(1) == in_features,
               "{}: expected node features [{}, {}] (nodes, in features), got {}", layer, edges.num_nodes,
               in_features, x.defined() ? x.describe() : "an undefined tensor");
}

Tensor column(const std::vector<double>& values, Device device, DType dtype) {
  return to_device(to_dtype(Tensor::from_vector(values, {static_cast<int64_t>(values.size()), 1}), dtype), device);
}

}  // namespace

GraphEdges graph_edges(int64_t num_nodes, const std::vector<int64_t>& src, const std::vector<int64_t>& dst,
                       Device device, DType dtype) {
  MINIDL_CHECK(num_nodes > 0, "graph_edges: num_nodes = {} must be positive", num_nodes);
  MINIDL_CHECK(src.size() == dst.size(), "graph_edges: {} sources but {} destinations", src.size(), dst.size());
  std::vector<double> in_degree(static_cast<size_t>(num_nodes), 0.0);
  for (size_t e = 0; e < src.size(); ++e) {
    for (int64_t id : {src[e], dst[e]})
      MINIDL_CHECK(id >= 0 && id < num_nodes, "graph_edges: edge {} has node id {}: expected 0 to {}", e, id,
                   num_nodes - 1);
    MINIDL_CHECK(src[e] != dst[e], "graph_edges: edge {} is a self loop on node {}: the layers add their own", e,
                 src[e]);
    in_degree[static_cast<size_t>(dst[e])] += 1;
  }
  std::vector<double> mean(src.size()), gcn(src.size()), gcn_self(in_degree.size());
  for (size_t e = 0; e < src.size(); ++e) {
    const double d_src = in_degree[static_cast<size_t>(src[e])] + 1, d_dst = in_degree[static_cast<size_t>(dst[e])] + 1;
    mean[e] = 1.0 / in_degree[static_cast<size_t>(dst[e])];
    gcn[e] = 1.0 / std::sqrt(d_src * d_dst);
  }
  for (size_t v = 0; v < in_degree.size(); ++v) gcn_self[v] = 1.0 / (in_degree[v] + 1);
  std::vector<int64_t> dst_and_self = dst;
  for (int64_t v = 0; v < num_nodes; ++v) dst_and_self.push_back(v);
  auto groups = [&](const std::vector<int64_t>& index) {
    return group_index(to_device(Tensor::from_vector(index, {static_cast<int64_t>(index.size())}), device), num_nodes,
                       "graph_edges");
  };
  return {num_nodes,           groups(src),
          groups(dst),         groups(dst_and_self),
          column(mean, device, dtype), column(gcn, device, dtype),
          column(gcn_self, device, dtype)};
}

Tensor GraphLayer::forward(const Tensor&) {
  MINIDL_FAIL("{}: a graph layer needs the graph: call forward(x, edges)", type_name());
}

Tensor propagate(const Tensor& x, const Tensor& weight, const GraphEdges& edges) {
  return scatter_add_rows(mul(gather_rows(x, edges.by_src), weight), edges.by_dst);
}

GraphLayer::GraphLayer(const char* name, int64_t in_features, int64_t out_features, double drop_edge,
                       Generator& drop_gen)
    : drop_edge_(drop_edge), gen_(&drop_gen) {
  MINIDL_CHECK(in_features > 0 && out_features > 0, "{}({}, {}): sizes must be positive", name, in_features,
               out_features);
}

Tensor GraphLayer::drop_edges(const Tensor& edge_weight) {
  return drop_edge(edge_weight, drop_edge_, is_training(), *gen_);
}

GcnConv::GcnConv(int64_t in_features, int64_t out_features, double drop_edge, Generator& init_gen,
                 Generator& drop_gen, DType dtype)
    : GraphLayer("GcnConv", in_features, out_features, drop_edge, drop_gen) {
  weight_ = register_parameter("weight", glorot(in_features, out_features, {in_features, out_features}, init_gen, dtype));
  bias_ = register_parameter("bias", Tensor::zeros({out_features}, dtype));
}

Tensor GcnConv::forward(const Tensor& x, const GraphEdges& edges) {
  check_features(x, weight_.size(0), edges, "GcnConv");
  const Tensor h = matmul(x, weight_);
  const Tensor neighbours = propagate(h, drop_edges(edges.gcn_weight), edges);
  return add(add(neighbours, mul(h, edges.gcn_self_weight)), bias_);
}

SageConv::SageConv(int64_t in_features, int64_t out_features, double drop_edge, Generator& init_gen,
                   Generator& drop_gen, DType dtype)
    : GraphLayer("SageConv", in_features, out_features, drop_edge, drop_gen) {
  const double bound = 1.0 / std::sqrt(static_cast<double>(in_features));
  self_weight_ =
      register_parameter("self_weight", uniform({out_features, in_features}, -bound, bound, init_gen, dtype));
  neighbour_weight_ =
      register_parameter("neighbour_weight", uniform({out_features, in_features}, -bound, bound, init_gen, dtype));
  bias_ = register_parameter("bias", uniform({out_features}, -bound, bound, init_gen, dtype));
}

Tensor SageConv::forward(const Tensor& x, const GraphEdges& edges) {
  check_features(x, self_weight_.size(1), edges, "SageConv");
  // Transform, then aggregate: the same sum, on rows of out features instead of in.
  const Tensor neighbours = propagate(matmul(x, transpose(neighbour_weight_, 0, 1)),
                                      drop_edges(edges.mean_weight), edges);
  return add(add(matmul(x, transpose(self_weight_, 0, 1)), bias_), neighbours);
}

GatConv::GatConv(int64_t in_features, int64_t out_features, int64_t heads, bool concat, double attention_dropout,
                 double drop_edge, Generator& init_gen, Generator& drop_gen, DType dtype)
    : GraphLayer("GatConv", in_features, out_features, drop_edge, drop_gen),
      heads_(heads),
      out_features_(out_features),
      concat_(concat),
      attention_dropout_(attention_dropout) {
  MINIDL_CHECK(heads > 0, "GatConv({}, {}): heads = {} must be positive", in_features, out_features, heads);
  MINIDL_CHECK(attention_dropout >= 0 && attention_dropout <= 1,
               "GatConv: attention dropout = {} is outside [0, 1]", attention_dropout);
  weight_ = register_parameter(
      "weight", glorot(in_features, heads * out_features, {in_features, heads * out_features}, init_gen, dtype));
  att_src_ = register_parameter("att_src", glorot(heads, out_features, {heads, out_features}, init_gen, dtype));
  att_dst_ = register_parameter("att_dst", glorot(heads, out_features, {heads, out_features}, init_gen, dtype));
  bias_ = register_parameter("bias", Tensor::zeros({concat ? heads * out_features : out_features}, dtype));
}

Tensor GatConv::forward(const Tensor& x, const GraphEdges& edges) {
  check_features(x, weight_.size(0), edges, "GatConv");
  const int64_t nodes = edges.num_nodes, count = edges.num_edges();
  const Tensor h = reshape(matmul(x, weight_), {nodes, heads_, out_features_});
  const Tensor score_src = sum(mul(h, att_src_), {2}), score_dst = sum(mul(h, att_dst_), {2});  // [N, heads]
  const Tensor scores = cat({add(gather_rows(score_src, edges.by_src), gather_rows(score_dst, edges.by_dst)),
                             add(score_src, score_dst)},
                            0);
  // LeakyReLU with slope 0.2, composed: x for x > 0, 0.2 x below.
  const Tensor leaky = add(mul(relu(scores), 0.8), mul(scores, 0.2));
  const Tensor alpha = dropout(segment_softmax(leaky, edges.by_dst_and_self), attention_dropout_, is_training(), drop_gen());
  const Tensor edge_alpha = drop_edges(slice(alpha, 0, 0, count));
  const Tensor self_alpha = slice(alpha, 0, count, count + nodes);
  const Tensor out = add(propagate(h, reshape(edge_alpha, {count, heads_, 1}), edges),
                         mul(h, reshape(self_alpha, {nodes, heads_, 1})));
  return add(concat_ ? reshape(out, {nodes, heads_ * out_features_}) : mean(out, {1}), bias_);
}

}  // namespace minidl
