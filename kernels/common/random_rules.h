// Plug-in random elementwise rules: regularizer kernels in one file each (kernels/common/rules/),
// listed once below. A rule maps the Philox word of element i (word offset + i) and one parameter
// to a scale and a shift: y = x * scale + shift, dy/dx = scale. The generic CPU reference and
// CUDA kernels (kernels/cpu/dropout.cpp, kernels/cuda/dropout.cu) run every listed rule, the op
// random_rule (framework/ops/ops.h) exposes it, and the dropout-layer registry offers it by name.
// docs/extending.md walks through adding one.
#pragma once

#include "kernels/common/rules/uniform_noise.h"

namespace minidl {

// X(Id, Rule) for every rule; add a line here for a new one.
#define MINIDL_RANDOM_RULES(X) X(UniformNoise, UniformNoiseRule)

enum class RandomRule {
#define MINIDL_RULE_ID(id, rule) id,
  MINIDL_RANDOM_RULES(MINIDL_RULE_ID)
#undef MINIDL_RULE_ID
};

// Calls fn(Rule{}) for the rule `id` (a generic lambda receives the rule type).
template <typename Fn>
void visit_random_rule(RandomRule id, Fn&& fn) {
  switch (id) {
#define MINIDL_RULE_CASE(id_, rule) \
  case RandomRule::id_:             \
    fn(rule{});                     \
    return;
    MINIDL_RANDOM_RULES(MINIDL_RULE_CASE)
#undef MINIDL_RULE_CASE
  }
}

}  // namespace minidl
