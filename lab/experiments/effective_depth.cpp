// effective-depth: under stochastic depth with the linear decay rule (block l of L drops with
// p_l = p_L l / L, minidl::stochastic_depth_rate) the expected number of active blocks is
// sum_l (1 - p_l); and the gradient reaching a network's input decays exponentially with depth in
// a plain ReLU MLP, much less in a residual one. Simulates the blocks with minidl::drop_path and
// measures the input gradient of freshly initialized minidl::Linear stacks.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "framework/nn/layers.h"
#include "framework/ops/ops.h"
#include "framework/regularize/dropout.h"
#include "lab/experiments/experiments.h"
#include "lab/stats.h"

namespace minidl::lab {

namespace {

constexpr double kSigmas = 4.0;

// Norm of d sum(net(x) * upstream) / dx for a stack of `depth` layers: h <- relu(W h + b), plus h
// when residual.
double input_gradient_norm(int64_t depth, bool residual, int64_t width, const Tensor& x0, const Tensor& upstream,
                           uint64_t seed) {
  Generator init(seed, 0);
  const Tensor x = clone(x0).requires_grad_();
  Tensor h = x;
  for (int64_t l = 0; l < depth; ++l) {
    Linear layer(width, width, true, init);
    layer.to(x0.device());
    const Tensor branch = relu(layer.forward(h));
    h = residual ? add(h, branch) : branch;
  }
  sum(mul(h, upstream)).backward();
  // In double: squares of f32 gradients near 1e-22 would underflow to 0.
  double squares = 0;
  for (double g : host_values(x.grad())) squares += g * g;
  return std::sqrt(squares);
}

Result run(const RunOptions& options) {
  const int64_t blocks = options.pick<int64_t>(8, 54, 54), samples = options.pick<int64_t>(2000, 200'000, 2'000'000);
  const double final_p = 0.5;
  const int64_t width = options.pick<int64_t>(16, 64, 128), batch = 32;
  const std::vector<int64_t> depths =
      options.scale == Scale::Tiny ? std::vector<int64_t>{1, 2, 4} : std::vector<int64_t>{1, 2, 4, 8, 16, 32, 64};
  Generator gen(options.seed, 2), data_gen(options.seed, 3);
  Result result;

  // Expected depth: each block's DropPath on ones [samples, 1] (per sample) keeps a sample's row or zeroes it.
  const Tensor ones = Tensor::full({samples, 1}, 1.0, DType::F64, options.device);
  const Tensor zeros = Tensor::zeros({samples, 1}, DType::F64, options.device);
  Tensor depth = zeros;
  double formula = 0, variance = 0;
  Series survival{"measured P(block active)", {}, {}, true}, survival_formula{"1 - p_l", {}, {}, false};
  for (int64_t l = 1; l <= blocks; ++l) {
    const double p = stochastic_depth_rate(final_p, l, blocks);
    const Tensor kept = drop_path(ones, p, true, true, gen);  // 1 / (1 - p) or 0 per sample
    const Tensor active = add(neg(eq(kept, zeros)), 1.0);
    depth = add(depth, active);
    formula += 1 - p;
    variance += p * (1 - p);
    survival.x.push_back(static_cast<double>(l)), survival.y.push_back(mean(active).item());
    survival_formula.x.push_back(static_cast<double>(l)), survival_formula.y.push_back(1 - p);
  }
  const double measured_depth = mean(depth).item();
  const double depth_z = z_score(measured_depth, formula, std::sqrt(variance / static_cast<double>(samples)));

  // Input gradient norm vs depth, in f32 like minidl::Linear's parameters.
  const Tensor x0 = gaussian_noise(Tensor::zeros({batch, width}, DType::F32, options.device), 0.0, 1.0, data_gen);
  const Tensor upstream = gaussian_noise(Tensor::zeros({batch, width}, DType::F32, options.device), 0.0, 1.0, data_gen);
  result.table.columns = {"depth", "plain |dL/dx|", "residual |dL/dx|"};
  Series plain{"plain MLP", {}, {}, true}, res{"residual MLP", {}, {}, true};
  std::vector<double> d, log_plain, log_res;
  for (int64_t n : depths) {
    const double gp = input_gradient_norm(n, false, width, x0, upstream, options.seed);
    const double gr = input_gradient_norm(n, true, width, x0, upstream, options.seed);
    result.table.rows.push_back({static_cast<double>(n), gp, gr});
    plain.x.push_back(static_cast<double>(n)), plain.y.push_back(gp);
    res.x.push_back(static_cast<double>(n)), res.y.push_back(gr);
    d.push_back(static_cast<double>(n)), log_plain.push_back(std::log(gp)), log_res.push_back(std::log(gr));
  }
  const double plain_factor = std::exp(fit_line(d, log_plain).slope), res_factor = std::exp(fit_line(d, log_res).slope);

  result.plots.push_back(
      {"Gradient norm at the input vs depth (fresh init)", "layers", "|dL/dx|", false, true, {plain, res}});
  result.plots.push_back({fmt::format("Stochastic depth, linear decay to p_L = {}, {} blocks", final_p, blocks),
                          "block l",
                          "P(block active)",
                          false,
                          false,
                          {survival_formula, survival}});
  result.numbers = {{"expected_depth_measured", measured_depth},
                    {"expected_depth_formula", formula},
                    {"expected_depth_z", depth_z},
                    {"plain_gradient_factor_per_layer", plain_factor},
                    {"residual_gradient_factor_per_layer", res_factor}};
  const bool depth_ok = std::abs(depth_z) <= kSigmas;
  const bool plain_decays = plain_factor<1, residual_less = res_factor> plain_factor && res_factor >= 0.95;
  result.verdict = depth_ok && plain_decays && residual_less ? Verdict::Confirmed : Verdict::NotConfirmed;
  result.reason = fmt::format(
      "expected depth {:.3f} vs sum(1 - p_l) = {:.3f} ({:.2f} standard errors); the input gradient changes by a "
      "factor {:.3f} per layer in the plain MLP and {:.3f} in the residual one{}",
      measured_depth, formula, depth_z, plain_factor, res_factor,
      res_factor > 1 ? " (above 1: the residual signal grows)" : "");
  return result;
}

}  // namespace

Experiment effective_depth_experiment() {
  return {"effective-depth",
          "Gradient signal decays exponentially with depth in plain networks and much less in residual networks; "
          "stochastic depth with linear decay shortens the expected depth to sum_l (1 - p_l).",
          {"003"},
          "54 blocks, p_L = 0.5, 2x10^5 samples: mean number of active blocks within 4 standard errors of "
          "sum(1 - p_l); input-gradient norm of fresh ReLU MLPs (width 64, depth 1..64): per-layer factor < 1 for "
          "plain, and >= 0.95 and above plain's for residual",
          run};
}

}  // namespace minidl::lab
