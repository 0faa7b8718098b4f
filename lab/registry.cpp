#include "lab/registry.h"

#include <set>

#include "framework/core/check.h"
#include "lab/experiments/experiments.h"

namespace minidl::lab {

const char* scale_name(Scale scale) {
  switch (scale) {
    case Scale::Tiny:
      return "tiny";
    case Scale::Standard:
      return "default";
    case Scale::Full:
      return "full";
  }
  return "?";
}

const char* verdict_name(Verdict verdict) {
  switch (verdict) {
    case Verdict::Confirmed:
      return "confirmed";
    case Verdict::NotConfirmed:
      return "not confirmed";
    case Verdict::ConfirmedUnderConditions:
      return "confirmed under conditions";
  }
  return "?";
}

// An explicit list, in the order of the claim list, rather than static registration: objects of a
// static library that nothing references would be dropped by the linker, and their experiments
// with them.
const std::vector<Experiment>& experiments() {
  static const std::vector<Experiment> all = [] {
    std::vector<Experiment> list{
        expectation_experiment(),
        weight_scaling_experiment(),
        ridge_experiment(),
        input_noise_experiment(),
        early_stopping_experiment(),
        flat_minima_experiment(),
        gradient_noise_experiment(),
        mc_uncertainty_experiment(),
        generalization_experiment(),
        bn_order_experiment(),
        dropblock_experiment(),
        recurrent_experiment(),
        edge_dropout_experiment(),
        homophily_experiment(),
        attention_entropy_experiment(),
        effective_depth_experiment(),
        jacobian_experiment(),
        embedding_dropout_experiment(),
        missing_data_experiment(),
        fairness_experiment(),
        target_dropout_experiment(),
        occlusion_experiment(),
        not_private_experiment(),
        count_noise_experiment(),
        all_dropped_experiment()};
    std::set<std::string> names;
    for (const Experiment& e : list)
      MINIDL_CHECK(names.insert(e.name).second, "lab: experiment {} is listed twice", e.name);
    return list;
  }();
  return all;
}

const Experiment& find_experiment(const std::string& name) {
  std::string names;
  for (const Experiment& e : experiments()) {
    if (e.name == name) return e;
    names += (names.empty() ? "" : ", ") + e.name;
  }
  MINIDL_FAIL("lab: no experiment named '{}' (experiments: {})", name, names);
}

}  // namespace minidl::lab
