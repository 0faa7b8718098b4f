// A test fixture parametrized by launch policy: each test runs with the policy's block size and
// grid cap set, and the previous policy restored afterwards. Kernel parity tests sweep these so
// that no result depends on the launch configuration.
#pragma once

#include <gtest/gtest.h>

#include <string>

#include "kernels/cuda/launch_policy.h"

namespace minidl {

// One block looping over everything; a few blocks; one thread per element; odd block sizes.
inline const LaunchPolicy kLaunchPolicies[] = {{32, 1}, {64, 3}, {128, 65535}, {256, 7}, {1024, 2}, {96, 65535}};

class LaunchPolicyTest : public ::testing::TestWithParam<LaunchPolicy> {
 protected:
  void SetUp() override {
    saved_ = launch_policy();
    launch_policy() = GetParam();
  }
  void TearDown() override { launch_policy() = saved_; }

 private:
  LaunchPolicy saved_;
};

inline std::string launch_policy_name(const ::testing::TestParamInfo<LaunchPolicy>& info) {
  return "block" + std::to_string(info.param.block) + "_grid" + std::to_string(info.param.max_blocks);
}

}  // namespace minidl
