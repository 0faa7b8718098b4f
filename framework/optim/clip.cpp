#include "framework/optim/clip.h"

#include <algorithm>
#include <cmath>

#include "framework/ops/backend.h"
#include "framework/ops/ops.h"

namespace minidl {

namespace {

// The parameters' gradients, contiguous, grouped by device and dtype for one backend call each.
struct GradGroup {
  Device device;
  DType dtype;
  std::vector<size_t> params;  // indices into the parameter list
  std::vector<Tensor> grads;
};

std::vector<GradGroup> group_grads(const std::vector<Tensor>& params, const char* what) {
  std::vector<GradGroup> groups;
  for (size_t i = 0; i < params.size(); ++i) {
    MINIDL_CHECK(params[i].defined(), "{}: parameter {} is an undefined tensor", what, i);
    const Tensor grad = params[i].grad();
    if (!grad.defined()) continue;
    auto group = std::find_if(groups.begin(), groups.end(), [&](const GradGroup& g) {
      return g.device == grad.device() && g.dtype == grad.dtype();
    });
    if (group == groups.end()) group = groups.insert(groups.end(), GradGroup{grad.device(), grad.dtype(), {}, {}});
    group->params.push_back(i);
    group->grads.push_back(contiguous(grad));
  }
  return groups;
}

// Sets each gradient to clip_value(hp, gradient), a new tensor.
void clip_grads(const std::vector<Tensor>& params, const std::vector<GradGroup>& groups, const ClipParams& hp) {
  for (const GradGroup& group : groups) {
    std::vector<Tensor> clipped;
    for (const Tensor& g : group.grads) clipped.push_back(Tensor::empty(g.shape(), g.dtype(), g.device()));
    backend_for(group.device).clip_grads(hp, clipped, group.grads);
    for (size_t k = 0; k < clipped.size(); ++k) params[group.params[k]].set_grad(clipped[k]);
  }
}

NormKind norm_kind(double norm_type, const char* what) {
  MINIDL_CHECK(norm_type == 2 || norm_type == INFINITY, "{}: norm_type = {} is not supported: expected 2 or inf", what,
               norm_type);
  return norm_type == 2 ? NormKind::SumOfSquares : NormKind::MaxAbs;
}

double total_norm(const std::vector<GradGroup>& groups, NormKind kind) {
  double total = 0;
  for (const GradGroup& group : groups)
    for (double term : backend_for(group.device).grad_norms(kind, group.grads)) total = norm_combine(kind, total, term);
  return kind == NormKind::SumOfSquares ? std::sqrt(total) : total;
}

}  // namespace

double grad_norm(const std::vector<Tensor>& params, double norm_type) {
  const NormKind kind = norm_kind(norm_type, "grad_norm");
  return total_norm(group_grads(params, "grad_norm"), kind);
}

double clip_grad_norm_(const std::vector<Tensor>& params, double max_norm, double norm_type) {
  MINIDL_CHECK(max_norm >= 0, "clip_grad_norm_: max_norm = {} is invalid: expected a value >= 0", max_norm);
  const NormKind kind = norm_kind(norm_type, "clip_grad_norm_");
  const std::vector<GradGroup> groups = group_grads(params, "clip_grad_norm_");
  const double total = total_norm(groups, kind);
  const double coefficient = max_norm / (total + 1e-6);
  if (!(coefficient >= 1)) clip_grads(params, groups, ClipParams{coefficient, INFINITY});  // a NaN one too
  return total;
}

void clip_grad_value_(const std::vector<Tensor>& params, double clip_value) {
  MINIDL_CHECK(clip_value >= 0, "clip_grad_value_: clip_value = {} is invalid: expected a value >= 0", clip_value);
  clip_grads(params, group_grads(params, "clip_grad_value_"), ClipParams{1, clip_value});
}

}  // namespace minidl
