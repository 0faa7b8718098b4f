// input-noise: Gaussian noise of variance s^2 on the inputs of a linear model is, in expectation,
// Tikhonov (L2) regularization: E||y - (X + s E) w||^2 / n = ||y - X w||^2 / n + s^2 |w|^2, so
// training with the noise converges to ridge with lambda = s^2. Checks the expected loss by Monte
// Carlo over minidl::additive_gaussian_noise and the ridge solution against averaged noisy SGD.
#include "framework/regularize/dropout.h"
#include "lab/experiments/experiments.h"
#include "lab/ridge_equivalence.h"

namespace minidl::lab {

namespace {

Result run(const RunOptions& options) {
  return check_ridge_equivalence(
      {"sigma",
       "noise std sigma",
       "sigma^2",
       "noisy-input",
       "noisy-SGD",
       {0.3, 0.6, 1.0},
       1.0,
       [](double sigma) { return sigma * sigma; },
       [](const Tensor& x, double sigma, Generator& gen) { return additive_gaussian_noise(x, sigma, true, gen); },
       3},
      options);
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
