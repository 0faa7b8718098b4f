#include "lab/linear_algebra.h"

#include <algorithm>
#include <cmath>

#include "framework/core/check.h"

namespace minidl::lab {

namespace {

Matrix multiply(const Matrix& a, const Matrix& b) {
  const size_t n = a.size(), inner = b.size(), m = b.empty() ? 0 : b[0].size();
  Matrix out(n, std::vector<double>(m, 0.0));
  for (size_t i = 0; i < n; ++i)
    for (size_t l = 0; l < inner; ++l)
      for (size_t j = 0; j < m; ++j) out[i][j] += a[i][l] * b[l][j];
  return out;
}

}  // namespace

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

std::vector<double> product_singular_values(const Matrix& gram_u, const Matrix& gram_v) {
  const size_t k = gram_u.size();
  MINIDL_CHECK(gram_v.size() == k, "product_singular_values: Gram matrices of sizes {} and {}", k, gram_v.size());
  const SymmetricEigen eu = symmetric_eigen(gram_u);
  // root = Q diag(sqrt(lambda)) Q^T; rounding can leave a PSD matrix's eigenvalues slightly negative.
  Matrix root(k, std::vector<double>(k, 0.0));
  for (size_t l = 0; l < k; ++l) {
    const double scale = std::sqrt(std::max(eu.values[l], 0.0));
    for (size_t i = 0; i < k; ++i)
      for (size_t j = 0; j < k; ++j) root[i][j] += eu.vectors[l][i] * scale * eu.vectors[l][j];
  }
  Matrix sandwich = multiply(multiply(root, gram_v), root);
  for (size_t i = 0; i < k; ++i)  // symmetric up to rounding: make it exactly so
    for (size_t j = 0; j < i; ++j) sandwich[i][j] = sandwich[j][i] = (sandwich[i][j] + sandwich[j][i]) / 2;
  std::vector<double> singular = symmetric_eigen(sandwich).values;
  for (double& s : singular) s = std::sqrt(std::max(s, 0.0));
  std::reverse(singular.begin(), singular.end());
  return singular;
}

}  // namespace minidl::lab
