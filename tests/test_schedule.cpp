// Learning-rate schedules against the rates torch.optim.lr_scheduler produced for the same
// settings (tests/data/schedule_reference.json, written by tools/schedule_reference.py), plus
// warmup composition and parameter validation.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <string>

#include "framework/core/check.h"
#include "framework/optim/schedule.h"

namespace minidl {
namespace {

nlohmann::json reference_cases() {
  const std::string path = std::string(MINIDL_TEST_DATA_DIR) + "/schedule_reference.json";
  std::ifstream in(path);
  EXPECT_TRUE(in.good()) << "cannot read " << path;
  return nlohmann::json::parse(in).at("cases");
}

std::unique_ptr<LrSchedule> make(const nlohmann::json& c) {
  const std::string kind = c.at("schedule");
  if (kind == "step") return std::make_unique<StepSchedule>(c.at("base_lr"), c.at("step_size"), c.at("gamma"));
  if (kind == "multistep")
    return std::make_unique<MultiStepSchedule>(c.at("base_lr"), c.at("milestones").get<std::vector<int64_t>>(),
                                               c.at("gamma"));
  if (kind == "exponential") return std::make_unique<ExponentialSchedule>(c.at("base_lr"), c.at("gamma"));
  if (kind == "cosine")
    return std::make_unique<CosineSchedule>(c.at("base_lr"), c.at("total_steps"), 0, c.at("min_lr"));
  if (kind == "onecycle")
    return std::make_unique<OneCycleSchedule>(c.at("max_lr"), c.at("total_steps"), c.at("pct_start"),
                                              c.at("div_factor"), c.at("final_div_factor"));
  return nullptr;
}

TEST(Schedules, MatchTorchLrScheduler) {
  std::set<std::string> covered;
  for (const nlohmann::json& c : reference_cases()) {
    const std::string kind = c.at("schedule");
    covered.insert(kind);
    const std::vector<double> expected = c.at("rates");
    if (kind == "plateau") {
      ReduceOnPlateau plateau(c.at("lr"), c.at("factor"), c.at("patience"), c.at("threshold"), c.at("cooldown"),
                              c.at("min_lr"));
      const std::vector<double> metrics = c.at("metrics");
      for (size_t e = 0; e < metrics.size(); ++e)
        EXPECT_NEAR(plateau.step(metrics[e]), expected[e], 1e-15) << "plateau, epoch " << e;
      continue;
    }
    const std::unique_ptr<LrSchedule> schedule = make(c);
    ASSERT_NE(schedule, nullptr) << "no schedule named " << kind;
    // PyTorch updates some rates recursively (step by step); the closed forms agree to rounding.
    for (size_t t = 0; t < expected.size(); ++t)
      EXPECT_NEAR(schedule->lr_at(static_cast<int64_t>(t)), expected[t], 1e-12 * (1 + expected[t])) << kind << ", step " << t;
  }
  EXPECT_EQ(covered, (std::set<std::string>{"step", "multistep", "exponential", "cosine", "onecycle", "plateau"}));
}

TEST(Schedules, WarmupComposesWithAnySchedule) {
  const auto inner = std::make_shared<StepSchedule>(0.8, 10, 0.5);
  const WarmupSchedule warm(inner, 4);
  EXPECT_DOUBLE_EQ(warm.lr_at(0), 0.2);
  EXPECT_DOUBLE_EQ(warm.lr_at(3), 0.8);
  EXPECT_DOUBLE_EQ(warm.lr_at(4), 0.8);
  EXPECT_DOUBLE_EQ(warm.lr_at(12), 0.4);
}

TEST(Schedules, RejectInvalidParameters) {
  EXPECT_THROW(StepSchedule(0.1, 0, 0.5), Error);
  EXPECT_THROW(StepSchedule(std::nan(""), 3, 0.5), Error);
  EXPECT_THROW(ExponentialSchedule(0.1, -1), Error);
  EXPECT_THROW(MultiStepSchedule(0.1, {5, 3}, 0.5), Error);
  EXPECT_THROW(OneCycleSchedule(0.1, 10, 1.5), Error);
  EXPECT_THROW(ReduceOnPlateau(0.1, 1.5), Error);
  ReduceOnPlateau plateau(0.1);
  EXPECT_THROW(plateau.step(std::nan("")), Error);
  EXPECT_THROW(WarmupSchedule(nullptr, 3), Error);
}

}  // namespace
}  // namespace minidl
