// recurrent: dropout with keep probability 1 - p on the recurrence of h_t = a h_{t-1} + x_t
// (h_t = a m_t h_{t-1} + x_t, m_t ~ Bernoulli(1 - p), no rescaling) makes the mean state decay
// with the effective forgetting factor a(1 - p). Runs many chains from an impulse (h_0 = 1,
// x_t = 0 after) with minidl::classic_dropout, fits the decay of the mean state, and checks each
// step's mean against (a(1 - p))^t; inverted dropout, for contrast, keeps the factor a.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "framework/ops/ops.h"
#include "framework/regularize/dropout.h"
#include "lab/experiments/experiments.h"
#include "lab/stats.h"

namespace minidl::lab {

namespace {

constexpr double kSigmas = 4.0;
constexpr double kMinSurvivors = 200;  // fit only the steps where this many chains are expected alive

// Mean state per step 0..steps of chains updated by h <- a * drop(h).
template <typename Drop>
std::vector<double> mean_states(int64_t chains, int64_t steps, double a, const RunOptions& options, Drop drop) {
  Tensor h = Tensor::full({chains}, 1.0, DType::F64, options.device);
  std::vector<double> means{1.0};
  for (int64_t t = 1; t <= steps; ++t) {
    h = mul(drop(h), a);
    means.push_back(mean(h).item());
  }
  return means;
}

double fitted_decay(const std::vector<double>& means) {
  std::vector<double> t, log_mean;
  for (size_t i = 0; i < means.size(); ++i) {
    if (means[i] <= 0) break;
    t.push_back(static_cast<double>(i));
    log_mean.push_back(std::log(means[i]));
  }
  return t.size() >= 2 ? std::exp(fit_line(t, log_mean).slope) : NAN;
}

Result run(const RunOptions& options) {
  const int64_t chains = options.pick<int64_t>(4000, 400'000, 4'000'000);
  Generator gen(options.seed, 2);
  Result result;
  result.table.columns = {
      "a", "p", "steps fitted", "a(1-p)", "fitted decay", "relative error", "worst |z|", "inverted: fitted decay"};
  double worst_z = 0, worst_rel = 0;
  for (double a : {0.9, 0.99}) {
    Plot plot{fmt::format("Mean state after an impulse, a = {}", a), "step t", "E[h_t]", false, true, {}};
    for (double p : {0.1, 0.3, 0.5}) {
      const double keep = 1 - p, factor = a * keep;
      const auto steps =
          static_cast<int64_t>(std::min(40.0, std::log(static_cast<double>(chains) / kMinSurvivors) / -std::log(keep)));
      const std::vector<double> means =
          mean_states(chains, steps, a, options, [&](const Tensor& h) { return classic_dropout(h, p, true, gen); });
      const std::vector<double> inverted =
          mean_states(chains, steps, a, options, [&](const Tensor& h) { return dropout(h, p, true, gen); });
      double z_max = 0;
      Series measured{fmt::format("p = {} measured", p), {}, {}, true};
      Series formula{fmt::format("p = {}: (a(1-p))^t", p), {}, {}, false};
      for (int64_t t = 1; t <= steps; ++t) {
        // h_t = a^t with probability keep^t, else 0.
        const double alive = std::pow(keep, static_cast<double>(t)), scale = std::pow(a, static_cast<double>(t));
        const double std_error = scale * std::sqrt(alive * (1 - alive) / static_cast<double>(chains));
        z_max = std::max(z_max, std::abs(z_score(means[static_cast<size_t>(t)], scale * alive, std_error)));
        measured.x.push_back(static_cast<double>(t)), measured.y.push_back(means[static_cast<size_t>(t)]);
        formula.x.push_back(static_cast<double>(t)), formula.y.push_back(std::pow(factor, static_cast<double>(t)));
      }
      const double fitted = fitted_decay(means), rel = fitted / factor - 1;
      worst_z = std::max(worst_z, z_max);
      worst_rel = std::max(worst_rel, std::abs(rel));
      result.table.rows.push_back(
          {a, p, static_cast<double>(steps), factor, fitted, rel, z_max, fitted_decay(inverted)});
      plot.series.push_back(formula);
      plot.series.push_back(measured);
    }
    result.plots.push_back(plot);
  }
  result.numbers = {{"worst_abs_z_per_step", worst_z}, {"worst_relative_error_of_fitted_decay", worst_rel}};
  const bool ok = worst_z <= kSigmas;
  result.verdict = ok ? Verdict::Confirmed : Verdict::NotConfirmed;
  result.reason = fmt::format(
      "fitted decay of the mean state is a(1-p) within {:.2g} relative error; every step's "
      "mean within {:.2f} standard errors of (a(1-p))^t ({} 4)",
      worst_rel, worst_z, ok ? "<=" : ">");
  return result;
}

}  // namespace

Experiment recurrent_experiment() {
  return {"recurrent",
          "Dropout with keep probability 1-p on the recurrent connection of a linear RNN h_t = a h_{t-1} + x_t "
          "shrinks the recurrent weight on average to the effective forgetting factor a(1-p).",
          {"003"},
          "impulse response of the mean state over 4x10^5 chains, a in {0.9, 0.99}, p in {0.1, 0.3, 0.5}: every "
          "step within 4 standard errors of (a(1-p))^t; fitted decay vs a(1-p)",
          run};
}

}  // namespace minidl::lab
