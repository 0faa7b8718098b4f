// fairness: one linear model for two groups whose features have different variances, trained with
// input dropout. In expectation over masks dropout is a data-dependent ridge (penalty_j =
// mean_i q_g(i) x_ij^2, q = p / (1 - p)), so it shrinks every weight, and the shrinkage costs a
// group in proportion to its own feature variances: a uniform rate gives the groups different
// errors. Group rates p_A, p_B with the same mean rate move the penalty between features; they
// can equalize the errors only when each group has the larger variance in some feature (with
// Sigma_B - Sigma_A positive semi-definite, err_B >= err_A for every shared w). Two scenarios test
// both cases with minidl dropout-SGD, 3 seeds each.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "framework/ops/ops.h"
#include "lab/experiments/experiments.h"
#include "lab/linear_regression.h"
#include "lab/stats.h"

namespace minidl::lab {

namespace {

constexpr double kBudget = 0.3;             // the mean drop rate over both (equal-sized) groups
constexpr double kNoise = 0.5;              // label noise std
constexpr double kEqualized = 0.1;          // |gap| at most 10% of the uniform-rate gap
constexpr double kMaxClosedFormGap = 0.02;  // dropout-SGD vs the data-dependent ridge solution
constexpr double kLearningRate = 0.02;
constexpr int kSeeds = 3;
const std::vector<double> kTrue = {1, 1, 1, 1};
const std::vector<double> kOffsets = {-0.3, -0.15, 0.0, 0.15, 0.3};  // p_A = budget + t, p_B = budget - t

struct Scenario {
  std::string name;
  std::vector<double> var_a, var_b;  // per-feature variances of the groups
};
const std::vector<Scenario> kScenarios = {{"B larger in every feature", {1, 1, 1, 1}, {3, 3, 3, 3}},
                                          {"crossed variances", {0.5, 0.5, 2, 2}, {3, 3, 1, 1}}};

struct Errors {
  double a, b;
  double gap() const { return b - a; }
};
// A group's expected squared error for weights w: noise^2 + sum_j var_j (w_j - w*_j)^2.
Errors population_errors(const Scenario& s, const std::vector<double>& w) {
  Errors e{kNoise * kNoise, kNoise * kNoise};
  for (size_t j = 0; j < w.size(); ++j) {
    const double dw = w[j] - kTrue[j];
    e.a += s.var_a[j] * dw * dw, e.b += s.var_b[j] * dw * dw;
  }
  return e;
}

double odds(double p) { return p / (1 - p); }

// The infinite-data limit of the dropout-trained weights: ridge on the pooled covariance with
// penalty_j = (q_A var_A_j + q_B var_B_j) / 2.
Errors closed_form_errors(const Scenario& s, double p_a, double p_b) {
  NormalEquations eq{std::vector<std::vector<double>>(kTrue.size(), std::vector<double>(kTrue.size(), 0.0)), {}};
  std::vector<double> penalty;
  for (size_t j = 0; j < kTrue.size(); ++j) {
    eq.gram[j][j] = (s.var_a[j] + s.var_b[j]) / 2;
    eq.moment.push_back(eq.gram[j][j] * kTrue[j]);
    penalty.push_back((odds(p_a) * s.var_a[j] + odds(p_b) * s.var_b[j]) / 2);
  }
  return population_errors(s, ridge_solution(eq, penalty));
}

// The offset t in [-budget, budget] where the closed-form errors are equal (bisection), or the one
// with the smallest |gap| on a fine grid when the gap keeps its sign.
double equalizing_offset(const Scenario& s) {
  const auto gap = [&](double t) { return closed_form_errors(s, kBudget + t, kBudget - t).gap(); };
  double lo = -kBudget, hi = kBudget;
  if (gap(lo) * gap(hi) > 0) {
    double best = lo;
    for (double t = lo; t <= hi + 1e-12; t += kBudget / 100)
      if (std::abs(gap(t)) < std::abs(gap(best))) best = t;
    return best;
  }
  for (int i = 0; i < 60; ++i) {
    const double mid = (lo + hi) / 2;
    (gap(mid) * gap(lo) > 0 ? lo : hi) = mid;
  }
  return (lo + hi) / 2;
}

// Rows [0, n) group A, [n, 2n) group B: x_ij = sqrt(var_gj) z, y = x . w* + noise.
RegressionData make_group_data(const Scenario& s, int64_t n, Generator& gen) {
  const auto d = static_cast<int64_t>(kTrue.size());
  const std::vector<double> z = host_values(gaussian_noise(Tensor::zeros({2 * n, d + 1}, DType::F64), 0.0, 1.0, gen));
  RegressionData data{std::vector<double>(static_cast<size_t>(2 * n * d)),
                      std::vector<double>(static_cast<size_t>(2 * n)), 2 * n, d};
  for (int64_t i = 0; i < 2 * n; ++i) {
    const std::vector<double>& var = i < n ? s.var_a : s.var_b;
    double y = kNoise * z[static_cast<size_t>(i * (d + 1) + d)];
    for (int64_t j = 0; j < d; ++j) {
      const double x = std::sqrt(var[static_cast<size_t>(j)]) * z[static_cast<size_t>(i * (d + 1) + j)];
      data.x[static_cast<size_t>(i * d + j)] = x;
      y += x * kTrue[static_cast<size_t>(j)];
    }
    data.y[static_cast<size_t>(i)] = y;
  }
  return data;
}

// One seed at rates (p_a, p_b): averaged dropout-SGD and its distance to the data-dependent ridge.
struct Trained {
  Errors errors;
  double closed_form_gap;
};
Trained train(const Scenario& s, double p_a, double p_b, uint64_t seed, int64_t n, int64_t steps, Device device) {
  Generator data_gen(seed, 0), gen(seed, 2);
  const RegressionData data = make_group_data(s, n, data_gen);
  const int64_t d = data.d;
  const Tensor x = to_device(Tensor::from_vector(data.x, {2 * n, d}), device);
  const Tensor y = to_device(Tensor::from_vector(data.y, {2 * n, 1}), device);
  const std::vector<double> w = averaged_perturbed_sgd(x, y, steps, kLearningRate, [&](const Tensor& input) {
    return cat({dropout(slice(input, 0, 0, n), p_a, true, gen), dropout(slice(input, 0, n, 2 * n), p_b, true, gen)}, 0);
  });
  std::vector<double> penalty(static_cast<size_t>(d), 0.0);
  for (int64_t i = 0; i < 2 * n; ++i)
    for (int64_t j = 0; j < d; ++j) {
      const double v = data.x[static_cast<size_t>(i * d + j)];
      penalty[static_cast<size_t>(j)] += odds(i < n ? p_a : p_b) * v * v / static_cast<double>(2 * n);
    }
  return {population_errors(s, w), relative_gap(w, ridge_solution(normal_equations(data), penalty))};
}

struct ScenarioOutcome {
  double uniform_gap_mean, uniform_gap_std, equalized_gap_mean, p_a, p_b, worst_closed_form_gap = 0;
  bool uniform_sign_consistent;
};

// The population errors of dropout-SGD at (p_a, p_b), one per seed; raises worst_closed_form_gap.
struct SeedErrors {
  std::vector<double> a, b, gap;
};
SeedErrors train_seeds(const Scenario& s, double p_a, double p_b, const RunOptions& options,
                       double& worst_closed_form_gap) {
  const int64_t n = options.pick<int64_t>(100, 1000, 4000), steps = options.pick<int64_t>(200, 4000, 20000);
  SeedErrors out;
  for (int k = 0; k < kSeeds; ++k) {
    const Trained r = train(s, p_a, p_b, options.seed + static_cast<uint64_t>(k), n, steps, options.device);
    out.a.push_back(r.errors.a), out.b.push_back(r.errors.b), out.gap.push_back(r.errors.gap());
    worst_closed_form_gap = std::max(worst_closed_form_gap, r.closed_form_gap);
  }
  return out;
}

ScenarioOutcome run_scenario(const Scenario& s, const RunOptions& options, Result& result) {
  const double t_star = equalizing_offset(s);
  ScenarioOutcome out{};
  out.p_a = kBudget + t_star, out.p_b = kBudget - t_star;
  Series model_a{"group A (closed form)", {}, {}, false}, model_b{"group B (closed form)", {}, {}, false};
  Series trained_a{"group A (dropout-SGD, mean of 3)", {}, {}, true}, trained_b{"group B (dropout-SGD)", {}, {}, true};
  std::vector<std::pair<std::string, double>> settings = {{"no dropout", NAN}};
  for (double t : kOffsets) settings.push_back({t == 0 ? "uniform" : "grid", t});
  settings.push_back({"closed-form best", t_star});
  for (const auto& [label, t] : settings) {
    const double p_a = std::isnan(t) ? 0.0 : kBudget + t, p_b = std::isnan(t) ? 0.0 : kBudget - t;
    const SeedErrors e = train_seeds(s, p_a, p_b, options, out.worst_closed_form_gap);
    const MeanStd a = mean_std(e.a), b = mean_std(e.b), gap = mean_std(e.gap);
    result.table.rows.push_back({s.name, label, p_a, p_b, a.mean, a.std, b.mean, b.std, gap.mean, gap.std,
                                 closed_form_errors(s, p_a, p_b).gap()});
    if (label == "uniform") {
      out.uniform_gap_mean = gap.mean, out.uniform_gap_std = gap.std;
      out.uniform_sign_consistent = std::all_of(e.gap.begin(), e.gap.end(), [&](double g) { return g * gap.mean > 0; });
    }
    if (label == "closed-form best") out.equalized_gap_mean = gap.mean;
    if (label == "grid" || label == "uniform")
      trained_a.x.push_back(p_a), trained_a.y.push_back(a.mean), trained_b.x.push_back(p_a),
          trained_b.y.push_back(b.mean);
  }
  for (double p_a = 0; p_a <= 2 * kBudget + 1e-9; p_a += 2 * kBudget / 60) {
    const Errors model = closed_form_errors(s, p_a, 2 * kBudget - p_a);
    model_a.x.push_back(p_a), model_a.y.push_back(model.a), model_b.x.push_back(p_a), model_b.y.push_back(model.b);
  }
  result.plots.push_back({fmt::format("{}: group errors at mean rate {}", s.name, kBudget),
                          fmt::format("p_A (p_B = {} - p_A)", 2 * kBudget),
                          "expected squared error",
                          false,
                          false,
                          {model_a, model_b, trained_a, trained_b}});
  return out;
}

Result run(const RunOptions& options) {
  Result result;
  result.table.columns = {"scenario",   "setting",   "p_A",          "p_B",     "err A mean",     "err A std",
                          "err B mean", "err B std", "gap B-A mean", "gap std", "closed-form gap"};
  std::vector<ScenarioOutcome> outcomes;
  for (const Scenario& s : kScenarios) outcomes.push_back(run_scenario(s, options, result));
  bool disparity = true, sgd_ok = true;
  std::vector<bool> equalized;
  for (size_t i = 0; i < outcomes.size(); ++i) {
    const ScenarioOutcome& o = outcomes[i];
    disparity = disparity && o.uniform_sign_consistent &&
                std::abs(o.uniform_gap_mean) > 4 * o.uniform_gap_std / std::sqrt(static_cast<double>(kSeeds));
    sgd_ok = sgd_ok && o.worst_closed_form_gap < kMaxClosedFormGap;
    equalized.push_back(std::abs(o.equalized_gap_mean) <= kEqualized * std::abs(o.uniform_gap_mean));
    const std::string key = i == 0 ? "larger_everywhere" : "crossed";
    result.numbers.insert(result.numbers.end(), {{key + "_uniform_gap", o.uniform_gap_mean},
                                                 {key + "_uniform_gap_std", o.uniform_gap_std},
                                                 {key + "_equalizing_p_A", o.p_a},
                                                 {key + "_equalizing_p_B", o.p_b},
                                                 {key + "_gap_at_equalizing_rates", o.equalized_gap_mean},
                                                 {key + "_worst_sgd_vs_closed_form", o.worst_closed_form_gap}});
  }
  const ScenarioOutcome &everywhere = outcomes[0], &crossed = outcomes[1];
  result.verdict = !(disparity && sgd_ok && equalized[1]) ? Verdict::NotConfirmed
                   : equalized[0]                         ? Verdict::Confirmed
                                                          : Verdict::ConfirmedUnderConditions;
  result.reason = fmt::format(
      "a uniform p = {} gives group B a larger error in both scenarios (gap {:.3f} +- {:.3f} and {:.3f} +- {:.3f}, "
      "{}); with crossed variances p_A = {:.3f}, p_B = {:.3f} brings the gap to {:.4f} ({} 10% of the uniform gap), "
      "but when B's variance is larger in every feature the best pair (p_A = {:.2f}, p_B = {:.2f}) leaves {:.3f}{}; "
      "dropout-SGD is within {:.2f}% of the data-dependent ridge solution ({} 2%)",
      kBudget, everywhere.uniform_gap_mean, everywhere.uniform_gap_std, crossed.uniform_gap_mean,
      crossed.uniform_gap_std, disparity ? "significant in every seed" : "NOT significant", crossed.p_a, crossed.p_b,
      crossed.equalized_gap_mean, equalized[1] ? "<=" : ">", everywhere.p_a, everywhere.p_b,
      everywhere.equalized_gap_mean,
      equalized[0] ? "" : ": no shared linear model equalizes the errors when Sigma_B - Sigma_A is semi-definite",
      100 * std::max(everywhere.worst_closed_form_gap, crossed.worst_closed_form_gap), sgd_ok ? "<" : ">=");
  return result;
}

}  // namespace

Experiment fairness_experiment() {
  return {"fairness",
          "A uniform dropout rate can give two groups with different feature variances systematically different "
          "errors; group-dependent rates p_A, p_B can equalize them under the same overall budget.",
          {"003"},
          "one linear model (d = 4, w* = 1) for two equal groups of 1000, input dropout with mean rate 0.3, "
          "dropout-SGD averaged over 3 seeds; scenario 1: B's feature variances 3x A's, scenario 2: crossed "
          "variances (A 0.5, 0.5, 2, 2; B 3, 3, 1, 1): under uniform p the error gap B - A has one sign in every "
          "seed and |mean| > 4 standard errors; at the (p_A, p_B) where the closed form equalizes the errors (or "
          "gets nearest), the trained |gap| is at most 10% of the uniform gap; dropout-SGD within 2% of the "
          "data-dependent ridge solution. Confirmed if equalized in both scenarios, confirmed under conditions if "
          "only with crossed variances",
          run};
}

}  // namespace minidl::lab
