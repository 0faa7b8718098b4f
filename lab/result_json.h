// A lab result as JSON: the experiment's claim and criterion, how it ran, the table, the named
// numbers, the plots (tools/lab_plot.py draws them) and the verdict.
#pragma once

#include <filesystem>
#include <string>

#include "lab/experiment.h"

namespace minidl::lab {

std::string result_json(const Experiment& experiment, const RunOptions& options, const Result& result, double seconds);
// Writes result_json to path, creating its directory.
void write_result(const std::filesystem::path& path, const Experiment& experiment, const RunOptions& options,
                  const Result& result, double seconds);

}  // namespace minidl::lab
