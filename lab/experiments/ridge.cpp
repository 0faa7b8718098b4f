// ridge: input dropout on a linear model is, in expectation over masks, L2 regularization: with
// inverted dropout on X, E||y - (X ∘ M / (1 - p)) w||^2 / n = ||y - X w||^2 / n
// + p / (1 - p) sum_j w_j^2 mean_i x_ij^2, so on standardized columns (mean_i x_ij^2 = 1) the
// penalty is lambda ||w||^2 with lambda = p / (1 - p). Checks the expected loss by Monte Carlo
// over minidl::dropout masks, and the ridge solution against averaged dropout-SGD.
#include "framework/ops/ops.h"
#include "lab/experiments/experiments.h"
#include "lab/ridge_equivalence.h"

namespace minidl::lab {

namespace {

Result run(const RunOptions& options) {
  return check_ridge_equivalence({"p",
                                  "drop probability p",
                                  "p/(1-p)",
                                  "input-dropout",
                                  "dropout-SGD",
                                  {0.1, 0.3, 0.5},
                                  0.6,
                                  [](double p) { return p / (1 - p); },
                                  [](const Tensor& x, double p, Generator& gen) { return dropout(x, p, true, gen); },
                                  2},
                                 options);
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
