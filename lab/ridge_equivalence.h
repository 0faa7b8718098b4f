// The experiment body that ridge and input-noise share: a random perturbation of a linear
// model's input whose expected loss is the loss plus lambda(parameter) |w|^2. For each setting of
// the parameter it compares the Monte Carlo expected loss at the ridge solution with that closed
// form (a z-score), and the averaged iterates of SGD on the perturbed input with the ridge
// solution (a relative gap); n = 400, d = 8 standardized features at the default scale.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "framework/core/tensor.h"
#include "framework/random/generator.h"
#include "lab/experiment.h"

namespace minidl::lab {

struct RidgeEquivalence {
  std::string parameter;       // as the table names it: "p", "sigma"
  std::string axis;            // its axis label: "drop probability p"
  std::string lambda_formula;  // "p/(1-p)", "sigma^2"
  std::string perturbed;       // what the perturbed loss is called: "input-dropout", "noisy-input"
  std::string sgd;             // what the perturbed SGD is called: "dropout-SGD", "noisy-SGD"
  std::vector<double> settings;
  double curve_end;  // the plotted ridge |w| spans the parameter over [0, curve_end]
  std::function<double(double parameter)> lambda;
  std::function<Tensor(const Tensor& x, double parameter, Generator& gen)> perturb;
  uint64_t stream;  // the perturbation's generator stream (the data use stream 0)
};

// Confirmed when every |z| <= 4 and every relative gap < 2%.
Result check_ridge_equivalence(const RidgeEquivalence& spec, const RunOptions& options);

}  // namespace minidl::lab
