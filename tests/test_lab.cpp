// The dropout lab cannot rot silently: every experiment runs at tiny scale, writes its JSON and
// states a verdict; the registry's names are unique and findable.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>

#include "lab/registry.h"
#include "lab/result_json.h"
#include "lab/stats.h"

namespace minidl::lab {
namespace {

TEST(Lab, NamesAreUniqueAndFindable) {
  std::set<std::string> names;
  for (const Experiment& e : experiments()) {
    EXPECT_TRUE(names.insert(e.name).second) << e.name;
    EXPECT_FALSE(e.claim.empty()) << e.name;
    EXPECT_FALSE(e.criterion.empty()) << e.name;
    EXPECT_FALSE(e.seed_files.empty()) << e.name;
    EXPECT_EQ(&find_experiment(e.name), &e);
  }
  EXPECT_THROW(find_experiment("no-such-experiment"), std::exception);
}

TEST(LabStats, MedianOfOddAndEvenCounts) {
  EXPECT_EQ(median({3, 1, 2}), 2);
  EXPECT_EQ(median({4, 1, 3, 2}), 2.5);
  EXPECT_THROW(median({}), std::exception);
}

class LabSmoke : public ::testing::TestWithParam<std::string> {};

TEST_P(LabSmoke, TinyRunWritesJsonWithAVerdict) {
  const Experiment& experiment = find_experiment(GetParam());
  const RunOptions options{Scale::Tiny, 0, kCPU};
  const Result result = experiment.run(options);
  EXPECT_FALSE(result.table.rows.empty());
  for (const auto& row : result.table.rows) EXPECT_EQ(row.size(), result.table.columns.size());
  EXPECT_FALSE(result.reason.empty());

  const std::filesystem::path path =
      std::filesystem::path(::testing::TempDir()) / "minidl_lab" / experiment.name / "result.json";
  write_result(path, experiment, options, result, 0.0);
  std::ifstream file(path);
  const nlohmann::json json = nlohmann::json::parse(file);
  EXPECT_EQ(json["name"], experiment.name);
  EXPECT_EQ(json["scale"], "tiny");
  const std::set<std::string> verdicts{"confirmed", "not confirmed", "confirmed under conditions"};
  EXPECT_TRUE(verdicts.count(json["verdict"].get<std::string>())) << json["verdict"];
  for (const auto& plot : json["plots"])
    for (const auto& series : plot["series"]) EXPECT_EQ(series["x"].size(), series["y"].size());
}

std::vector<std::string> experiment_names() {
  std::vector<std::string> names;
  for (const Experiment& e : experiments()) names.push_back(e.name);
  return names;
}

INSTANTIATE_TEST_SUITE_P(Every, LabSmoke, ::testing::ValuesIn(experiment_names()), [](const auto& param_info) {
  std::string name = param_info.param;
  for (char& c : name)
    if (c == '-') c = '_';
  return name;
});

}  // namespace
}  // namespace minidl::lab
