#include "framework/io/ratings.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "framework/core/check.h"
#include "framework/ops/ops.h"
#include "framework/random/generator.h"

namespace minidl {

namespace {

// The generator's streams, apart from the training streams 0-4.
constexpr uint64_t kTruthStream = 16, kObservedStream = 17, kNoiseStream = 18, kSplitStream = 19;

// f64 N(0, std^2) draws: Box-Muller on the generator's words, as gaussian_noise computes it.
Tensor normal(const Shape& shape, double std, Generator& gen) {
  return gaussian_noise(Tensor::zeros(shape, DType::F64), 0.0, std, gen);
}

// The split of the observed entries listed in `chosen`.
RatingSplit split_of(const std::vector<int64_t>& chosen, const std::vector<int64_t>& pairs,
                     const std::vector<double>& clean, const std::vector<double>& ratings) {
  std::vector<int64_t> split_pairs;
  std::vector<float> split_clean, split_ratings;
  for (int64_t n : chosen) {
    const auto k = static_cast<size_t>(n);
    split_pairs.insert(split_pairs.end(), {pairs[2 * k], pairs[2 * k + 1]});
    split_clean.push_back(static_cast<float>(clean[k]));
    split_ratings.push_back(static_cast<float>(ratings[k]));
  }
  const auto count = static_cast<int64_t>(chosen.size());
  return {Tensor::from_vector(split_pairs, {count, 2}), Tensor::from_vector(split_ratings, {count}),
          Tensor::from_vector(split_clean, {count})};
}

}  // namespace

nlohmann::json RatingsConfig::to_json() const {
  return {{"users", users}, {"items", items},       {"rank", rank},
          {"density", density}, {"noise", noise},   {"mean", mean},
          {"bias_std", bias_std}, {"test_fraction", test_fraction}, {"seed", seed}};
}

void RatingsConfig::validate() const {
  for (auto [name, v] : {std::pair{"users", users}, std::pair{"items", items}, std::pair{"rank", rank}})
    MINIDL_CHECK(v > 0, "ratings: {} = {} must be positive", name, v);
  MINIDL_CHECK(rank <= std::min(users, items), "ratings: rank = {} exceeds min(users, items) = {}", rank,
               std::min(users, items));
  MINIDL_CHECK(users <= (int64_t{1} << 32) / items, "ratings: {} users x {} items is more than 2^32 entries", users,
               items);
  MINIDL_CHECK(density > 0 && density <= 1, "ratings: density = {} is outside (0, 1]", density);
  for (auto [name, v] : {std::pair{"noise", noise}, std::pair{"bias_std", bias_std}})
    MINIDL_CHECK(std::isfinite(v) && v >= 0, "ratings: {} = {} must be finite and >= 0", name, v);
  MINIDL_CHECK(std::isfinite(mean), "ratings: mean = {} must be finite", mean);
  MINIDL_CHECK(test_fraction > 0 && test_fraction < 1, "ratings: test_fraction = {} is outside (0, 1)",
               test_fraction);
}

Ratings make_synthetic_ratings(const RatingsConfig& c) {
  c.validate();
  Ratings data;
  data.config = c;
  Generator truth_gen(c.seed, kTruthStream), observed_gen(c.seed, kObservedStream);
  Generator noise_gen(c.seed, kNoiseStream), split_gen(c.seed, kSplitStream);
  const double factor_std = std::pow(static_cast<double>(c.rank), -0.25);  // var <U[u], V[i]> = r std^4 = 1
  data.user_factors = normal({c.users, c.rank}, factor_std, truth_gen);
  data.item_factors = normal({c.items, c.rank}, factor_std, truth_gen);
  data.user_bias = normal({c.users}, c.bias_std, truth_gen);
  data.item_bias = normal({c.items}, c.bias_std, truth_gen);
  const std::vector<double> u_factors = data.user_factors.to_vector<double>(),
                            i_factors = data.item_factors.to_vector<double>(),
                            u_bias = data.user_bias.to_vector<double>(), i_bias = data.item_bias.to_vector<double>();

  // Row u draws one uniform per item and observes the entries whose draw is below the density;
  // a row at a time, so memory grows with the observed entries, not with the matrix.
  std::vector<int64_t> pairs;
  std::vector<double> clean;
  for (int64_t u = 0; u < c.users; ++u) {
    const std::vector<double> draws = rand({c.items}, DType::F64, kCPU, observed_gen).to_vector<double>();
    for (int64_t i = 0; i < c.items; ++i) {
      if (draws[static_cast<size_t>(i)] >= c.density) continue;
      double value = c.mean + u_bias[static_cast<size_t>(u)] + i_bias[static_cast<size_t>(i)];
      for (int64_t k = 0; k < c.rank; ++k)
        value += u_factors[static_cast<size_t>(u * c.rank + k)] * i_factors[static_cast<size_t>(i * c.rank + k)];
      pairs.insert(pairs.end(), {u, i});
      clean.push_back(value);
    }
  }
  const auto observed = static_cast<int64_t>(clean.size());
  MINIDL_CHECK(observed > 0, "ratings: no entry of the {} x {} matrix is observed at density {}", c.users, c.items,
               c.density);
  const std::vector<double> noise = normal({observed}, c.noise, noise_gen).to_vector<double>();
  const std::vector<double> split_draws = rand({observed}, DType::F64, kCPU, split_gen).to_vector<double>();
  std::vector<double> ratings(clean.size());
  std::vector<int64_t> train, test;
  for (size_t n = 0; n < clean.size(); ++n) {
    ratings[n] = clean[n] + noise[n];
    (split_draws[n] < c.test_fraction ? test : train).push_back(static_cast<int64_t>(n));
  }
  MINIDL_CHECK(!train.empty() && !test.empty(),
               "ratings: the {} observed entries split into {} train and {} test: both must be non-empty (raise the "
               "density or the matrix size)",
               observed, train.size(), test.size());
  data.train = split_of(train, pairs, clean, ratings);
  data.test = split_of(test, pairs, clean, ratings);
  return data;
}

double mean_rating(const RatingSplit& split) {
  return sum(to_dtype(split.ratings, DType::F64)).item() / static_cast<double>(split.size());
}

double rmse(const Tensor& predicted, const Tensor& target) {
  MINIDL_CHECK(predicted.shape() == target.shape() && predicted.numel() > 0,
               "rmse: predicted {} and target {} must have one non-empty shape", predicted.describe(),
               target.describe());
  const std::vector<double> p = to_dtype(to_device(predicted, kCPU), DType::F64).to_vector<double>(),
                            t = to_dtype(to_device(target, kCPU), DType::F64).to_vector<double>();
  double squares = 0;
  for (size_t n = 0; n < p.size(); ++n) squares += (p[n] - t[n]) * (p[n] - t[n]);
  return std::sqrt(squares / static_cast<double>(p.size()));
}

double mean_baseline_rmse(const Ratings& data) {
  const Tensor train_mean = Tensor::full(data.test.ratings.shape(), mean_rating(data.train), DType::F64);
  return rmse(train_mean, data.test.ratings);
}

double noise_floor_rmse(const Ratings& data) { return rmse(data.test.clean, data.test.ratings); }

}  // namespace minidl
