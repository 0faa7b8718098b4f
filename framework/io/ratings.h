// Synthetic ratings for matrix-factorization recommenders: a users x items matrix of true rank r
// plus user and item biases and a global mean, observed at random entries with Gaussian noise, and
// a deterministic train/test split of the observed entries. Every draw comes from Philox
// Generators on the reproducibility contract, so a config gives the same data on every machine.
#pragma once

#include <cstdint>

#include <nlohmann/json.hpp>

#include "framework/core/tensor.h"

namespace minidl {

struct RatingsConfig {
  int64_t users = 1000, items = 1000;
  int64_t rank = 4;            // the true rank of the interaction matrix U V^T
  double density = 0.05;       // each entry is observed with this probability
  double noise = 0.5;          // sigma of the Gaussian noise on every observed rating
  double mean = 3.5;           // the global mean
  double bias_std = 0.5;       // standard deviation of the user and of the item biases
  double test_fraction = 0.2;  // each observed entry goes to the test split with this probability
  uint64_t seed = 0;
  nlohmann::json to_json() const;
  void validate() const;  // one error naming the first bad value
};

// Observed entries of one split, in row-major order of the matrix.
struct RatingSplit {
  Tensor pairs;    // i64 [N, 2]: (user, item)
  Tensor ratings;  // f32 [N]: the noisy observed ratings
  Tensor clean;    // f32 [N]: the same entries of the noise-free matrix
  int64_t size() const { return pairs.size(0); }
};

// The generated data and the truth behind it. Entry (u, i) of the noise-free matrix is
// <U[u], V[i]> + user_bias[u] + item_bias[i] + mean; U and V hold normal entries of variance
// r^(-1/2), so the interaction <U[u], V[i]> has variance 1.
struct Ratings {
  RatingsConfig config;
  RatingSplit train, test;
  Tensor user_factors, item_factors;  // f64 [users, rank], [items, rank]
  Tensor user_bias, item_bias;        // f64 [users], [items]
};

// Draws the matrix and its observations: factors and biases from stream 16 of config.seed, the
// observed entries from stream 17, the noise from stream 18 and the split from stream 19 (apart
// from the training streams 0-4, so a run whose seed equals the data's draws other words).
Ratings make_synthetic_ratings(const RatingsConfig& config);

// The mean rating of a split, summed in double.
double mean_rating(const RatingSplit& split);
// The root mean squared difference of two CPU f32 tensors of one shape, summed in double.
double rmse(const Tensor& predicted, const Tensor& target);
// The test RMSE of predicting the training ratings' mean for every entry: the baseline to beat.
double mean_baseline_rmse(const Ratings& data);
// The test RMSE of the noise-free matrix: the floor no model can beat on this test set; its
// expected value is config.noise (sigma).
double noise_floor_rmse(const Ratings& data);

}  // namespace minidl
