// A linear regression problem for the lab's regularization experiments (ridge, input-noise,
// early-stopping, fairness): standardized correlated features, the closed-form ridge solution (also
// with a penalty per feature), the eigen-decomposition of the curvature, plain gradient descent,
// and full-batch SGD on a randomly perturbed input (dropout, noise) whose averaged iterates are
// compared with it.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "framework/core/tensor.h"
#include "framework/random/generator.h"
#include "lab/linear_algebra.h"

namespace minidl::lab {

// Standardized design X [n, d] (columns with mean 0 and mean square 1) and y = X w_true + noise.
struct RegressionData {
  std::vector<double> x, y;
  int64_t n, d;
};
RegressionData make_regression_data(int64_t n, int64_t d, Generator& gen);

// argmin_w |y - X w|^2 / n + lambda |w|^2 = (X^T X / n + lambda I)^-1 X^T y / n.
std::vector<double> ridge_solution(const RegressionData& data, double lambda);

// X^T X / n (the curvature of |y - X w|^2 / (2n)) and X^T y / n.
struct NormalEquations {
  std::vector<std::vector<double>> gram;
  std::vector<double> moment;
};
NormalEquations normal_equations(const RegressionData& data);
// argmin_w |y - X w|^2 / n + sum_j penalty_j w_j^2 = (gram + diag(penalty))^-1 moment.
std::vector<double> ridge_solution(const NormalEquations& equations, const std::vector<double>& penalty);

// Full-batch SGD from zero on mse_loss(matmul(perturb(X), w), y) with a fresh perturbation each
// step; returns the average of the second half of the iterates.
std::vector<double> averaged_perturbed_sgd(const Tensor& x, const Tensor& y, int64_t steps, double learning_rate,
                                           const std::function<Tensor(const Tensor&)>& perturb);

// Full-batch gradient descent from zero on mse_loss(matmul(x, w), y) / 2 (curvature X^T X / n):
// the iterates after each number of steps in `at` (ascending).
std::vector<std::vector<double>> gradient_descent_iterates(const Tensor& x, const Tensor& y, double learning_rate,
                                                           const std::vector<int64_t>& at);

double euclidean_norm(const std::vector<double>& w);
// |a - b| / |b|.
double relative_gap(const std::vector<double>& a, const std::vector<double>& b);

}  // namespace minidl::lab
