// The offline graphs of framework/io/graph_data.h: the karate club against networkx's copy of
// Zachary's data, the CSBM generator's statistics against bounds computed from its sample sizes,
// validate_graph's errors, and load_graph's specs and text files.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <set>
#include <string>
#include <vector>

#include "framework/io/graph_data.h"
#include "tests/file_checks.h"

namespace minidl {
namespace {

std::vector<int64_t> degrees(const GraphData& g) {
  std::vector<int64_t> degree(static_cast<size_t>(g.num_nodes), 0);
  for (int64_t s : g.src) ++degree[static_cast<size_t>(s)];
  return degree;
}

bool symmetric(const GraphData& g) {
  std::set<std::pair<int64_t, int64_t>> pairs;
  for (size_t e = 0; e < g.src.size(); ++e) pairs.emplace(g.src[e], g.dst[e]);
  for (size_t e = 0; e < g.src.size(); ++e)
    if (!pairs.count({g.dst[e], g.src[e]})) return false;
  return true;
}

// Every node in exactly one split.
void expect_partition(const GraphData& g) {
  std::vector<int64_t> all = g.train_nodes;
  all.insert(all.end(), g.val_nodes.begin(), g.val_nodes.end());
  all.insert(all.end(), g.test_nodes.begin(), g.test_nodes.end());
  std::sort(all.begin(), all.end());
  std::vector<int64_t> every(static_cast<size_t>(g.num_nodes));
  for (int64_t i = 0; i < g.num_nodes; ++i) every[static_cast<size_t>(i)] = i;
  EXPECT_EQ(all, every);
}

// ---------------------------------------------------------------------------------------------
// karate club

TEST(KarateClub, MatchesZacharysGraphAsNetworkxHasIt) {
  const GraphData g = karate_club();
  EXPECT_EQ(g.name, "karate");
  EXPECT_EQ(g.num_nodes, 34);
  EXPECT_EQ(g.num_classes, 2);
  EXPECT_EQ(g.num_edges(), 2 * 78);
  EXPECT_TRUE(symmetric(g));
  EXPECT_TRUE(std::is_sorted(g.src.begin(), g.src.end()));
  // networkx 3.6.1: [d for _, d in sorted(karate_club_graph().degree())]
  const std::vector<int64_t> expected_degrees = {16, 9, 10, 6, 3, 4, 4, 4, 5, 2, 3, 1, 2, 5, 2, 2,  2,
                                                 2,  2, 3,  2, 2, 2, 5, 3, 3, 2, 4, 3, 4, 4, 6, 12, 17};
  EXPECT_EQ(degrees(g), expected_degrees);
  const std::vector<int64_t> labels = g.labels.to_vector<int64_t>();
  EXPECT_EQ(std::count(labels.begin(), labels.end(), 0), 17);  // "Mr. Hi"
  EXPECT_EQ(std::count(labels.begin(), labels.end(), 1), 17);  // "Officer"
  EXPECT_EQ(labels[0], 0);
  EXPECT_EQ(labels[8], 0);  // networkx puts member 8 with Mr. Hi
  EXPECT_EQ(labels[9], 1);
  EXPECT_EQ(labels[33], 1);
  // 67 of the 78 friendships stay within a club (networkx).
  EXPECT_DOUBLE_EQ(edge_homophily(g), 67.0 / 78.0);
}

TEST(KarateClub, FourLabelledNodesOneHotFeatures) {
  const GraphData g = karate_club();
  EXPECT_EQ(g.train_nodes, (std::vector<int64_t>{0, 1, 32, 33}));
  const std::vector<int64_t> labels = g.labels.to_vector<int64_t>();
  for (int64_t i : g.train_nodes) EXPECT_EQ(labels[static_cast<size_t>(i)], i < 17 ? 0 : 1) << i;
  EXPECT_TRUE(g.val_nodes.empty());
  EXPECT_EQ(g.test_nodes.size(), 30u);
  expect_partition(g);
  ASSERT_EQ(g.features.shape(), (Shape{34, 34}));
  const std::vector<float> x = g.features.to_vector<float>();
  for (int64_t i = 0; i < 34; ++i)
    for (int64_t j = 0; j < 34; ++j) ASSERT_EQ(x[static_cast<size_t>(i * 34 + j)], i == j ? 1.0f : 0.0f);
}

// ---------------------------------------------------------------------------------------------
// CSBM

CsbmConfig small_config() {
  CsbmConfig c;
  c.nodes = 1000;
  c.classes = 3;
  c.features = 8;
  c.degree = 8;
  c.homophily = 0.7;
  c.signal = 2;
  c.seed = 5;
  return c;
}

TEST(Csbm, SameSeedSameGraphOtherSeedAnotherGraph) {
  const GraphData a = csbm(small_config()), b = csbm(small_config());
  EXPECT_EQ(a.src, b.src);
  EXPECT_EQ(a.dst, b.dst);
  EXPECT_EQ(a.labels.to_vector<int64_t>(), b.labels.to_vector<int64_t>());
  EXPECT_EQ(a.features.to_vector<float>(), b.features.to_vector<float>());
  EXPECT_EQ(a.train_nodes, b.train_nodes);
  EXPECT_EQ(a.val_nodes, b.val_nodes);
  EXPECT_EQ(a.test_nodes, b.test_nodes);

  CsbmConfig other = small_config();
  other.seed = 6;
  const GraphData c = csbm(other);
  EXPECT_NE(a.src, c.src);
  EXPECT_NE(a.labels.to_vector<int64_t>(), c.labels.to_vector<int64_t>());
  EXPECT_NE(a.features.to_vector<float>(), c.features.to_vector<float>());
  EXPECT_NE(a.train_nodes, c.train_nodes);
}

TEST(Csbm, EdgeKnobsLeaveLabelsFeaturesAndSplitUnchanged) {
  // One stream per kind of draw: a homophily sweep compares models on the same nodes.
  CsbmConfig other = small_config();
  other.homophily = 0.2;
  other.degree = 4;
  const GraphData a = csbm(small_config()), b = csbm(other);
  EXPECT_NE(a.src, b.src);
  EXPECT_EQ(a.labels.to_vector<int64_t>(), b.labels.to_vector<int64_t>());
  EXPECT_EQ(a.features.to_vector<float>(), b.features.to_vector<float>());
  EXPECT_EQ(a.train_nodes, b.train_nodes);
}

TEST(Csbm, HomophilyAndDegreeWithinBinomialBounds) {
  for (const double homophily : {0.0, 0.1, 0.5, 0.9, 1.0}) {
    for (const int64_t classes : {2, 5}) {
      CsbmConfig c;
      c.nodes = 2000;
      c.classes = classes;
      c.features = 8;
      c.degree = 10;
      c.homophily = homophily;
      c.seed = 11;
      const GraphData g = csbm(c);
      SCOPED_TRACE(g.name);
      validate_graph(g);
      EXPECT_TRUE(symmetric(g));
      // round(nodes * degree / 2) undirected edges: the mean degree is exact up to that rounding.
      const double edges = static_cast<double>(g.num_edges()) / 2;
      EXPECT_EQ(edges, std::round(2000 * 10 / 2.0));
      EXPECT_NEAR(static_cast<double>(g.num_edges()) / static_cast<double>(g.num_nodes), c.degree, 1.0 / 2000);
      // Each edge is same-class with probability homophily: Binomial(edges, h) / edges, 5 sigma.
      const double sigma = std::sqrt(homophily * (1 - homophily) / edges);
      EXPECT_NEAR(edge_homophily(g), homophily, 5 * sigma + 1e-12);
      // Endpoints are uniform: no node should have a degree far beyond Poisson(10)'s tail.
      const std::vector<int64_t> degree = degrees(g);
      EXPECT_LT(*std::max_element(degree.begin(), degree.end()), 40);
    }
  }
}

TEST(Csbm, ClassesBalancedAndSplitStratified) {
  CsbmConfig c = small_config();
  c.nodes = 1001;  // 334, 334, 333
  const GraphData g = csbm(c);
  const std::vector<int64_t> labels = g.labels.to_vector<int64_t>();
  for (int64_t y = 0; y < 3; ++y) {
    const int64_t size = std::count(labels.begin(), labels.end(), y);
    EXPECT_EQ(size, y < 2 ? 334 : 333) << y;
    const auto count_in = [&](const std::vector<int64_t>& ids) {
      return std::count_if(ids.begin(), ids.end(), [&](int64_t i) { return labels[static_cast<size_t>(i)] == y; });
    };
    const auto expected_train = std::llround(0.2 * static_cast<double>(size));
    EXPECT_EQ(count_in(g.train_nodes), expected_train) << y;
    EXPECT_EQ(count_in(g.val_nodes), expected_train) << y;
    EXPECT_EQ(count_in(g.test_nodes), size - 2 * expected_train) << y;
  }
  for (const auto* ids : {&g.train_nodes, &g.val_nodes, &g.test_nodes})
    EXPECT_TRUE(std::is_sorted(ids->begin(), ids->end()));
  expect_partition(g);
  // Labels are a random permutation, not a pattern of node ids.
  std::vector<int64_t> pattern(labels.size());
  for (size_t i = 0; i < pattern.size(); ++i) pattern[i] = static_cast<int64_t>(i % 3);
  EXPECT_NE(labels, pattern);
}

// Squared distances between the sample class means, against signal^2 plus the noise the means keep.
TEST(Csbm, FeatureClassMeansAreSignalApartWithUnitNoise) {
  for (const double signal : {0.0, 1.0, 3.0}) {
    CsbmConfig c = small_config();
    c.nodes = 3000;
    c.features = 16;
    c.signal = signal;
    const GraphData g = csbm(c);
    SCOPED_TRACE(g.name);
    const int64_t width = 16;
    ASSERT_EQ(g.features.shape(), (Shape{3000, width}));
    const std::vector<float> x = g.features.to_vector<float>();
    const std::vector<int64_t> labels = g.labels.to_vector<int64_t>();
    std::vector<std::vector<double>> mean(3, std::vector<double>(width, 0.0));
    std::vector<double> count(3, 0.0);
    for (int64_t i = 0; i < 3000; ++i) {
      const auto y = static_cast<size_t>(labels[static_cast<size_t>(i)]);
      count[y] += 1;
      for (int64_t f = 0; f < width; ++f) mean[y][static_cast<size_t>(f)] += x[static_cast<size_t>(i * width + f)];
    }
    for (size_t y = 0; y < 3; ++y)
      for (double& m : mean[y]) m /= count[y];
    // Within-class spread: each coordinate has variance 1 (pooled over 3000 * 16 values, 5 sigma).
    double squares = 0;
    for (int64_t i = 0; i < 3000; ++i) {
      const auto y = static_cast<size_t>(labels[static_cast<size_t>(i)]);
      for (int64_t f = 0; f < width; ++f) {
        const double d = x[static_cast<size_t>(i * width + f)] - mean[y][static_cast<size_t>(f)];
        squares += d * d;
      }
    }
    const double values = 3000.0 * width;
    EXPECT_NEAR(squares / (values - 3 * width), 1.0, 5 * std::sqrt(2 / values));
    // mean_a - mean_b = signal * (mu_a - mu_b) + e, e ~ N(0, s I) with s = 1/n_a + 1/n_b, so
    // |.|^2 has mean signal^2 + F s and variance 4 signal^2 s + 2 F s^2.
    for (size_t a = 0; a < 3; ++a)
      for (size_t b = a + 1; b < 3; ++b) {
        double distance2 = 0;
        for (int64_t f = 0; f < width; ++f) {
          const double d = mean[a][static_cast<size_t>(f)] - mean[b][static_cast<size_t>(f)];
          distance2 += d * d;
        }
        const double s = 1 / count[a] + 1 / count[b];
        const double expected = signal * signal + width * s;
        const double sd = std::sqrt(4 * signal * signal * s + 2 * width * s * s);
        EXPECT_NEAR(distance2, expected, 5 * sd) << a << " vs " << b;
      }
  }
}

TEST(Csbm, BadConfigsNameTheValue) {
  const auto with = [](auto change) {
    CsbmConfig c = small_config();
    change(c);
    return c;
  };
  EXPECT_ERROR(csbm(with([](CsbmConfig& c) { c.classes = 1; })), "classes = 1", "at least 2");
  EXPECT_ERROR(csbm(with([](CsbmConfig& c) { c.nodes = 5; })), "nodes = 5", "at least 2 per class");
  EXPECT_ERROR(csbm(with([](CsbmConfig& c) { c.features = 2; })), "features = 2", "at least classes = 3");
  EXPECT_ERROR(csbm(with([](CsbmConfig& c) { c.homophily = 1.5; })), "homophily = 1.5", "[0, 1]");
  EXPECT_ERROR(csbm(with([](CsbmConfig& c) { c.homophily = -0.1; })), "homophily = -0.1");
  EXPECT_ERROR(csbm(with([](CsbmConfig& c) { c.homophily = std::nan(""); })), "homophily = nan");
  EXPECT_ERROR(csbm(with([](CsbmConfig& c) { c.signal = -1; })), "signal = -1");
  EXPECT_ERROR(csbm(with([](CsbmConfig& c) { c.signal = INFINITY; })), "signal = inf");
  EXPECT_ERROR(csbm(with([](CsbmConfig& c) { c.degree = 0; })), "degree = 0");
  EXPECT_ERROR(csbm(with([](CsbmConfig& c) { c.degree = 0.0001; })), "degree = 0.0001", "no edges");
  EXPECT_ERROR(csbm(with([](CsbmConfig& c) { c.degree = 5000; })), "degree = 5000", "(0, 999)");
  // 1000 nodes in 3 classes hold about 166k same-class pairs: 0.9 * 200k edges is too dense.
  EXPECT_ERROR(csbm(with([](CsbmConfig& c) {
                 c.degree = 400;
                 c.homophily = 0.9;
               })),
               "degree = 400", "same-class edges", "at most half");
  EXPECT_ERROR(csbm(with([](CsbmConfig& c) { c.train_fraction = 0; })), "train fraction = 0");
  EXPECT_ERROR(csbm(with([](CsbmConfig& c) { c.val_fraction = -0.5; })), "val fraction = -0.5");
  EXPECT_ERROR(csbm(with([](CsbmConfig& c) {
                 c.train_fraction = 0.6;
                 c.val_fraction = 0.4;
               })),
               "= 1", "leave test nodes");
}

TEST(SplitNodes, EveryClassTrainsEvenWhenTiny) {
  // Class 1 has two nodes: round(0.1 * 2) = 0 would leave it untrained.
  const std::vector<int64_t> labels = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1};
  const NodeSplit split = split_nodes(labels, 2, 0.1, 0.1, 3);
  EXPECT_EQ(std::count_if(split.train.begin(), split.train.end(), [](int64_t i) { return i >= 10; }), 1);
  EXPECT_EQ(split.train.size() + split.val.size() + split.test.size(), labels.size());
  EXPECT_EQ(split.train, split_nodes(labels, 2, 0.1, 0.1, 3).train);
  EXPECT_ERROR(split_nodes({0, 2}, 2, 0.5, 0.1, 0), "node 1 has label 2");
}

// ---------------------------------------------------------------------------------------------
// validate_graph

// A path 0 - 1 - 2 - 3 with both directions, two classes and a split.
GraphData small_graph() {
  GraphData g;
  g.name = "small";
  g.num_nodes = 4;
  g.num_classes = 2;
  g.src = {0, 1, 1, 2, 2, 3};
  g.dst = {1, 0, 2, 1, 3, 2};
  g.features = Tensor::zeros({4, 3});
  g.labels = Tensor::from_vector(std::vector<int64_t>{0, 0, 1, 1}, {4});
  g.train_nodes = {0, 3};
  g.val_nodes = {1};
  g.test_nodes = {2};
  return g;
}

TEST(ValidateGraph, AcceptsAWellFormedGraph) { EXPECT_NO_THROW(validate_graph(small_graph())); }

TEST(ValidateGraph, RejectsBadEdgesNamingTheValue) {
  GraphData g = small_graph();
  g.src[2] = 4;
  EXPECT_ERROR(validate_graph(g), "'small'", "edge 2", "src = 4", "out of range for 4 nodes", "[0, 4)");
  g = small_graph();
  g.dst[4] = -1;
  EXPECT_ERROR(validate_graph(g), "edge 4", "dst = -1", "negative");
  g = small_graph();
  g.dst.pop_back();
  EXPECT_ERROR(validate_graph(g), "src has 6 node ids but dst has 5");
  g = small_graph();
  g.dst[0] = 0;
  EXPECT_ERROR(validate_graph(g), "edge 0 is a self loop 0 -> 0");
  g = small_graph();
  g.src.push_back(2);
  g.dst.push_back(3);
  EXPECT_ERROR(validate_graph(g), "edge 6 repeats the pair 2 -> 3 of edge 4");
}

TEST(ValidateGraph, RejectsBadFeaturesLabelsAndSplits) {
  GraphData g = small_graph();
  g.features = Tensor::zeros({3, 3});
  EXPECT_ERROR(validate_graph(g), "features have 3 rows for 4 nodes");
  g.features = Tensor::zeros({4, 3}, DType::F64);
  EXPECT_ERROR(validate_graph(g), "features are f64[4, 3] on cpu", "expected f32 [4, F]");
  g = small_graph();
  g.labels = Tensor::from_vector(std::vector<int64_t>{0, 2, 1, 1}, {4});
  EXPECT_ERROR(validate_graph(g), "node 1 has label 2", "[0, 2)");
  g.labels = Tensor::from_vector(std::vector<int64_t>{0, 1, 1}, {3});
  EXPECT_ERROR(validate_graph(g), "labels are i64[3]", "expected i64 [4]");
  g = small_graph();
  g.test_nodes = {2, 3};
  EXPECT_ERROR(validate_graph(g), "node 3 is in both train_nodes and test_nodes");
  g = small_graph();
  g.train_nodes = {3, 0};
  EXPECT_ERROR(validate_graph(g), "train_nodes must be sorted ascending", "train_nodes[1] = 0 follows 3");
  g = small_graph();
  g.val_nodes = {7};
  EXPECT_ERROR(validate_graph(g), "val_nodes[0] = 7 is not a node id in [0, 4)");
}

// ---------------------------------------------------------------------------------------------
// load_graph

TEST(LoadGraph, NamedGraphsAndCsbmSpecs) {
  const GraphData karate = load_graph("karate");
  EXPECT_EQ(karate.src, karate_club().src);
  const GraphData fallback = load_graph("csbm");
  const GraphData defaults = csbm(CsbmConfig{});
  EXPECT_EQ(fallback.src, defaults.src);
  EXPECT_EQ(fallback.num_nodes, 2000);

  const GraphData g =
      load_graph("csbm:homophily=0.8,classes=3,nodes=1000,degree=8,features=16,signal=1.5,seed=3,train=0.2,val=0.2");
  CsbmConfig c;
  c.homophily = 0.8;
  c.classes = 3;
  c.nodes = 1000;
  c.degree = 8;
  c.features = 16;
  c.signal = 1.5;
  c.seed = 3;
  const GraphData expected = csbm(c);
  EXPECT_EQ(g.name, expected.name);
  EXPECT_EQ(g.src, expected.src);
  EXPECT_EQ(g.features.to_vector<float>(), expected.features.to_vector<float>());
  EXPECT_EQ(g.num_classes, 3);
  EXPECT_EQ(g.features.shape(), (Shape{1000, 16}));
  // Spaces around keys and values are allowed; the key order does not matter.
  EXPECT_EQ(load_graph("csbm: seed = 3 ,signal=1.5,features=16,degree=8,nodes=1000,classes=3,homophily=0.8").dst,
            expected.dst);
}

TEST(LoadGraph, BadSpecsNameTheProblem) {
  EXPECT_ERROR(load_graph("cora"), "unknown graph 'cora'", "karate, csbm");
  EXPECT_ERROR(load_graph("karate:nodes=3"), "karate takes no options");
  EXPECT_ERROR(load_graph("csbm:homophilly=0.8"), "unknown csbm option 'homophilly'", "homophily");
  EXPECT_ERROR(load_graph("csbm:nodes=1.5"), "nodes = '1.5' is not an integer");
  EXPECT_ERROR(load_graph("csbm:homophily=high"), "homophily = 'high' is not a number");
  EXPECT_ERROR(load_graph("csbm:homophily="), "homophily = '' is not a number");
  EXPECT_ERROR(load_graph("csbm:seed=-1"), "seed = '-1' is not an integer >= 0");
  EXPECT_ERROR(load_graph("csbm:homophily=1.2"), "homophily = 1.2");
  EXPECT_ERROR(load_graph("csbm:homophily=nan"), "homophily = nan");
  EXPECT_ERROR(load_graph("csbm:nodes=100,nodes=200"), "option 'nodes' is given twice");
  EXPECT_ERROR(load_graph("csbm:nodes"), "option 'nodes' of csbm is not KEY=VALUE");
  EXPECT_ERROR(load_graph("csbm:nodes=100,"), "option '' of csbm is not KEY=VALUE");
  EXPECT_ERROR(load_graph("files"), "files needs edges=PATH");
}

void write_text(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::trunc);
  out << text;
  ASSERT_TRUE(out.good()) << path;
}

TEST(LoadGraph, TextFilesAsUndirectedGraph) {
  TempDir dir;
  write_text(dir.file("edges.txt"), "# a triangle and a pendant\n0 1\n1 2   # inline comment\n\n2 0\n1 0\n3 3\n2\t4\n");
  write_text(dir.file("labels.txt"), "0\n0\n1\n# node 3\n1\n+2\n");
  write_text(dir.file("features.txt"), "1 2\n3,4\n5 6\n7 8\n-1e-3 inf\n");
  write_text(dir.file("features_ok.txt"), "1 2\n3,4\n5 6\n7 8\n-1e-3 9\n");
  const std::string base = "files:edges=" + dir.file("edges.txt") + ",labels=" + dir.file("labels.txt");

  const GraphData g = load_graph(base + ",features=" + dir.file("features_ok.txt") + ",train=0.5,val=0,seed=1");
  EXPECT_EQ(g.num_nodes, 5);
  EXPECT_EQ(g.num_classes, 3);
  // 1 0 repeats 0 1 and 3 3 is a self loop: four undirected edges remain.
  EXPECT_EQ(g.src, (std::vector<int64_t>{0, 0, 1, 1, 2, 2, 2, 4}));
  EXPECT_EQ(g.dst, (std::vector<int64_t>{1, 2, 0, 2, 0, 1, 4, 2}));
  EXPECT_EQ(g.labels.to_vector<int64_t>(), (std::vector<int64_t>{0, 0, 1, 1, 2}));
  EXPECT_EQ(g.features.to_vector<float>(), (std::vector<float>{1, 2, 3, 4, 5, 6, 7, 8, -1e-3f, 9}));
  EXPECT_EQ(g.features.shape(), (Shape{5, 2}));
  EXPECT_EQ(g.train_nodes.size(), 3u);  // one per class
  EXPECT_TRUE(g.val_nodes.empty());
  expect_partition(g);

  // Without a features file: one-hot node ids. Default split: the same for the same seed.
  const GraphData plain = load_graph(base);
  EXPECT_EQ(plain.features.shape(), (Shape{5, 5}));
  EXPECT_EQ(plain.train_nodes, load_graph(base + ",seed=0").train_nodes);

  EXPECT_ERROR(load_graph(base + ",features=" + dir.file("features.txt")), "features.txt:5",
               "'inf' is not a finite number");
}

TEST(LoadGraph, BadFilesNameFileAndLine) {
  TempDir dir;
  write_text(dir.file("labels.txt"), "0\n1\n1\n");
  const std::string labels = ",labels=" + dir.file("labels.txt");
  const auto edges = [&](const std::string& text) {
    write_text(dir.file("edges.txt"), text);
    return "files:edges=" + dir.file("edges.txt") + labels;
  };
  EXPECT_ERROR(load_graph(edges("0 1\n1 x\n")), "edges.txt:2", "'1 x' is not a pair of node ids");
  EXPECT_ERROR(load_graph(edges("0 1 2\n")), "edges.txt:1", "'0 1 2'");
  EXPECT_ERROR(load_graph(edges("# c\n0 1\n-1 2\n")), "edges.txt:3", "node id -1 is negative");
  EXPECT_ERROR(load_graph(edges("0 3\n")), "edges.txt:1", "node id 3 is out of range for 3 nodes", "[0, 3)");
  EXPECT_ERROR(load_graph(edges("0 1.0\n")), "edges.txt:1", "'0 1.0'");

  const std::string good_edges = edges("0 1\n");
  EXPECT_ERROR(load_graph("files:edges=" + dir.file("missing.txt") + labels), "edges file", "missing.txt",
               "does not exist");
  EXPECT_ERROR(load_graph(good_edges + ",features=" + dir.file("nope.txt")), "features file", "nope.txt");
  EXPECT_ERROR(load_graph("files:labels=" + dir.file("labels.txt")), "files needs edges=PATH");
  EXPECT_ERROR(load_graph("files:edges=" + dir.file("edges.txt")), "files needs labels=PATH");
  EXPECT_ERROR(load_graph(good_edges + ",weights=w.txt"), "unknown files option 'weights'");
  EXPECT_ERROR(load_graph(good_edges + ",train=lots"), "train = 'lots' is not a number");
  EXPECT_ERROR(load_graph(good_edges + ",train=0.7,val=0.5"), "leave test nodes");

  write_text(dir.file("bad_labels.txt"), "0\n1.5\n");
  EXPECT_ERROR(load_graph("files:edges=" + dir.file("edges.txt") + ",labels=" + dir.file("bad_labels.txt")),
               "bad_labels.txt:2", "'1.5' is not one integer label");
  write_text(dir.file("neg_labels.txt"), "0\n-2\n");
  EXPECT_ERROR(load_graph("files:edges=" + dir.file("edges.txt") + ",labels=" + dir.file("neg_labels.txt")),
               "neg_labels.txt:2", "label -2 is negative");
  write_text(dir.file("empty.txt"), "# nothing\n");
  EXPECT_ERROR(load_graph("files:edges=" + dir.file("edges.txt") + ",labels=" + dir.file("empty.txt")), "no labels");

  write_text(dir.file("short.txt"), "1 2\n3 4\n");
  EXPECT_ERROR(load_graph(good_edges + ",features=" + dir.file("short.txt")), "2 feature rows for 3 nodes");
  write_text(dir.file("ragged.txt"), "1 2\n3 4 5\n6 7\n");
  EXPECT_ERROR(load_graph(good_edges + ",features=" + dir.file("ragged.txt")), "ragged.txt:2",
               "a row of 3 values; the first row has 2");
}

TEST(EdgeHomophily, CountsSameLabelPairs) {
  GraphData g = small_graph();  // 0-1 same, 1-2 cross, 2-3 same
  EXPECT_DOUBLE_EQ(edge_homophily(g), 4.0 / 6.0);
  g.src.clear();
  g.dst.clear();
  EXPECT_ERROR(edge_homophily(g), "graph 'small' has no edges");
}

}  // namespace
}  // namespace minidl
