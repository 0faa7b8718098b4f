// Small statistics for comparing a simulation with a formula: sample moments, the standard
// error of a sample mean and of a sample variance, and a tensor's values on the host; and the
// mean and spread of a result over a few seeds.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "framework/core/tensor.h"

namespace minidl::lab {

// Running sums of x, x^2, x^3, x^4 about a fixed centre (the formula's mean keeps them accurate).
struct Moments {
  explicit Moments(double about = 0.0) : centre(about) {}
  void add(double x);
  void add(const std::vector<double>& xs);
  double mean() const;
  double variance() const;            // unbiased
  double mean_std_error() const;      // sqrt(var / n)
  double variance_std_error() const;  // sqrt((m4 - var^2) / n), m4 the sample's 4th central moment

  double centre;
  int64_t n = 0;
  double s1 = 0, s2 = 0, s3 = 0, s4 = 0;  // sums of (x - centre)^k
};

// The values of a floating tensor on any device, as doubles.
std::vector<double> host_values(const Tensor& x);

// (measured - expected) / std_error, 0 when both differences and the error vanish.
double z_score(double measured, double expected, double std_error);

// The mean and sample standard deviation of a few trained runs (one per seed); std is 0 for one run.
struct MeanStd {
  double mean = 0, std = 0;
  int64_t n = 0;
};
MeanStd mean_std(const std::vector<double>& runs);
// "mean ± std" with `decimals` digits after the point, for a table cell.
std::string plus_minus(const MeanStd& m, int decimals = 3);
// The difference of two arms' means, a - b, in units of its standard error sqrt(s_a^2/n_a + s_b^2/n_b)
// (independent runs; z_score's convention when the error vanishes).
double difference_z(const MeanStd& a, const MeanStd& b);

// The median of a few values (the mean of the middle two for an even count).
double median(std::vector<double> values);

// Entropy in nats of a probability row of n values (0 log 0 = 0); NaN for a row holding a NaN
// (e.g. renormalized attention with every weight dropped).
double entropy(const double* row, int64_t n);

// Least-squares slope and intercept of y on x.
struct Line {
  double slope = 0, intercept = 0;
};
Line fit_line(const std::vector<double>& x, const std::vector<double>& y);

// Area under the ROC curve of a score that should be higher for positives: the probability that a
// random positive scores above a random negative, ties counting one half (Mann-Whitney U from the
// ranks of the pooled scores, exact).
double auroc(const std::vector<double>& negatives, const std::vector<double>& positives);

}  // namespace minidl::lab
