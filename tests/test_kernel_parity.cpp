// Kernels against the CPU reference kernels, in the emulator always (and on a real GPU in
// tools/gpu-check). Random kernels compare bit for bit over a sweep of launch configurations and
// odd sizes: the mask of element i depends only on (seed, stream, offset, i).
#include <gtest/gtest.h>

#include <vector>

#include "kernels/cpu/dropout.h"
#include "kernels/cuda/launchers.h"
#include "tests/launch_policy_test.h"

namespace minidl {
namespace {

const int64_t kSizes[] = {1, 3, 4, 4097, 100003};
const PhiloxState kStates[] = {{42, 0, 0}, {7, 3, 1000}, {0xdeadbeef, 1, 5}};

using KernelParity = LaunchPolicyTest;

TEST_P(KernelParity, PhiloxWordsAreBitIdentical) {
  for (int64_t n : kSizes)
    for (const PhiloxState& st : kStates) {
      std::vector<uint32_t> cpu_words(n), emu_words(n, 0xabababab);
      cpu::philox_words(n, st, cpu_words.data());
      emu::philox_words(n, st, emu_words.data(), nullptr);
      ASSERT_EQ(cpu_words, emu_words) << "n " << n << " offset " << st.offset;
    }
}

TEST_P(KernelParity, DropoutMasksAreBitIdentical) {
  for (int64_t n : kSizes)
    for (const PhiloxState& st : kStates)
      for (double p : {0.0, 0.1, 0.5, 1.0}) {
        std::vector<uint8_t> cpu_mask(n), emu_mask(n, 7);
        cpu::dropout_mask(n, st, dropout_threshold(p), cpu_mask.data());
        emu::dropout_mask(n, st, dropout_threshold(p), emu_mask.data(), nullptr);
        ASSERT_EQ(cpu_mask, emu_mask) << "n " << n << " p " << p << " offset " << st.offset;
      }
}

TEST_P(KernelParity, DropoutApplyIsBitIdentical) {
  for (int64_t n : kSizes) {
    std::vector<float> x(n), cpu_out(n), emu_out(n, -1.0f);
    for (int64_t i = 0; i < n; ++i) x[i] = static_cast<float>(i % 17) - 8.5f;
    const PhiloxState st{11, 2, 8};
    cpu::dropout_apply<float>(0, n, st, dropout_threshold(0.3), 1.0f / 0.7f, cpu_out.data(), x.data());
    emu::dropout_apply<float>(n, st, dropout_threshold(0.3), 1.0f / 0.7f, emu_out.data(), x.data(), nullptr);
    ASSERT_EQ(cpu_out, emu_out) << "n " << n;
  }
}

INSTANTIATE_TEST_SUITE_P(LaunchConfigs, KernelParity, ::testing::ValuesIn(kLaunchPolicies), launch_policy_name);

}  // namespace
}  // namespace minidl
