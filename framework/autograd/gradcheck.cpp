#include "framework/autograd/gradcheck.h"

#include <cmath>

#include "framework/autograd/grad_mode.h"
#include "framework/ops/ops.h"

namespace minidl {

namespace {

using Matrix = std::vector<std::vector<double>>;  // [input element][output element]

std::vector<Tensor> fresh_leaves(const std::vector<Tensor>& inputs) {
  std::vector<Tensor> leaves;
  for (const Tensor& x : inputs) {
    if (!is_floating(x.dtype())) {
      leaves.push_back(x);
      continue;
    }
    Tensor leaf = Tensor::from_vector(x.to_vector<double>(), x.shape());
    leaf.requires_grad_(true);
    leaves.push_back(leaf);
  }
  return leaves;
}

// Column j of each input's Jacobian from one backward pass with the one-hot gradient e_j.
std::vector<Matrix> analytical(const Tensor& out, const std::vector<Tensor>& leaves) {
  std::vector<Matrix> jac(leaves.size());
  for (size_t i = 0; i < leaves.size(); ++i) {
    if (is_floating(leaves[i].dtype()))
      jac[i].assign(static_cast<size_t>(leaves[i].numel()), std::vector<double>(out.numel(), 0.0));
  }
  for (int64_t j = 0; j < out.numel(); ++j) {
    std::vector<double> onehot(static_cast<size_t>(out.numel()), 0.0);
    onehot[j] = 1.0;
    for (const Tensor& leaf : leaves) leaf.set_grad(Tensor());
    out.backward(Tensor::from_vector(onehot, out.shape()));
    for (size_t i = 0; i < leaves.size(); ++i) {
      if (jac[i].empty() || !leaves[i].grad().defined()) continue;
      const std::vector<double> g = leaves[i].grad().to_vector<double>();
      for (size_t k = 0; k < g.size(); ++k) jac[i][k][j] = g[k];
    }
  }
  return jac;
}

std::vector<double> evaluate(const GradcheckFn& fn, const std::vector<Tensor>& inputs) {
  NoGradGuard no_grad;
  return fn(inputs).to_vector<double>();
}

}  // namespace

GradcheckResult gradcheck(const GradcheckFn& fn, const std::vector<Tensor>& inputs, GradcheckOptions options) {
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (!is_floating(inputs[i].dtype())) continue;
    MINIDL_CHECK(inputs[i].dtype() == DType::F64, "gradcheck: input {} is {}: expected f64", i, inputs[i].describe());
    for (int64_t d = 0; d < inputs[i].dim(); ++d) {
      MINIDL_CHECK(inputs[i].strides()[d] != 0 || inputs[i].size(d) <= 1,
                   "gradcheck: input {} has a stride-0 (expanded) dim {}; pass a contiguous copy", i, d);
    }
  }
  const std::vector<Tensor> leaves = fresh_leaves(inputs);
  const Tensor out = fn(leaves);
  MINIDL_CHECK(out.dtype() == DType::F64, "gradcheck: the function returned {}: expected f64", out.describe());
  if (!out.requires_grad()) return {false, "the output does not depend on any input through differentiable ops"};

  const std::vector<Matrix> first = analytical(out, leaves);
  if (analytical(out, leaves) != first) return {false, "backward is not deterministic: two runs differ"};

  for (const Tensor& leaf : leaves) {
    if (is_floating(leaf.dtype())) leaf.set_grad(Tensor());
  }
  out.backward(Tensor::zeros(out.shape(), DType::F64));
  for (size_t i = 0; i < leaves.size(); ++i) {
    if (!is_floating(leaves[i].dtype()) || !leaves[i].grad().defined()) continue;
    for (double g : leaves[i].grad().to_vector<double>()) {
      if (g != 0.0) return {false, fmt::format("a zero output gradient gave input {} a non-zero gradient {}", i, g)};
    }
  }

  GradcheckResult result;
  double worst = 0;
  for (size_t i = 0; i < leaves.size(); ++i) {
    if (!is_floating(leaves[i].dtype())) continue;
    std::vector<double> values = leaves[i].to_vector<double>();
    for (size_t k = 0; k < values.size(); ++k) {
      std::vector<Tensor> shifted = leaves;
      const double original = values[k];
      values[k] = original + options.eps;
      shifted[i] = Tensor::from_vector(values, leaves[i].shape());
      const std::vector<double> plus = evaluate(fn, shifted);
      values[k] = original - options.eps;
      shifted[i] = Tensor::from_vector(values, leaves[i].shape());
      const std::vector<double> minus = evaluate(fn, shifted);
      values[k] = original;
      for (size_t j = 0; j < plus.size(); ++j) {
        const double numerical = (plus[j] - minus[j]) / (2 * options.eps);
        const double analytic = first[i][k][j];
        const double excess = std::abs(analytic - numerical) - (options.atol + options.rtol * std::abs(numerical));
        if (!(excess <= worst) || std::isnan(analytic)) {
          worst = std::isnan(excess) ? INFINITY : excess;
          result.ok = false;
          result.message = fmt::format(
              "input {} element {}, output element {}: analytical {:.10g} vs numerical {:.10g} (atol {}, rtol {})", i,
              k, j, analytic, numerical, options.atol, options.rtol);
        }
      }
    }
  }
  return result;
}

}  // namespace minidl
