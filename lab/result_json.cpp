#include "lab/result_json.h"

#include <fstream>
#include <nlohmann/json.hpp>

#include "framework/core/check.h"

namespace minidl::lab {

namespace {

using Json = nlohmann::ordered_json;

Json table_json(const Table& table) {
  Json rows = Json::array();
  for (const auto& row : table.rows) {
    Json cells = Json::array();
    for (const Cell& c : row) std::visit([&](const auto& v) { cells.push_back(v); }, c);
    rows.push_back(cells);
  }
  return {{"columns", table.columns}, {"rows", rows}};
}

Json plot_json(const Plot& plot) {
  Json series = Json::array();
  for (const Series& s : plot.series)
    series.push_back({{"label", s.label}, {"x", s.x}, {"y", s.y}, {"markers_only", s.markers_only}});
  return {{"title", plot.title}, {"x_label", plot.x_label}, {"y_label", plot.y_label},
          {"log_x", plot.log_x}, {"log_y", plot.log_y},     {"series", series}};
}

}  // namespace

std::string result_json(const Experiment& experiment, const RunOptions& options, const Result& result, double seconds) {
  Json numbers = Json::object();
  for (const auto& [name, value] : result.numbers) numbers[name] = value;
  Json plots = Json::array();
  for (const Plot& p : result.plots) plots.push_back(plot_json(p));
  const Json out = {{"name", experiment.name},
                    {"claim", experiment.claim},
                    {"seed_files", experiment.seed_files},
                    {"criterion", experiment.criterion},
                    {"scale", scale_name(options.scale)},
                    {"seed", options.seed},
                    {"device", options.device.str()},
                    {"seconds", seconds},
                    {"table", table_json(result.table)},
                    {"numbers", numbers},
                    {"plots", plots},
                    {"warnings", result.warnings},
                    {"verdict", verdict_name(result.verdict)},
                    {"reason", result.reason}};
  return out.dump(2) + "\n";
}

void write_result(const std::filesystem::path& path, const Experiment& experiment, const RunOptions& options,
                  const Result& result, double seconds) {
  if (path.has_parent_path()) std::filesystem::create_directories(path.parent_path());
  std::ofstream file(path);
  MINIDL_CHECK(file.good(), "lab: cannot write {}", path.string());
  file << result_json(experiment, options, result, seconds);
  MINIDL_CHECK(file.good(), "lab: writing {} failed", path.string());
}

}  // namespace minidl::lab
