#include "lab/linear_regression.h"

#include <algorithm>
#include <cmath>

#include "framework/autograd/grad_mode.h"
#include "framework/ops/ops.h"
#include "lab/stats.h"

namespace minidl::lab {

namespace {

using Matrix = std::vector<std::vector<double>>;

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

SymmetricEigen symmetric_eigen(Matrix a) {
  const size_t n = a.size();
  Matrix v(n, std::vector<double>(n, 0.0));
  for (size_t i = 0; i < n; ++i) v[i][i] = 1;
  const auto rotate = [n](Matrix& m, size_t p, size_t q, double c, double s, bool rows) {
    for (size_t k = 0; k < n; ++k) {
      double& mp = rows ? m[p][k] : m[k][p];
      double& mq = rows ? m[q][k] : m[k][q];
      const double old_p = mp, old_q = mq;
      mp = c * old_p - s * old_q;
      mq = s * old_p + c * old_q;
    }
  };
  for (int sweep = 0; sweep < 64; ++sweep) {
    double off = 0, all = 0;
    for (size_t p = 0; p < n; ++p)
      for (size_t q = 0; q < n; ++q) (p == q ? all : off) += a[p][q] * a[p][q];
    if (off <= 1e-30 * (all + off)) break;
    for (size_t p = 0; p < n; ++p)
      for (size_t q = p + 1; q < n; ++q) {
        if (a[p][q] == 0) continue;
        // The rotation in the (p, q) plane that zeroes a[p][q] (Numerical Recipes' jacobi).
        const double theta = (a[q][q] - a[p][p]) / (2 * a[p][q]);
        const double t = (theta >= 0 ? 1.0 : -1.0) / (std::abs(theta) + std::sqrt(theta * theta + 1));
        const double c = 1 / std::sqrt(t * t + 1), s = t * c;
        rotate(a, p, q, c, s, false);
        rotate(a, p, q, c, s, true);
        rotate(v, p, q, c, s, false);
      }
  }
  std::vector<size_t> order(n);
  for (size_t i = 0; i < n; ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](size_t i, size_t j) { return a[i][i] < a[j][j]; });
  SymmetricEigen eigen;
  for (size_t i : order) {
    eigen.values.push_back(a[i][i]);
    std::vector<double> column(n);
    for (size_t k = 0; k < n; ++k) column[k] = v[k][i];
    eigen.vectors.push_back(column);
  }
  return eigen;
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
