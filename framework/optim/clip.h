// Gradient clipping, as torch.nn.utils.clip_grad_norm_ and clip_grad_value_. Parameters without a
// gradient are skipped. Unlike torch, the clipped gradient is a new tensor set as the parameter's
// .grad: the engine never writes a gradient in place (one gradient tensor may be shared), so a
// gradient held elsewhere keeps its values.
#pragma once

#include <vector>

#include "framework/core/tensor.h"

namespace minidl {

// The norm_type-norm (2 or inf) of all the gradients taken together (0 without gradients),
// gradients untouched: what clip_grad_norm_ clips by, for monitoring.
double grad_norm(const std::vector<Tensor>& params, double norm_type = 2.0);

// Scales every gradient by min(1, max_norm / (total + 1e-6)), where total is grad_norm(params,
// norm_type), and returns total. A non-finite total is no error (torch's default,
// error_if_nonfinite=False): a NaN one makes every gradient NaN.
double clip_grad_norm_(const std::vector<Tensor>& params, double max_norm, double norm_type = 2.0);

// Clamps every gradient element into [-clip_value, clip_value].
void clip_grad_value_(const std::vector<Tensor>& params, double clip_value);

}  // namespace minidl
