// `minidl lab`: the dropout lab (docs/lab/index.md). `lab --list` shows the experiments,
// `lab NAME` runs one, prints its table and verdict and writes OUT/result.json, `lab all` runs
// every experiment with a progress bar and ends with a table of verdicts.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <chrono>
#include <filesystem>

#include "framework/core/check.h"
#include "lab/registry.h"
#include "lab/result_json.h"
#include "tools/minidl/commands.h"
#include "tools/minidl/progress.h"

namespace minidl::cli {

namespace {

struct LabOptions {
  std::string name;
  bool list = false, full = false;
  std::string scale = "default";
  uint64_t seed = 0;
  std::string out;  // default: runs/lab/NAME (one experiment) or runs/lab (all)
  std::string device = "auto";
};

lab::Scale parse_scale(const LabOptions& o) {
  if (o.full) return lab::Scale::Full;
  for (lab::Scale s : {lab::Scale::Tiny, lab::Scale::Standard, lab::Scale::Full})
    if (o.scale == lab::scale_name(s)) return s;
  MINIDL_FAIL("lab: --scale '{}' is not one of tiny, default, full", o.scale);
}

// Numbers right-aligned, text left-aligned.
std::string aligned(const lab::Cell& cell, size_t width) {
  if (const auto* s = std::get_if<std::string>(&cell)) return fmt::format("{:<{}}", *s, width);
  return fmt::format("{:>{}}", fmt::format("{:.4g}", std::get<double>(cell)), width);
}

std::string cell_text(const lab::Cell& cell) {
  if (const auto* s = std::get_if<std::string>(&cell)) return *s;
  return fmt::format("{:.4g}", std::get<double>(cell));
}

void print_table(const lab::Table& table) {
  std::vector<size_t> width(table.columns.size());
  for (size_t c = 0; c < width.size(); ++c) width[c] = table.columns[c].size();
  for (const auto& row : table.rows)
    for (size_t c = 0; c < row.size() && c < width.size(); ++c) width[c] = std::max(width[c], cell_text(row[c]).size());
  std::string header, line;
  for (size_t c = 0; c < width.size(); ++c) {
    const bool text = !table.rows.empty() && c < table.rows[0].size() && table.rows[0][c].index() == 1;
    header += text ? fmt::format("{:<{}}  ", table.columns[c], width[c])
                   : fmt::format("{:>{}}  ", table.columns[c], width[c]);
  }
  const auto trimmed = [](std::string s) { return s.erase(s.find_last_not_of(' ') + 1); };
  fmt::print("{}\n", trimmed(header));
  for (const auto& row : table.rows) {
    line.clear();
    for (size_t c = 0; c < row.size() && c < width.size(); ++c) line += aligned(row[c], width[c]) + "  ";
    fmt::print("{}\n", trimmed(line));
  }
}

struct Outcome {
  lab::Result result;
  double seconds;
};

Outcome run_one(const lab::Experiment& experiment, const lab::RunOptions& options, const std::filesystem::path& dir) {
  const auto start = std::chrono::steady_clock::now();
  lab::Result result = experiment.run(options);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  lab::write_result(dir / "result.json", experiment, options, result, seconds);
  return {std::move(result), seconds};
}

void run_lab(const LabOptions& o) {
  if (o.list) {
    size_t width = 0;
    for (const lab::Experiment& e : lab::experiments()) width = std::max(width, e.name.size());
    for (const lab::Experiment& e : lab::experiments()) fmt::print("{:<{}}  {}\n", e.name, width, e.claim);
    return;
  }
  MINIDL_CHECK(!o.name.empty(), "lab: name an experiment, or 'all' (minidl lab --list shows them)");
  const lab::RunOptions options{parse_scale(o), o.seed, Device::parse(o.device)};
  if (o.name == "all") {
    const std::filesystem::path root = o.out.empty() ? "runs/lab" : o.out;
    const auto& all = lab::experiments();
    ProgressBar bar("lab", static_cast<int64_t>(all.size()));
    lab::Table summary{{"experiment", "verdict", "seconds", "reason"}, {}};
    std::vector<std::string> failed;
    for (size_t i = 0; i < all.size(); ++i) {
      bar.update(static_cast<int64_t>(i), all[i].name);
      // One experiment's error does not cost the others' results; the command still fails at the end.
      try {
        const Outcome outcome = run_one(all[i], options, root / all[i].name);
        summary.rows.push_back({all[i].name, lab::verdict_name(outcome.result.verdict), outcome.seconds,
                                outcome.result.reason});
      } catch (const std::exception& e) {
        failed.push_back(all[i].name);
        summary.rows.push_back({all[i].name, "error", 0.0, e.what()});
      }
    }
    bar.finish();
    print_table(summary);
    fmt::print("results: {}/NAME/result.json\n", root.string());
    MINIDL_CHECK(failed.empty(), "lab all: {} of {} experiments failed: {}", failed.size(), all.size(),
                 fmt::join(failed, ", "));
    return;
  }
  const lab::Experiment& experiment = lab::find_experiment(o.name);
  const std::filesystem::path dir =
      o.out.empty() ? std::filesystem::path("runs/lab") / experiment.name : std::filesystem::path(o.out);
  fmt::print("{}: {}\ncriterion: {}\n\n", experiment.name, experiment.claim, experiment.criterion);
  const Outcome outcome = run_one(experiment, options, dir);
  print_table(outcome.result.table);
  for (const std::string& w : outcome.result.warnings) fmt::print("warning: {}\n", w);
  fmt::print("\nverdict: {} ({})\nresult: {} ({:.1f} s); plot it with tools/lab_plot.py\n",
             lab::verdict_name(outcome.result.verdict), outcome.result.reason, (dir / "result.json").string(),
             outcome.seconds);
}

}  // namespace

void add_lab_command(CLI::App& app) {
  auto o = std::make_shared<LabOptions>();
  CLI::App* cmd = app.add_subcommand("lab", "Reproduce the claims of the dropout texts: one experiment, or all");
  cmd->add_option("name", o->name, "experiment name, or 'all'");
  cmd->add_flag("--list", o->list, "list the experiments and their claims");
  cmd->add_flag("--full", o->full, "the larger version (same as --scale full)");
  cmd->add_option("--scale", o->scale, "tiny (a smoke run), default or full")->capture_default_str();
  cmd->add_option("--seed", o->seed, "seed of every generator")->capture_default_str();
  cmd->add_option("--out", o->out, "output directory (default runs/lab/NAME; for all, runs/lab)");
  cmd->add_option("--device", o->device, "auto (the GPU if present), cpu, cuda or cuda-emu")->capture_default_str();
  cmd->callback([o] { run_lab(*o); });
}

}  // namespace minidl::cli
