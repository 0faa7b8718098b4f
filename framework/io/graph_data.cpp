#include "framework/io/graph_data.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <numeric>
#include <string_view>
#include <unordered_set>
#include <utility>

#include "framework/core/check.h"
#include "framework/ops/ops.h"
#include "framework/random/generator.h"

namespace minidl {

namespace {

// The streams of one seed, one per kind of draw, so that changing one knob of the generator
// (say homophily) leaves the other draws (labels, features, split) as they were.
constexpr uint64_t kLabelStream = 0, kMeanStream = 1, kNoiseStream = 2, kEdgeStream = 3, kSplitStream = 4;

// Directed pairs in both directions of each undirected edge, sorted by (src, dst).
void store_undirected(const std::vector<std::pair<int64_t, int64_t>>& edges, GraphData& g) {
  std::vector<std::pair<int64_t, int64_t>> pairs;
  pairs.reserve(2 * edges.size());
  for (const auto& [a, b] : edges) {
    pairs.emplace_back(a, b);
    pairs.emplace_back(b, a);
  }
  std::sort(pairs.begin(), pairs.end());
  g.src.clear();
  g.dst.clear();
  g.src.reserve(pairs.size());
  g.dst.reserve(pairs.size());
  for (const auto& [s, d] : pairs) {
    g.src.push_back(s);
    g.dst.push_back(d);
  }
}

Tensor one_hot_ids(int64_t n) {
  Tensor eye = Tensor::zeros({n, n}, DType::F32);
  float* data = eye.data<float>();
  for (int64_t i = 0; i < n; ++i) data[i * n + i] = 1.0f;
  return eye;
}

void check_split_list(const GraphData& g, const std::vector<int64_t>& ids, const char* list) {
  for (size_t k = 0; k < ids.size(); ++k) {
    MINIDL_CHECK(ids[k] >= 0 && ids[k] < g.num_nodes, "graph '{}': {}[{}] = {} is not a node id in [0, {})", g.name,
                 list, k, ids[k], g.num_nodes);
    MINIDL_CHECK(k == 0 || ids[k - 1] < ids[k],
                 "graph '{}': {} must be sorted ascending without repeats, but {}[{}] = {} follows {}", g.name, list,
                 list, k, ids[k], ids[k - 1]);
  }
}

}  // namespace

void validate_graph(const GraphData& g) {
  MINIDL_CHECK(g.num_nodes > 0, "graph '{}': num_nodes = {}; expected at least one node", g.name, g.num_nodes);
  MINIDL_CHECK(g.num_classes > 0, "graph '{}': num_classes = {}; expected at least one class", g.name, g.num_classes);
  MINIDL_CHECK(g.src.size() == g.dst.size(),
               "graph '{}': src has {} node ids but dst has {}; expected one pair per edge", g.name, g.src.size(),
               g.dst.size());
  for (size_t e = 0; e < g.src.size(); ++e) {
    for (const auto& [end, id] : {std::pair<const char*, int64_t>{"src", g.src[e]}, {"dst", g.dst[e]}}) {
      MINIDL_CHECK(id >= 0, "graph '{}': edge {} has {} = {}, a negative node id; expected ids in [0, {})", g.name, e,
                   end, id, g.num_nodes);
      MINIDL_CHECK(id < g.num_nodes,
                   "graph '{}': edge {} has {} = {}, out of range for {} nodes; expected ids in [0, {})", g.name, e,
                   end, id, g.num_nodes, g.num_nodes);
    }
    MINIDL_CHECK(g.src[e] != g.dst[e],
                 "graph '{}': edge {} is a self loop {} -> {}; expected none (the layers add them)", g.name, e,
                 g.src[e], g.dst[e]);
  }
  // Duplicates: sort edge indices by pair, then equal neighbours repeat a pair.
  std::vector<size_t> order(g.src.size());
  std::iota(order.begin(), order.end(), size_t{0});
  const auto pair_of = [&](size_t e) { return std::pair(g.src[e], g.dst[e]); };
  std::sort(order.begin(), order.end(),
            [&](size_t a, size_t b) { return std::pair(pair_of(a), a) < std::pair(pair_of(b), b); });
  for (size_t k = 1; k < order.size(); ++k)
    MINIDL_CHECK(pair_of(order[k]) != pair_of(order[k - 1]),
                 "graph '{}': edge {} repeats the pair {} -> {} of edge {}; expected each pair once", g.name, order[k],
                 g.src[order[k]], g.dst[order[k]], order[k - 1]);

  MINIDL_CHECK(g.features.defined(), "graph '{}': features are undefined; expected f32 [{}, F]", g.name, g.num_nodes);
  MINIDL_CHECK(g.features.dtype() == DType::F32 && g.features.dim() == 2 && g.features.device() == kCPU,
               "graph '{}': features are {}; expected f32 [{}, F] on cpu", g.name, g.features.describe(), g.num_nodes);
  MINIDL_CHECK(g.features.size(0) == g.num_nodes,
               "graph '{}': features have {} rows for {} nodes; expected one row per node", g.name, g.features.size(0),
               g.num_nodes);
  MINIDL_CHECK(g.labels.defined(), "graph '{}': labels are undefined; expected i64 [{}]", g.name, g.num_nodes);
  MINIDL_CHECK(g.labels.dtype() == DType::I64 && g.labels.dim() == 1 && g.labels.size(0) == g.num_nodes &&
                   g.labels.device() == kCPU,
               "graph '{}': labels are {}; expected i64 [{}] on cpu", g.name, g.labels.describe(), g.num_nodes);
  const std::vector<int64_t> labels = g.labels.to_vector<int64_t>();
  for (size_t i = 0; i < labels.size(); ++i)
    MINIDL_CHECK(labels[i] >= 0 && labels[i] < g.num_classes,
                 "graph '{}': node {} has label {}; expected a class in [0, {})", g.name, i, labels[i], g.num_classes);

  check_split_list(g, g.train_nodes, "train_nodes");
  check_split_list(g, g.val_nodes, "val_nodes");
  check_split_list(g, g.test_nodes, "test_nodes");
  std::vector<const char*> owner(static_cast<size_t>(g.num_nodes), nullptr);
  for (const auto& [list, ids] : {std::pair<const char*, const std::vector<int64_t>*>{"train_nodes", &g.train_nodes},
                                  {"val_nodes", &g.val_nodes},
                                  {"test_nodes", &g.test_nodes}}) {
    for (int64_t i : *ids) {
      const char*& o = owner[static_cast<size_t>(i)];
      MINIDL_CHECK(o == nullptr, "graph '{}': node {} is in both {} and {}; expected disjoint splits", g.name, i, o,
                   list);
      o = list;
    }
  }
}

GraphData karate_club() {
  // The 78 friendships of Zachary (1977), numbered from 0 as networkx's karate_club_graph.
  static constexpr std::array<std::array<int8_t, 2>, 78> kFriendships = {{
      {0, 1},   {0, 2},   {0, 3},   {0, 4},   {0, 5},   {0, 6},   {0, 7},   {0, 8},   {0, 10},  {0, 11},
      {0, 12},  {0, 13},  {0, 17},  {0, 19},  {0, 21},  {0, 31},  {1, 2},   {1, 3},   {1, 7},   {1, 13},
      {1, 17},  {1, 19},  {1, 21},  {1, 30},  {2, 3},   {2, 7},   {2, 8},   {2, 9},   {2, 13},  {2, 27},
      {2, 28},  {2, 32},  {3, 7},   {3, 12},  {3, 13},  {4, 6},   {4, 10},  {5, 6},   {5, 10},  {5, 16},
      {6, 16},  {8, 30},  {8, 32},  {8, 33},  {9, 33},  {13, 33}, {14, 32}, {14, 33}, {15, 32}, {15, 33},
      {18, 32}, {18, 33}, {19, 33}, {20, 32}, {20, 33}, {22, 32}, {22, 33}, {23, 25}, {23, 27}, {23, 29},
      {23, 32}, {23, 33}, {24, 25}, {24, 27}, {24, 31}, {25, 31}, {26, 29}, {26, 33}, {27, 33}, {28, 31},
      {28, 33}, {29, 32}, {29, 33}, {30, 32}, {30, 33}, {31, 32}, {31, 33}, {32, 33},
  }};
  // The members who stayed with Mr. Hi (networkx's club == "Mr. Hi"); the rest followed the Officer.
  static constexpr std::array<int8_t, 17> kMrHiClub = {0, 1, 2, 3, 4, 5, 6, 7, 8, 10, 11, 12, 13, 16, 17, 19, 21};
  constexpr int64_t kMembers = 34;

  GraphData g;
  g.name = "karate";
  g.num_nodes = kMembers;
  g.num_classes = 2;
  std::vector<std::pair<int64_t, int64_t>> edges;
  for (const auto& [a, b] : kFriendships) edges.emplace_back(a, b);
  store_undirected(edges, g);
  g.features = one_hot_ids(kMembers);
  std::vector<int64_t> labels(kMembers, 1);
  for (int8_t i : kMrHiClub) labels[static_cast<size_t>(i)] = 0;
  g.labels = Tensor::from_vector(labels, {kMembers});
  g.train_nodes = kKarateTrainNodes;
  for (int64_t i = 0; i < kMembers; ++i)
    if (!std::binary_search(g.train_nodes.begin(), g.train_nodes.end(), i)) g.test_nodes.push_back(i);
  validate_graph(g);
  return g;
}

NodeSplit split_nodes(const std::vector<int64_t>& labels, int64_t num_classes, double train_fraction,
                      double val_fraction, uint64_t seed) {
  MINIDL_CHECK(train_fraction > 0 && train_fraction < 1, "split: train fraction = {} is outside (0, 1)",
               train_fraction);
  MINIDL_CHECK(val_fraction >= 0 && val_fraction < 1, "split: val fraction = {} is outside [0, 1)", val_fraction);
  MINIDL_CHECK(train_fraction + val_fraction < 1,
               "split: train fraction {} + val fraction {} = {}; expected less than 1 to leave test nodes",
               train_fraction, val_fraction, train_fraction + val_fraction);
  MINIDL_CHECK(num_classes > 0, "split: num_classes = {}; expected at least one class", num_classes);
  std::vector<std::vector<int64_t>> members(static_cast<size_t>(num_classes));
  for (size_t i = 0; i < labels.size(); ++i) {
    MINIDL_CHECK(labels[i] >= 0 && labels[i] < num_classes, "split: node {} has label {}; expected a class in [0, {})",
                 i, labels[i], num_classes);
    members[static_cast<size_t>(labels[i])].push_back(static_cast<int64_t>(i));
  }
  Generator gen(seed, kSplitStream);
  NodeSplit split;
  for (std::vector<int64_t>& nodes : members) {
    const auto n = static_cast<int64_t>(nodes.size());
    if (n == 0) continue;
    for (int64_t k = n - 1; k > 0; --k)  // Fisher-Yates
      std::swap(nodes[static_cast<size_t>(k)], nodes[gen.next_below(static_cast<uint64_t>(k + 1))]);
    const int64_t train =
        std::min<int64_t>(n, std::max<int64_t>(1, std::llround(train_fraction * static_cast<double>(n))));
    const int64_t val = std::min<int64_t>(n - train, std::llround(val_fraction * static_cast<double>(n)));
    split.train.insert(split.train.end(), nodes.begin(), nodes.begin() + train);
    split.val.insert(split.val.end(), nodes.begin() + train, nodes.begin() + train + val);
    split.test.insert(split.test.end(), nodes.begin() + train + val, nodes.end());
  }
  for (std::vector<int64_t>* list : {&split.train, &split.val, &split.test}) std::sort(list->begin(), list->end());
  return split;
}

namespace {

void check_csbm_config(const CsbmConfig& c) {
  MINIDL_CHECK(c.classes >= 2, "csbm: classes = {}; expected at least 2", c.classes);
  MINIDL_CHECK(c.nodes >= 2 * c.classes, "csbm: nodes = {}; expected at least 2 per class ({} for {} classes)", c.nodes,
               2 * c.classes, c.classes);
  MINIDL_CHECK(c.features >= c.classes,
               "csbm: features = {}; expected at least classes = {} (each class mean is its own orthogonal direction)",
               c.features, c.classes);
  MINIDL_CHECK(std::isfinite(c.homophily) && c.homophily >= 0 && c.homophily <= 1,
               "csbm: homophily = {}; expected a fraction of edges in [0, 1]", c.homophily);
  MINIDL_CHECK(std::isfinite(c.signal) && c.signal >= 0,
               "csbm: signal = {}; expected a finite distance between class means >= 0", c.signal);
  MINIDL_CHECK(std::isfinite(c.degree) && c.degree > 0 && c.degree < static_cast<double>(c.nodes - 1),
               "csbm: degree = {}; expected a mean degree in (0, {}) for {} nodes", c.degree, c.nodes - 1, c.nodes);
  MINIDL_CHECK(std::isfinite(c.train_fraction) && c.train_fraction > 0 && c.train_fraction < 1,
               "csbm: train fraction = {}; expected a value in (0, 1)", c.train_fraction);
  MINIDL_CHECK(std::isfinite(c.val_fraction) && c.val_fraction >= 0 && c.val_fraction < 1,
               "csbm: val fraction = {}; expected a value in [0, 1)", c.val_fraction);
  MINIDL_CHECK(c.train_fraction + c.val_fraction < 1,
               "csbm: train fraction {} + val fraction {} = {}; expected less than 1 to leave test nodes",
               c.train_fraction, c.val_fraction, c.train_fraction + c.val_fraction);
}

// Orthonormal rows u_c from Gaussian rows by modified Gram-Schmidt (run twice for accuracy).
std::vector<double> orthonormal_rows(std::vector<double> rows, int64_t count, int64_t width) {
  const auto row = [&](int64_t c) { return rows.data() + c * width; };
  for (int64_t c = 0; c < count; ++c) {
    for (int pass = 0; pass < 2; ++pass)
      for (int64_t b = 0; b < c; ++b) {
        double dot = 0;
        for (int64_t f = 0; f < width; ++f) dot += row(c)[f] * row(b)[f];
        for (int64_t f = 0; f < width; ++f) row(c)[f] -= dot * row(b)[f];
      }
    double norm = 0;
    for (int64_t f = 0; f < width; ++f) norm += row(c)[f] * row(c)[f];
    norm = std::sqrt(norm);
    // Gaussian vectors are linearly dependent with probability 0; this guards the arithmetic.
    MINIDL_CHECK(norm > 1e-6, "csbm: class mean {} came out degenerate; try another seed", c);
    for (int64_t f = 0; f < width; ++f) row(c)[f] /= norm;
  }
  return rows;
}

}  // namespace

GraphData csbm(const CsbmConfig& c) {
  check_csbm_config(c);
  const int64_t n = c.nodes, classes = c.classes, width = c.features;
  GraphData g;
  g.name = fmt::format("csbm:homophily={},classes={},nodes={},degree={},features={},signal={},seed={},train={},val={}",
                       c.homophily, classes, n, c.degree, width, c.signal, c.seed, c.train_fraction, c.val_fraction);
  g.num_nodes = n;
  g.num_classes = classes;

  // Labels: node k of a random permutation gets class k % classes.
  std::vector<int64_t> labels(static_cast<size_t>(n));
  for (int64_t k = 0; k < n; ++k) labels[static_cast<size_t>(k)] = k % classes;
  Generator label_gen(c.seed, kLabelStream);
  for (int64_t k = n - 1; k > 0; --k)
    std::swap(labels[static_cast<size_t>(k)], labels[label_gen.next_below(static_cast<uint64_t>(k + 1))]);
  g.labels = Tensor::from_vector(labels, {n});

  // Nodes listed class by class: class c holds by_class[start[c], start[c] + size[c]).
  std::vector<int64_t> size(static_cast<size_t>(classes), 0), start(static_cast<size_t>(classes), 0);
  for (int64_t y : labels) ++size[static_cast<size_t>(y)];
  for (int64_t y = 1; y < classes; ++y)
    start[static_cast<size_t>(y)] = start[static_cast<size_t>(y - 1)] + size[static_cast<size_t>(y - 1)];
  std::vector<int64_t> by_class(static_cast<size_t>(n)), position(static_cast<size_t>(n));
  {
    std::vector<int64_t> next = start;
    for (int64_t i = 0; i < n; ++i) {
      const int64_t p = next[static_cast<size_t>(labels[static_cast<size_t>(i)])]++;
      by_class[static_cast<size_t>(p)] = i;
      position[static_cast<size_t>(i)] = p;
    }
  }

  // Edges: each of round(n * degree / 2) is same-class with probability homophily.
  const auto edge_count = static_cast<int64_t>(std::llround(static_cast<double>(n) * c.degree / 2));
  MINIDL_CHECK(edge_count >= 1, "csbm: degree = {} gives no edges among {} nodes; expected a larger degree", c.degree,
               n);
  double same_pairs = 0;
  for (int64_t s : size) same_pairs += static_cast<double>(s) * static_cast<double>(s - 1) / 2;
  const double cross_pairs = static_cast<double>(n) * static_cast<double>(n - 1) / 2 - same_pairs;
  // Redrawing repeated pairs stays cheap and nearly unbiased while each kind is at most half used.
  MINIDL_CHECK(c.homophily * static_cast<double>(edge_count) <= same_pairs / 2,
               "csbm: degree = {} with homophily = {} needs {} same-class edges of the {} pairs there are among {} "
               "nodes in {} classes; expected at most half of them (lower degree or raise nodes)",
               c.degree, c.homophily, c.homophily * static_cast<double>(edge_count), same_pairs, n, classes);
  MINIDL_CHECK((1 - c.homophily) * static_cast<double>(edge_count) <= cross_pairs / 2,
               "csbm: degree = {} with homophily = {} needs {} cross-class edges of the {} pairs there are among {} "
               "nodes in {} classes; expected at most half of them (lower degree or raise nodes)",
               c.degree, c.homophily, (1 - c.homophily) * static_cast<double>(edge_count), cross_pairs, n, classes);
  Generator edge_gen(c.seed, kEdgeStream);
  std::unordered_set<uint64_t> taken;
  taken.reserve(static_cast<size_t>(edge_count) * 2);
  std::vector<std::pair<int64_t, int64_t>> edges;
  edges.reserve(static_cast<size_t>(edge_count));
  double same_taken = 0, cross_taken = 0;
  for (int64_t e = 0; e < edge_count; ++e) {
    const bool same = edge_gen.next_uniform() < c.homophily;
    MINIDL_CHECK(same ? same_taken < same_pairs : cross_taken < cross_pairs,
                 "csbm: every {} pair among {} nodes is already an edge; lower degree",
                 same ? "same-class" : "cross-class", n);
    for (;;) {
      const auto u = static_cast<int64_t>(edge_gen.next_below(static_cast<uint64_t>(n)));
      const auto y = static_cast<size_t>(labels[static_cast<size_t>(u)]);
      int64_t slot;
      if (same) {  // another member of u's class: skip u's own slot
        slot = static_cast<int64_t>(edge_gen.next_below(static_cast<uint64_t>(size[y] - 1)));
        if (start[y] + slot >= position[static_cast<size_t>(u)]) ++slot;
        slot += start[y];
      } else {  // a node outside u's class: skip the class's block
        slot = static_cast<int64_t>(edge_gen.next_below(static_cast<uint64_t>(n - size[y])));
        if (slot >= start[y]) slot += size[y];
      }
      const int64_t v = by_class[static_cast<size_t>(slot)];
      const int64_t lo = std::min(u, v), hi = std::max(u, v);
      if (!taken.insert(static_cast<uint64_t>(lo) * static_cast<uint64_t>(n) + static_cast<uint64_t>(hi)).second)
        continue;
      edges.emplace_back(lo, hi);
      (same ? same_taken : cross_taken) += 1;
      break;
    }
  }
  store_undirected(edges, g);

  // Features: signal * u_y / sqrt(2) + N(0, I), so class means are exactly `signal` apart.
  Generator mean_gen(c.seed, kMeanStream), noise_gen(c.seed, kNoiseStream);
  const std::vector<double> directions = orthonormal_rows(
      gaussian_noise(Tensor::zeros({classes, width}, DType::F64), 0, 1, mean_gen).to_vector<double>(), classes, width);
  g.features = gaussian_noise(Tensor::zeros({n, width}, DType::F32), 0, 1, noise_gen);
  float* x = g.features.data<float>();
  const double scale = c.signal / std::sqrt(2.0);
  for (int64_t i = 0; i < n; ++i) {
    const double* u = directions.data() + labels[static_cast<size_t>(i)] * width;
    for (int64_t f = 0; f < width; ++f) x[i * width + f] = static_cast<float>(x[i * width + f] + scale * u[f]);
  }

  NodeSplit split = split_nodes(labels, classes, c.train_fraction, c.val_fraction, c.seed);
  g.train_nodes = std::move(split.train);
  g.val_nodes = std::move(split.val);
  g.test_nodes = std::move(split.test);
  validate_graph(g);
  return g;
}

double edge_homophily(const GraphData& g) {
  MINIDL_CHECK(!g.src.empty(), "edge_homophily: graph '{}' has no edges", g.name);
  MINIDL_CHECK(g.src.size() == g.dst.size(), "edge_homophily: graph '{}' has {} src ids but {} dst ids", g.name,
               g.src.size(), g.dst.size());
  const std::vector<int64_t> labels = g.labels.to_vector<int64_t>();
  int64_t same = 0;
  for (size_t e = 0; e < g.src.size(); ++e) {
    const int64_t s = g.src[e], d = g.dst[e];
    MINIDL_CHECK(s >= 0 && s < static_cast<int64_t>(labels.size()) && d >= 0 && d < static_cast<int64_t>(labels.size()),
                 "edge_homophily: graph '{}': edge {} -> {} is out of range for {} labelled nodes", g.name, s, d,
                 labels.size());
    same += labels[static_cast<size_t>(s)] == labels[static_cast<size_t>(d)];
  }
  return static_cast<double>(same) / static_cast<double>(g.src.size());
}

// ---- load_graph: spec strings and text files ----

namespace {

std::string_view trim(std::string_view s) {
  const size_t begin = s.find_first_not_of(" \t\r");
  if (begin == std::string_view::npos) return {};
  return s.substr(begin, s.find_last_not_of(" \t\r") - begin + 1);
}

std::vector<std::string_view> split_on(std::string_view s, char sep) {
  std::vector<std::string_view> parts;
  for (;;) {
    const size_t at = s.find(sep);
    parts.push_back(s.substr(0, at));
    if (at == std::string_view::npos) return parts;
    s.remove_prefix(at + 1);
  }
}

template <typename T>
bool parse_number(std::string_view text, T& value) {
  if (!text.empty() && text.front() == '+') text.remove_prefix(1);  // from_chars takes no '+'
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  return !text.empty() && ec == std::errc() && end == text.data() + text.size();
}

// The KEY=VALUE options of a spec, each key once, in a map that load_graph empties as it reads them.
std::map<std::string, std::string> parse_options(const std::string& spec, std::string_view kind,
                                                 std::string_view text) {
  std::map<std::string, std::string> options;
  for (std::string_view item : split_on(text, ',')) {
    item = trim(item);
    const size_t eq = item.find('=');
    MINIDL_CHECK(eq != std::string_view::npos && eq > 0, "graph spec '{}': option '{}' of {} is not KEY=VALUE", spec,
                 item, kind);
    const std::string key(trim(item.substr(0, eq)));
    MINIDL_CHECK(options.emplace(key, std::string(trim(item.substr(eq + 1)))).second,
                 "graph spec '{}': {} option '{}' is given twice", spec, kind, key);
  }
  return options;
}

// Reads and removes options[key] when present, as T.
template <typename T>
void take_option(const std::string& spec, std::map<std::string, std::string>& options, const std::string& key, T& value,
                 const char* expected) {
  const auto it = options.find(key);
  if (it == options.end()) return;
  MINIDL_CHECK(parse_number(it->second, value), "graph spec '{}': {} = '{}' is not {}", spec, key, it->second,
               expected);
  options.erase(it);
}

void reject_leftovers(const std::string& spec, std::string_view kind, const std::map<std::string, std::string>& options,
                      const char* known) {
  if (!options.empty())
    MINIDL_FAIL("graph spec '{}': unknown {} option '{}'; expected one of {}", spec, kind, options.begin()->first,
                known);
}

// The content lines of a text file, without '#' comments and surrounding blanks, with their numbers.
struct Line {
  int64_t number;
  std::string text;
};
std::vector<Line> read_lines(const std::string& path, const char* what) {
  MINIDL_CHECK(std::filesystem::is_regular_file(path), "graph {} file '{}' does not exist or is not a file", what,
               path);
  std::ifstream in(path);
  MINIDL_CHECK(in.good(), "graph {} file '{}' cannot be read", what, path);
  std::vector<Line> lines;
  std::string raw;
  for (int64_t number = 1; std::getline(in, raw); ++number) {
    std::string_view text(raw);
    text = trim(text.substr(0, text.find('#')));
    if (!text.empty()) lines.push_back({number, std::string(text)});
  }
  MINIDL_CHECK(!in.bad(), "graph {} file '{}': read error", what, path);
  return lines;
}

// Whitespace-separated tokens (and commas, in feature rows, so CSV rows read too).
std::vector<std::string_view> tokens(std::string_view text, std::string_view separators) {
  std::vector<std::string_view> out;
  size_t at = 0;
  while ((at = text.find_first_not_of(separators, at)) != std::string_view::npos) {
    const size_t end = text.find_first_of(separators, at);
    out.push_back(text.substr(at, end == std::string_view::npos ? std::string_view::npos : end - at));
    if (end == std::string_view::npos) break;
    at = end;
  }
  return out;
}

GraphData load_files(const std::string& spec, std::map<std::string, std::string> options) {
  std::string edges_path, labels_path, features_path;
  for (const auto& [key, path] : {std::pair<const char*, std::string*>{"edges", &edges_path},
                                  {"labels", &labels_path},
                                  {"features", &features_path}}) {
    const auto it = options.find(key);
    if (it == options.end()) continue;
    *path = it->second;
    options.erase(it);
  }
  double train = 0.2, val = 0.2;
  uint64_t seed = 0;
  take_option(spec, options, "train", train, "a number");
  take_option(spec, options, "val", val, "a number");
  take_option(spec, options, "seed", seed, "an integer >= 0");
  reject_leftovers(spec, "files", options, "edges, labels, features, train, val, seed");
  MINIDL_CHECK(!edges_path.empty(), "graph spec '{}': files needs edges=PATH", spec);
  MINIDL_CHECK(!labels_path.empty(), "graph spec '{}': files needs labels=PATH", spec);

  GraphData g;
  g.name = spec;
  std::vector<int64_t> labels;
  for (const Line& line : read_lines(labels_path, "labels")) {
    const std::vector<std::string_view> parts = tokens(line.text, " \t");
    int64_t label = 0;
    MINIDL_CHECK(parts.size() == 1 && parse_number(parts[0], label), "{}:{}: '{}' is not one integer label",
                 labels_path, line.number, line.text);
    MINIDL_CHECK(label >= 0, "{}:{}: label {} is negative; expected a class index >= 0", labels_path, line.number,
                 label);
    labels.push_back(label);
    g.num_classes = std::max(g.num_classes, label + 1);
  }
  MINIDL_CHECK(!labels.empty(), "{}: no labels; expected one integer per node", labels_path);
  g.num_nodes = static_cast<int64_t>(labels.size());
  g.labels = Tensor::from_vector(labels, {g.num_nodes});

  std::vector<std::pair<int64_t, int64_t>> edges;
  for (const Line& line : read_lines(edges_path, "edges")) {
    const std::vector<std::string_view> parts = tokens(line.text, " \t");
    std::array<int64_t, 2> ids{};
    MINIDL_CHECK(parts.size() == 2 && parse_number(parts[0], ids[0]) && parse_number(parts[1], ids[1]),
                 "{}:{}: '{}' is not a pair of node ids 'src dst'", edges_path, line.number, line.text);
    for (int64_t id : ids) {
      MINIDL_CHECK(id >= 0, "{}:{}: node id {} is negative; expected ids in [0, {})", edges_path, line.number, id,
                   g.num_nodes);
      MINIDL_CHECK(id < g.num_nodes,
                   "{}:{}: node id {} is out of range for {} nodes (labels in {}); expected ids in [0, {})", edges_path,
                   line.number, id, g.num_nodes, labels_path, g.num_nodes);
    }
    if (ids[0] != ids[1]) edges.emplace_back(std::min(ids[0], ids[1]), std::max(ids[0], ids[1]));
  }
  std::sort(edges.begin(), edges.end());
  edges.erase(std::unique(edges.begin(), edges.end()), edges.end());
  store_undirected(edges, g);

  if (features_path.empty()) {
    g.features = one_hot_ids(g.num_nodes);
  } else {
    const std::vector<Line> rows = read_lines(features_path, "features");
    MINIDL_CHECK(static_cast<int64_t>(rows.size()) == g.num_nodes,
                 "{}: {} feature rows for {} nodes (labels in {}); expected one row per node", features_path,
                 rows.size(), g.num_nodes, labels_path);
    std::vector<float> values;
    size_t width = 0;
    for (const Line& row : rows) {
      const std::vector<std::string_view> parts = tokens(row.text, " \t,");
      if (values.empty()) width = parts.size();
      MINIDL_CHECK(parts.size() == width, "{}:{}: a row of {} values; the first row has {}", features_path, row.number,
                   parts.size(), width);
      for (std::string_view part : parts) {
        float v = 0;
        MINIDL_CHECK(parse_number(part, v) && std::isfinite(v), "{}:{}: '{}' is not a finite number", features_path,
                     row.number, part);
        values.push_back(v);
      }
    }
    g.features = Tensor::from_vector(values, {g.num_nodes, static_cast<int64_t>(width)});
  }

  NodeSplit split = split_nodes(labels, g.num_classes, train, val, seed);
  g.train_nodes = std::move(split.train);
  g.val_nodes = std::move(split.val);
  g.test_nodes = std::move(split.test);
  validate_graph(g);
  return g;
}

GraphData load_csbm(const std::string& spec, std::map<std::string, std::string> options) {
  CsbmConfig config;
  take_option(spec, options, "nodes", config.nodes, "an integer");
  take_option(spec, options, "classes", config.classes, "an integer");
  take_option(spec, options, "features", config.features, "an integer");
  take_option(spec, options, "degree", config.degree, "a number");
  take_option(spec, options, "homophily", config.homophily, "a number");
  take_option(spec, options, "signal", config.signal, "a number");
  take_option(spec, options, "train", config.train_fraction, "a number");
  take_option(spec, options, "val", config.val_fraction, "a number");
  take_option(spec, options, "seed", config.seed, "an integer >= 0");
  reject_leftovers(spec, "csbm", options, "nodes, classes, features, degree, homophily, signal, train, val, seed");
  return csbm(config);
}

}  // namespace

GraphData load_graph(const std::string& spec) {
  const size_t colon = spec.find(':');
  const std::string kind(trim(std::string_view(spec).substr(0, colon)));
  const bool has_options = colon != std::string::npos;
  const std::string_view rest = has_options ? std::string_view(spec).substr(colon + 1) : std::string_view();
  if (kind == "karate") {
    MINIDL_CHECK(trim(rest).empty(), "graph spec '{}': karate takes no options", spec);
    return karate_club();
  }
  if (kind == "csbm")
    return load_csbm(spec, trim(rest).empty() ? std::map<std::string, std::string>{} : parse_options(spec, kind, rest));
  if (kind == "files") {
    MINIDL_CHECK(!trim(rest).empty(), "graph spec '{}': files needs edges=PATH,labels=PATH[,features=PATH]", spec);
    return load_files(spec, parse_options(spec, kind, rest));
  }
  MINIDL_FAIL(
      "graph spec '{}': unknown graph '{}'; expected karate, csbm[:KEY=VALUE,...] or "
      "files:edges=PATH,labels=PATH[,...]",
      spec, kind);
}

}  // namespace minidl
