// ridge: input dropout on a linear model is, in expectation over masks, L2 regularization: with
// inverted dropout on X, E||y - (X ∘ M / (1 - p)) w||^2 / n = ||y - X w||^2 / n
// + p / (1 - p) sum_j w_j^2 mean_i x_ij^2, so on standardized columns (mean_i x_ij^2 = 1) the
// penalty is lambda ||w||^2 with lambda = p / (1 - p). Checks the expected loss by Monte Carlo
// over minidl::dropout masks, and the ridge solution against averaged dropout-SGD.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "framework/ops/ops.h"
#include "lab/experiments/experiments.h"
#include "lab/linear_regression.h"
#include "lab/stats.h"

namespace minidl::lab {

namespace {

constexpr double kSigmas = 4.0;
constexpr double kMaxRelativeGap = 0.02;

Result run(const RunOptions& options) {
  const int64_t n = options.pick<int64_t>(64, 400, 2000), d = 8;
  const int64_t masks = options.pick<int64_t>(200, 20000, 100000), steps = options.pick<int64_t>(300, 20000, 100000);
  constexpr double kLearningRate = 0.02;
  Generator data_gen(options.seed, 0), gen(options.seed, 2);
  const RegressionData data = make_regression_data(n, d, data_gen);
  const Tensor x = to_device(Tensor::from_vector(data.x, {n, d}), options.device);
  const Tensor y = to_device(Tensor::from_vector(data.y, {n, 1}), options.device);

  Result result;
  result.table.columns = {"p", "lambda = p/(1-p)", "MC dropout loss", "closed form",
                          "z", "|w ridge|",        "|w dropout-SGD|", "relative gap"};
  Series mc{"Monte Carlo E[dropout loss]", {}, {}, true}, closed{"loss + p/(1-p) |w|^2", {}, {}, false};
  Series sgd_norm{"dropout-SGD average |w|", {}, {}, true}, ridge_norm{"ridge |w|, lambda = p/(1-p)", {}, {}, false};
  double worst_z = 0, worst_gap = 0;
  for (double p : {0.1, 0.3, 0.5}) {
    const double lambda = p / (1 - p);
    const std::vector<double> ridge = ridge_solution(data, lambda);
    // The expected dropout loss at the ridge solution: Monte Carlo over masks vs the closed form.
    const Tensor w_ridge = to_device(Tensor::from_vector(ridge, {d, 1}), options.device);
    Moments loss;
    for (int64_t t = 0; t < masks; ++t) loss.add(mse_loss(matmul(dropout(x, p, true, gen), w_ridge), y).item());
    const double ridge_norm2 = euclidean_norm(ridge) * euclidean_norm(ridge);
    const double formula = mse_loss(matmul(x, w_ridge), y).item() + lambda * ridge_norm2;
    const double z = z_score(loss.mean(), formula, loss.mean_std_error());
    const std::vector<double> averaged = averaged_perturbed_sgd(
        x, y, steps, kLearningRate, [&](const Tensor& input) { return dropout(input, p, true, gen); });
    const double gap = relative_gap(averaged, ridge);
    worst_z = std::max(worst_z, std::abs(z));
    worst_gap = std::max(worst_gap, gap);
    result.table.rows.push_back(
        {p, lambda, loss.mean(), formula, z, euclidean_norm(ridge), euclidean_norm(averaged), gap});
    mc.x.push_back(p), mc.y.push_back(loss.mean()), closed.x.push_back(p), closed.y.push_back(formula);
    sgd_norm.x.push_back(p), sgd_norm.y.push_back(euclidean_norm(averaged));
  }
  for (double p = 0.0; p <= 0.6001; p += 0.02)
    ridge_norm.x.push_back(p), ridge_norm.y.push_back(euclidean_norm(ridge_solution(data, p / (1 - p))));
  result.plots.push_back(
      {"Expected input-dropout loss at the ridge solution", "drop probability p", "loss", false, false, {closed, mc}});
  result.plots.push_back({"Dropout-SGD shrinks like ridge with lambda = p/(1-p)",
                          "drop probability p",
                          "|w|",
                          false,
                          false,
                          {ridge_norm, sgd_norm}});
  result.numbers = {{"worst_abs_z_expected_loss", worst_z}, {"worst_relative_gap_sgd_vs_ridge", worst_gap}};
  const bool loss_ok = worst_z <= kSigmas, solution_ok = worst_gap < kMaxRelativeGap;
  result.verdict = loss_ok && solution_ok ? Verdict::Confirmed : Verdict::NotConfirmed;
  result.reason = fmt::format(
      "expected dropout loss matches the L2 closed form within {:.2f} standard errors ({} 4); "
      "averaged dropout-SGD is within {:.2f}% of the ridge solution ({} 2%)",
      worst_z, loss_ok ? "<=" : ">", 100 * worst_gap, solution_ok ? "<" : ">=");
  return result;
}

}  // namespace

Experiment ridge_experiment() {
  return {
      "ridge",
      "Input dropout on a linear model equals, in expectation over masks, L2 regularization with penalty "
      "p/(1-p) sum_j w_j^2 mean_i x_ij^2, i.e. ridge with lambda = p/(1-p) on standardized data.",
      {"000", "001"},
      "n = 400, d = 8 standardized features, p in {0.1, 0.3, 0.5}: Monte Carlo expected dropout loss (2x10^4 masks) "
      "within 4 standard errors of the closed form; ridge solution vs the average of dropout-SGD iterates: "
      "relative difference < 2%",
      run};
}

}  // namespace minidl::lab
