// expectation: inverted dropout h~ = m h / (1 - p), m ~ Bernoulli(1 - p), keeps E[h~] = h and
// has Var[h~] = p / (1 - p) h^2. Draws minidl::dropout on a constant tensor and compares the
// sample mean and variance with the formulas, each against its standard error.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "framework/ops/ops.h"
#include "lab/experiments/experiments.h"
#include "lab/stats.h"

namespace minidl::lab {

namespace {

constexpr double kActivation = 1.5;  // h
constexpr double kSigmas = 4.0;

Result run(const RunOptions& options) {
  const int64_t draws = options.pick<int64_t>(20'000, 10'000'000, 100'000'000);
  const int64_t chunk = std::min<int64_t>(draws, 1 << 20);
  Generator gen(options.seed, 2);
  Result result;
  result.table.columns = {"p", "draws", "mean", "mean z", "variance", "p/(1-p) h^2", "variance z"};
  Series measured{"measured variance", {}, {}, true};
  double worst_z = 0;
  for (double p : {0.1, 0.5, 0.9}) {
    const double expected_var = p / (1 - p) * kActivation * kActivation;
    Moments m(kActivation);
    for (int64_t done = 0; done < draws; done += chunk) {
      const Tensor h = Tensor::full({std::min(chunk, draws - done)}, kActivation, DType::F64, options.device);
      m.add(host_values(dropout(h, p, true, gen)));
    }
    const double mean_z = z_score(m.mean(), kActivation, std::sqrt(expected_var / static_cast<double>(draws)));
    const double var_z = z_score(m.variance(), expected_var, m.variance_std_error());
    worst_z = std::max({worst_z, std::abs(mean_z), std::abs(var_z)});
    result.table.rows.push_back({p, static_cast<double>(draws), m.mean(), mean_z, m.variance(), expected_var, var_z});
    result.numbers.push_back({fmt::format("mean_error_p{}", p), m.mean() - kActivation});
    result.numbers.push_back({fmt::format("variance_rel_error_p{}", p), m.variance() / expected_var - 1});
    measured.x.push_back(p);
    measured.y.push_back(m.variance());
  }
  Series formula{"p/(1-p) h^2", {}, {}, false};
  for (double p = 0.02; p <= 0.951; p += 0.01) {
    formula.x.push_back(p);
    formula.y.push_back(p / (1 - p) * kActivation * kActivation);
  }
  result.plots.push_back(
      {"Variance of inverted dropout, h = 1.5", "drop probability p", "Var[h~]", false, true, {formula, measured}});
  result.numbers.push_back({"worst_abs_z", worst_z});
  const bool ok = worst_z <= kSigmas;
  result.verdict = ok ? Verdict::Confirmed : Verdict::NotConfirmed;
  result.reason = fmt::format(
      "largest |z| of mean and variance over p in {{0.1, 0.5, 0.9}} is {:.2f} ({} 4) with {} "
      "draws each",
      worst_z, ok ? "<=" : ">", draws);
  return result;
}

}  // namespace

Experiment expectation_experiment() {
  return {"expectation",
          "Inverted dropout keeps the expectation of an activation, E[h~] = h, and its variance is p/(1-p) h^2.",
          {"000", "002"},
          "10^7 draws per p in {0.1, 0.5, 0.9}: sample mean and sample variance within 4 standard errors of h and "
          "p/(1-p) h^2",
          run};
}

}  // namespace minidl::lab
