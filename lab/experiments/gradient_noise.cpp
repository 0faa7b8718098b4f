// gradient-noise: the dropout gradient is an unbiased estimate of the gradient of the expected
// (dropout) loss, and its variance over masks has a term set by that mean gradient itself. For a
// linear model with inverted input dropout, loss (w.x~ - y)^2 / 2 with x~ = m x / (1 - p), and
// q = p / (1 - p), r = w.x - y (docs/lab/gradient-noise.md has the derivation):
//   E[g_j]   = G_j = r x_j + q w_j x_j^2                       (the gradient of E[loss])
//   Var[g_j] = q G_j^2 + q (1 + q) x_j^2 sum_{k != j} w_k^2 x_k^2.
// Measures per-example gradients over many minidl::dropout masks with minidl's autograd.
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
const std::vector<double> kRates = {0.1, 0.3, 0.5, 0.7, 0.9};

struct Example {
  std::vector<double> x;
  double y;
};

// The closed form for one example at rate p.
struct GradientLaw {
  std::vector<double> mean, plain, variance, mean_term;  // per coordinate; plain: no-dropout gradient
};
GradientLaw gradient_law(const Example& e, const std::vector<double>& w, double p) {
  const double q = p / (1 - p);
  double r = -e.y, sum_wx2 = 0;
  for (size_t j = 0; j < w.size(); ++j) r += w[j] * e.x[j], sum_wx2 += w[j] * w[j] * e.x[j] * e.x[j];
  GradientLaw law;
  for (size_t j = 0; j < w.size(); ++j) {
    const double wx2 = w[j] * w[j] * e.x[j] * e.x[j];
    const double g = r * e.x[j] + q * w[j] * e.x[j] * e.x[j];
    law.plain.push_back(r * e.x[j]);
    law.mean.push_back(g);
    law.mean_term.push_back(q * g * g);
    law.variance.push_back(q * g * g + q * (1 + q) * e.x[j] * e.x[j] * (sum_wx2 - wx2));
  }
  return law;
}

// Per-coordinate moments of the gradient of (w.x~ - y)^2 / 2 over `masks` dropout masks: one row of
// a [masks, d] batch per mask, each with its own copy of w, so w's gradient rows are the per-mask
// gradients.
std::vector<Moments> mask_gradients(const Example& e, const std::vector<double>& w, double p, int64_t masks,
                                    const std::vector<double>& centre, Device device, Generator& gen) {
  const auto d = static_cast<int64_t>(w.size());
  std::vector<Moments> moments;
  for (double c : centre) moments.emplace_back(c);
  const int64_t chunk = std::min<int64_t>(masks, 50000);
  const Tensor x = to_device(Tensor::from_vector(e.x, {1, d}), device);
  const Tensor w_row = to_device(Tensor::from_vector(w, {1, d}), device);
  for (int64_t done = 0; done < masks; done += chunk) {
    const int64_t rows = std::min(chunk, masks - done);
    const Tensor weights = contiguous(expand(w_row, {rows, d})).requires_grad_();
    const Tensor dropped = dropout(contiguous(expand(x, {rows, d})), p, true, gen);
    const Tensor residual = add(sum(mul(dropped, weights), {1}), -e.y);
    mul(sum(mul(residual, residual)), 0.5).backward();
    const std::vector<double> g = host_values(weights.grad());
    for (size_t i = 0; i < g.size(); ++i) moments[i % w.size()].add(g[i]);
  }
  return moments;
}

// The closed form on a fine grid of p, summed over the examples.
struct FormulaCurves {
  Series variance{"formula", {}, {}, false}, mean_term{"mean term q sum_j G_j^2", {}, {}, false},
      other_term{"other term", {}, {}, false}, expected_grad{"|grad E[dropout loss]|", {}, {}, false},
      plain_grad{"|grad loss without dropout|", {}, {}, false};
};
FormulaCurves formula_curves(const std::vector<Example>& batch, const std::vector<double>& w) {
  FormulaCurves c;
  for (double p = 0.02; p <= 0.9001; p += 0.02) {
    double total = 0, term = 0;
    std::vector<double> means, plains;
    for (const Example& e : batch) {
      const GradientLaw law = gradient_law(e, w, p);
      for (size_t j = 0; j < w.size(); ++j) total += law.variance[j], term += law.mean_term[j];
      means.insert(means.end(), law.mean.begin(), law.mean.end());
      plains.insert(plains.end(), law.plain.begin(), law.plain.end());
    }
    c.variance.x.push_back(p), c.variance.y.push_back(total);
    c.mean_term.x.push_back(p), c.mean_term.y.push_back(term);
    c.other_term.x.push_back(p), c.other_term.y.push_back(total - term);
    c.expected_grad.x.push_back(p), c.expected_grad.y.push_back(euclidean_norm(means));
    c.plain_grad.x.push_back(p), c.plain_grad.y.push_back(euclidean_norm(plains));
  }
  return c;
}

Result run(const RunOptions& options) {
  const int64_t d = 6, examples = 3, masks = options.pick<int64_t>(2000, 200000, 2000000);
  Generator data_gen(options.seed, 0), gen(options.seed, 2);
  // A model half-way to least squares on a small regression problem: the gradient is far from zero.
  const RegressionData data = make_regression_data(64, d, data_gen);
  std::vector<double> w = ridge_solution(data, 0.0);
  for (double& v : w) v *= 0.5;
  std::vector<Example> batch;
  for (int64_t i = 0; i < examples; ++i)
    batch.push_back(
        {std::vector<double>(data.x.begin() + i * d, data.x.begin() + (i + 1) * d), data.y[static_cast<size_t>(i)]});

  Result result;
  result.table.columns = {"p",
                          "q = p/(1-p)",
                          "max |z| mean vs grad E[loss]",
                          "max |z| mean vs grad loss",
                          "sum Var[g]",
                          "formula",
                          "max |z| variance",
                          "mean-term share",
                          "max |z| var without mean term"};
  Series measured_var{"measured sum_j Var[g_j] (3 examples)", {}, {}, true};
  Series measured_mean{"measured |E[g]|", {}, {}, true};
  double worst_mean_z = 0, worst_var_z = 0, min_plain_z = INFINITY, min_no_mean_term_z = INFINITY;
  double previous_var = 0;
  bool grows = true;
  for (double p : kRates) {
    double mean_z = 0, plain_z = 0, var_z = 0, no_term_z = 0, var_sum = 0, formula_sum = 0, term_sum = 0;
    std::vector<double> measured_means;
    for (const Example& e : batch) {
      const GradientLaw law = gradient_law(e, w, p);
      const std::vector<Moments> m = mask_gradients(e, w, p, masks, law.mean, options.device, gen);
      for (size_t j = 0; j < w.size(); ++j) {
        mean_z = std::max(mean_z, std::abs(z_score(m[j].mean(), law.mean[j], m[j].mean_std_error())));
        plain_z = std::max(plain_z, std::abs(z_score(m[j].mean(), law.plain[j], m[j].mean_std_error())));
        var_z = std::max(var_z, std::abs(z_score(m[j].variance(), law.variance[j], m[j].variance_std_error())));
        no_term_z =
            std::max(no_term_z,
                     std::abs(z_score(m[j].variance(), law.variance[j] - law.mean_term[j], m[j].variance_std_error())));
        var_sum += m[j].variance(), formula_sum += law.variance[j], term_sum += law.mean_term[j];
        measured_means.push_back(m[j].mean());
      }
    }
    worst_mean_z = std::max(worst_mean_z, mean_z), worst_var_z = std::max(worst_var_z, var_z);
    min_plain_z = std::min(min_plain_z, plain_z), min_no_mean_term_z = std::min(min_no_mean_term_z, no_term_z);
    grows = grows && var_sum > previous_var;
    previous_var = var_sum;
    result.table.rows.push_back(
        {p, p / (1 - p), mean_z, plain_z, var_sum, formula_sum, var_z, term_sum / formula_sum, no_term_z});
    measured_var.x.push_back(p), measured_var.y.push_back(var_sum);
    measured_mean.x.push_back(p), measured_mean.y.push_back(euclidean_norm(measured_means));
  }
  const FormulaCurves curves = formula_curves(batch, w);
  result.plots.push_back({"Variance of the dropout gradient over masks",
                          "drop probability p",
                          "sum_j Var[g_j]",
                          false,
                          true,
                          {curves.variance, curves.mean_term, curves.other_term, measured_var}});
  result.plots.push_back({"Mean of the dropout gradient over masks",
                          "drop probability p",
                          "|E[g]| (3 examples)",
                          false,
                          false,
                          {curves.expected_grad, curves.plain_grad, measured_mean}});
  result.numbers = {{"worst_abs_z_mean_vs_expected_loss_gradient", worst_mean_z},
                    {"worst_abs_z_variance_vs_formula", worst_var_z},
                    {"smallest_max_abs_z_mean_vs_plain_gradient", min_plain_z},
                    {"smallest_max_abs_z_variance_without_mean_term", min_no_mean_term_z}};
  const bool unbiased = worst_mean_z <= kSigmas, variance_ok = worst_var_z <= kSigmas;
  const bool term_needed = min_no_mean_term_z > kSigmas;
  result.verdict = unbiased && variance_ok && term_needed && grows ? Verdict::Confirmed : Verdict::NotConfirmed;
  result.reason = fmt::format(
      "the mean gradient over masks equals the gradient of the expected dropout loss within {:.2f} standard "
      "errors ({} 4), not the no-dropout gradient (>= {:.1f} standard errors off at every p); the variance matches q "
      "G_j^2 + "
      "q (1 + q) x_j^2 sum_(k != j) w_k^2 x_k^2 within {:.2f} ({} 4), without the mean term q G_j^2 it is off by "
      "at least {:.1f} standard errors at every p ({} 4), and the total variance {} with p",
      worst_mean_z, unbiased ? "<=" : ">", min_plain_z, worst_var_z, variance_ok ? "<=" : ">", min_no_mean_term_z,
      term_needed ? ">" : "<=", grows ? "grows" : "does NOT grow monotonically");
  return result;
}

}  // namespace

Experiment gradient_noise_experiment() {
  return {"gradient-noise",
          "The dropout gradient is unbiased for the expected (dropout) loss, and its variance has an extra term that "
          "depends on the gradient's own mean, growing with p.",
          {"000"},
          "linear model with inverted input dropout, d = 6, 3 examples, p in {0.1, 0.3, 0.5, 0.7, 0.9}, 2x10^5 masks "
          "per example and p: every coordinate's mean gradient within 4 standard errors of G = grad E[loss], its "
          "variance within 4 standard errors of q G_j^2 + q (1 + q) x_j^2 sum_(k != j) w_k^2 x_k^2 (q = p/(1-p)); "
          "the variance without the q G_j^2 term rejected (some |z| > 4) at every p; total variance increasing in p",
          run};
}

}  // namespace minidl::lab
