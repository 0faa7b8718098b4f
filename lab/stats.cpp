#include "lab/stats.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <utility>

#include "framework/core/check.h"
#include "framework/ops/ops.h"

namespace minidl::lab {

void Moments::add(double x) {
  const double d = x - centre, d2 = d * d;
  ++n;
  s1 += d;
  s2 += d2;
  s3 += d2 * d;
  s4 += d2 * d2;
}

void Moments::add(const std::vector<double>& xs) {
  for (double x : xs) add(x);
}

double Moments::mean() const { return centre + s1 / static_cast<double>(n); }

double Moments::variance() const {
  MINIDL_CHECK(n >= 2, "Moments: variance needs at least 2 samples, got {}", n);
  const double nn = static_cast<double>(n), m1 = s1 / nn;
  return (s2 - nn * m1 * m1) / (nn - 1.0);
}

double Moments::mean_std_error() const { return std::sqrt(variance() / static_cast<double>(n)); }

double Moments::variance_std_error() const {
  const double nn = static_cast<double>(n), m1 = s1 / nn, m2 = s2 / nn, m3 = s3 / nn, m4 = s4 / nn;
  // The 4th central moment from the raw moments about the centre.
  const double central4 = m4 - 4 * m1 * m3 + 6 * m1 * m1 * m2 - 3 * m1 * m1 * m1 * m1;
  const double var = m2 - m1 * m1;
  return std::sqrt(std::max(central4 - var * var, 0.0) / nn);
}

std::vector<double> host_values(const Tensor& x) {
  return contiguous(to_dtype(to_device(x.detach(), kCPU), DType::F64)).to_vector<double>();
}

double z_score(double measured, double expected, double std_error) {
  const double diff = measured - expected;
  if (std_error > 0) return diff / std_error;
  return diff == 0 ? 0.0 : (diff > 0 ? INFINITY : -INFINITY);
}

MeanStd mean_std(const std::vector<double>& runs) {
  MINIDL_CHECK(!runs.empty(), "mean_std: no runs");
  Moments m(runs.front());
  m.add(runs);
  return {m.mean(), m.n >= 2 ? std::sqrt(m.variance()) : 0.0, m.n};
}

std::string plus_minus(const MeanStd& m, int decimals) {
  return fmt::format("{:.{}f} ± {:.{}f}", m.mean, decimals, m.std, decimals);
}

double difference_z(const MeanStd& a, const MeanStd& b) {
  const double se = std::sqrt(a.std * a.std / static_cast<double>(a.n) + b.std * b.std / static_cast<double>(b.n));
  return z_score(a.mean, b.mean, se);
}

double median(std::vector<double> values) {
  MINIDL_CHECK(!values.empty(), "median: no values");
  const size_t mid = values.size() / 2;
  std::nth_element(values.begin(), values.begin() + static_cast<std::ptrdiff_t>(mid), values.end());
  const double upper = values[mid];
  if (values.size() % 2 == 1) return upper;
  return (*std::max_element(values.begin(), values.begin() + static_cast<std::ptrdiff_t>(mid)) + upper) / 2;
}

double entropy(const double* row, int64_t n) {
  double h = 0;
  for (int64_t i = 0; i < n; ++i) {
    if (std::isnan(row[i])) return NAN;
    if (row[i] > 0) h -= row[i] * std::log(row[i]);
  }
  return h;
}

Line fit_line(const std::vector<double>& x, const std::vector<double>& y) {
  MINIDL_CHECK(x.size() == y.size() && x.size() >= 2, "fit_line: needs >= 2 points of x and y, got {} and {}", x.size(),
               y.size());
  const double n = static_cast<double>(x.size());
  double sx = 0, sy = 0;
  for (size_t i = 0; i < x.size(); ++i) sx += x[i], sy += y[i];
  const double mx = sx / n, my = sy / n;
  double sxx = 0, sxy = 0;
  for (size_t i = 0; i < x.size(); ++i) sxx += (x[i] - mx) * (x[i] - mx), sxy += (x[i] - mx) * (y[i] - my);
  MINIDL_CHECK(sxx > 0, "fit_line: all {} x values are {}: no slope to fit", x.size(), mx);
  const double slope = sxy / sxx;
  return {slope, my - slope * mx};
}

double auroc(const std::vector<double>& negatives, const std::vector<double>& positives) {
  MINIDL_CHECK(!negatives.empty() && !positives.empty(), "auroc: {} negatives and {} positives, need both",
               negatives.size(), positives.size());
  std::vector<std::pair<double, bool>> pooled;  // (score, is positive)
  for (double s : negatives) pooled.emplace_back(s, false);
  for (double s : positives) pooled.emplace_back(s, true);
  std::sort(pooled.begin(), pooled.end());
  // Sum of the positives' ranks (1-based), each run of tied scores sharing its mean rank.
  double positive_rank_sum = 0;
  for (size_t start = 0; start < pooled.size();) {
    size_t end = start;
    int64_t tied_positives = 0;
    for (; end < pooled.size() && pooled[end].first == pooled[start].first; ++end) tied_positives += pooled[end].second;
    positive_rank_sum += static_cast<double>(tied_positives) * (static_cast<double>(start + end) + 1) / 2;
    start = end;
  }
  const double n_pos = static_cast<double>(positives.size()), n_neg = static_cast<double>(negatives.size());
  return (positive_rank_sum - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg);
}

}  // namespace minidl::lab
