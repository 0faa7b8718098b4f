// The optimizer and gradient-clipping kernels (kernels/cuda/optim.cu) in the SIMT emulator
// against the CPU references (kernels/cpu/optim.h), over the launch policies of
// tests/launch_policy_test.h: every rule in f32 and f64, several hyper-parameter settings each, a
// few steps from the same state, and many tensors per call: empty ones, odd sizes, tensors of
// several chunks, and more tensors than one multi-tensor table holds.
//
// Elementwise rules must match bit for bit: both sides evaluate every element with the same
// functions of kernels/common/optim_rules.h. Norms (LAMB's trust ratio, clip_grad_norm_'s sums of
// squares) add the same double terms in another order inside each chunk of kMultiTensorChunk
// elements (a block's tree instead of a loop), then combine the chunks in the same order. Each
// chunk sum of n non-negative terms is within (n - 1) 2^-53 of the exact one, relatively, on either
// side, so sums agree within 2 * kMultiTensorChunk * 2^-53 < 4e-12 relative, and a trust ratio
// sqrt(a) / sqrt(b) within the same (half for each square root, plus 3 roundings of 2^-53).
// LAMB's parameters are then checked bit for bit against the CPU update with the emulator's trust.
#include <gtest/gtest.h>

#include <array>
#include <cmath>
#include <cstdint>
#include <limits>
#include <span>
#include <string>
#include <vector>

#include "kernels/cpu/optim.h"
#include "kernels/cuda/launchers.h"
#include "tests/launch_policy_test.h"
#include "tests/parity_checks.h"

namespace minidl {
namespace {

using OptimParity = LaunchPolicyTest;

constexpr emu::Stream kStream = nullptr;
constexpr double kNormTolerance = 4e-12;  // relative, derived above

// The tensors of one call: empty, tiny, odd, one chunk plus a tail, three chunks less one element;
// then 40 small ones, so the call spans two tables of 32 tensors.
std::vector<int64_t> call_sizes() {
  std::vector<int64_t> sizes = {0, 1, 3, 5, 4099, kMultiTensorChunk + 17, 3 * kMultiTensorChunk - 1, 0, 2};
  for (int64_t k = 0; k < 40; ++k) sizes.push_back(1 + k * 7);
  return sizes;
}

// Values in [-4, 4), the first four 0, -0, 1, -1 where there is room (Lion's sign of 0,
// Adamax's |g|).
template <typename T>
std::vector<T> values(int64_t n, uint64_t salt) {
  std::vector<T> v(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) v[i] = static_cast<T>(uniform(i, salt));
  const double edges[] = {0.0, -0.0, 1.0, -1.0};
  for (int64_t i = 0; i < 4 && i < n; ++i) v[i] = static_cast<T>(edges[i]);
  return v;
}

// One side's arrays of a call (the CPU's or the emulator's): parameters, gradients, and the state
// buffers the rule keeps. Both sides build theirs from the same values.
template <typename T>
struct CallArrays {
  std::vector<std::vector<T>> param, grad;
  std::vector<std::array<std::vector<T>, kMaxOptimizerState>> state;
  std::array<bool, kMaxOptimizerState> used;

  CallArrays(const std::vector<int64_t>& sizes, std::array<bool, kMaxOptimizerState> used_state,
             double initial_state)
      : state(sizes.size()), used(used_state) {
    for (size_t k = 0; k < sizes.size(); ++k) {
      param.push_back(values<T>(sizes[k], 100 + k));
      grad.push_back(values<T>(sizes[k], 200 + k));
      for (int s = 0; s < kMaxOptimizerState; ++s)
        if (used[s]) state[k][s].assign(static_cast<size_t>(sizes[k]), static_cast<T>(initial_state));
    }
  }

  void new_gradients(int step) {
    for (size_t k = 0; k < grad.size(); ++k)
      grad[k] = values<T>(static_cast<int64_t>(grad[k].size()), 300 + 1000 * static_cast<uint64_t>(step) + k);
  }

  std::vector<ParamBuffers<T>> buffers() {
    std::vector<ParamBuffers<T>> out;
    for (size_t k = 0; k < param.size(); ++k) {
      ParamBuffers<T> b{param[k].data(), grad[k].data(), {}, static_cast<int64_t>(param[k].size())};
      for (int s = 0; s < kMaxOptimizerState; ++s) b.state[s] = used[s] ? state[k][s].data() : nullptr;
      out.push_back(b);
    }
    return out;
  }
};

template <typename T>
::testing::AssertionResult same_arrays(const CallArrays<T>& cpu, const CallArrays<T>& dev) {
  for (size_t k = 0; k < cpu.param.size(); ++k) {
    if (auto r = same_bits(cpu.param[k], dev.param[k]); !r) return r << " (param of tensor " << k << ")";
    for (int s = 0; s < kMaxOptimizerState; ++s)
      if (auto r = same_bits(cpu.state[k][s], dev.state[k][s]); !r)
        return r << " (state " << s << " of tensor " << k << ")";
  }
  return ::testing::AssertionSuccess();
}

// Three steps of an elementwise rule on both sides; hp_at(t) gives the params of step t.
template <typename T, typename HpAt>
void check_rule(const std::string& what, HpAt hp_at, std::array<bool, kMaxOptimizerState> used,
                double initial_state = 0, const std::vector<int64_t>& sizes = call_sizes()) {
  CallArrays<T> cpu(sizes, used, initial_state), dev(sizes, used, initial_state);
  for (int step = 1; step <= 3; ++step) {
    cpu.new_gradients(step);
    dev.new_gradients(step);
    const auto hp = hp_at(step);
    for (const ParamBuffers<T>& b : cpu.buffers()) cpu::optimizer_step<T>(hp, 0, b.numel, b);
    emu::optimizer_step<T>(hp, dev.buffers(), kStream);
    ASSERT_TRUE(same_arrays(cpu, dev)) << what << ", " << sizeof(T) * 8 << "-bit, step " << step;
  }
}

double bias_correction(double beta, int step) { return 1 - std::pow(beta, step); }

template <typename T>
void check_sgd() {
  //         lr    momentum dampening weight_decay nesterov
  const SgdParams settings[] = {{0.1, 0.0, 0.0, 0.0, false, false},
                                {0.05, 0.0, 0.0, 0.01, false, false},
                                {0.1, 0.9, 0.0, 0.0, false, false},
                                {0.01, 0.9, 0.0, 1e-4, true, false},
                                {0.3, 0.5, 0.5, 0.0, false, false}};
  for (const SgdParams& base : settings) {
    auto hp_at = [&](int step) {
      SgdParams hp = base;
      hp.first_step = step == 1;
      return hp;
    };
    check_rule<T>("sgd momentum " + std::to_string(base.momentum), hp_at, {base.momentum != 0, false, false});
  }
}

template <typename T>
void check_adam() {
  for (bool decoupled : {false, true})
    for (bool amsgrad : {false, true})
      for (double wd : {0.0, 0.05}) {
        auto hp_at = [&](int step) {
          return AdamParams{0.01, 0.8, 0.95, 1e-6, wd, decoupled, amsgrad, bias_correction(0.8, step),
                            bias_correction(0.95, step)};
        };
        check_rule<T>("adam decoupled " + std::to_string(decoupled) + " amsgrad " + std::to_string(amsgrad), hp_at,
                      {true, true, amsgrad});
      }
}

template <typename T>
void check_adagrad() {
  for (double initial : {0.0, 0.5}) {
    auto hp_at = [&](int step) { return AdagradParams{0.1 / (1 + (step - 1) * 0.05), initial * 0.2, 1e-10}; };
    check_rule<T>("adagrad", hp_at, {true, false, false}, initial);
  }
}

template <typename T>
void check_adadelta() {
  for (const AdadeltaParams hp : {AdadeltaParams{1.0, 0.9, 1e-6, 0.0}, AdadeltaParams{0.5, 0.8, 1e-4, 0.1}})
    check_rule<T>("adadelta", [&](int) { return hp; }, {true, true, false});
}

template <typename T>
void check_rmsprop() {
  for (double momentum : {0.0, 0.8})
    for (bool centered : {false, true}) {
      const RmspropParams hp{0.01, 0.9, 1e-8, centered ? 0.1 : 0.0, momentum, centered};
      check_rule<T>("rmsprop", [&](int) { return hp; }, {true, momentum > 0, centered});
    }
}

template <typename T>
void check_adamax() {
  for (double wd : {0.0, 0.1}) {
    auto hp_at = [&](int step) { return AdamaxParams{0.02, 0.9, 0.999, 1e-8, wd, bias_correction(0.9, step)}; };
    check_rule<T>("adamax", hp_at, {true, true, false});
  }
}

template <typename T>
void check_nadam() {
  for (double wd : {0.0, 0.1}) {
    auto hp_at = [&](int step) {
      return NadamParams{0.9, 0.999, 1e-8, wd, bias_correction(0.999, step), 0.002, 0.019};
    };
    check_rule<T>("nadam", hp_at, {true, true, false});
  }
}

template <typename T>
void check_radam() {
  for (bool rectified : {false, true}) {
    auto hp_at = [&](int step) {
      return RadamParams{0.05, 0.9, 0.99, 1e-8, 0.1, bias_correction(0.9, step), bias_correction(0.99, step),
                         rectified, rectified ? 0.37 : 0.0};
    };
    check_rule<T>("radam", hp_at, {true, true, false});
  }
}

template <typename T>
void check_lion() {
  for (const LionParams hp : {LionParams{1e-4, 0.9, 0.99, 0.0}, LionParams{0.01, 0.95, 0.98, 0.1}})
    check_rule<T>("lion", [&](int) { return hp; }, {true, false, false});
}

TEST_P(OptimParity, Sgd) {
  check_sgd<float>();
  check_sgd<double>();
}

TEST_P(OptimParity, AdamAdamWAndAmsgrad) {
  check_adam<float>();
  check_adam<double>();
}

TEST_P(OptimParity, Adagrad) {
  check_adagrad<float>();
  check_adagrad<double>();
}

TEST_P(OptimParity, Adadelta) {
  check_adadelta<float>();
  check_adadelta<double>();
}

TEST_P(OptimParity, Rmsprop) {
  check_rmsprop<float>();
  check_rmsprop<double>();
}

TEST_P(OptimParity, Adamax) {
  check_adamax<float>();
  check_adamax<double>();
}

TEST_P(OptimParity, Nadam) {
  check_nadam<float>();
  check_nadam<double>();
}

TEST_P(OptimParity, Radam) {
  check_radam<float>();
  check_radam<double>();
}

TEST_P(OptimParity, Lion) {
  check_lion<float>();
  check_lion<double>();
}

// ---- LAMB: moments bit for bit, trust ratios within kNormTolerance, and the update bit for bit
// given the emulator's trust ratios.

template <typename T>
void check_lamb(const std::vector<int64_t>& sizes, double weight_decay) {
  CallArrays<T> cpu(sizes, {true, true, false}, 0), dev(sizes, {true, true, false}, 0);
  for (int step = 1; step <= 3; ++step) {
    cpu.new_gradients(step);
    dev.new_gradients(step);
    const LambParams hp{0.02, 0.9, 0.999, 1e-6, weight_decay, bias_correction(0.9, step),
                        bias_correction(0.999, step)};
    const std::vector<ParamBuffers<T>> dev_buffers = dev.buffers();
    std::vector<double> scratch(static_cast<size_t>(emu::lamb_scratch_size<T>(dev_buffers)), -1.0);
    emu::lamb_step<T>(hp, dev_buffers, scratch.data(), kStream);
    const std::vector<ParamBuffers<T>> cpu_buffers = cpu.buffers();
    for (size_t k = 0; k < cpu_buffers.size(); ++k) {
      const ParamBuffers<T>& b = cpu_buffers[k];
      cpu::lamb_moments<T>(hp, 0, b.numel, b);
      const double trust = lamb_trust_ratio(cpu::lamb_squares<T>(hp, b)), dev_trust = scratch[k];
      ASSERT_LE(std::fabs(dev_trust - trust), kNormTolerance * trust)
          << "trust ratio of tensor " << k << " (" << b.numel << " elements), step " << step;
      cpu::lamb_apply<T>(hp, dev_trust, 0, b.numel, b);
    }
    ASSERT_TRUE(same_arrays(cpu, dev)) << "lamb, " << sizeof(T) * 8 << "-bit, step " << step;
  }
}

TEST_P(OptimParity, Lamb) {
  for (double wd : {0.0, 0.01}) {
    check_lamb<float>(call_sizes(), wd);
    check_lamb<double>(call_sizes(), wd);
  }
}

// ---- gradient clipping

template <typename T>
void check_norms_and_clip(const std::vector<int64_t>& sizes) {
  std::vector<std::vector<T>> xs;
  std::vector<const T*> x_ptrs;
  for (size_t k = 0; k < sizes.size(); ++k) {
    xs.push_back(values<T>(sizes[k], 500 + k));
    x_ptrs.push_back(xs.back().data());
  }
  for (NormKind kind : {NormKind::SumOfSquares, NormKind::MaxAbs}) {
    std::vector<double> scratch(static_cast<size_t>(emu::norms_scratch_size(sizes))), got(sizes.size(), -1.0);
    emu::norms<T>(kind, x_ptrs, sizes, scratch.data(), got.data(), kStream);
    for (size_t k = 0; k < sizes.size(); ++k) {
      const double want = cpu::norm<T>(kind, sizes[k], xs[k].data());
      if (kind == NormKind::MaxAbs) {
        EXPECT_EQ(got[k], want) << "max |x| of tensor " << k;
      } else {
        EXPECT_LE(std::fabs(got[k] - want), kNormTolerance * want) << "sum of squares of tensor " << k;
      }
    }
  }
  for (const ClipParams hp : {ClipParams{0.37, INFINITY}, ClipParams{1, 0.5}}) {
    std::vector<std::vector<T>> want, got;
    std::vector<T*> got_ptrs;
    for (size_t k = 0; k < sizes.size(); ++k) {
      want.emplace_back(static_cast<size_t>(sizes[k]), T(42));
      got.emplace_back(static_cast<size_t>(sizes[k]), T(42));
      got_ptrs.push_back(got.back().data());
      cpu::clip<T>(hp, 0, sizes[k], want.back().data(), xs[k].data());
    }
    emu::clip<T>(hp, got_ptrs, x_ptrs, sizes, kStream);
    for (size_t k = 0; k < sizes.size(); ++k) EXPECT_TRUE(same_bits(want[k], got[k])) << "clip of tensor " << k;
  }
}

TEST_P(OptimParity, GradientNormsAndClipping) {
  check_norms_and_clip<float>(call_sizes());
  check_norms_and_clip<double>(call_sizes());
}

INSTANTIATE_TEST_SUITE_P(LaunchConfigs, OptimParity, ::testing::ValuesIn(kLaunchPolicies), launch_policy_name);

// More chunks in one call than one table holds (kTableChunks = 256 in kernels/cuda/multi_tensor.h),
// at the default launch policy: a tensor's chunks then span two tables, and their partial norms
// two launches.
TEST(OptimParityManyChunks, ChunksSpanTables) {
  const std::vector<int64_t> sizes = {5, 257 * kMultiTensorChunk + 3, 7};
  check_rule<float>("sgd", [](int step) { return SgdParams{0.1, 0.9, 0.0, 0.01, false, step == 1}; },
                    {true, false, false}, 0, sizes);
  check_lamb<float>(sizes, 0.01);
  check_norms_and_clip<float>(sizes);
}

}  // namespace
}  // namespace minidl
