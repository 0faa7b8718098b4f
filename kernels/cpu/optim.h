// CPU reference optimizer steps and gradient-clipping passes over contiguous tensors, with the
// per-element rules of kernels/common/optim_rules.h. Elementwise passes take a range
// [begin, end) of one tensor (the CPU backend splits a tensor across threads); norms take whole
// tensors, summed over chunks of kMultiTensorChunk elements in order, so they do not depend on the
// thread count.
#pragma once

#include <cstdint>

#include "kernels/common/optim_rules.h"

namespace minidl::cpu {

// One step of the rule of Params over elements [begin, end) of one parameter tensor. Params is any
// rule's params struct but LambParams (LAMB's update needs whole-tensor norms: the lamb_* below).
template <typename T, typename Params>
void optimizer_step(const Params& hp, int64_t begin, int64_t end, const ParamBuffers<T>& b);

// LAMB's three passes: the moments over [begin, end); the sums of squares of the parameter and
// of the update direction over the whole tensor; the update over [begin, end) with
// trust = lamb_trust_ratio(those sums).
template <typename T>
void lamb_moments(const LambParams& hp, int64_t begin, int64_t end, const ParamBuffers<T>& b);
template <typename T>
LambSquares lamb_squares(const LambParams& hp, const ParamBuffers<T>& b);
template <typename T>
void lamb_apply(const LambParams& hp, double trust, int64_t begin, int64_t end, const ParamBuffers<T>& b);

// The sum of squares or the largest |x| of x[0, n), in double.
template <typename T>
double norm(NormKind kind, int64_t n, const T* x);

// out[i] = clip_value(hp, x[i]) for i in [begin, end).
template <typename T>
void clip(const ClipParams& hp, int64_t begin, int64_t end, T* out, const T* x);

}  // namespace minidl::cpu
