// The experiments, one per file in lab/experiments/, in the order of the claim list; lab/registry.cpp
// lists them.
#pragma once

#include "lab/experiment.h"

namespace minidl::lab {

Experiment expectation_experiment();
Experiment weight_scaling_experiment();
Experiment ridge_experiment();
Experiment input_noise_experiment();
Experiment early_stopping_experiment();
Experiment flat_minima_experiment();
Experiment gradient_noise_experiment();
Experiment mc_uncertainty_experiment();
Experiment generalization_experiment();
Experiment bn_order_experiment();
Experiment dropblock_experiment();
Experiment recurrent_experiment();
Experiment edge_dropout_experiment();
Experiment homophily_experiment();
Experiment attention_entropy_experiment();
Experiment effective_depth_experiment();
Experiment jacobian_experiment();
Experiment embedding_dropout_experiment();
Experiment missing_data_experiment();
Experiment fairness_experiment();
Experiment target_dropout_experiment();
Experiment occlusion_experiment();
Experiment not_private_experiment();
Experiment count_noise_experiment();
Experiment all_dropped_experiment();

}  // namespace minidl::lab
