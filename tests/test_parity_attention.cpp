// flash_attention's kernels in the emulator against the CPU reference (kernels/cpu/attention.h) over
// the launch policies: head dims 8, 16, 64 and 128 (tiles of 32 and 16 rows in f32; 32, 16 and 8 in
// f64), sequence lengths that are not multiples of a tile, causal or not, more keys than queries,
// with and without dropout. The reference sums in double and the kernels in T, a row's dot products
// over head_dim terms and its softmax over up to cols terms of magnitude <= 1, so f32 stays within
// 3e-5 of it (a hundred-odd roundings of 6e-8 each, with room) and f64 within 1e-12. At p = 0.5 a
// mask that differed in one score would move its row's output by about its probability times 2|v|,
// far above either bound. bf16 adds one rounding of each stored result (at most 2^-8 relative).
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

// A bf16 result against the f32 reference: the f32 tolerance plus its rounding to bf16, at most
// 2^-8 of its magnitude (bf16 keeps 8 significant bits): |got - want| <= 2^-8 |want| + 3.1e-5
// (1 + |want|).
::testing::AssertionResult close_bf16(const std::vector<float>& want, const std::vector<bf16>& got) {
  for (size_t i = 0; i < want.size(); ++i) {
    const double w = want[i], g = static_cast<float>(got[i]);
    if (!(std::abs(g - w) <= std::ldexp(std::abs(w), -8) + 3.1e-5 * (1 + std::abs(w))))
      return ::testing::AssertionFailure() << "element " << i << ": cpu " << show(want[i]) << ", emu " << show(g);
  }
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

// bf16 q, k, v, out and gradients (lse and D in f32): against the f32 reference on the same rounded
// values, within the f32 tolerance plus one bf16 rounding of each stored result (close_bf16).
void check_bf16_case(const AttentionCase& c) {
  const FlashAttentionShape shape{
      c.groups, c.head_dim, 1 / std::sqrt(static_cast<double>(c.head_dim)), {c.cols, c.q_len, c.causal, c.p > 0}};
  const PhiloxState state{42, 3, 1000};
  const uint64_t threshold = dropout_threshold(c.p);
  const float scale = static_cast<float>(1 / (1 - c.p));
  const int64_t q_size = c.groups * c.q_len * c.head_dim, kv_size = c.groups * c.cols * c.head_dim;
  const std::vector<bf16> q = to_bf16(test_values<float>(q_size, 1)), k = to_bf16(test_values<float>(kv_size, 2)),
                          v = to_bf16(test_values<float>(kv_size, 3)),
                          grad_out = to_bf16(test_values<float>(q_size, 4));
  const std::vector<float> qf = widened(q), kf = widened(k), vf = widened(v), grad_out_f = widened(grad_out);
  Results<float> cpu{std::vector<float>(q_size), std::vector<float>(c.groups * c.q_len), std::vector<float>(q_size),
                     std::vector<float>(kv_size), std::vector<float>(kv_size)};
  cpu::flash_attention_forward<float>(0, c.groups, shape, state, threshold, scale, cpu.out.data(), cpu.lse.data(),
                                      qf.data(), kf.data(), vf.data());
  std::vector<bf16> out(q_size, bf16(-7.0f));
  std::vector<float> lse(c.groups * c.q_len, -7.0f);
  emu::flash_attention_forward<bf16>(shape, state, threshold, scale, out.data(), lse.data(), q.data(), k.data(),
                                     v.data(), nullptr);
  EXPECT_TRUE(close_bf16(cpu.out, out)) << "out, " << describe(c);
  EXPECT_TRUE(close(cpu.lse, lse, 3e-5)) << "lse (f32), " << describe(c);
  // Backward from the stored bf16 out and the CPU's lse, on both sides.
  const std::vector<bf16> saved_out = to_bf16(cpu.out);
  const std::vector<float> saved_out_f = widened(saved_out);
  cpu::flash_attention_backward<float>(0, c.groups, shape, state, threshold, scale, cpu.grad_q.data(),
                                       cpu.grad_k.data(), cpu.grad_v.data(), grad_out_f.data(), qf.data(), kf.data(),
                                       vf.data(), saved_out_f.data(), cpu.lse.data());
  std::vector<bf16> grad_q(q_size), grad_k(kv_size), grad_v(kv_size);
  std::vector<float> delta(static_cast<size_t>(c.groups * c.q_len));
  emu::flash_attention_backward<bf16>(shape, state, threshold, scale, grad_q.data(), grad_k.data(), grad_v.data(),
                                      delta.data(), grad_out.data(), q.data(), k.data(), v.data(), saved_out.data(),
                                      cpu.lse.data(), nullptr);
  EXPECT_TRUE(close_bf16(cpu.grad_q, grad_q)) << "grad_q, " << describe(c);
  EXPECT_TRUE(close_bf16(cpu.grad_k, grad_k)) << "grad_k, " << describe(c);
  EXPECT_TRUE(close_bf16(cpu.grad_v, grad_v)) << "grad_v, " << describe(c);
}

TEST_P(FlashAttentionParity, Bf16WithinOneRounding) {
  for (const AttentionCase& c : kCases) check_bf16_case(c);
}

// softmax_dropout on bf16 scores: output, probabilities and gradient against the f32 reference.
TEST_P(FlashAttentionParity, SoftmaxDropoutBf16WithinOneRounding) {
  for (const AttentionCase& c : kCases) {
    const SoftmaxDropoutShape shape{c.cols, c.q_len, c.causal, c.p > 0};
    const int64_t rows = c.groups * c.q_len, n = rows * c.cols;
    const std::vector<bf16> x = to_bf16(test_values<float>(n, 5)), grad_y = to_bf16(test_values<float>(n, 6));
    const std::vector<float> xf = widened(x), grad_y_f = widened(grad_y);
    const PhiloxState state{7, 1, 33};
    const float scale = static_cast<float>(1 / (1 - c.p));
    std::vector<float> y(n), probs(n), grad_x(n);
    cpu::softmax_dropout_forward<float>(0, rows, shape, state, dropout_threshold(c.p), scale, y.data(), probs.data(),
                                        xf.data());
    std::vector<bf16> y16(n), probs16(n), grad_x16(n);
    emu::softmax_dropout_forward<bf16>(rows, shape, state, dropout_threshold(c.p), scale, y16.data(), probs16.data(),
                                       x.data(), nullptr);
    EXPECT_TRUE(close_bf16(y, y16)) << "y, " << describe(c);
    EXPECT_TRUE(close_bf16(probs, probs16)) << "probs, " << describe(c);
    const std::vector<float> saved = widened(probs16);
    cpu::softmax_dropout_backward<float>(0, rows, shape, state, dropout_threshold(c.p), scale, grad_x.data(),
                                         grad_y_f.data(), saved.data());
    emu::softmax_dropout_backward<bf16>(rows, shape, state, dropout_threshold(c.p), scale, grad_x16.data(),
                                        grad_y.data(), probs16.data(), nullptr);
    EXPECT_TRUE(close_bf16(grad_x, grad_x16)) << "grad_x, " << describe(c);
  }
}

INSTANTIATE_TEST_SUITE_P(LaunchPolicies, FlashAttentionParity, ::testing::ValuesIn(kLaunchPolicies),
                         launch_policy_name);

}  // namespace
}  // namespace minidl
