// Small statistics for comparing a simulation with a formula: sample moments, the standard
// error of a sample mean and of a sample variance, and a tensor's values on the host.
#pragma once

#include <cstdint>
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

// Mean and sample standard deviation of a few values, e.g. a metric over seeds (std 0 for one).
struct MeanStd {
  double mean = 0, std = 0;
};
MeanStd mean_std(const std::vector<double>& values);

// The median of a few values (the mean of the middle two for an even count).
double median(std::vector<double> values);

// Least-squares slope and intercept of y on x.
struct Line {
  double slope = 0, intercept = 0;
};
Line fit_line(const std::vector<double>& x, const std::vector<double>& y);

}  // namespace minidl::lab
