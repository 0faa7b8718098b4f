// The dropout lab cannot rot silently: every experiment runs at tiny scale, writes its JSON and
// states a verdict; the registry's names are unique and findable.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>

#include "lab/linear_algebra.h"
#include "lab/registry.h"
#include "lab/result_json.h"

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

// Reference values from numpy.linalg.eigvalsh and numpy.linalg.svd.
TEST(LabLinearAlgebra, JacobiEigenvaluesAndProductSingularValues) {
  const std::vector<double> a = {4, 1, 2, 1, 3, 0, 2, 0, -1};
  const SymmetricEigen e = symmetric_eigen(a, 3);
  const std::vector<double> expected = {5.12398318, 2.60146556, -1.72544874};
  for (size_t k = 0; k < 3; ++k) {
    EXPECT_NEAR(e.values[k], expected[k], 1e-7);
    // a q_k = lambda_k q_k
    for (size_t i = 0; i < 3; ++i) {
      double aq = 0;
      for (size_t j = 0; j < 3; ++j) aq += a[i * 3 + j] * e.vectors[j * 3 + k];
      EXPECT_NEAR(aq, e.values[k] * e.vectors[i * 3 + k], 1e-9);
    }
  }
  // U = [[1, 2], [3, 4], [5, 6]], V = [[1, 0], [1, 1]]: U^T U and V^T V.
  const std::vector<double> singular = product_singular_values({35, 44, 44, 56}, {2, 1, 1, 1}, 2);
  EXPECT_NEAR(singular[0], 14.62490313, 1e-7);
  EXPECT_NEAR(singular[1], 0.33497517, 1e-7);
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
