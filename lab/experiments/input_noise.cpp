// input-noise: Gaussian noise of variance s^2 on the inputs of a linear model is, in expectation,
// Tikhonov (L2) regularization: E||y - (X + s E) w||^2 / n = ||y - X w||^2 / n + s^2 |w|^2, so
// training with the noise converges to ridge with lambda = s^2. Checks the expected loss by Monte
// Carlo over minidl::additive_gaussian_noise and the ridge solution against averaged noisy SGD.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "framework/ops/ops.h"
#include "framework/regularize/dropout.h"
#include "lab/experiments/experiments.h"
#include "lab/linear_regression.h"
#include "lab/stats.h"

namespace minidl::lab {

namespace {

constexpr double kSigmas = 4.0;
constexpr double kMaxRelativeGap = 0.02;
constexpr double kLearningRate = 0.02;

Result run(const RunOptions& options) {
  const int64_t n = options.pick<int64_t>(64, 400, 2000), d = 8;
  const int64_t draws = options.pick<int64_t>(200, 20000, 100000), steps = options.pick<int64_t>(300, 20000, 100000);
  Generator data_gen(options.seed, 0), gen(options.seed, 3);
  const RegressionData data = make_regression_data(n, d, data_gen);
  const Tensor x = to_device(Tensor::from_vector(data.x, {n, d}), options.device);
  const Tensor y = to_device(Tensor::from_vector(data.y, {n, 1}), options.device);

  Result result;
  result.table.columns = {"sigma", "lambda = sigma^2", "MC noisy loss", "closed form",
                          "z",     "|w ridge|",        "|w noisy-SGD|", "relative gap"};
  Series mc{"Monte Carlo E[noisy loss]", {}, {}, true}, closed{"loss + sigma^2 |w|^2", {}, {}, false};
  Series sgd_norm{"noisy-SGD average |w|", {}, {}, true}, ridge_norm{"ridge |w|, lambda = sigma^2", {}, {}, false};
  double worst_z = 0, worst_gap = 0;
  for (double sigma : {0.3, 0.6, 1.0}) {
    const double lambda = sigma * sigma;
    const std::vector<double> ridge = ridge_solution(data, lambda);
    const Tensor w_ridge = to_device(Tensor::from_vector(ridge, {d, 1}), options.device);
    Moments loss;
    for (int64_t t = 0; t < draws; ++t)
      loss.add(mse_loss(matmul(additive_gaussian_noise(x, sigma, true, gen), w_ridge), y).item());
    const double ridge_norm2 = euclidean_norm(ridge) * euclidean_norm(ridge);
    const double formula = mse_loss(matmul(x, w_ridge), y).item() + lambda * ridge_norm2;
    const double z = z_score(loss.mean(), formula, loss.mean_std_error());
    const std::vector<double> averaged = averaged_perturbed_sgd(x, y, steps, kLearningRate, [&](const Tensor& input) {
      return additive_gaussian_noise(input, sigma, true, gen);
    });
    const double gap = relative_gap(averaged, ridge);
    worst_z = std::max(worst_z, std::abs(z));
    worst_gap = std::max(worst_gap, gap);
    result.table.rows.push_back(
        {sigma, lambda, loss.mean(), formula, z, euclidean_norm(ridge), euclidean_norm(averaged), gap});
    mc.x.push_back(sigma), mc.y.push_back(loss.mean()), closed.x.push_back(sigma), closed.y.push_back(formula);
    sgd_norm.x.push_back(sigma), sgd_norm.y.push_back(euclidean_norm(averaged));
  }
  for (double s = 0.0; s <= 1.0001; s += 0.05)
    ridge_norm.x.push_back(s), ridge_norm.y.push_back(euclidean_norm(ridge_solution(data, s * s)));
  result.plots.push_back(
      {"Expected noisy-input loss at the ridge solution", "noise std sigma", "loss", false, false, {closed, mc}});
  result.plots.push_back({"Noisy-input SGD shrinks like ridge with lambda = sigma^2",
                          "noise std sigma",
                          "|w|",
                          false,
                          false,
                          {ridge_norm, sgd_norm}});
  result.numbers = {{"worst_abs_z_expected_loss", worst_z}, {"worst_relative_gap_sgd_vs_ridge", worst_gap}};
  const bool loss_ok = worst_z <= kSigmas, solution_ok = worst_gap < kMaxRelativeGap;
  result.verdict = loss_ok && solution_ok ? Verdict::Confirmed : Verdict::NotConfirmed;
  result.reason = fmt::format(
      "expected noisy-input loss matches the L2 closed form within {:.2f} standard errors ({} 4); averaged noisy "
      "SGD is within {:.2f}% of the ridge solution with lambda = sigma^2 ({} 2%)",
      worst_z, loss_ok ? "<=" : ">", 100 * worst_gap, solution_ok ? "<" : ">=");
  return result;
}

}  // namespace

Experiment input_noise_experiment() {
  return {"input-noise",
          "Adding Gaussian noise of variance s^2 to the inputs of a linear model is equivalent to Tikhonov (L2) "
          "regularization with lambda = s^2.",
          {"001"},
          "n = 400, d = 8 standardized features, sigma in {0.3, 0.6, 1.0}: Monte Carlo expected loss (2x10^4 draws) "
          "within 4 standard errors of loss + sigma^2 |w|^2; ridge solution vs the average of noisy-SGD iterates: "
          "relative difference < 2%",
          run};
}

}  // namespace minidl::lab
