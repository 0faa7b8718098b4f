// jacobian: multiplicative (inverted dropout) noise on the input of a linear autoencoder
// f(x) = W x adds, in expectation, a penalty on the squared input-output Jacobian J = W:
// E_m ||x - W (m ∘ x) / (1 - p)||^2 = ||x - W x||^2 + p / (1 - p) sum_j x_j^2 ||J_{:,j}||^2,
// which on standardized data averages to p / (1 - p) ||J||_F^2. Compares the Monte Carlo loss over
// minidl::dropout masks with this decomposition for a fixed random W.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "framework/ops/ops.h"
#include "lab/experiments/experiments.h"
#include "lab/stats.h"

namespace minidl::lab {

namespace {

constexpr double kSigmas = 4.0;

Result run(const RunOptions& options) {
  const int64_t n = options.pick<int64_t>(32, 256, 1024), d = 16, hidden = 4;
  const int64_t masks = options.pick<int64_t>(200, 20000, 100000);
  Generator data_gen(options.seed, 0), gen(options.seed, 2);
  // Data near a low-rank subspace plus noise; W = encoder^T-like product of rank `hidden`.
  const Tensor basis = gaussian_noise(Tensor::zeros({hidden, d}, DType::F64, options.device), 0.0, 1.0, data_gen);
  const Tensor codes = gaussian_noise(Tensor::zeros({n, hidden}, DType::F64, options.device), 0.0, 1.0, data_gen);
  const Tensor x =
      gaussian_noise(mul(matmul(codes, basis), 1.0 / std::sqrt(static_cast<double>(hidden))), 0.0, 0.3, data_gen);
  const Tensor enc = gaussian_noise(Tensor::zeros({d, hidden}, DType::F64, options.device), 0.0, 0.25, data_gen);
  const Tensor dec = gaussian_noise(Tensor::zeros({hidden, d}, DType::F64, options.device), 0.0, 0.25, data_gen);
  const Tensor jacobian_t = matmul(enc, dec);  // rows are inputs: f(x) = x (enc dec), J = (enc dec)^T
  // Loss per sample summed over outputs, averaged over samples: sum((x - f)^2) / n.
  const auto loss_of = [&](const Tensor& input) {
    const Tensor r = sub(x, matmul(input, jacobian_t));
    return sum(mul(r, r)).item() / static_cast<double>(n);
  };
  const double reconstruction = loss_of(x);
  // sum_j mean_i x_ij^2 ||J_{:,j}||^2: column norms of J are row norms of jacobian_t.
  const std::vector<double> x2 = host_values(mean(mul(x, x), {0}));
  const std::vector<double> j2 = host_values(sum(mul(jacobian_t, jacobian_t), {1}));
  double weighted_jacobian = 0;
  for (size_t j = 0; j < x2.size(); ++j) weighted_jacobian += x2[j] * j2[j];
  const double frobenius = sum(mul(jacobian_t, jacobian_t)).item();

  Result result;
  result.table.columns = {"p", "MC dropout loss", "reconstruction", "p/(1-p) Jacobian term", "closed form", "z"};
  Series mc{"Monte Carlo E[loss]", {}, {}, true},
      closed{"reconstruction + p/(1-p) sum_j E[x_j^2] |J_j|^2", {}, {}, false};
  double worst_z = 0;
  for (double p : {0.1, 0.3, 0.5, 0.7}) {
    Moments loss;
    for (int64_t t = 0; t < masks; ++t) loss.add(loss_of(dropout(x, p, true, gen)));
    const double term = p / (1 - p) * weighted_jacobian, formula = reconstruction + term;
    const double z = z_score(loss.mean(), formula, loss.mean_std_error());
    worst_z = std::max(worst_z, std::abs(z));
    result.table.rows.push_back({p, loss.mean(), reconstruction, term, formula, z});
    mc.x.push_back(p), mc.y.push_back(loss.mean());
  }
  for (double p = 0.0; p <= 0.7001; p += 0.02)
    closed.x.push_back(p), closed.y.push_back(reconstruction + p / (1 - p) * weighted_jacobian);
  result.plots.push_back({"Linear autoencoder: expected loss under input dropout",
                          "drop probability p",
                          "E[|x - f(x~)|^2]",
                          false,
                          false,
                          {closed, mc}});
  result.numbers = {{"worst_abs_z", worst_z},
                    {"reconstruction_loss", reconstruction},
                    {"data_weighted_jacobian_norm2", weighted_jacobian},
                    {"jacobian_frobenius_norm2", frobenius}};
  const bool ok = worst_z <= kSigmas;
  result.verdict = ok ? Verdict::Confirmed : Verdict::NotConfirmed;
  result.reason = fmt::format(
      "Monte Carlo loss equals reconstruction + p/(1-p) x (data-weighted squared Jacobian "
      "norm) within {:.2f} standard errors ({} 4) for p in {{0.1, 0.3, 0.5, 0.7}}",
      worst_z, ok ? "<=" : ">");
  return result;
}

}  // namespace

Experiment jacobian_experiment() {
  return {"jacobian",
          "Multiplicative (dropout) noise on the input of a linear autoencoder adds, in expectation, a penalty on the "
          "squared input-output Jacobian norm whose strength is set by p (p/(1-p)).",
          {"003"},
          "linear autoencoder (16 -> 4 -> 16), n = 256, p in {0.1, 0.3, 0.5, 0.7}: Monte Carlo expected loss over "
          "2x10^4 masks within 4 standard errors of reconstruction + p/(1-p) sum_j E[x_j^2] |J_{:,j}|^2",
          run};
}

}  // namespace minidl::lab
