// Every experiment of the lab, in the order `minidl lab --list` shows them.
#pragma once

#include <string>
#include <vector>

#include "lab/experiment.h"

namespace minidl::lab {

const std::vector<Experiment>& experiments();
// The experiment called name, or an error listing the names.
const Experiment& find_experiment(const std::string& name);

}  // namespace minidl::lab
