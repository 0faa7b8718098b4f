// gradcheck: compares the analytical Jacobian (from backward) with central differences in f64,
// as torch.autograd.gradcheck does.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "framework/core/tensor.h"

namespace minidl {

struct GradcheckOptions {
  double eps = 1e-6;
  double atol = 1e-5;
  double rtol = 1e-3;
};

struct GradcheckResult {
  bool ok = true;
  std::string message;  // on failure: which input, which output element, the worst mismatch
};

using GradcheckFn = std::function<Tensor(const std::vector<Tensor>&)>;

// Checks every floating input of `inputs` (they must be f64 and have no stride-0 dims; other
// dtypes, such as class indices, are passed through unchanged). Also checks that backward is
// deterministic (run twice, compared bit for bit) and that a zero output gradient gives zero
// input gradients.
GradcheckResult gradcheck(const GradcheckFn& fn, const std::vector<Tensor>& inputs, GradcheckOptions options = {});

}  // namespace minidl
