#include "lab/ridge_equivalence.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "framework/ops/ops.h"
#include "lab/linear_regression.h"
#include "lab/stats.h"

namespace minidl::lab {

namespace {

constexpr double kSigmas = 4.0;
constexpr double kMaxRelativeGap = 0.02;
constexpr double kLearningRate = 0.02;
constexpr int kCurvePoints = 30;

}  // namespace

Result check_ridge_equivalence(const RidgeEquivalence& spec, const RunOptions& options) {
  const int64_t n = options.pick<int64_t>(64, 400, 2000), d = 8;
  const int64_t draws = options.pick<int64_t>(200, 20000, 100000), steps = options.pick<int64_t>(300, 20000, 100000);
  Generator data_gen(options.seed, 0), gen(options.seed, spec.stream);
  const RegressionData data = make_regression_data(n, d, data_gen);
  const Tensor x = to_device(Tensor::from_vector(data.x, {n, d}), options.device);
  const Tensor y = to_device(Tensor::from_vector(data.y, {n, 1}), options.device);
  const std::string lambda_is = "lambda = " + spec.lambda_formula;

  Result result;
  result.table.columns = {spec.parameter, lambda_is,   "MC " + spec.perturbed + " loss", "closed form", "z",
                          "|w ridge|",    "|w " + spec.sgd + "|", "relative gap"};
  Series mc{"Monte Carlo E[" + spec.perturbed + " loss]", {}, {}, true};
  Series closed{"loss + " + spec.lambda_formula + " |w|^2", {}, {}, false};
  Series sgd_norm{spec.sgd + " average |w|", {}, {}, true}, ridge_norm{"ridge |w|, " + lambda_is, {}, {}, false};
  double worst_z = 0, worst_gap = 0;
  for (double parameter : spec.settings) {
    const double lambda = spec.lambda(parameter);
    const std::vector<double> ridge = ridge_solution(data, lambda);
    const Tensor w_ridge = to_device(Tensor::from_vector(ridge, {d, 1}), options.device);
    Moments loss;
    for (int64_t t = 0; t < draws; ++t) loss.add(mse_loss(matmul(spec.perturb(x, parameter, gen), w_ridge), y).item());
    const double formula = mse_loss(matmul(x, w_ridge), y).item() + lambda * std::pow(euclidean_norm(ridge), 2);
    const double z = z_score(loss.mean(), formula, loss.mean_std_error());
    const std::vector<double> averaged = averaged_perturbed_sgd(
        x, y, steps, kLearningRate, [&](const Tensor& input) { return spec.perturb(input, parameter, gen); });
    const double gap = relative_gap(averaged, ridge);
    worst_z = std::max(worst_z, std::abs(z));
    worst_gap = std::max(worst_gap, gap);
    result.table.rows.push_back(
        {parameter, lambda, loss.mean(), formula, z, euclidean_norm(ridge), euclidean_norm(averaged), gap});
    mc.x.push_back(parameter), mc.y.push_back(loss.mean()), closed.x.push_back(parameter), closed.y.push_back(formula);
    sgd_norm.x.push_back(parameter), sgd_norm.y.push_back(euclidean_norm(averaged));
  }
  for (int i = 0; i <= kCurvePoints; ++i) {
    const double parameter = spec.curve_end * i / kCurvePoints;
    ridge_norm.x.push_back(parameter);
    ridge_norm.y.push_back(euclidean_norm(ridge_solution(data, spec.lambda(parameter))));
  }
  result.plots.push_back(
      {"Expected " + spec.perturbed + " loss at the ridge solution", spec.axis, "loss", false, false, {closed, mc}});
  result.plots.push_back(
      {spec.sgd + " shrinks like ridge with " + lambda_is, spec.axis, "|w|", false, false, {ridge_norm, sgd_norm}});
  result.numbers = {{"worst_abs_z_expected_loss", worst_z}, {"worst_relative_gap_sgd_vs_ridge", worst_gap}};
  const bool loss_ok = worst_z <= kSigmas, solution_ok = worst_gap < kMaxRelativeGap;
  result.verdict = loss_ok && solution_ok ? Verdict::Confirmed : Verdict::NotConfirmed;
  result.reason = fmt::format(
      "expected {} loss matches the L2 closed form within {:.2f} standard errors ({} 4); averaged {} is within "
      "{:.2f}% of the ridge solution with {} ({} 2%)",
      spec.perturbed, worst_z, loss_ok ? "<=" : ">", spec.sgd, 100 * worst_gap, lambda_is, solution_ok ? "<" : ">=");
  return result;
}

}  // namespace minidl::lab
