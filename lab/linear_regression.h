// A linear regression problem for the lab's regularization experiments (ridge, input-noise):
// standardized correlated features, the closed-form ridge solution, and full-batch SGD on a
// randomly perturbed input (dropout, noise) whose averaged iterates are compared with it.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "framework/core/tensor.h"
#include "framework/random/generator.h"

namespace minidl::lab {

// Standardized design X [n, d] (columns with mean 0 and mean square 1) and y = X w_true + noise.
struct RegressionData {
  std::vector<double> x, y;
  int64_t n, d;
};
RegressionData make_regression_data(int64_t n, int64_t d, Generator& gen);

// argmin_w |y - X w|^2 / n + lambda |w|^2 = (X^T X / n + lambda I)^-1 X^T y / n.
std::vector<double> ridge_solution(const RegressionData& data, double lambda);

// Full-batch SGD from zero on mse_loss(matmul(perturb(X), w), y) with a fresh perturbation each
// step; returns the average of the second half of the iterates.
std::vector<double> averaged_perturbed_sgd(const Tensor& x, const Tensor& y, int64_t steps, double learning_rate,
                                           const std::function<Tensor(const Tensor&)>& perturb);

double euclidean_norm(const std::vector<double>& w);
// |a - b| / |b|.
double relative_gap(const std::vector<double>& a, const std::vector<double>& b);

}  // namespace minidl::lab
