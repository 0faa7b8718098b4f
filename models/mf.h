// Matrix factorization for rating prediction (Koren, Bell & Volinsky 2009): user and item factor
// tables, per-user and per-item biases and a global bias; the rating of (u, i) is predicted as
// <p_u, q_i> + b_u + b_i + mu. In training, embedding dropout (Gal & Ghahramani 2016) drops whole
// rows of both factor tables, so a dropped user's or item's rating rests on the biases alone.
#pragma once

#include <cstdint>

#include <nlohmann/json.hpp>

#include "framework/io/ratings.h"
#include "framework/nn/module.h"
#include "framework/optim/optimizer.h"
#include "framework/random/generator.h"

namespace minidl {

struct MfConfig {
  int64_t users = 0, items = 0;    // set from the data
  int64_t rank = 32;               // factors per user and per item
  double embedding_dropout = 0.0;  // whole rows of the factor tables, in training
  nlohmann::json to_json() const;
  void validate() const;
};

// The model's tables, as the prediction reads them: torch.nn.Embedding weights [users, rank],
// [items, rank], [users, 1] and [items, 1], and global_bias [1].
struct MfTables {
  Tensor user_factors, item_factors, user_bias, item_bias, global_bias;
};

// <user_factors[u], item_factors[i]> + user_bias[u] + item_bias[i] + global_bias for each pair
// (u, i) = (users[n], items[n]) of the i64 id vectors users and items [N]: [N].
Tensor mf_predict(const MfTables& tables, const Tensor& users, const Tensor& items);

class Mf : public Module {
 public:
  // Factors from init_gen, U(-a, a) with standard deviation 0.1; biases start at 0 and the
  // global bias at global_mean (the training ratings' mean). Dropout masks come from dropout_gen,
  // which must outlive the model.
  Mf(const MfConfig& config, double global_mean, Generator& init_gen, Generator& dropout_gen);
  // pairs i64 [N, 2] of (user, item) -> predicted ratings [N].
  Tensor forward(const Tensor& pairs) override;
  const MfConfig& config() const { return config_; }

 private:
  MfConfig config_;
  Generator& dropout_gen_;
  MfTables tables_;
};

// One optimizer step at the optimizer's current rate on the mean squared error of the model's
// predictions for pairs [N, 2] against ratings [N] (moved to the model's device). Returns the loss.
double mf_train_step(Mf& model, const Tensor& pairs, const Tensor& ratings, Optimizer& optimizer);

// The RMSE of the model's predictions on a split, in eval mode without gradients, batch_size
// pairs at a time; restores the model's mode.
double evaluate_rmse(Mf& model, const RatingSplit& split, int64_t batch_size);

}  // namespace minidl
