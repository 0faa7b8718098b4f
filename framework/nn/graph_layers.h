// Graph convolutions over a graph's edges on a device: GCN (Kipf & Welling 2017), GAT
// (Velickovic et al. 2018) and GraphSAGE with mean aggregation (Hamilton et al. 2017). Each layer
// gathers a row per edge from its source, weights it, and sums the rows at each destination with
// the deterministic row ops of framework/ops/ops.h, so a layer's output is bit-identical on every
// device and launch configuration. DropEdge (framework/regularize/dropout.h) drops the weights
// of the graph's edges; self loops never drop.
#pragma once

#include <cstdint>
#include <vector>

#include "framework/nn/module.h"
#include "framework/ops/ops.h"
#include "framework/random/generator.h"

namespace minidl {

// A graph's directed edges src -> dst (no self loops) on a device, grouped once for the row ops,
// with the per-edge weights the layers aggregate with (computed on the host in double).
struct GraphEdges {
  int64_t num_nodes = 0;
  IndexGroups by_src, by_dst;   // the edges' sources and destinations
  IndexGroups by_dst_and_self;  // the edges, then node v's self loop at position E + v: attention's groups
  Tensor mean_weight;           // [E, 1]: 1 / in-degree(dst), GraphSAGE's mean
  Tensor gcn_weight;            // [E, 1]: 1 / sqrt(d(src) d(dst)) with d = in-degree + 1 (the self loop)
  Tensor gcn_self_weight;       // [N, 1]: 1 / d
  int64_t num_edges() const { return by_src.index.numel(); }
};
// Checks the ids (in [0, num_nodes), src and dst of one length, no self loops) with clear errors.
GraphEdges graph_edges(int64_t num_nodes, const std::vector<int64_t>& src, const std::vector<int64_t>& dst,
                       Device device = kCPU, DType dtype = DType::F32);

// A layer of a graph network: forward needs the graph's edges. Parameters are of the dtype given
// to the constructor (f32 unless a test asks for f64), like the edges' weights.
class GraphLayer : public Module {
 public:
  virtual Tensor forward(const Tensor& x, const GraphEdges& edges) = 0;
  Tensor forward(const Tensor& x) final;  // an error naming the layer: call forward(x, edges)

 protected:
  // Checks that the sizes are positive (errors name the layer); every layer draws DropEdge's
  // masks, at rate drop_edge, and any other dropout from drop_gen.
  GraphLayer(const char* name, int64_t in_features, int64_t out_features, double drop_edge, Generator& drop_gen);
  // Edge weights [E, ...] after DropEdge in training.
  Tensor drop_edges(const Tensor& edge_weight);
  Generator& drop_gen() { return *gen_; }

 private:
  double drop_edge_;
  Generator* gen_;
};

// GCN: out = D^-1/2 (A + I) D^-1/2 x W + b. DropEdge drops the A part with rate drop_edge.
class GcnConv : public GraphLayer {
 public:
  GcnConv(int64_t in_features, int64_t out_features, double drop_edge, Generator& init_gen, Generator& drop_gen,
          DType dtype = DType::F32);
  using GraphLayer::forward;
  Tensor forward(const Tensor& x, const GraphEdges& edges) override;

 private:
  Tensor weight_, bias_;  // weight [in, out], Glorot-uniform; bias [out], zeros
};

// GraphSAGE, mean aggregator: out = x W_self^T + b + mean over in-neighbours j of x_j W_neigh^T.
class SageConv : public GraphLayer {
 public:
  SageConv(int64_t in_features, int64_t out_features, double drop_edge, Generator& init_gen, Generator& drop_gen,
           DType dtype = DType::F32);
  using GraphLayer::forward;
  Tensor forward(const Tensor& x, const GraphEdges& edges) override;

 private:
  Tensor self_weight_, neighbour_weight_, bias_;  // like torch.nn.Linear's [out, in]; bias [out]
};

// GAT: per head k, h = x W_k; node i attends over its in-neighbours and itself with
// alpha_ij = softmax_j(LeakyReLU_0.2(a_src . h_j + a_dst . h_i)); attention dropout drops alpha
// (standard inverted dropout), DropEdge the neighbours' alpha; out_i = sum_j alpha_ij h_j.
// Heads are concatenated ([N, heads * out]) or, with !concat, averaged ([N, out]); then + bias.
class GatConv : public GraphLayer {
 public:
  GatConv(int64_t in_features, int64_t out_features, int64_t heads, bool concat, double attention_dropout,
          double drop_edge, Generator& init_gen, Generator& drop_gen, DType dtype = DType::F32);
  using GraphLayer::forward;
  Tensor forward(const Tensor& x, const GraphEdges& edges) override;

 private:
  int64_t heads_, out_features_;
  bool concat_;
  Tensor weight_, att_src_, att_dst_, bias_;  // weight [in, heads * out]; att_* [heads, out]
  double attention_dropout_;
};

// Sum over each node's in-edges of gather_rows(x, by_src) * weight (weight [E, ...] broadcast
// over x's trailing dims): the message passing all three layers share.
Tensor propagate(const Tensor& x, const Tensor& weight, const GraphEdges& edges);

}  // namespace minidl
