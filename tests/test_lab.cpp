// The dropout lab cannot rot silently: every experiment runs at tiny scale, writes its JSON and
// states a verdict; the registry's names are unique and findable.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>

#include "framework/ops/ops.h"
#include "lab/classifier_training.h"
#include "lab/linear_algebra.h"
#include "lab/linear_regression.h"
#include "lab/registry.h"
#include "lab/result_json.h"
#include "lab/stats.h"
#include "models/mlp.h"

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

// One experiment per claim of the claim list (../shared/lab-claims.md), in its order.
TEST(Lab, CoversEveryClaimInOrder) {
  const std::vector<std::string> claims = {"expectation",     "weight-scaling", "ridge",
                                           "input-noise",     "early-stopping", "flat-minima",
                                           "gradient-noise",  "mc-uncertainty", "generalization",
                                           "bn-order",        "dropblock",      "recurrent",
                                           "edge-dropout",    "homophily",      "attention-entropy",
                                           "effective-depth", "jacobian",       "embedding-dropout",
                                           "missing-data",    "fairness",       "target-dropout",
                                           "occlusion",       "not-private",    "count-noise",
                                           "all-dropped"};
  std::vector<std::string> names;
  for (const Experiment& e : experiments()) names.push_back(e.name);
  EXPECT_EQ(names, claims);
}

// MC dropout's mean and (1/T) variance are those of T train-mode passes of a twin model drawing
// the same masks; afterwards the model is back in eval mode, where predictions are deterministic.
TEST(LabTraining, McDropoutAveragesTrainModePassesAndRestoresEvalMode) {
  const MlpConfig config{.inputs = 8, .hidden = {16}, .classes = 3, .dropout = 0.5};
  Generator init_a(1), init_b(1), drop_a(2), drop_b(2), data(3);
  Mlp mc_model(config, init_a, drop_a), twin(config, init_b, drop_b);
  const Tensor x = rand({5, 8}, DType::F32, kCPU, data);
  mc_model.eval();
  const McProbabilities mc = mc_dropout_probabilities(mc_model, x, 4);
  EXPECT_FALSE(mc_model.is_training());
  EXPECT_EQ(predicted_probabilities(mc_model, x), predicted_probabilities(mc_model, x));

  twin.train();
  std::vector<double> sum(15, 0.0), squares(15, 0.0);
  for (int t = 0; t < 4; ++t) {
    const std::vector<double> p = predicted_probabilities(twin, x);
    for (size_t i = 0; i < p.size(); ++i) sum[i] += p[i], squares[i] += p[i] * p[i];
  }
  ASSERT_EQ(mc.mean.size(), 15u);
  for (size_t i = 0; i < 15; ++i) {
    EXPECT_NEAR(mc.mean[i], sum[i] / 4, 1e-12) << i;
    EXPECT_NEAR(mc.variance[i], squares[i] / 4 - (sum[i] / 4) * (sum[i] / 4), 1e-12) << i;
  }
  EXPECT_GT(*std::max_element(mc.variance.begin(), mc.variance.end()), 0.0) << "dropout drew no different masks";
}

TEST(LabStats, AurocRanksWithTiesCountingHalf) {
  EXPECT_DOUBLE_EQ(auroc({0, 1, 2}, {3, 4}), 1.0);
  EXPECT_DOUBLE_EQ(auroc({3, 4}, {0, 1, 2}), 0.0);
  EXPECT_DOUBLE_EQ(auroc({1, 1}, {1, 1, 1}), 0.5);
  // Pairs (negative, positive): (0,1) win, (0,2) win, (2,1) loss, (2,2) tie -> 2.5 / 4.
  EXPECT_DOUBLE_EQ(auroc({0, 2}, {1, 2}), 0.625);
}

// Reference values from numpy.linalg.eigvalsh and numpy.linalg.svd.
TEST(LabLinearAlgebra, JacobiEigenvaluesAndProductSingularValues) {
  const Matrix a = {{4, 1, 2}, {1, 3, 0}, {2, 0, -1}};
  const SymmetricEigen e = symmetric_eigen(a);
  const std::vector<double> expected = {-1.72544874, 2.60146556, 5.12398318};
  for (size_t k = 0; k < 3; ++k) EXPECT_NEAR(e.values[k], expected[k], 1e-7);
  // U = [[1, 2], [3, 4], [5, 6]], V = [[1, 0], [1, 1]]: U^T U and V^T V.
  const std::vector<double> singular = product_singular_values({{35, 44}, {44, 56}}, {{2, 1}, {1, 1}});
  EXPECT_NEAR(singular[0], 14.62490313, 1e-7);
  EXPECT_NEAR(singular[1], 0.33497517, 1e-7);
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

TEST(LabLinearAlgebra, SymmetricEigenDecomposesTheMatrix) {
  const std::vector<std::vector<double>> a = {{4, 1, 0.5}, {1, 3, -1}, {0.5, -1, 2}};
  const SymmetricEigen eigen = symmetric_eigen(a);
  ASSERT_EQ(eigen.values.size(), 3u);
  EXPECT_LT(eigen.values[0], eigen.values[1]);
  EXPECT_LT(eigen.values[1], eigen.values[2]);
  for (size_t k = 0; k < 3; ++k)
    for (size_t i = 0; i < 3; ++i) {
      double av = 0;  // (A v_k)_i = lambda_k v_k,i
      for (size_t j = 0; j < 3; ++j) av += a[i][j] * eigen.vectors[k][j];
      EXPECT_NEAR(av, eigen.values[k] * eigen.vectors[k][i], 1e-12);
      double dot = 0;  // orthonormal
      for (size_t j = 0; j < 3; ++j) dot += eigen.vectors[k][j] * eigen.vectors[i][j];
      EXPECT_NEAR(dot, k == i ? 1.0 : 0.0, 1e-12);
    }
}

TEST(LabLinearAlgebra, RidgeWithAPenaltyPerFeature) {
  // gram diag(1, 4), moment (1, 4): w_j = moment_j / (gram_jj + penalty_j).
  const NormalEquations eq{{{1, 0}, {0, 4}}, {1, 4}};
  const std::vector<double> w = ridge_solution(eq, {1, 0});
  EXPECT_NEAR(w[0], 0.5, 1e-15);
  EXPECT_NEAR(w[1], 1.0, 1e-15);
}

TEST(LabStats, MeanAndSampleStdOverSeeds) {
  EXPECT_DOUBLE_EQ(mean_std({1, 2, 3}).mean, 2.0);
  EXPECT_DOUBLE_EQ(mean_std({1, 2, 3}).std, 1.0);
  EXPECT_DOUBLE_EQ(mean_std({5}).std, 0.0);
  EXPECT_EQ(plus_minus(mean_std({1, 2, 3}), 2), "2.00 ± 1.00");
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
