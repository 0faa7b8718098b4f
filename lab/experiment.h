// The dropout lab (docs/lab/index.md): each experiment checks one claim of the source texts
// (../shared/lab-claims.md) by simulation with minidl's own ops and states a verdict with the
// numbers behind it. An experiment is a name, the claim, the criterion and a run function; the
// result is a table, named numbers, what to plot and the verdict. lab/result_json.h writes it.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "framework/core/device.h"

namespace minidl::lab {

// tiny: the test suite's smoke run (well under a second); standard: the documented run (seconds
// to a minute on a 2-core CPU); full: the larger version (--full).
enum class Scale { Tiny, Standard, Full };
const char* scale_name(Scale scale);

struct RunOptions {
  Scale scale = Scale::Standard;
  uint64_t seed = 0;
  Device device = kCPU;

  // The size for this scale: tiny, standard or full.
  template <typename T>
  T pick(T tiny, T standard, T full) const {
    return scale == Scale::Tiny ? tiny : scale == Scale::Standard ? standard : full;
  }
};

using Cell = std::variant<double, std::string>;
struct Table {
  std::vector<std::string> columns;
  std::vector<std::vector<Cell>> rows;
};

// One line (or set of markers) of a plot; tools/lab_plot.py draws every series of a plot in one
// panel.
struct Series {
  std::string label;
  std::vector<double> x, y;
  bool markers_only = false;  // measured points; false: a line (a formula)
};
struct Plot {
  std::string title, x_label, y_label;
  bool log_x = false, log_y = false;
  std::vector<Series> series;
};

enum class Verdict { Confirmed, NotConfirmed, ConfirmedUnderConditions };
const char* verdict_name(Verdict verdict);  // "confirmed", "not confirmed", "confirmed under conditions"

struct Result {
  Table table;
  std::vector<std::pair<std::string, double>> numbers;  // the numbers the verdict rests on, in order
  std::vector<Plot> plots;
  std::vector<std::string> warnings;  // what a user of the claim should know, e.g. "no signal passes"
  Verdict verdict = Verdict::NotConfirmed;
  std::string reason;  // the verdict in one sentence, with its numbers
};

struct Experiment {
  std::string name;
  std::string claim;                    // in English
  std::vector<std::string> seed_files;  // ../shared/seeds/ files the claim comes from ("000", ...)
  std::string criterion;                // what the verdict is checked against
  std::function<Result(const RunOptions&)> run;
};

}  // namespace minidl::lab
