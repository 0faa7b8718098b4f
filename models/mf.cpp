#include "models/mf.h"

#include <algorithm>
#include <cmath>

#include "framework/autograd/grad_mode.h"
#include "framework/core/check.h"
#include "framework/nn/init.h"
#include "framework/ops/ops.h"
#include "framework/regularize/dropout.h"

namespace minidl {

nlohmann::json MfConfig::to_json() const {
  return {{"users", users}, {"items", items}, {"rank", rank}, {"embedding_dropout", embedding_dropout}};
}

void MfConfig::validate() const {
  MINIDL_CHECK(users > 0 && items > 0 && rank > 0, "MF: users ({}), items ({}) and rank ({}) must be positive", users,
               items, rank);
  MINIDL_CHECK(embedding_dropout >= 0 && embedding_dropout < 1, "MF: embedding_dropout = {} is outside [0, 1)",
               embedding_dropout);
}

Tensor mf_predict(const MfTables& t, const Tensor& users, const Tensor& items) {
  MINIDL_CHECK(users.dim() == 1 && items.shape() == users.shape(),
               "MF: expected user and item id vectors of one length, got {} and {}", users.describe(),
               items.describe());
  const Tensor interaction = sum(mul(embedding(t.user_factors, users), embedding(t.item_factors, items)), {1});
  const Tensor biases = add(reshape(embedding(t.user_bias, users), {-1}), reshape(embedding(t.item_bias, items), {-1}));
  return add(add(interaction, biases), t.global_bias);
}

Mf::Mf(const MfConfig& config, double global_mean, Generator& init_gen, Generator& dropout_gen)
    : config_(config), dropout_gen_(dropout_gen) {
  config_.validate();
  MINIDL_CHECK(std::isfinite(global_mean), "MF: global_mean = {} must be finite", global_mean);
  const double a = 0.1 * std::sqrt(3.0);  // U(-a, a) has standard deviation 0.1
  tables_.user_factors =
      register_parameter("user_factors.weight", uniform({config_.users, config_.rank}, -a, a, init_gen));
  tables_.item_factors =
      register_parameter("item_factors.weight", uniform({config_.items, config_.rank}, -a, a, init_gen));
  tables_.user_bias = register_parameter("user_bias.weight", Tensor::zeros({config_.users, 1}));
  tables_.item_bias = register_parameter("item_bias.weight", Tensor::zeros({config_.items, 1}));
  tables_.global_bias = register_parameter("global_bias", Tensor::full({1}, global_mean));
}

Tensor Mf::forward(const Tensor& pairs) {
  MINIDL_CHECK(pairs.dim() == 2 && pairs.size(1) == 2 && pairs.dtype() == DType::I64,
               "MF: expected i64 (user, item) pairs [N, 2], got {}", pairs.describe());
  const Tensor users = contiguous(reshape(slice(pairs, 1, 0, 1), {-1}));
  const Tensor items = contiguous(reshape(slice(pairs, 1, 1, 2), {-1}));
  const double p = config_.embedding_dropout;
  MfTables dropped = tables_;
  dropped.user_factors = embedding_dropout(tables_.user_factors, p, is_training(), dropout_gen_);
  dropped.item_factors = embedding_dropout(tables_.item_factors, p, is_training(), dropout_gen_);
  return mf_predict(dropped, users, items);
}

double mf_train_step(Mf& model, const Tensor& pairs, const Tensor& ratings, Optimizer& optimizer) {
  const Device device = model.device();
  optimizer.zero_grad();
  Tensor loss = mse_loss(model(to_device(pairs, device)), to_device(ratings, device));
  loss.backward();
  optimizer.step();
  return loss.item();
}

double evaluate_rmse(Mf& model, const RatingSplit& split, int64_t batch_size) {
  MINIDL_CHECK(batch_size > 0, "evaluate_rmse: batch_size = {} must be positive", batch_size);
  NoGradGuard no_grad;
  const bool was_training = model.is_training();
  model.eval();
  const Device device = model.device();
  double squares = 0;
  for (int64_t first = 0; first < split.size(); first += batch_size) {
    const int64_t last = std::min(first + batch_size, split.size());
    const Tensor predicted = model(to_device(slice(split.pairs, 0, first, last), device));
    const Tensor error = sub(to_dtype(to_device(predicted, kCPU), DType::F64),
                             to_dtype(slice(split.ratings, 0, first, last), DType::F64));
    squares += sum(mul(error, error)).item();
  }
  model.train(was_training);
  return std::sqrt(squares / static_cast<double>(split.size()));
}

}  // namespace minidl
