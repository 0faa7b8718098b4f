// Offline node-classification graphs for the GNN layers: Zachary's karate club, a contextual
// stochastic block model with tunable homophily, degree, class count and feature signal, and edge
// lists read from text files; all with a deterministic train/val/test split.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "framework/core/tensor.h"

namespace minidl {

// A node-classification graph held on the CPU. Edges are directed pairs (src[e] -> dst[e]);
// undirected graphs store both directions. No self loops, no duplicate pairs (layers add self loops).
// The loaders below emit the pairs sorted by (src, dst).
struct GraphData {
  std::string name;
  int64_t num_nodes = 0, num_classes = 0;
  std::vector<int64_t> src, dst;
  Tensor features;                                          // f32 [num_nodes, F], CPU
  Tensor labels;                                            // i64 [num_nodes], values in [0, num_classes)
  std::vector<int64_t> train_nodes, val_nodes, test_nodes;  // disjoint, sorted ascending

  int64_t num_edges() const { return static_cast<int64_t>(src.size()); }  // directed pairs
};

// Throws one clear error naming the value and what was expected: node ids negative or out of range,
// src/dst length mismatch, self loops or duplicate pairs, features not f32 [num_nodes, F] on the
// CPU, labels not i64 [num_nodes] in [0, num_classes), split ids out of range, unsorted or shared
// between splits.
void validate_graph(const GraphData& g);

// Zachary's karate club (W. W. Zachary, "An information flow model for conflict and fission in
// small groups", Journal of Anthropological Research 33(4):452-473, 1977), as networkx's
// karate_club_graph: 34 members, 78 friendships (156 directed pairs). Labels are the two clubs
// after the split (networkx's 'club': "Mr. Hi" = 0, 17 members; "Officer" = 1, 17 members).
// Features are one-hot node ids (identity [34, 34]). Four labelled nodes train: the instructor
// Mr. Hi (0) and his friend 1 for club 0, the administrator (33) and his friend 32 for club 1;
// val is empty (no labels beyond the four), test is the other 30 members.
GraphData karate_club();

// The ids of karate_club()'s training nodes: {0, 1, 32, 33}.
inline const std::vector<int64_t> kKarateTrainNodes = {0, 1, 32, 33};

// Contextual stochastic block model (Deshpande, Sen, Montanari and Mossel, "Contextual stochastic
// block models", NeurIPS 2018), made for any number of classes. Everything below is drawn from
// Philox Generators (seed, stream): stream 0 the labels, 1 the class means, 2 the feature noise,
// 3 the edges, 4 the split, so changing homophily or degree leaves labels and features unchanged.
//
// - Labels: `classes` balanced classes (sizes differ by at most one), assigned to nodes by a random
//   permutation.
// - Edges: round(nodes * degree / 2) undirected edges, so the mean degree is `degree` up to that
//   rounding. Each edge independently joins two nodes of the same class with probability
//   `homophily` (so the edge homophily is Binomial(edges, homophily) / edges), else nodes of
//   different classes: a uniform node, then a uniform other node of its class (or of another
//   class). A pair drawn twice is drawn again with the same kind. Both directions are stored.
// - Features: x_i = signal * mu_{y_i} + z_i with z_i ~ N(0, I_F) and mu_c = u_c / sqrt(2), where
//   the u_c are random orthonormal directions (Gram-Schmidt of Gaussian vectors, so classes <=
//   features). Any two class means are therefore exactly `signal` apart in units of the noise's
//   standard deviation; with two classes the best classifier from features alone errs with
//   probability Phi(-signal / 2).
// - Split: stratified, see split_nodes.
struct CsbmConfig {
  int64_t nodes = 2000, classes = 2, features = 32;
  double degree = 10, homophily = 0.8, signal = 1.0, train_fraction = 0.2, val_fraction = 0.2;
  uint64_t seed = 0;
};
// Validates config first: one clear error per bad value (nodes < 2 * classes, classes < 2,
// features < classes, degree not in (0, nodes - 1) or so dense that either kind of pair would be
// more than half used, homophily outside [0, 1], signal negative, fractions outside [0, 1) or
// summing to 1 or more, NaN or infinity anywhere).
GraphData csbm(const CsbmConfig& config);

// A stratified split, the same for the same labels and seed: within each class (its nodes in a
// random order from Generator(seed, 4)) the first max(1, round(train_fraction * n)) nodes train,
// the next round(val_fraction * n) validate (fewer if the class runs out) and the rest test.
// Each list is sorted ascending.
struct NodeSplit {
  std::vector<int64_t> train, val, test;
};
NodeSplit split_nodes(const std::vector<int64_t>& labels, int64_t num_classes, double train_fraction,
                      double val_fraction, uint64_t seed);

// Edge homophily: the fraction of edges whose endpoints share a label (of directed pairs, which
// for an undirected graph is the same as of undirected edges). A graph without edges is an error.
double edge_homophily(const GraphData& g);

// A graph from a spec string:
//   "karate"
//   "csbm" or "csbm:KEY=VALUE,..." with keys nodes, classes, features, degree, homophily, signal,
//       train, val, seed (the CsbmConfig fields; train/val are the fractions), e.g.
//       "csbm:homophily=0.8,classes=3,nodes=1000,degree=8,features=16,signal=1.5,seed=3,train=0.2,val=0.2"
//   "files:edges=PATH,labels=PATH[,features=PATH,train=0.2,val=0.2,seed=0]": text files where
//       '#' starts a comment and blank lines are skipped.
//       labels: one integer >= 0 per line, one line per node: their count is num_nodes and the
//           largest label + 1 is num_classes.
//       edges: one "src dst" pair of node ids per line, read as undirected: both directions are
//           stored, a repeated pair (either way round) is kept once and a self loop is dropped,
//           since the layers add their own.
//       features: one row of whitespace-separated finite floats per node, all the same length;
//           without a features file the features are one-hot node ids.
//       The split is split_nodes(labels, ..., train, val, seed).
// An unknown or repeated key, a malformed number, a missing file or a malformed line (named by
// file:line) is one clear error naming it. The result has passed validate_graph.
GraphData load_graph(const std::string& spec);

}  // namespace minidl
