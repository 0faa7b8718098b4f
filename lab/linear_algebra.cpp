#include "lab/linear_algebra.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "framework/core/check.h"

namespace minidl::lab {

namespace {

constexpr int kMaxSweeps = 100;

size_t index(int64_t i, int64_t j, int64_t n) { return static_cast<size_t>(i * n + j); }

// a b for square a, b [n, n].
std::vector<double> multiply(const std::vector<double>& a, const std::vector<double>& b, int64_t n) {
  std::vector<double> out(static_cast<size_t>(n * n), 0.0);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t l = 0; l < n; ++l)
      for (int64_t j = 0; j < n; ++j) out[index(i, j, n)] += a[index(i, l, n)] * b[index(l, j, n)];
  return out;
}

// Rotates rows or columns p and q of a [n, n] by the angle with cosine c and sine s:
// x_p <- c x_p - s x_q, x_q <- s x_p + c x_q, where x_k is element (k, i) (rows) or (i, k).
void rotate(std::vector<double>& a, int64_t n, int64_t p, int64_t q, double c, double s, bool rows) {
  for (int64_t i = 0; i < n; ++i) {
    double& xp = rows ? a[index(p, i, n)] : a[index(i, p, n)];
    double& xq = rows ? a[index(q, i, n)] : a[index(i, q, n)];
    const double old_p = xp, old_q = xq;
    xp = c * old_p - s * old_q;
    xq = s * old_p + c * old_q;
  }
}

double off_diagonal_squares(const std::vector<double>& a, int64_t n) {
  double sum = 0;
  for (int64_t p = 0; p < n; ++p)
    for (int64_t q = 0; q < n; ++q)
      if (p != q) sum += a[index(p, q, n)] * a[index(p, q, n)];
  return sum;
}

}  // namespace

SymmetricEigen symmetric_eigen(std::vector<double> a, int64_t n) {
  MINIDL_CHECK(n > 0 && a.size() == static_cast<size_t>(n * n), "symmetric_eigen: expected {} x {} values, got {}", n,
               n, a.size());
  const auto at = [&](int64_t i, int64_t j) -> double& { return a[index(i, j, n)]; };
  std::vector<double> q(static_cast<size_t>(n * n), 0.0);
  for (int64_t i = 0; i < n; ++i) q[index(i, i, n)] = 1;
  double total = 0;
  for (double x : a) total += x * x;
  for (int sweep = 0; sweep < kMaxSweeps && off_diagonal_squares(a, n) > 1e-30 * total; ++sweep) {
    for (int64_t p = 0; p < n; ++p) {
      for (int64_t r = p + 1; r < n; ++r) {
        if (at(p, r) == 0) continue;
        // The rotation that zeroes a[p, r] (Numerical Recipes, section 11.1).
        const double theta = (at(r, r) - at(p, p)) / (2 * at(p, r));
        const double t = (theta >= 0 ? 1.0 : -1.0) / (std::abs(theta) + std::sqrt(theta * theta + 1));
        const double c = 1 / std::sqrt(t * t + 1), s = t * c;
        rotate(a, n, p, r, c, s, false);
        rotate(a, n, p, r, c, s, true);
        rotate(q, n, p, r, c, s, false);
      }
    }
  }
  std::vector<int64_t> order(static_cast<size_t>(n));
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](int64_t i, int64_t j) { return at(i, i) > at(j, j); });
  SymmetricEigen result{std::vector<double>(static_cast<size_t>(n)), std::vector<double>(static_cast<size_t>(n * n))};
  for (int64_t k = 0; k < n; ++k) {
    const int64_t from = order[static_cast<size_t>(k)];
    result.values[static_cast<size_t>(k)] = at(from, from);
    for (int64_t i = 0; i < n; ++i) result.vectors[index(i, k, n)] = q[index(i, from, n)];
  }
  return result;
}

std::vector<double> product_singular_values(const std::vector<double>& gram_u, const std::vector<double>& gram_v,
                                            int64_t k) {
  MINIDL_CHECK(gram_v.size() == gram_u.size(), "product_singular_values: Gram matrices of {} and {} values",
               gram_u.size(), gram_v.size());
  const SymmetricEigen eu = symmetric_eigen(gram_u, k);
  // root = Q diag(sqrt(lambda)) Q^T; rounding can leave a PSD matrix's eigenvalues slightly negative.
  std::vector<double> root(static_cast<size_t>(k * k), 0.0);
  for (int64_t i = 0; i < k; ++i)
    for (int64_t j = 0; j < k; ++j)
      for (int64_t l = 0; l < k; ++l)
        root[index(i, j, k)] += eu.vectors[index(i, l, k)] *
                                std::sqrt(std::max(eu.values[static_cast<size_t>(l)], 0.0)) *
                                eu.vectors[index(j, l, k)];
  std::vector<double> sandwich = multiply(multiply(root, gram_v, k), root, k);
  for (int64_t i = 0; i < k; ++i)  // symmetric up to rounding: make it exactly so
    for (int64_t j = 0; j < i; ++j)
      sandwich[index(i, j, k)] = sandwich[index(j, i, k)] = (sandwich[index(i, j, k)] + sandwich[index(j, i, k)]) / 2;
  std::vector<double> singular = symmetric_eigen(sandwich, k).values;
  for (double& s : singular) s = std::sqrt(std::max(s, 0.0));
  return singular;
}

}  // namespace minidl::lab
