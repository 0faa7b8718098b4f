// flash_attention's kernels in the emulator against the CPU reference (kernels/cpu/attention.h) over
// the launch policies: head dims 8, 16, 64 and 128 (tiles of 32 and 16 rows in f32; 32, 16 and 8 in
// f64), sequence lengths that are not multiples of a tile, causal or not, more keys than queries,
// with and without dropout. The reference sums in double and the kernels in T, a row's dot products
// over head_dim terms and its softmax over up to cols terms of magnitude <= 1, so f32 stays within
// 3e-5 of it (a hundred-odd roundings of 6e-8 each, with room) and f64 within 1e-12. At p = 0.5 a
// mask that differed in one score would move its row's output by about its probability times 2|v|,
// far above either bound.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "kernels/cpu/attention.h"
#include "kernels/cuda/launchers.h"
#include "tests/launch_policy_test.h"
#include "tests/parity_checks.h"

namespace minidl {
namespace {

struct AttentionCase {
  int64_t groups, q_len, cols, head_dim;
  bool causal;
  double p;
};

std::string describe(const AttentionCase& c) {
  return std::to_string(c.groups) + " groups, " + std::to_string(c.q_len) + " queries, " + std::to_string(c.cols) +
         " keys, head dim " + std::to_string(c.head_dim) + (c.causal ? ", causal" : "") + ", p " + std::to_string(c.p);
}

template <typename T>
std::vector<T> test_values(int64_t n, uint64_t salt) {
  std::vector<T> v(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) v[i] = static_cast<T>(uniform(i, salt) / 4);  // in [-1, 1)
  return v;
}

// |got - want| <= tol * (1 + |want|) everywhere, naming the first element that is not.
template <typename T>
::testing::AssertionResult close(const std::vector<T>& want, const std::vector<T>& got, double tol) {
  for (size_t i = 0; i < want.size(); ++i)
    if (!(std::abs(static_cast<double>(got[i]) - static_cast<double>(want[i])) <=
          tol * (1 + std::abs(static_cast<double>(want[i])))))
      return ::testing::AssertionFailure() << "element " << i << ": cpu " << show(want[i]) << ", emu " << show(got[i]);
  return ::testing::AssertionSuccess();
}

// The outputs of one implementation: out, lse, then the gradients of q, k and v.
template <typename T>
struct Results {
  std::vector<T> out, lse, grad_q, grad_k, grad_v;
};

template <typename T>
void check_case(const AttentionCase& c, double tol) {
  const FlashAttentionShape shape{c.groups, c.head_dim, 1 / std::sqrt(static_cast<double>(c.head_dim)),
                                  {c.cols, c.q_len, c.causal, c.p > 0}};
  const PhiloxState state{42, 3, 1000};
  const uint64_t threshold = dropout_threshold(c.p);
  const T scale = static_cast<T>(1 / (1 - c.p));
  const int64_t q_size = c.groups * c.q_len * c.head_dim, kv_size = c.groups * c.cols * c.head_dim;
  const std::vector<T> q = test_values<T>(q_size, 1), k = test_values<T>(kv_size, 2), v = test_values<T>(kv_size, 3);
  const std::vector<T> grad_out = test_values<T>(q_size, 4);
  const auto sized = [&] {
    return Results<T>{std::vector<T>(q_size, T(-7)), std::vector<T>(c.groups * c.q_len, T(-7)),
                      std::vector<T>(q_size, T(-7)), std::vector<T>(kv_size, T(-7)), std::vector<T>(kv_size, T(-7))};
  };
  Results<T> cpu = sized(), emu = sized();
  cpu_in_two(c.groups, [&](int64_t b, int64_t e) {
    cpu::flash_attention_forward<T>(b, e, shape, state, threshold, scale, cpu.out.data(), cpu.lse.data(), q.data(),
                                    k.data(), v.data());
    cpu::flash_attention_backward<T>(b, e, shape, state, threshold, scale, cpu.grad_q.data(), cpu.grad_k.data(),
                                     cpu.grad_v.data(), grad_out.data(), q.data(), k.data(), v.data(), cpu.out.data(),
                                     cpu.lse.data());
  });
  std::vector<T> delta(static_cast<size_t>(c.groups * c.q_len));
  emu::flash_attention_forward<T>(shape, state, threshold, scale, emu.out.data(), emu.lse.data(), q.data(), k.data(),
                                  v.data(), nullptr);
  // Backward from the CPU's out and lse, so that it is compared on the same inputs.
  emu::flash_attention_backward<T>(shape, state, threshold, scale, emu.grad_q.data(), emu.grad_k.data(),
                                   emu.grad_v.data(), delta.data(), grad_out.data(), q.data(), k.data(), v.data(),
                                   cpu.out.data(), cpu.lse.data(), nullptr);
  EXPECT_TRUE(close(cpu.out, emu.out, tol)) << "out, " << describe(c);
  EXPECT_TRUE(close(cpu.lse, emu.lse, tol)) << "lse, " << describe(c);
  EXPECT_TRUE(close(cpu.grad_q, emu.grad_q, tol)) << "grad_q, " << describe(c);
  EXPECT_TRUE(close(cpu.grad_k, emu.grad_k, tol)) << "grad_k, " << describe(c);
  EXPECT_TRUE(close(cpu.grad_v, emu.grad_v, tol)) << "grad_v, " << describe(c);
}

const AttentionCase kCases[] = {
    {3, 37, 37, 16, true, 0.5},    // a tile of 32 and a tail of 5
    {2, 45, 45, 64, true, 0.1},    // tiles of 32 (f32) and 16 (f64)
    {4, 19, 19, 8, false, 0.0},    // no mask, no dropout
    {2, 13, 50, 8, true, 0.3},     // more keys than queries
    {2, 21, 21, 128, false, 0.5},  // tiles of 16 (f32) and 8 (f64)
    {1, 1, 1, 8, true, 0.5},       // one score
};

using FlashAttentionParity = LaunchPolicyTest;

TEST_P(FlashAttentionParity, F32WithinReorderTolerance) {
  for (const AttentionCase& c : kCases) check_case<float>(c, 3e-5);
}

TEST_P(FlashAttentionParity, F64) {
  for (const AttentionCase& c : kCases) check_case<double>(c, 1e-12);
}

INSTANTIATE_TEST_SUITE_P(LaunchPolicies, FlashAttentionParity, ::testing::ValuesIn(kLaunchPolicies),
                         launch_policy_name);

}  // namespace
}  // namespace minidl
