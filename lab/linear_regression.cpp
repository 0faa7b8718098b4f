#include "lab/linear_regression.h"

#include <algorithm>
#include <cmath>

#include "framework/autograd/grad_mode.h"
#include "framework/core/check.h"
#include "framework/ops/ops.h"
#include "lab/stats.h"

namespace minidl::lab {

namespace {

// Solves A w = b by Gaussian elimination with partial pivoting (A small and well conditioned).
std::vector<double> solve(Matrix a, std::vector<double> b) {
  const size_t n = b.size();
  for (size_t c = 0; c < n; ++c) {
    size_t pivot = c;
    for (size_t r = c + 1; r < n; ++r)
      if (std::abs(a[r][c]) > std::abs(a[pivot][c])) pivot = r;
    std::swap(a[c], a[pivot]);
    std::swap(b[c], b[pivot]);
    for (size_t r = c + 1; r < n; ++r) {
      const double f = a[r][c] / a[c][c];
      for (size_t k = c; k < n; ++k) a[r][k] -= f * a[c][k];
      b[r] -= f * b[c];
    }
  }
  std::vector<double> w(n);
  for (size_t r = n; r-- > 0;) {
    double s = b[r];
    for (size_t k = r + 1; k < n; ++k) s -= a[r][k] * w[k];
    w[r] = s / a[r][r];
  }
  return w;
}

}  // namespace

RegressionData make_regression_data(int64_t n, int64_t d, Generator& gen) {
  const std::vector<double> z = host_values(gaussian_noise(Tensor::zeros({n, d + 1}, DType::F64), 0.0, 1.0, gen));
  RegressionData data{std::vector<double>(static_cast<size_t>(n * d)), std::vector<double>(static_cast<size_t>(n)), n,
                      d};
  const auto at = [&](int64_t i, int64_t j) { return static_cast<size_t>(i * d + j); };
  for (int64_t j = 0; j < d; ++j) {
    double mean = 0, square = 0;
    for (int64_t i = 0; i < n; ++i) mean += z[static_cast<size_t>(i * (d + 1) + j)] / static_cast<double>(n);
    for (int64_t i = 0; i < n; ++i) {
      // Correlated columns (each mixes in the previous), so the ridge solution is not a plain rescaling.
      const double v = z[static_cast<size_t>(i * (d + 1) + j)] - mean + (j > 0 ? 0.5 * data.x[at(i, j - 1)] : 0.0);
      data.x[at(i, j)] = v;
      square += v * v / static_cast<double>(n);
    }
    for (int64_t i = 0; i < n; ++i) data.x[at(i, j)] /= std::sqrt(square);
  }
  for (int64_t i = 0; i < n; ++i) {
    double s = 0.5 * z[static_cast<size_t>(i * (d + 1) + d)];
    for (int64_t j = 0; j < d; ++j) s += data.x[at(i, j)] * (j % 2 ? -1.0 : 1.0) * static_cast<double>(j + 1) / 4.0;
    data.y[static_cast<size_t>(i)] = s;
  }
  return data;
}

std::vector<double> ridge_solution(const RegressionData& data, double lambda) {
  return ridge_solution(normal_equations(data), std::vector<double>(static_cast<size_t>(data.d), lambda));
}

NormalEquations normal_equations(const RegressionData& data) {
  const auto d = static_cast<size_t>(data.d);
  const double n = static_cast<double>(data.n);
  NormalEquations eq{Matrix(d, std::vector<double>(d, 0.0)), std::vector<double>(d, 0.0)};
  for (int64_t i = 0; i < data.n; ++i) {
    const double* row = &data.x[static_cast<size_t>(i * data.d)];
    for (size_t j = 0; j < d; ++j) {
      eq.moment[j] += row[j] * data.y[static_cast<size_t>(i)] / n;
      for (size_t k = 0; k < d; ++k) eq.gram[j][k] += row[j] * row[k] / n;
    }
  }
  return eq;
}

std::vector<double> ridge_solution(const NormalEquations& equations, const std::vector<double>& penalty) {
  Matrix a = equations.gram;
  for (size_t j = 0; j < a.size(); ++j) a[j][j] += penalty[j];
  return solve(a, equations.moment);
}

double relative_gap(const std::vector<double>& a, const std::vector<double>& b) {
  double diff = 0, norm = 0;
  for (size_t i = 0; i < a.size(); ++i) diff += (a[i] - b[i]) * (a[i] - b[i]), norm += b[i] * b[i];
  return std::sqrt(diff / norm);
}

double euclidean_norm(const std::vector<double>& w) {
  double s = 0;
  for (double v : w) s += v * v;
  return std::sqrt(s);
}

std::vector<std::vector<double>> gradient_descent_iterates(const Tensor& x, const Tensor& y, double learning_rate,
                                                           const std::vector<int64_t>& at) {
  for (size_t i = 0; i < at.size(); ++i)
    MINIDL_CHECK(at[i] >= 1 && (i == 0 || at[i] > at[i - 1]),
                 "gradient_descent_iterates: step {} at position {} must be >= 1 and above the one before", at[i], i);
  Tensor w = Tensor::zeros({x.size(1), 1}, x.dtype(), x.device());
  std::vector<std::vector<double>> iterates;
  for (int64_t step = 1; iterates.size() < at.size(); ++step) {
    w.requires_grad_();
    mul(mse_loss(matmul(x, w), y), 0.5).backward();
    NoGradGuard no_grad;
    w = sub(w, mul(w.grad(), learning_rate)).detach();
    if (step == at[iterates.size()]) iterates.push_back(host_values(w));
  }
  return iterates;
}

std::vector<double> averaged_perturbed_sgd(const Tensor& x, const Tensor& y, int64_t steps, double learning_rate,
                                           const std::function<Tensor(const Tensor&)>& perturb) {
  Tensor w = Tensor::zeros({x.size(1), 1}, x.dtype(), x.device());
  Tensor w_sum = Tensor::zeros({x.size(1), 1}, x.dtype(), x.device());
  for (int64_t step = 0; step < steps; ++step) {
    w.requires_grad_();
    mse_loss(matmul(perturb(x), w), y).backward();
    NoGradGuard no_grad;
    w = sub(w, mul(w.grad(), learning_rate)).detach();
    if (step >= steps / 2) w_sum = add(w_sum, w);
  }
  return host_values(mul(w_sum, 1.0 / static_cast<double>(steps - steps / 2)));
}

}  // namespace minidl::lab
