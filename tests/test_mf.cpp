// The matrix-factorization recommender: the synthetic rating generator against its closed forms
// (bounds computed from the sample size), the model's prediction and embedding dropout, its
// gradient, and a short training run against the mean baseline.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "framework/autograd/gradcheck.h"
#include "framework/io/data_loader.h"
#include "framework/io/ratings.h"
#include "framework/ops/ops.h"
#include "framework/optim/optimizers.h"
#include "framework/regularize/dropout.h"
#include "models/mf.h"
#include "tests/file_checks.h"

namespace minidl {
namespace {

RatingsConfig small_config() {
  RatingsConfig c;
  c.users = 300;
  c.items = 200;
  c.rank = 3;
  c.density = 0.1;
  c.noise = 0.4;
  c.seed = 11;
  return c;
}

// Sample mean and variance (n - 1 in the denominator) of xs.
std::pair<double, double> mean_and_variance(const std::vector<double>& xs) {
  double mean = 0, var = 0;
  for (double x : xs) mean += x / static_cast<double>(xs.size());
  for (double x : xs) var += (x - mean) * (x - mean) / static_cast<double>(xs.size() - 1);
  return {mean, var};
}

// The sample variance of n normal draws of variance v has standard deviation v sqrt(2 / (n - 1)):
// expects it within 5 of those of v.
void expect_normal_variance(const std::vector<double>& xs, double v, const char* what) {
  const auto [mean, var] = mean_and_variance(xs);
  const double n = static_cast<double>(xs.size());
  EXPECT_NEAR(mean, 0.0, 5 * std::sqrt(v / n)) << what;
  EXPECT_NEAR(var, v, 5 * v * std::sqrt(2 / (n - 1))) << what;
}

std::vector<double> values_of(const Tensor& x) { return to_dtype(x, DType::F64).to_vector<double>(); }

TEST(Ratings, TheSameConfigGivesTheSameDataAndAnotherSeedOtherData) {
  const Ratings a = make_synthetic_ratings(small_config()), b = make_synthetic_ratings(small_config());
  EXPECT_EQ(a.train.pairs.to_vector<int64_t>(), b.train.pairs.to_vector<int64_t>());
  EXPECT_EQ(a.test.pairs.to_vector<int64_t>(), b.test.pairs.to_vector<int64_t>());
  EXPECT_EQ(a.train.ratings.to_vector<float>(), b.train.ratings.to_vector<float>());
  EXPECT_EQ(a.test.ratings.to_vector<float>(), b.test.ratings.to_vector<float>());
  RatingsConfig other = small_config();
  other.seed = 12;
  EXPECT_NE(make_synthetic_ratings(other).train.ratings.to_vector<float>(), a.train.ratings.to_vector<float>());
}

TEST(Ratings, ObservedAndTestCountsAreBinomial) {
  const RatingsConfig c = small_config();
  const Ratings data = make_synthetic_ratings(c);
  const double cells = static_cast<double>(c.users * c.items);
  const auto observed = static_cast<double>(data.train.size() + data.test.size());
  EXPECT_NEAR(observed, c.density * cells, 5 * std::sqrt(cells * c.density * (1 - c.density)));
  EXPECT_NEAR(static_cast<double>(data.test.size()), c.test_fraction * observed,
              5 * std::sqrt(observed * c.test_fraction * (1 - c.test_fraction)));
}

TEST(Ratings, TrainAndTestAreDisjointRowMajorEntriesOfTheMatrix) {
  const RatingsConfig c = small_config();
  const Ratings data = make_synthetic_ratings(c);
  std::set<std::pair<int64_t, int64_t>> seen;
  for (const RatingSplit* split : {&data.train, &data.test}) {
    const std::vector<int64_t> pairs = split->pairs.to_vector<int64_t>();
    ASSERT_EQ(split->pairs.shape(), (Shape{split->size(), 2}));
    std::pair<int64_t, int64_t> previous{-1, -1};
    for (size_t n = 0; n < pairs.size(); n += 2) {
      const std::pair<int64_t, int64_t> entry{pairs[n], pairs[n + 1]};
      ASSERT_TRUE(entry.first >= 0 && entry.first < c.users && entry.second >= 0 && entry.second < c.items);
      ASSERT_LT(previous, entry) << "entries in row-major order";
      ASSERT_TRUE(seen.insert(entry).second) << "entry (" << entry.first << ", " << entry.second << ") twice";
      previous = entry;
    }
  }
}

TEST(Ratings, CleanEntriesAreTheLowRankMatrixPlusBiasesAndMean) {
  const RatingsConfig c = small_config();
  const Ratings data = make_synthetic_ratings(c);
  const std::vector<double> u = values_of(data.user_factors), v = values_of(data.item_factors),
                            bu = values_of(data.user_bias), bi = values_of(data.item_bias);
  const std::vector<int64_t> pairs = data.train.pairs.to_vector<int64_t>();
  const std::vector<double> clean = values_of(data.train.clean);
  for (size_t n = 0; n < clean.size(); ++n) {
    const auto user = static_cast<size_t>(pairs[2 * n]), item = static_cast<size_t>(pairs[2 * n + 1]);
    double expected = c.mean + bu[user] + bi[item];
    for (size_t k = 0; k < static_cast<size_t>(c.rank); ++k) expected += u[user * c.rank + k] * v[item * c.rank + k];
    ASSERT_NEAR(clean[n], expected, 1e-6 * std::abs(expected) + 1e-6) << "entry " << n;  // f32 rounding
  }
}

TEST(Ratings, FactorsBiasesAndNoiseHaveTheirVariances) {
  RatingsConfig c = small_config();
  c.bias_std = 0.7;
  const Ratings data = make_synthetic_ratings(c);
  // Factor entries have variance r^(-1/2), so the interaction <U[u], V[i]> has variance 1.
  const double factor_variance = 1 / std::sqrt(static_cast<double>(c.rank));
  expect_normal_variance(values_of(data.user_factors), factor_variance, "user factors");
  expect_normal_variance(values_of(data.item_factors), factor_variance, "item factors");
  // Biases: bias_std^2; with 200-300 draws the 5-sigma bounds are loose but still computed.
  expect_normal_variance(values_of(data.user_bias), c.bias_std * c.bias_std, "user biases");
  expect_normal_variance(values_of(data.item_bias), c.bias_std * c.bias_std, "item biases");
  // The noise: ratings - clean ~ N(0, sigma^2) over every observed entry.
  std::vector<double> residuals;
  for (const RatingSplit* split : {&data.train, &data.test}) {
    const std::vector<double> r = values_of(split->ratings), clean = values_of(split->clean);
    for (size_t n = 0; n < r.size(); ++n) residuals.push_back(r[n] - clean[n]);
  }
  expect_normal_variance(residuals, c.noise * c.noise, "noise");
}

TEST(Ratings, BaselinesFollowTheirDefinitions) {
  const Ratings data = make_synthetic_ratings(small_config());
  const std::vector<double> train = values_of(data.train.ratings), test = values_of(data.test.ratings),
                            clean = values_of(data.test.clean);
  double train_mean = 0, mean_squares = 0, noise_squares = 0;
  for (double r : train) train_mean += r / static_cast<double>(train.size());
  for (size_t n = 0; n < test.size(); ++n) {
    mean_squares += (test[n] - train_mean) * (test[n] - train_mean);
    noise_squares += (test[n] - clean[n]) * (test[n] - clean[n]);
  }
  const double count = static_cast<double>(test.size());
  EXPECT_NEAR(mean_rating(data.train), train_mean, 1e-9);
  EXPECT_NEAR(mean_baseline_rmse(data), std::sqrt(mean_squares / count), 1e-9);
  EXPECT_NEAR(noise_floor_rmse(data), std::sqrt(noise_squares / count), 1e-9);
  // The floor's square is a mean of count sigma^2 chi^2_1 draws: sd sigma^2 sqrt(2 / count).
  const double sigma = data.config.noise;
  EXPECT_NEAR(noise_squares / count, sigma * sigma, 5 * sigma * sigma * std::sqrt(2 / count));
  EXPECT_GT(mean_baseline_rmse(data), noise_floor_rmse(data));
}

TEST(Ratings, BadConfigsNameTheValue) {
  const auto with = [](const std::function<void(RatingsConfig&)>& change) {
    RatingsConfig c = small_config();
    change(c);
    return [c] { make_synthetic_ratings(c); };
  };
  expect_error(with([](RatingsConfig& c) { c.users = 0; }), "ratings: users = 0 must be positive");
  expect_error(with([](RatingsConfig& c) { c.items = -3; }), "ratings: items = -3 must be positive");
  expect_error(with([](RatingsConfig& c) { c.rank = 0; }), "ratings: rank = 0 must be positive");
  expect_error(with([](RatingsConfig& c) { c.rank = 201; }), "ratings: rank = 201 exceeds min(users, items) = 200");
  expect_error(with([](RatingsConfig& c) { c.users = c.items = 70000; }), "more than 2^32 entries");
  expect_error(with([](RatingsConfig& c) { c.density = 0; }), "ratings: density = 0 is outside (0, 1]");
  expect_error(with([](RatingsConfig& c) { c.density = 1.5; }), "ratings: density = 1.5 is outside (0, 1]");
  expect_error(with([](RatingsConfig& c) { c.density = std::nan(""); }), "ratings: density = nan is outside (0, 1]");
  expect_error(with([](RatingsConfig& c) { c.noise = -0.1; }), "ratings: noise = -0.1 must be finite and >= 0");
  expect_error(with([](RatingsConfig& c) { c.noise = INFINITY; }), "ratings: noise = inf must be finite and >= 0");
  expect_error(with([](RatingsConfig& c) { c.bias_std = std::nan(""); }), "ratings: bias_std = nan must be finite");
  expect_error(with([](RatingsConfig& c) { c.mean = -INFINITY; }), "ratings: mean = -inf must be finite");
  expect_error(with([](RatingsConfig& c) { c.test_fraction = 1; }), "ratings: test_fraction = 1 is outside (0, 1)");
  expect_error(with([](RatingsConfig& c) {
                 c.users = c.items = c.rank = 1;
                 c.density = 1;
               }),
               "both must be non-empty");
}

MfConfig tiny_mf(double embedding_dropout = 0) {
  MfConfig c;
  c.users = 3;
  c.items = 4;
  c.rank = 2;
  c.embedding_dropout = embedding_dropout;
  return c;
}

// Tables with distinct values: user u's factors (u + 1, -u), item i's (0.5 i, 1), biases
// 0.1 (u + 1) and -0.2 i, global 3.
std::map<std::string, Tensor> hand_tables() {
  return {{"user_factors.weight", Tensor::from_vector<float>({1, 0, 2, -1, 3, -2}, {3, 2})},
          {"item_factors.weight", Tensor::from_vector<float>({0, 1, 0.5f, 1, 1, 1, 1.5f, 1}, {4, 2})},
          {"user_bias.weight", Tensor::from_vector<float>({0.1f, 0.2f, 0.3f}, {3, 1})},
          {"item_bias.weight", Tensor::from_vector<float>({0, -0.2f, -0.4f, -0.6f}, {4, 1})},
          {"global_bias", Tensor::from_vector<float>({3}, {1})}};
}

double hand_prediction(int64_t u, int64_t i) {
  const double uf = static_cast<double>(u);
  const double fi = static_cast<double>(i);
  return (uf + 1) * 0.5 * fi - uf + 0.1 * (uf + 1) - 0.2 * fi + 3;
}

const std::vector<int64_t> kPairs = {0, 0, 2, 3, 1, 2, 2, 1, 0, 3, 2, 3};  // (user, item), user 2 and item 3 twice

TEST(MfModel, PredictsTheDotProductPlusBiases) {
  Generator init(1), drop(1, 2);
  Mf model(tiny_mf(), 0.0, init, drop);
  model.load_parameters(hand_tables(), "hand tables");
  model.eval();
  const std::vector<float> predicted = model(Tensor::from_vector(kPairs, {6, 2})).to_vector<float>();
  for (size_t n = 0; n < predicted.size(); ++n)
    EXPECT_NEAR(predicted[n], hand_prediction(kPairs[2 * n], kPairs[2 * n + 1]), 1e-6) << "pair " << n;
}

TEST(MfModel, StartsAtTheGlobalMeanWithNamedTorchShapedTables) {
  Generator init(1), drop(1, 2);
  Mf model(tiny_mf(), 3.25, init, drop);
  std::map<std::string, Shape> shapes;
  for (const auto& [name, t] : model.named_parameters()) shapes[name] = t.shape();
  EXPECT_EQ(shapes, (std::map<std::string, Shape>{{"user_factors.weight", {3, 2}},
                                                  {"item_factors.weight", {4, 2}},
                                                  {"user_bias.weight", {3, 1}},
                                                  {"item_bias.weight", {4, 1}},
                                                  {"global_bias", {1}}}));
  model.eval();
  // Small factors, zero biases: every prediction is near the mean.
  for (float p : model(Tensor::from_vector(kPairs, {6, 2})).to_vector<float>()) EXPECT_NEAR(p, 3.25, 0.2);
}

// In training each user's and each item's factor row is kept (scaled by 1 / (1 - p)) or dropped
// whole, one draw per row for the whole batch: the interaction of a pair is 0 or its full value
// / (1 - p)^2, and pairs that share a dropped user or item all lose it.
TEST(MfModel, EmbeddingDropoutDropsWholeFactorRowsInTraining) {
  const double p = 0.5;
  Generator init(1), drop(4, 2);
  Mf model(tiny_mf(p), 0.0, init, drop);
  model.load_parameters(hand_tables(), "hand tables");
  const Tensor pairs = Tensor::from_vector(kPairs, {6, 2});
  int zero = 0, kept = 0;
  for (int pass = 0; pass < 20; ++pass) {
    const std::vector<float> predicted = model(pairs).to_vector<float>();
    std::set<int64_t> kept_users, kept_items;
    std::vector<size_t> zeroed;
    for (size_t n = 0; n < predicted.size(); ++n) {
      const int64_t u = kPairs[2 * n], i = kPairs[2 * n + 1];
      const double biases = 0.1 * static_cast<double>(u + 1) - 0.2 * static_cast<double>(i) + 3;
      const double dot = hand_prediction(u, i) - biases;
      const double interaction = predicted[n] - biases;
      const bool both_kept = std::abs(interaction - dot / ((1 - p) * (1 - p))) < 1e-5;
      ASSERT_TRUE(both_kept || std::abs(interaction) < 1e-5) << "pair " << n << ": " << interaction;
      if (dot == 0) continue;
      if (both_kept) {
        kept_users.insert(u);
        kept_items.insert(i);
        ++kept;
      } else {
        zeroed.push_back(n);
        ++zero;
      }
    }
    // A zeroed pair has its user's or its item's row dropped, for every pair of the batch.
    for (size_t n : zeroed)
      EXPECT_FALSE(kept_users.count(kPairs[2 * n]) && kept_items.count(kPairs[2 * n + 1])) << "pair " << n;
  }
  EXPECT_GT(kept, 0);
  EXPECT_GT(zero, 0);
  model.eval();
  const std::vector<float> eval_out = model(pairs).to_vector<float>();
  for (size_t n = 0; n < eval_out.size(); ++n)
    EXPECT_NEAR(eval_out[n], hand_prediction(kPairs[2 * n], kPairs[2 * n + 1]), 1e-6);
}

TEST(MfModel, GradcheckThroughEmbeddingDropoutInF64) {
  Generator gen(5);
  const auto f64 = [&](const Shape& shape) { return add(mul(rand(shape, DType::F64, kCPU, gen), 2.0), -1.0); };
  const Tensor users = Tensor::from_vector<int64_t>({0, 2, 1, 2, 0, 2}, {6});
  const Tensor items = Tensor::from_vector<int64_t>({0, 3, 2, 1, 3, 3}, {6});
  const auto fn = [&](const std::vector<Tensor>& in) {
    Generator dropout_gen(8, 2);  // the same masks at every evaluation
    const MfTables tables{embedding_dropout(in[0], 0.3, true, dropout_gen),
                          embedding_dropout(in[1], 0.3, true, dropout_gen), in[2], in[3], in[4]};
    return mf_predict(tables, users, items);
  };
  const GradcheckResult r = gradcheck(fn, {f64({3, 2}), f64({4, 2}), f64({3, 1}), f64({4, 1}), f64({1})});
  EXPECT_TRUE(r.ok) << r.message;
}

// Trains a rank-4 model on a rank-2 matrix with plain Adam, as `minidl train mf` does.
double trained_test_rmse(const Ratings& data, Device device, int64_t epochs) {
  Generator init(3, 0), shuffle(3, 1), drop(3, 2);
  MfConfig config;
  config.users = data.config.users;
  config.items = data.config.items;
  config.rank = 4;
  Mf model(config, mean_rating(data.train), init, drop);
  model.to(device);
  DataLoader loader(data.train.pairs, data.train.ratings, 128, true, shuffle);
  Adam optimizer(model.parameters(), {.lr = 0.02});
  for (int64_t epoch = 0; epoch < epochs; ++epoch) {
    loader.start_epoch();
    for (int64_t b = 0; b < loader.num_batches(); ++b) {
      const DataLoader::Batch batch = loader.batch(b);
      optimizer.zero_grad();
      Tensor loss = mse_loss(model(to_device(batch.inputs, device)), to_device(batch.targets, device));
      loss.backward();
      optimizer.step();
    }
  }
  return evaluate_rmse(model, data.test, 1024);
}

RatingsConfig learnable_config() {
  RatingsConfig c;
  c.users = 150;
  c.items = 120;
  c.rank = 2;
  c.density = 0.3;
  c.noise = 0.3;
  c.seed = 2;
  return c;
}

TEST(MfModel, ShortTrainingBeatsTheMeanBaselineByFar) {
  const Ratings data = make_synthetic_ratings(learnable_config());
  const double test_rmse = trained_test_rmse(data, kCPU, 15);
  // The mean baseline is about sqrt(1 + 2 * 0.5^2 + 0.3^2) = 1.26, the floor 0.3.
  EXPECT_LT(test_rmse, 0.5 * mean_baseline_rmse(data));
  EXPECT_GT(test_rmse, 0.9 * noise_floor_rmse(data));
}

TEST(MfModel, RejectsBadConfigsAndInputs) {
  Generator init(1), drop(1, 2);
  MfConfig c = tiny_mf();
  c.rank = 0;
  expect_error([&] { Mf bad(c, 0.0, init, drop); }, "MF: users (3), items (4) and rank (0) must be positive");
  expect_error([&] { Mf bad(tiny_mf(1.0), 0.0, init, drop); }, "MF: embedding_dropout = 1 is outside [0, 1)");
  expect_error([&] { Mf bad(tiny_mf(), std::nan(""), init, drop); }, "MF: global_mean = nan must be finite");
  Mf model(tiny_mf(), 0.0, init, drop);
  expect_error([&] { model(Tensor::zeros({4, 2})); }, "MF: expected i64 (user, item) pairs [N, 2], got f32[4, 2]");
  expect_error([&] { model(Tensor::from_vector<int64_t>({0, 1, 2}, {1, 3})); }, "expected i64 (user, item) pairs");
  // An unknown user: the embedding op's own check.
  expect_error([&] { model(Tensor::from_vector<int64_t>({3, 0}, {1, 2})); }, "3 out of range");
}

#if defined(MINIDL_HAS_EMU)
// The emulated CUDA kernels train the same model: the same dropout masks (Philox words) and the
// same predictions up to the order of float sums.
TEST(MfModel, TrainingStepOnEmulatedCudaMatchesCpu) {
  const Device emu{DeviceType::CUDAEmu, 0};
  const Tensor pairs = Tensor::from_vector(kPairs, {6, 2});
  const Tensor targets = Tensor::from_vector<float>({1, 2, 3, 4, 5, 1}, {6});
  std::vector<std::vector<float>> predictions, updated;
  for (Device device : {kCPU, emu}) {
    Generator init(1), drop(6, 2);
    Mf model(tiny_mf(0.4), 2.0, init, drop);
    model.to(device);
    SGD optimizer(model.parameters(), {.lr = 0.1});
    const Tensor predicted = model(to_device(pairs, device));
    predictions.push_back(to_device(predicted, kCPU).to_vector<float>());
    mse_loss(predicted, to_device(targets, device)).backward();
    optimizer.step();
    std::vector<float> params;
    for (const Tensor& p : model.parameters()) {
      const std::vector<float> values = to_device(p, kCPU).to_vector<float>();
      params.insert(params.end(), values.begin(), values.end());
    }
    updated.push_back(params);
  }
  for (size_t n = 0; n < predictions[0].size(); ++n) EXPECT_NEAR(predictions[1][n], predictions[0][n], 1e-6);
  for (size_t n = 0; n < updated[0].size(); ++n) EXPECT_NEAR(updated[1][n], updated[0][n], 1e-6) << "parameter " << n;
}
#endif

}  // namespace
}  // namespace minidl
