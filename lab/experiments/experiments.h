// The experiments, one per file in lab/experiments/; lab/registry.cpp lists them.
#pragma once

#include "lab/experiment.h"

namespace minidl::lab {

Experiment expectation_experiment();
Experiment dropblock_experiment();
Experiment recurrent_experiment();
Experiment edge_dropout_experiment();
Experiment ridge_experiment();
Experiment all_dropped_experiment();
Experiment effective_depth_experiment();
Experiment jacobian_experiment();
Experiment input_noise_experiment();
Experiment early_stopping_experiment();
Experiment gradient_noise_experiment();
Experiment fairness_experiment();
Experiment target_dropout_experiment();
Experiment count_noise_experiment();
Experiment weight_scaling_experiment();
Experiment generalization_experiment();
Experiment mc_uncertainty_experiment();
Experiment missing_data_experiment();
Experiment homophily_experiment();
Experiment attention_entropy_experiment();
Experiment embedding_dropout_experiment();

}  // namespace minidl::lab
