// Kernels against the CPU reference kernels, in the emulator always (and on a real GPU in
// tools/gpu-check). Random kernels compare bit for bit over a sweep of launch configurations and
// odd sizes: the mask of element i depends only on (seed, stream, offset, i).
#include <gtest/gtest.h>

#include <utility>
#include <vector>

#include "kernels/cpu/dropout.h"
#include "kernels/cuda/launchers.h"
#include "tests/launch_policy_test.h"
#include "tests/parity_checks.h"

namespace minidl {
namespace {

const int64_t kSizes[] = {1, 3, 4, 4097, 100003};
const PhiloxState kStates[] = {{42, 0, 0}, {7, 3, 1000}, {0xdeadbeef, 1, 5}};

using KernelParity = LaunchPolicyTest;

std::vector<double> test_values(int64_t n, uint64_t salt) {
  std::vector<double> v(n);
  for (int64_t i = 0; i < n; ++i) v[i] = uniform(i, salt);
  return v;
}

TEST_P(KernelParity, PhiloxWordsAreBitIdentical) {
  for (int64_t n : kSizes)
    for (const PhiloxState& st : kStates) {
      std::vector<uint32_t> cpu_words(n), emu_words(n, 0xabababab);
      cpu_in_two(n, [&](int64_t b, int64_t e) { cpu::philox_words(b, e, st, cpu_words.data()); });
      emu::philox_words(n, st, emu_words.data(), nullptr);
      ASSERT_EQ(cpu_words, emu_words) << "n " << n << " offset " << st.offset;
    }
}

TEST_P(KernelParity, DropoutMasksAreBitIdentical) {
  for (int64_t n : kSizes)
    for (const PhiloxState& st : kStates)
      for (double p : {0.0, 0.1, 0.5, 1.0}) {
        std::vector<uint8_t> cpu_mask(n), emu_mask(n, 7);
        cpu_in_two(n, [&](int64_t b, int64_t e) { cpu::dropout_mask(b, e, st, dropout_threshold(p), cpu_mask.data()); });
        emu::dropout_mask(n, st, dropout_threshold(p), emu_mask.data(), nullptr);
        ASSERT_EQ(cpu_mask, emu_mask) << "n " << n << " p " << p << " offset " << st.offset;
      }
}

// Inverted, classic and alpha dropout's element rules, in f32 and f64.
template <typename T>
void check_affine(int64_t n, const PhiloxState& st) {
  const DropoutAffine rules[] = {{1 / 0.7, 0, 0}, {1, 0, 0}, {0.8, 0.3, -1.1}};
  const std::vector<double> v = test_values(n, 3);
  const std::vector<T> x(v.begin(), v.end());
  for (const DropoutAffine& rule : rules) {
    std::vector<T> cpu_out(n), emu_out(n, T(-7));
    cpu_in_two(n, [&](int64_t b, int64_t e) {
      cpu::dropout_affine<T>(b, e, st, dropout_threshold(0.3), rule, cpu_out.data(), x.data());
    });
    emu::dropout_affine<T>(n, st, dropout_threshold(0.3), rule, emu_out.data(), x.data(), nullptr);
    ASSERT_TRUE(same_bits(cpu_out, emu_out)) << "n " << n << " shift " << rule.keep_shift;
  }
}

TEST_P(KernelParity, DropoutAffineIsBitIdentical) {
  for (int64_t n : kSizes)
    for (const PhiloxState& st : kStates) {
      check_affine<float>(n, st);
      check_affine<double>(n, st);
    }
}

TEST_P(KernelParity, PackedMaskAndItsApplyAreBitIdentical) {
  for (int64_t n : kSizes)
    for (const PhiloxState& st : kStates) {
      const int64_t words = (n + 31) / 32;
      std::vector<uint32_t> cpu_bits(words), emu_bits(words, 0xffffffffu);
      cpu_in_two(words, [&](int64_t b, int64_t e) {
        cpu::dropout_pack_mask(b, e, n, st, dropout_threshold(0.2), cpu_bits.data());
      });
      emu::dropout_pack_mask(n, st, dropout_threshold(0.2), emu_bits.data(), nullptr);
      ASSERT_EQ(cpu_bits, emu_bits) << "n " << n;
      // The bits are the byte mask's.
      std::vector<uint8_t> mask(n);
      cpu::dropout_mask(0, n, st, dropout_threshold(0.2), mask.data());
      for (int64_t i = 0; i < n; ++i) ASSERT_EQ((cpu_bits[i / 32] >> (i % 32)) & 1u, mask[i]) << i;
      const std::vector<double> v = test_values(n, 5);
      const std::vector<float> x(v.begin(), v.end());
      std::vector<float> cpu_out(n), emu_out(n, -3.0f);
      cpu_in_two(n, [&](int64_t b, int64_t e) {
        cpu::dropout_apply_packed<float>(b, e, cpu_bits.data(), 1.25f, cpu_out.data(), x.data());
      });
      emu::dropout_apply_packed<float>(n, emu_bits.data(), 1.25f, emu_out.data(), x.data(), nullptr);
      ASSERT_TRUE(same_bits(cpu_out, emu_out)) << "n " << n;
    }
}

// Gaussian noise is bit-identical here: the emulator runs the same host math library.
TEST_P(KernelParity, GaussianNoiseIsBitIdentical) {
  for (int64_t n : kSizes)
    for (const PhiloxState& st : kStates) {
      const std::vector<double> x = test_values(n, 7);
      for (auto [mul_sigma, add_sigma] : {std::pair{0.5, 0.0}, std::pair{0.0, 0.2}, std::pair{0.3, 0.1}}) {
        std::vector<double> cpu_out(n), emu_out(n, -9.0);
        cpu_in_two((n + 1) / 2, [&](int64_t b, int64_t e) {
          cpu::gaussian_noise<double>(b, e, n, st, mul_sigma, add_sigma, cpu_out.data(), x.data());
        });
        emu::gaussian_noise<double>(n, st, mul_sigma, add_sigma, emu_out.data(), x.data(), nullptr);
        ASSERT_TRUE(same_bits(cpu_out, emu_out)) << "n " << n << " offset " << st.offset;
      }
    }
}

TEST_P(KernelParity, UniformFillIsBitIdentical) {
  for (int64_t n : kSizes)
    for (const PhiloxState& st : kStates) {
      std::vector<float> cpu_out(n), emu_out(n, -1.0f);
      cpu_in_two(n, [&](int64_t b, int64_t e) { cpu::uniform_fill<float>(b, e, st, cpu_out.data()); });
      emu::uniform_fill<float>(n, st, emu_out.data(), nullptr);
      ASSERT_TRUE(same_bits(cpu_out, emu_out)) << "n " << n;
    }
}

TEST_P(KernelParity, DropBlockMaskIsBitIdentical) {
  struct Case {
    int64_t planes, height, width, block;
  };
  for (const Case& c : {Case{1, 1, 1, 1}, Case{3, 5, 7, 3}, Case{4, 13, 11, 5}, Case{2, 28, 28, 7}}) {
    const int64_t n = c.planes * c.height * c.width;
    std::vector<uint8_t> draws(n);
    cpu::dropout_mask(0, n, kStates[1], dropout_threshold(0.05), draws.data());
    std::vector<float> cpu_mask(n), emu_mask(n, 5.0f);
    cpu_in_two(c.planes, [&](int64_t b, int64_t e) {
      cpu::dropblock_mask<float>(b, e, c.height, c.width, c.block, draws.data(), cpu_mask.data());
    });
    emu::dropblock_mask<float>(c.planes, c.height, c.width, c.block, draws.data(), emu_mask.data(), nullptr);
    ASSERT_TRUE(same_bits(cpu_mask, emu_mask)) << c.height << "x" << c.width << " block " << c.block;
  }
}

TEST_P(KernelParity, BiasDropoutResidualIsBitIdentical) {
  for (int64_t n : kSizes)
    for (const PhiloxState& st : kStates) {
      const int64_t cols = n % 7 == 0 ? 7 : 1;
      const std::vector<double> v = test_values(n, 1), r = test_values(n, 2), bias = test_values(cols, 3);
      const std::vector<float> x(v.begin(), v.end()), residual(r.begin(), r.end()), b(bias.begin(), bias.end());
      std::vector<float> cpu_out(n), emu_out(n, -5.0f);
      cpu_in_two(n, [&](int64_t lo, int64_t hi) {
        cpu::bias_dropout_residual<float>(lo, hi, cols, st, dropout_threshold(0.1), 1 / 0.9f, cpu_out.data(), x.data(),
                                          b.data(), residual.data());
      });
      emu::bias_dropout_residual<float>(n, cols, st, dropout_threshold(0.1), 1 / 0.9f, emu_out.data(), x.data(),
                                        b.data(), residual.data(), nullptr);
      ASSERT_TRUE(same_bits(cpu_out, emu_out)) << "n " << n;
    }
}

// bf16 (autocast's activations): the same masks, and the f32 reference's values on the rounded
// inputs, rounded once. dropout_affine on bf16 packs four 2-byte elements a Philox block;
// bias_dropout_residual reads a bf16 x under an f32 bias and residual.
TEST_P(KernelParity, Bf16DropoutRoundsTheF32Reference) {
  for (int64_t n : kSizes)
    for (const PhiloxState& st : kStates) {
      const std::vector<double> v = test_values(n, 4);
      const std::vector<bf16> xh = to_bf16(std::vector<float>(v.begin(), v.end()));
      const std::vector<float> xf = widened(xh);
      for (const DropoutAffine& rule : {DropoutAffine{1 / 0.7, 0, 0}, DropoutAffine{0.8, 0.3, -1.1}}) {
        std::vector<float> want(n);
        cpu::dropout_affine<float>(0, n, st, dropout_threshold(0.3), rule, want.data(), xf.data());
        std::vector<bf16> got(n, bf16(-7.0f));
        emu::dropout_affine<bf16>(n, st, dropout_threshold(0.3), rule, got.data(), xh.data(), nullptr);
        ASSERT_TRUE(same_bits(to_bf16(want), got)) << "dropout_affine n " << n << " offset " << st.offset;
      }
      const int64_t cols = n % 7 == 0 ? 7 : 1;
      const std::vector<double> r = test_values(n, 5), bias = test_values(cols, 6);
      const std::vector<float> residual(r.begin(), r.end()), b(bias.begin(), bias.end());
      std::vector<float> want(n), got(n, -5.0f);
      cpu::bias_dropout_residual<float>(0, n, cols, st, dropout_threshold(0.1), 1 / 0.9f, want.data(), xf.data(),
                                        b.data(), residual.data());
      emu::bias_dropout_residual<float>(n, cols, st, dropout_threshold(0.1), 1 / 0.9f, got.data(), xh.data(),
                                        b.data(), residual.data(), nullptr);
      ASSERT_TRUE(same_bits(want, got)) << "bias_dropout_residual n " << n << " offset " << st.offset;
    }
}

INSTANTIATE_TEST_SUITE_P(LaunchConfigs, KernelParity, ::testing::ValuesIn(kLaunchPolicies), launch_policy_name);

}  // namespace
}  // namespace minidl
