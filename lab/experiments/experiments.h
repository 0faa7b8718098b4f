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
Experiment bn_order_experiment();
Experiment occlusion_experiment();
Experiment flat_minima_experiment();
Experiment not_private_experiment();

}  // namespace minidl::lab
