// The graph layers against dense references written out here (adjacency matrices and loops in
// double), their gradients in f64, DropEdge's statistics against the binomial and the unbiased
// aggregate, the emulated CUDA kernels over the launch policies, bad edge lists, and GCN on the
// karate club with four labelled nodes.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "framework/autograd/gradcheck.h"
#include "framework/io/graph_data.h"
#include "framework/ops/ops.h"
#include "framework/optim/optimizers.h"
#include "framework/regularize/dropout.h"
#include "models/gnn.h"
#include "tests/launch_policy_test.h"

namespace minidl {
namespace {

using Matrix = std::vector<std::vector<double>>;

// A small undirected graph with a node of degree 3, a path, and an isolated node (6).
const std::vector<std::pair<int64_t, int64_t>> kUndirected = {{0, 1}, {0, 2}, {1, 2}, {2, 3}, {3, 4}, {4, 5}, {1, 5}};
constexpr int64_t kNodes = 7;

struct EdgeList {
  std::vector<int64_t> src, dst;
};

EdgeList both_directions() {
  EdgeList e;
  for (auto [a, b] : kUndirected) {
    e.src.insert(e.src.end(), {a, b});
    e.dst.insert(e.dst.end(), {b, a});
  }
  return e;
}

Tensor features(int64_t nodes, int64_t f, uint64_t seed, DType dtype = DType::F64) {
  Generator gen(seed, 7);
  return to_dtype(add(mul(rand({nodes, f}, DType::F64, kCPU, gen), 2.0), -1.0), dtype);
}

std::vector<double> values_of(const Tensor& t) { return to_dtype(to_device(contiguous(t), kCPU), DType::F64).to_vector<double>(); }

Tensor parameter(const Module& m, const std::string& name) {
  for (const auto& [n, t] : m.named_parameters())
    if (n == name) return t;
  ADD_FAILURE() << "no parameter " << name;
  return {};
}

// in_neighbours[i] = the j with an edge j -> i.
std::vector<std::vector<int64_t>> in_neighbours(const EdgeList& e) {
  std::vector<std::vector<int64_t>> in(kNodes);
  for (size_t k = 0; k < e.src.size(); ++k) in[static_cast<size_t>(e.dst[k])].push_back(e.src[k]);
  return in;
}

// x [n, f] (row-major values) times w [f, o] (or w^T when w is [o, f] and transposed).
Matrix times(const std::vector<double>& x, int64_t n, int64_t f, const std::vector<double>& w, int64_t o,
             bool w_is_out_by_in) {
  Matrix y(static_cast<size_t>(n), std::vector<double>(static_cast<size_t>(o), 0.0));
  for (int64_t i = 0; i < n; ++i)
    for (int64_t c = 0; c < o; ++c)
      for (int64_t k = 0; k < f; ++k)
        y[i][c] += x[i * f + k] * (w_is_out_by_in ? w[c * f + k] : w[k * o + c]);
  return y;
}

void expect_matches(const Tensor& got, const Matrix& expected, double tol, const std::string& what) {
  const std::vector<double> g = values_of(got);
  const size_t cols = expected[0].size();
  ASSERT_EQ(g.size(), expected.size() * cols) << what;
  for (size_t i = 0; i < expected.size(); ++i)
    for (size_t c = 0; c < cols; ++c) EXPECT_NEAR(g[i * cols + c], expected[i][c], tol) << what << " [" << i << ", " << c << "]";
}

TEST(GraphEdges, WeightsAreTheNormalizationsOfEachLayer) {
  const EdgeList e = both_directions();
  const GraphEdges edges = graph_edges(kNodes, e.src, e.dst, kCPU, DType::F64);
  const std::vector<double> degree = {2, 3, 3, 2, 2, 2, 0};  // in-degrees
  const std::vector<double> mean = values_of(edges.mean_weight), gcn = values_of(edges.gcn_weight);
  for (size_t k = 0; k < e.src.size(); ++k) {
    const double ds = degree[static_cast<size_t>(e.src[k])] + 1, dd = degree[static_cast<size_t>(e.dst[k])] + 1;
    EXPECT_DOUBLE_EQ(mean[k], 1 / degree[static_cast<size_t>(e.dst[k])]) << k;
    EXPECT_DOUBLE_EQ(gcn[k], 1 / std::sqrt(ds * dd)) << k;
  }
  const std::vector<double> self = values_of(edges.gcn_self_weight);
  for (size_t v = 0; v < degree.size(); ++v) EXPECT_DOUBLE_EQ(self[v], 1 / (degree[v] + 1));
  EXPECT_EQ(edges.by_dst_and_self.index.numel(), static_cast<int64_t>(e.src.size()) + kNodes);
}

TEST(GraphEdges, BadEdgeListsGetClearErrors) {
  auto message = [](const std::vector<int64_t>& src, const std::vector<int64_t>& dst) {
    try {
      graph_edges(4, src, dst);
    } catch (const Error& err) {
      return std::string(err.what());
    }
    return std::string("no error");
  };
  EXPECT_NE(message({0, 4}, {1, 2}).find("node id 4: expected 0 to 3"), std::string::npos) << message({0, 4}, {1, 2});
  EXPECT_NE(message({0, -1}, {1, 2}).find("node id -1"), std::string::npos);
  EXPECT_NE(message({0, 1}, {1}).find("2 sources but 1 destinations"), std::string::npos);
  EXPECT_NE(message({2}, {2}).find("self loop on node 2"), std::string::npos);
  const EdgeList e = both_directions();
  GcnConv conv(3, 2, 0.0, default_generator(), default_generator(), DType::F64);
  const GraphEdges edges = graph_edges(kNodes, e.src, e.dst, kCPU, DType::F64);
  EXPECT_THROW(
      {
        try {
          conv.forward(features(kNodes - 1, 3, 1), edges);
        } catch (const Error& err) {
          EXPECT_NE(std::string(err.what()).find("expected node features [7, 3]"), std::string::npos) << err.what();
          throw;
        }
      },
      Error);
  EXPECT_THROW(conv(features(kNodes, 3, 1)), Error);  // without the graph
}

TEST(GcnConv, EqualsTheDenseNormalizedAdjacency) {
  const EdgeList e = both_directions();
  const GraphEdges edges = graph_edges(kNodes, e.src, e.dst, kCPU, DType::F64);
  Generator init(1);
  GcnConv conv(3, 4, 0.0, init, default_generator(), DType::F64);
  const Tensor x = features(kNodes, 3, 2);
  const Matrix h = times(values_of(x), kNodes, 3, values_of(parameter(conv, "weight")), 4, false);
  const auto in = in_neighbours(e);
  Matrix expected(kNodes, std::vector<double>(4, 0.0));
  for (int64_t i = 0; i < kNodes; ++i) {
    const double di = static_cast<double>(in[i].size()) + 1;
    for (int64_t c = 0; c < 4; ++c) {
      expected[i][c] = h[i][c] / di;
      for (int64_t j : in[i]) expected[i][c] += h[j][c] / std::sqrt(di * (static_cast<double>(in[j].size()) + 1));
    }
  }
  expect_matches(conv.forward(x, edges), expected, 1e-12, "gcn");
}

TEST(SageConv, EqualsTheMeanOfTheNeighbours) {
  const EdgeList e = both_directions();
  const GraphEdges edges = graph_edges(kNodes, e.src, e.dst, kCPU, DType::F64);
  Generator init(2);
  SageConv conv(3, 2, 0.0, init, default_generator(), DType::F64);
  const Tensor x = features(kNodes, 3, 3);
  const Matrix self = times(values_of(x), kNodes, 3, values_of(parameter(conv, "self_weight")), 2, true);
  const Matrix neighbour = times(values_of(x), kNodes, 3, values_of(parameter(conv, "neighbour_weight")), 2, true);
  const std::vector<double> bias = values_of(parameter(conv, "bias"));
  const auto in = in_neighbours(e);
  Matrix expected(kNodes, std::vector<double>(2, 0.0));
  for (int64_t i = 0; i < kNodes; ++i)
    for (int64_t c = 0; c < 2; ++c) {
      expected[i][c] = self[i][c] + bias[c];
      for (int64_t j : in[i]) expected[i][c] += neighbour[j][c] / static_cast<double>(in[i].size());
    }
  expect_matches(conv.forward(x, edges), expected, 1e-12, "sage");
}

TEST(GatConv, EqualsAttentionWrittenOut) {
  const EdgeList e = both_directions();
  const GraphEdges edges = graph_edges(kNodes, e.src, e.dst, kCPU, DType::F64);
  const int64_t heads = 2, out = 3;
  for (bool concat : {true, false}) {
    Generator init(3);
    GatConv conv(4, out, heads, concat, 0.0, 0.0, init, default_generator(), DType::F64);
    const Tensor x = features(kNodes, 4, 4);
    const Matrix h = times(values_of(x), kNodes, 4, values_of(parameter(conv, "weight")), heads * out, false);
    const std::vector<double> a_src = values_of(parameter(conv, "att_src")), a_dst = values_of(parameter(conv, "att_dst"));
    auto in = in_neighbours(e);
    Matrix expected(kNodes, std::vector<double>(concat ? heads * out : out, 0.0));
    for (int64_t i = 0; i < kNodes; ++i) {
      std::vector<int64_t> sources = in[i];
      sources.push_back(i);
      for (int64_t k = 0; k < heads; ++k) {
        auto score = [&](int64_t node, const std::vector<double>& a) {
          double s = 0;
          for (int64_t c = 0; c < out; ++c) s += a[k * out + c] * h[node][k * out + c];
          return s;
        };
        std::vector<double> weights;
        double total = 0;
        for (int64_t j : sources) {
          const double raw = score(j, a_src) + score(i, a_dst);
          weights.push_back(std::exp(raw > 0 ? raw : 0.2 * raw));
          total += weights.back();
        }
        for (size_t n = 0; n < sources.size(); ++n)
          for (int64_t c = 0; c < out; ++c) {
            const double v = weights[n] / total * h[sources[n]][k * out + c];
            if (concat) expected[i][k * out + c] += v;
            else expected[i][c] += v / heads;
          }
      }
    }
    expect_matches(conv.forward(x, edges), expected, 1e-12, concat ? "gat concat" : "gat mean");
  }
}

// Gradients of each layer's output with respect to its input features, in f64, with DropEdge
// (and GAT's attention dropout) on at masks fixed by re-seeding before every evaluation.
TEST(GraphLayers, GradcheckInF64WithFixedMasks) {
  const EdgeList e = both_directions();
  const GraphEdges edges = graph_edges(kNodes, e.src, e.dst, kCPU, DType::F64);
  Generator init(4), drop(5, 2);
  std::vector<std::pair<std::string, std::shared_ptr<GraphLayer>>> layers = {
      {"gcn", std::make_shared<GcnConv>(3, 2, 0.4, init, drop, DType::F64)},
      {"sage", std::make_shared<SageConv>(3, 2, 0.4, init, drop, DType::F64)},
      {"gat", std::make_shared<GatConv>(3, 2, 2, true, 0.3, 0.4, init, drop, DType::F64)}};
  for (auto& [name, layer] : layers) {
    const GradcheckResult r = gradcheck(
        [&, l = layer](const std::vector<Tensor>& in) {
          drop = Generator(5, 2);
          return l->forward(in[0], edges);
        },
        {features(kNodes, 3, 6)});
    EXPECT_TRUE(r.ok) << name << ": " << r.message;
  }
}

// Each edge is kept with probability 1 - p: the kept count over many edges is within 5 standard
// deviations of the binomial's mean, and the scaled aggregate's mean over draws is within 5
// standard errors (from the sample) of the full aggregate.
TEST(DropEdge, KeepsEachEdgeWithProbabilityOneMinusPAndTheAggregateIsUnbiased) {
  const double p = 0.3;
  // A star: 400 leaves point at node 0, so node 0's aggregate sums 400 dropped edges.
  const int64_t leaves = 400, draws = 300;
  EdgeList e;
  for (int64_t v = 1; v <= leaves; ++v) {
    e.src.push_back(v);
    e.dst.push_back(0);
  }
  const GraphEdges edges = graph_edges(leaves + 1, e.src, e.dst, kCPU, DType::F64);
  const Tensor x = features(leaves + 1, 1, 8);
  const Tensor ones = Tensor::full({leaves, 1}, 1.0, DType::F64);
  const double full = values_of(propagate(x, ones, edges))[0];
  Generator gen(9);
  int64_t kept = 0;
  double sum = 0, sum_sq = 0;
  for (int64_t d = 0; d < draws; ++d) {
    const Tensor w = drop_edge(ones, p, true, gen);
    for (double v : values_of(w)) {
      ASSERT_TRUE(v == 0 || std::abs(v - 1 / (1 - p)) < 1e-15) << v;
      kept += v != 0;
    }
    const double a = values_of(propagate(x, w, edges))[0];
    sum += a;
    sum_sq += a * a;
  }
  const double n = static_cast<double>(leaves * draws);
  EXPECT_NEAR(static_cast<double>(kept), n * (1 - p), 5 * std::sqrt(n * p * (1 - p)));
  const double mean = sum / draws, var = (sum_sq - draws * mean * mean) / (draws - 1);
  EXPECT_NEAR(mean, full, 5 * std::sqrt(var / draws));
  EXPECT_GT(var, 0) << "the draws must differ";
  EXPECT_EQ(values_of(drop_edge(ones, p, false, gen)), values_of(ones)) << "identity in eval";
}

#if defined(MINIDL_HAS_EMU)
const Device kEmu{DeviceType::CUDAEmu, 0};

class EmulatedCudaGraph : public LaunchPolicyTest {};

// The row ops on a graph with skewed degrees: gather and scatter-add bit for bit (the same sums
// in the same order), segment softmax to exp's rounding, DropEdge's masks bit for bit.
TEST_P(EmulatedCudaGraph, RowOpsAndDropEdgeMatchCpu) {
  const GraphData g = csbm({.nodes = 300, .classes = 3, .features = 8, .degree = 12, .homophily = 0.6, .seed = 2});
  const Tensor x = features(g.num_nodes, 5, 3, DType::F32);
  std::vector<std::vector<double>> gathered, scattered, attention, dropped, grads;
  for (Device device : {kCPU, kEmu}) {
    const GraphEdges edges = graph_edges(g.num_nodes, g.src, g.dst, device);
    Tensor xd = to_device(x, device).detach();
    xd.requires_grad_(true);
    const Tensor rows = gather_rows(xd, edges.by_src);
    const Tensor summed = scatter_add_rows(rows, edges.by_dst);
    const Tensor scores = segment_softmax(rows, edges.by_dst);
    Generator gen(11, 2);
    const Tensor w = drop_edge(edges.gcn_weight, 0.5, true, gen);
    sum(mul(summed, summed)).backward();
    gathered.push_back(values_of(rows));
    scattered.push_back(values_of(summed));
    attention.push_back(values_of(scores));
    dropped.push_back(values_of(w));
    grads.push_back(values_of(xd.grad()));
  }
  EXPECT_EQ(gathered[1], gathered[0]);
  EXPECT_EQ(scattered[1], scattered[0]);
  EXPECT_EQ(dropped[1], dropped[0]);
  EXPECT_EQ(grads[1], grads[0]) << "scatter-add's gradient gathers, gather's scatter-adds: bit for bit";
  for (size_t i = 0; i < attention[0].size(); ++i)
    ASSERT_NEAR(attention[1][i], attention[0][i], 1e-6 * (1 + attention[0][i])) << i;
}

TEST_P(EmulatedCudaGraph, GnnTrainingStepMatchesCpu) {
  const GraphData g = csbm({.nodes = 120, .classes = 2, .features = 6, .degree = 6, .seed = 4});
  for (const std::string kind : {"gcn", "gat", "sage"}) {
    std::vector<std::vector<double>> logits, grads;
    for (Device device : {kCPU, kEmu}) {
      GnnConfig c;
      c.kind = kind;
      c.in_features = 6;
      c.classes = 2;
      c.heads = 2;
      c.drop_edge = 0.3;
      Generator init(1), drop(1, 2);
      Gnn model(c, init, drop);
      model.to(device);
      const GraphEdges edges = graph_edges(g.num_nodes, g.src, g.dst, device);
      const Tensor out = model.forward(to_device(g.features, device), edges);
      cross_entropy(out, to_device(g.labels, device)).backward();
      logits.push_back(values_of(out));
      grads.push_back(values_of(model.parameters()[0].grad()));
    }
    for (size_t i = 0; i < logits[0].size(); ++i)
      ASSERT_NEAR(logits[1][i], logits[0][i], 1e-5 * (1 + std::abs(logits[0][i]))) << kind << " logit " << i;
    for (size_t i = 0; i < grads[0].size(); ++i)
      ASSERT_NEAR(grads[1][i], grads[0][i], 1e-4 * (1 + std::abs(grads[0][i]))) << kind << " grad " << i;
  }
}

INSTANTIATE_TEST_SUITE_P(LaunchPolicies, EmulatedCudaGraph, ::testing::ValuesIn(kLaunchPolicies), launch_policy_name);
#endif

// Kipf & Welling's semi-supervised setting on Zachary's club: four labelled members (two per
// faction), one-hot features; the two factions of the other 30 must come out >= 90% right.
TEST(Gnn, GcnSeparatesTheKarateClubFactionsFromFourLabels) {
  const GraphData g = karate_club();
  GnnConfig c;
  c.in_features = g.features.size(1);
  c.classes = 2;
  Generator init(0), drop(0, 2);
  Gnn model(c, init, drop);
  const GraphEdges edges = graph_edges(g.num_nodes, g.src, g.dst);
  const IndexGroups train = group_index(Tensor::from_vector(g.train_nodes, {4}), g.num_nodes);
  const std::vector<int64_t> labels = g.labels.to_vector<int64_t>();
  std::vector<int64_t> targets;
  for (int64_t v : g.train_nodes) targets.push_back(labels[static_cast<size_t>(v)]);
  AdamOptions options;
  options.lr = 0.01;
  options.weight_decay = 5e-4;
  Adam optimizer(model.parameters(), options);
  for (int epoch = 0; epoch < 200; ++epoch) {
    optimizer.zero_grad();
    cross_entropy(gather_rows(model.forward(g.features, edges), train), Tensor::from_vector(targets, {4})).backward();
    optimizer.step();
  }
  model.eval();
  const std::vector<int64_t> predicted = argmax(model.forward(g.features, edges), 1).to_vector<int64_t>();
  int64_t correct = 0;
  for (int64_t v : g.test_nodes) correct += predicted[static_cast<size_t>(v)] == labels[static_cast<size_t>(v)];
  EXPECT_GE(static_cast<double>(correct) / static_cast<double>(g.test_nodes.size()), 0.9);
}

}  // namespace
}  // namespace minidl
