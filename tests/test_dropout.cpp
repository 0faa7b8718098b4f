// The dropout family (framework/regularize/dropout.h), one table row per variant. The generic
// tests run every row: masks bit-identical between the CPU and the CUDA kernels in the emulator
// over launch configurations and odd sizes, the same mask after a generator-state round trip, f64
// gradcheck at a fixed mask, p = 0, p = 1 and eval behaviour. The statistical tests check each
// variant's defining property against a bound of 5 standard errors computed from the sample.
#include <gtest/gtest.h>

#include <cmath>
#include <algorithm>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "framework/autograd/gradcheck.h"
#include "framework/core/warning.h"
#include "framework/ops/ops.h"
#include "framework/regularize/dropout.h"
#include "framework/regularize/dropout_layers.h"
#include "tests/launch_policy_test.h"

namespace minidl {
namespace {

using VariantFn = std::function<Tensor(const Tensor& x, double p, bool training, Generator& gen)>;

struct Variant {
  std::string name;
  VariantFn fn;
  std::function<Shape(int64_t n)> shape_for;  // a valid input shape of about n elements
  bool p1_gives_zeros = true;                 // p = 1 drops everything
  std::function<Tensor(const Tensor& x, double p)> eval = [](const Tensor& x, double) { return x; };
  bool unbiased = true;  // E[training output] = eval output (alpha dropout's holds for mean-0 inputs only)
};

// Deterministic inputs away from zero (so a dropped element is distinguishable).
Tensor inputs(const Shape& shape, DType dtype = DType::F64, uint64_t seed = 5) {
  Generator gen(seed, 9);
  return add(mul(rand(shape, dtype, kCPU, gen), 2.0), 0.5);
}

// A fixed tensor of `shape` that a variant combines with x, on x's device and of its dtype.
Tensor fixed(const Shape& shape, const Tensor& x, double scale = 1.0) {
  return to_device(mul(inputs(shape, x.dtype(), 77), scale), x.device());
}

Shape flat(int64_t n) { return {n}; }
Shape channels(int64_t n, int spatial) {
  Shape s{1, n};
  for (int i = 0; i < spatial; ++i) s.push_back(1);
  return s;
}

const std::vector<Variant>& variants() {
  static const std::vector<Variant> table = {
      {"dropout", [](const Tensor& x, double p, bool t, Generator& g) { return dropout(x, p, t, g); }, flat},
      {"dropout_packed", [](const Tensor& x, double p, bool t, Generator& g) { return dropout_packed(x, p, t, g); },
       flat},
      {"classic", classic_dropout, flat, true, [](const Tensor& x, double p) { return mul(x, 1.0 - p); }},
      {"alpha", alpha_dropout, flat, true, [](const Tensor& x, double) { return x; }, false},
      {"feature_alpha", feature_alpha_dropout, [](int64_t n) { return Shape{1, n, 2}; }, true,
       [](const Tensor& x, double) { return x; }, false},
      {"dropout1d", [](const Tensor& x, double p, bool t, Generator& g) { return spatial_dropout(x, p, 1, t, g); },
       [](int64_t n) { return channels(n, 1); }},
      {"dropout2d", [](const Tensor& x, double p, bool t, Generator& g) { return spatial_dropout(x, p, 2, t, g); },
       [](int64_t n) { return Shape{2, n, 2, 1}; }},
      {"dropout3d", [](const Tensor& x, double p, bool t, Generator& g) { return spatial_dropout(x, p, 3, t, g); },
       [](int64_t n) { return channels(n, 3); }},
      {"gaussian", [](const Tensor& x, double p, bool t, Generator& g) { return gaussian_dropout(x, std::min(p, 0.9), t, g); },
       flat, false},
      {"gaussian_noise", additive_gaussian_noise, flat, false},
      {"dropblock", [](const Tensor& x, double p, bool t, Generator& g) { return dropblock(x, p, 3, t, g); },
       [](int64_t n) { return Shape{1, 1, 3, std::max<int64_t>(n / 3, 3)}; }},
      {"drop_path_row", [](const Tensor& x, double p, bool t, Generator& g) { return drop_path(x, p, true, t, g); },
       [](int64_t n) { return Shape{n, 2}; }},
      {"drop_path_batch", [](const Tensor& x, double p, bool t, Generator& g) { return drop_path(x, p, false, t, g); },
       [](int64_t n) { return Shape{n, 2}; }},
      {"locked", locked_dropout, [](int64_t n) { return Shape{3, n, 1}; }},
      {"embedding", embedding_dropout, [](int64_t n) { return Shape{n, 2}; }},
      {"drop_node", drop_node, [](int64_t n) { return Shape{n, 3}; }},
      {"zoneout",
       [](const Tensor& x, double p, bool t, Generator& g) { return zoneout(fixed(x.shape(), x, 0.5), x, p, t, g); }, flat,
       false,
       [](const Tensor& x, double p) {
         const Tensor prev = fixed(x.shape(), x, 0.5);
         return add(prev, mul(sub(x, prev), 1.0 - p));
       }},
      {"drop_connect_per_sample",
       [](const Tensor& x, double p, bool t, Generator& g) {
         return drop_connect_linear(x, fixed({3, x.size(1)}, x), {}, p, true, t, g);
       },
       [](int64_t n) { return Shape{2, n}; }, true,
       [](const Tensor& x, double) { return matmul(x, transpose(fixed({3, x.size(1)}, x), 0, 1)); }},
      {"bias_dropout_residual",
       [](const Tensor& x, double p, bool t, Generator& g) {
         return bias_dropout_residual(x, fixed({x.size(-1)}, x), fixed(x.shape(), x, 0.3), p, t, g);
       },
       [](int64_t n) { return Shape{1, n}; }, false,
       [](const Tensor& x, double) {
         return add(add(x, fixed({x.size(-1)}, x)), fixed(x.shape(), x, 0.3));
       }},
      {"uniform_noise",
       [](const Tensor& x, double p, bool t, Generator& g) { return random_rule(RandomRule::UniformNoise, x, p, t, g); },
       flat, false},
      {"concrete",
       [](const Tensor& x, double p, bool t, Generator& g) {
         const double q = std::clamp(p, 0.05, 0.95);
         return concrete_dropout(x, Tensor::scalar(std::log(q / (1 - q)), x.dtype(), x.device()), 0.1, t, g);
       },
       flat, false, [](const Tensor& x, double) { return x; }, false},
  };
  return table;
}

struct Moments {
  double mean = 0, variance = 0, fourth = 0;  // central moments
};

Moments moments(const std::vector<double>& v) {
  Moments m;
  for (double x : v) m.mean += x;
  m.mean /= static_cast<double>(v.size());
  for (double x : v) {
    const double d = (x - m.mean) * (x - m.mean);
    m.variance += d;
    m.fourth += d * d;
  }
  m.variance /= static_cast<double>(v.size());
  m.fourth /= static_cast<double>(v.size());
  return m;
}

std::string variant_name(const ::testing::TestParamInfo<size_t>& info) { return variants()[info.param].name; }

class DropoutVariant : public ::testing::TestWithParam<size_t> {
 protected:
  const Variant& v() const { return variants()[GetParam()]; }
};

std::vector<double> values_of(const Tensor& t) { return to_device(t, kCPU).to_vector<double>(); }

TEST_P(DropoutVariant, SameSeedAndStateGiveTheSameResultAfterAStateRoundTrip) {
  const Tensor x = inputs(v().shape_for(257));
  Generator gen(123, 4);
  (void)v().fn(x, 0.3, true, gen);  // move the offset away from 0
  const Generator saved = gen;
  const std::vector<double> first = values_of(v().fn(x, 0.3, true, gen));
  Generator restored(0);
  restored.set_state(saved.seed(), saved.stream(), saved.offset());
  EXPECT_EQ(values_of(v().fn(x, 0.3, true, restored)), first);
  EXPECT_EQ(restored.offset(), gen.offset());
  // A different offset gives a different mask (the draws are not ignored).
  if (v().name != "drop_path_batch") {
    EXPECT_NE(values_of(v().fn(x, 0.3, true, gen)), first);
  }
}

TEST_P(DropoutVariant, GradcheckAtAFixedMask) {
  const Tensor x = inputs(v().shape_for(12));
  const auto fn = [&](const std::vector<Tensor>& in) {
    Generator gen(31, 2);  // the same mask at every evaluation
    return v().fn(in[0], 0.4, true, gen);
  };
  const GradcheckResult r = gradcheck(fn, {x});
  EXPECT_TRUE(r.ok) << r.message;
}

TEST_P(DropoutVariant, PZeroIsTheIdentityAndPOneDropsEverythingWithZeroGradients) {
  const Tensor x = inputs(v().shape_for(100));
  Generator gen(8);
  if (v().name != "concrete" && v().name != "bias_dropout_residual" && v().name != "zoneout" &&
      v().name.rfind("drop_connect", 0) != 0) {
    EXPECT_EQ(values_of(v().fn(x, 0.0, true, gen)), values_of(x));
  }
  if (!v().p1_gives_zeros) return;
  const WarningCapture warnings;
  Tensor leaf = x.detach().requires_grad_(true);
  const Tensor y = v().fn(leaf, 1.0, true, gen);
  for (double value : values_of(y)) ASSERT_EQ(value, 0.0);
  sum(y).backward();
  for (double g : values_of(leaf.grad())) ASSERT_EQ(g, 0.0);  // and so neither NaN nor infinite
  // Allowed, but no signal passes: the user is told so.
  ASSERT_EQ(warnings.messages().size(), 1u);
  EXPECT_NE(warnings.messages()[0].find("p = 1 in training drops everything"), std::string::npos)
      << warnings.messages()[0];
}

TEST(DropoutWarning, OnlyPOneInTrainingWarnsOncePerOpNamingIt) {
  const Tensor x = inputs({16});
  Generator gen(3);
  const WarningCapture warnings;
  dropout(x, 1.0, false, gen);  // eval: the identity, the signal passes
  dropout(x, 0.5, true, gen);
  EXPECT_TRUE(warnings.messages().empty());
  dropout(x, 1.0, true, gen);
  dropout(x, 1.0, true, gen);
  drop_node(reshape(x, {8, 2}), 1.0, true, gen);
  ASSERT_EQ(warnings.messages().size(), 2u);
  EXPECT_EQ(warnings.messages()[0].rfind("dropout: ", 0), 0u) << warnings.messages()[0];
  EXPECT_EQ(warnings.messages()[1].rfind("drop_node: ", 0), 0u) << warnings.messages()[1];
  {
    const WarningCapture inner;  // sees the message again, and takes it from the outer capture
    dropout(x, 1.0, true, gen);
    EXPECT_EQ(inner.messages().size(), 1u);
  }
  EXPECT_EQ(warnings.messages().size(), 2u);
}

TEST_P(DropoutVariant, EvalModeFollowsThePaper) {
  const Tensor x = inputs(v().shape_for(50));
  Generator gen(8);
  const uint64_t offset = gen.offset();
  const std::vector<double> got = values_of(v().fn(x, 0.3, false, gen));
  const std::vector<double> want = values_of(v().eval(x, 0.3));
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) EXPECT_NEAR(got[i], want[i], 1e-12 * (1 + std::abs(want[i]))) << i;
  EXPECT_EQ(gen.offset(), offset) << "eval must not draw";
}

// E[training output] = eval output: the mean over R independent draws (fresh offsets) of the
// per-draw average difference is within 5 standard errors of 0. Draws are independent across
// repeats whatever a variant correlates within one (channels, samples, blocks).
using UnbiasedVariant = DropoutVariant;

TEST_P(UnbiasedVariant, TrainingIsUnbiasedForTheEvalOutput) {
  const Tensor x = inputs(v().shape_for(24));
  const std::vector<double> eval = values_of(v().eval(x, 0.3));
  Generator gen(55, 3);
  const int repeats = 3000;
  std::vector<double> diffs;
  for (int r = 0; r < repeats; ++r) {
    const std::vector<double> y = values_of(v().fn(x, 0.3, true, gen));
    double d = 0;
    for (size_t i = 0; i < y.size(); ++i) d += (y[i] - eval[i]) / static_cast<double>(y.size());
    diffs.push_back(d);
  }
  const Moments m = moments(diffs);
  EXPECT_NEAR(m.mean, 0.0, 5 * std::sqrt(m.variance / repeats)) << v().name;
}

#if defined(MINIDL_HAS_EMU)
// The CUDA kernels in the emulator give the CPU's values bit for bit, for every launch
// configuration of tests/launch_policy_test.h and odd sizes, forward and backward.
class EmulatedCudaDropout : public LaunchPolicyTest {};

TEST_P(EmulatedCudaDropout, EveryVariantMatchesTheCpuBitForBit) {
  const Device emu{DeviceType::CUDAEmu, 0};
  for (const Variant& var : variants()) {
    for (int64_t n : {1, 3, 4097, 100003}) {
      const Tensor x = inputs(var.shape_for(n), DType::F32);
      if (var.name == "drop_connect_per_sample" && n > 4097) continue;  // N masked weight copies
      Generator cpu_gen(2718, 1), emu_gen(2718, 1);
      Tensor cpu_x = x.detach().requires_grad_(true), emu_x = to_device(x, emu).detach().requires_grad_(true);
      const Tensor cpu_y = var.fn(cpu_x, 0.3, true, cpu_gen), emu_y = var.fn(emu_x, 0.3, true, emu_gen);
      const Tensor w = inputs(cpu_y.shape(), DType::F32, 3);
      sum(mul(cpu_y, w)).backward();
      sum(mul(emu_y, to_device(w, emu))).backward();
      if (var.name.rfind("drop_connect", 0) == 0) {
        // The masks are identical, but the GEMM's sums may be ordered differently on the device.
        for (auto [a, b] : {std::pair{cpu_y, emu_y}, std::pair{cpu_x.grad(), emu_x.grad()}}) {
          const std::vector<double> want = values_of(a), got = values_of(b);
          for (size_t i = 0; i < want.size(); ++i) ASSERT_NEAR(got[i], want[i], 1e-5 * (1 + std::abs(want[i])));
        }
      } else {
        ASSERT_EQ(values_of(emu_y), values_of(cpu_y)) << var.name << " n " << n;
        ASSERT_EQ(values_of(emu_x.grad()), values_of(cpu_x.grad())) << var.name << " gradient, n " << n;
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(LaunchConfigs, EmulatedCudaDropout, ::testing::ValuesIn(kLaunchPolicies), launch_policy_name);
#endif

INSTANTIATE_TEST_SUITE_P(Variants, DropoutVariant, ::testing::Range<size_t>(0, variants().size()), variant_name);

std::vector<size_t> unbiased_variants() {
  std::vector<size_t> rows;
  for (size_t i = 0; i < variants().size(); ++i)
    if (variants()[i].unbiased) rows.push_back(i);
  return rows;
}
INSTANTIATE_TEST_SUITE_P(Variants, UnbiasedVariant, ::testing::ValuesIn(unbiased_variants()), variant_name);

// --- statistics: each bound is 5 standard errors of the estimate, from the sample size ---

constexpr int64_t kSamples = 1 << 20;

TEST(DropoutStatistics, KeptFractionAndMeanOfInvertedDropout) {
  for (double p : {0.1, 0.5, 0.9}) {
    Generator gen(1, 0);
    const std::vector<double> y = values_of(dropout(Tensor::full({kSamples}, 1.0, DType::F64), p, true, gen));
    double kept = 0;
    for (double v : y) kept += v != 0.0;
    const double n = static_cast<double>(kSamples);
    EXPECT_NEAR(kept / n, 1 - p, 5 * std::sqrt(p * (1 - p) / n)) << "p " << p;
    // E[y] = 1 with Var[y] = p / (1 - p).
    EXPECT_NEAR(moments(y).mean, 1.0, 5 * std::sqrt(p / (1 - p) / n)) << "p " << p;
  }
}

TEST(DropoutStatistics, GaussianDropoutHasMeanOneAndVariancePOverOneMinusP) {
  for (double p : {0.2, 0.5}) {
    Generator gen(2, 0);
    const Moments m = moments(values_of(gaussian_dropout(Tensor::full({kSamples}, 1.0, DType::F64), p, true, gen)));
    const double var = p / (1 - p), n = static_cast<double>(kSamples);
    EXPECT_NEAR(m.mean, 1.0, 5 * std::sqrt(var / n));
    EXPECT_NEAR(m.variance, var, 5 * std::sqrt((m.fourth - m.variance * m.variance) / n));
  }
}

TEST(DropoutStatistics, AlphaDropoutKeepsMeanZeroAndVarianceOneForSeluInputs) {
  Generator noise(3, 0), gen(3, 1);
  // SELU's fixed point: standard normal activations.
  const Tensor x = gaussian_noise(Tensor::zeros({kSamples}, DType::F64), 0.0, 1.0, noise);
  for (double p : {0.05, 0.2, 0.5}) {
    const Moments m = moments(values_of(alpha_dropout(x, p, true, gen)));
    const double n = static_cast<double>(kSamples);
    EXPECT_NEAR(m.mean, 0.0, 5 * std::sqrt(m.variance / n)) << "p " << p;
    EXPECT_NEAR(m.variance, 1.0, 5 * std::sqrt((m.fourth - m.variance * m.variance) / n)) << "p " << p;
  }
}

// Whole slices share one draw: every slice is all dropped or all kept (scaled), and the fraction
// of kept slices matches 1 - p.
void check_whole_slices(const Tensor& y, int64_t slices, double keep_value, double p) {
  const std::vector<double> v = values_of(y);
  const int64_t per = static_cast<int64_t>(v.size()) / slices;
  double kept = 0;
  for (int64_t s = 0; s < slices; ++s) {
    const double first = v[s * per];
    ASSERT_TRUE(first == 0.0 || std::abs(first - keep_value) < 1e-12) << first;
    for (int64_t i = 1; i < per; ++i) ASSERT_EQ(v[s * per + i], first) << "slice " << s;
    kept += first != 0.0;
  }
  EXPECT_NEAR(kept / slices, 1 - p, 5 * std::sqrt(p * (1 - p) / slices));
}

TEST(DropoutStatistics, Dropout2dDropsWholeChannelsAndNothingElse) {
  Generator gen(4);
  const Tensor y = spatial_dropout(Tensor::full({64, 128, 4, 4}, 1.0, DType::F64), 0.3, 2, true, gen);
  check_whole_slices(y, 64 * 128, 1 / 0.7, 0.3);
}

TEST(DropoutStatistics, DropPathDropsWholeSamples) {
  Generator gen(5);
  check_whole_slices(drop_path(Tensor::full({8192, 6}, 1.0, DType::F64), 0.25, true, true, gen), 8192, 1 / 0.75, 0.25);
  // Batch mode: one draw for all.
  const std::vector<double> all = values_of(drop_path(Tensor::full({64, 6}, 1.0, DType::F64), 0.5, false, true, gen));
  for (double v : all) ASSERT_EQ(v, all[0]);
}

TEST(DropoutStatistics, LockedDropoutUsesOneMaskForEveryTimeStep) {
  Generator gen(6);
  const std::vector<double> y = values_of(locked_dropout(Tensor::full({5, 64, 32}, 1.0, DType::F64), 0.4, true, gen));
  for (int64_t t = 1; t < 5; ++t)
    for (int64_t i = 0; i < 64 * 32; ++i) ASSERT_EQ(y[t * 64 * 32 + i], y[i]);
}

// DropBlock: position (h, w) is kept iff none of the c(h, w) valid centres within its window is a
// seed, so E[kept fraction] = mean over positions of (1 - gamma)^c(h, w) (gamma from its formula).
TEST(DropoutStatistics, DropBlockKeptFractionMatchesGammaFromItsFormula) {
  const int64_t planes = 4096, H = 12, W = 12, block = 5;
  const double p = 0.15, gamma = dropblock_gamma(p, block, H, W);
  EXPECT_NEAR(gamma, p / 25 * 144 / 64, 1e-15);
  double expected = 0;
  const int64_t half = block / 2;
  for (int64_t h = 0; h < H; ++h)
    for (int64_t w = 0; w < W; ++w) {
      int64_t centres = 0;
      for (int64_t i = std::max(h - half, half); i <= std::min(h + half, H - 1 - half); ++i)
        for (int64_t j = std::max(w - half, half); j <= std::min(w + half, W - 1 - half); ++j) ++centres;
      expected += std::pow(1 - gamma, static_cast<double>(centres)) / (H * W);
    }
  Generator gen(7);
  const std::vector<double> y = values_of(dropblock(Tensor::full({planes, 1, H, W}, 1.0, DType::F64), p, block, true, gen));
  // Planes are independent; positions within one are not, so the error is estimated per plane.
  std::vector<double> plane_kept(planes, 0.0);
  for (int64_t i = 0; i < static_cast<int64_t>(y.size()); ++i) plane_kept[i / (H * W)] += (y[i] != 0.0) / double(H * W);
  const Moments m = moments(plane_kept);
  EXPECT_NEAR(m.mean, expected, 5 * std::sqrt(m.variance / planes));
  // Blocks overlap, so fewer than a fraction p is dropped, but near it at this rate.
  EXPECT_NEAR(1 - expected, p, 0.05);
  // The kept values are scaled to keep the mean: numel / kept.
  double total = 0;
  for (double v : y) total += v;
  EXPECT_NEAR(total / static_cast<double>(y.size()), 1.0, 1e-9);
}

TEST(DropoutStatistics, LayerDropSkipsAFractionPOfLayers) {
  Generator gen(8);
  const int64_t n = 100000;
  double skipped = 0;
  for (int64_t i = 0; i < n; ++i) skipped += layer_drop(0.2, true, gen);
  EXPECT_NEAR(skipped / n, 0.2, 5 * std::sqrt(0.2 * 0.8 / n));
  EXPECT_FALSE(layer_drop(1.0, false, gen));
  EXPECT_DOUBLE_EQ(stochastic_depth_rate(0.5, 3, 6), 0.25);
  EXPECT_THROW(stochastic_depth_rate(0.5, 7, 6), Error);
}

TEST(DropoutStatistics, ZoneoutKeepsThePreviousStateWithProbabilityP) {
  Generator gen(9);
  const Tensor prev = Tensor::zeros({kSamples}, DType::F64), next = Tensor::full({kSamples}, 1.0, DType::F64);
  double kept_prev = 0;
  for (double v : values_of(zoneout(prev, next, 0.3, true, gen))) {
    ASSERT_TRUE(v == 0.0 || v == 1.0) << v;
    kept_prev += v == 0.0;
  }
  EXPECT_NEAR(kept_prev / kSamples, 0.3, 5 * std::sqrt(0.3 * 0.7 / kSamples));
}

TEST(ConcreteDropout, GradientsReachTheLearnedRate) {
  const auto fn = [](const std::vector<Tensor>& in) {
    Generator gen(12, 1);
    return concrete_dropout(in[0], in[1], 0.5, true, gen);
  };
  const GradcheckResult r = gradcheck(fn, {inputs({4, 3}), Tensor::scalar(-0.4, DType::F64)});
  EXPECT_TRUE(r.ok) << r.message;
  // The relaxed mask's mean drop rate is the rate: E[out / x] = (1 - E[drop]) / (1 - p) ~ 1.
  Generator gen(13);
  const double p = 0.3;
  const Moments m = moments(values_of(concrete_dropout(Tensor::full({kSamples}, 1.0, DType::F64),
                                                       Tensor::scalar(std::log(p / (1 - p)), DType::F64), 0.1, true, gen)));
  EXPECT_NEAR(m.mean, 1.0, 5 * std::sqrt(m.variance / kSamples) + 0.01);  // + the relaxation's small bias
  // The penalty: weight_reg |W|^2 / (1 - p) + dropout_reg * K * (p log p + (1 - p) log(1 - p)).
  const Tensor w = Tensor::full({2, 3}, 0.5, DType::F64);
  const double penalty =
      concrete_dropout_penalty(w, Tensor::scalar(std::log(p / (1 - p)), DType::F64), 0.01, 0.1, 3).item();
  EXPECT_NEAR(penalty, 0.01 * 1.5 / 0.7 + 0.1 * 3 * (p * std::log(p) + 0.7 * std::log(0.7)), 1e-12);
}

TEST(RDrop, LossIsMeanCrossEntropyPlusSymmetricKl) {
  const Tensor a = inputs({3, 4}), b = inputs({3, 4}, DType::F64, 6);
  const Tensor target = Tensor::from_vector(std::vector<int64_t>{0, 3, 1}, {3});
  const std::vector<double> la = a.to_vector<double>(), lb = b.to_vector<double>();
  double ce = 0, kl = 0;
  for (int r = 0; r < 3; ++r) {
    double za = 0, zb = 0;
    for (int c = 0; c < 4; ++c) za += std::exp(la[r * 4 + c]), zb += std::exp(lb[r * 4 + c]);
    const int t = r == 0 ? 0 : r == 1 ? 3 : 1;
    ce += (std::log(za) - la[r * 4 + t] + std::log(zb) - lb[r * 4 + t]) / 2;
    for (int c = 0; c < 4; ++c) {
      const double pa = std::exp(la[r * 4 + c]) / za, pb = std::exp(lb[r * 4 + c]) / zb;
      kl += pa * std::log(pa / pb) + pb * std::log(pb / pa);
    }
  }
  EXPECT_NEAR(rdrop_loss(a, b, target, 0.7).item(), ce / 3 + 0.7 * kl / 2 / 3, 1e-12);
  EXPECT_NEAR(rdrop_loss(a, a, target, 5.0).item(), cross_entropy(a, target).item(), 1e-12);
  EXPECT_THROW(rdrop_loss(a, b, target, -1.0), Error);
}

TEST(McDropout, SamplingKeepsDropoutActiveInEvalMode) {
  Generator gen(14);
  Sequential model;
  model.add(make_dropout_layer("dropout", 0.5, gen));
  model.eval();
  const Tensor x = Tensor::full({1000}, 1.0);
  EXPECT_TRUE(model(x).same(x));
  set_mc_sampling(model, true);
  const std::vector<float> a = model(x).to_vector<float>(), b = model(x).to_vector<float>();
  EXPECT_NE(a, b);  // two samples, two masks
  set_mc_sampling(model, false);
  EXPECT_TRUE(model(x).same(x));
}

TEST(DropoutVariants, BadParametersGiveClearErrors) {
  const Tensor x = Tensor::zeros({2, 3, 4, 4});
  EXPECT_THROW(gaussian_dropout(x, 1.0, true), Error);
  EXPECT_THROW(spatial_dropout(x, 0.1, 1, true), Error);  // a 4-d input is not Dropout1d's
  EXPECT_THROW(spatial_dropout(x, std::nan(""), 2, true), Error);
  EXPECT_THROW(locked_dropout(x, 0.1, true), Error);
  EXPECT_THROW(additive_gaussian_noise(x, -1.0, true), Error);
  EXPECT_THROW(concrete_dropout(x, Tensor::zeros({2}), 0.1, true), Error);
  EXPECT_THROW(concrete_dropout(x, Tensor::zeros({}), 0.0, true), Error);
  EXPECT_THROW(parse_dropout_spec("alpha:1.5"), Error);
  EXPECT_THROW(parse_dropout_spec("alpha:x"), Error);
  EXPECT_THROW(make_dropout_layer("nonsense", 0.1, default_generator()), Error);
  const DropoutSpec spec = parse_dropout_spec("gaussian:0.25");
  EXPECT_EQ(spec.name, "gaussian");
  EXPECT_EQ(spec.p, 0.25);
  EXPECT_EQ(parse_dropout_spec("0.2").name, "dropout");
}

}  // namespace
}  // namespace minidl
