// nn layers, the MLP's PyTorch-compatible names, optimizers against closed forms, and the
// cosine schedule.
#include <gtest/gtest.h>

#include <cmath>

#include "framework/autograd/grad_mode.h"
#include "framework/nn/layers.h"
#include "framework/regularize/dropout_layers.h"
#include "framework/ops/ops.h"
#include "framework/optim/optimizers.h"
#include "framework/optim/schedule.h"
#include "models/mlp.h"

namespace minidl {
namespace {

TEST(Linear, ComputesXWTransposedPlusBias) {
  Generator gen(3);
  Linear layer(3, 2, true, gen);
  const std::vector<float> w = layer.weight().to_vector<float>(), b = layer.bias().to_vector<float>();
  const std::vector<float> x = {1, 2, 3, -1, 0, 0.5};
  const std::vector<float> y = layer(Tensor::from_vector(x, {2, 3})).to_vector<float>();
  for (int n = 0; n < 2; ++n)
    for (int o = 0; o < 2; ++o) {
      double expected = b[o];
      for (int i = 0; i < 3; ++i) expected += x[n * 3 + i] * w[o * 3 + i];
      EXPECT_NEAR(y[n * 2 + o], expected, 1e-6);
    }
}

TEST(Linear, InitIsUniformWithinTorchBound) {
  Generator gen(9);
  Linear layer(400, 300, true, gen);
  const double bound = 1.0 / std::sqrt(400.0);
  const std::vector<float> w = layer.weight().to_vector<float>();
  double mean = 0, sq = 0;
  for (float v : w) {
    ASSERT_LE(std::abs(v), bound);
    mean += v;
    sq += v * v;
  }
  const double n = static_cast<double>(w.size());
  mean /= n;
  // U(-b, b): mean 0 and variance b^2/3; 5-sigma bounds from the sample size.
  const double var = bound * bound / 3;
  EXPECT_NEAR(mean, 0, 5 * std::sqrt(var / n));
  EXPECT_NEAR(sq / n, var, 5 * std::sqrt((std::pow(bound, 4) / 5 - var * var) / n));
}

TEST(Mlp, ParameterNamesAndShapesMatchTorchSequential) {
  Generator gen(0);
  Mlp mlp(MlpConfig{}, gen);
  const NamedTensors params = mlp.named_parameters();
  const std::vector<std::pair<std::string, Shape>> expected = {
      {"layers.0.weight", {512, 784}}, {"layers.0.bias", {512}}, {"layers.3.weight", {512, 512}},
      {"layers.3.bias", {512}},        {"layers.6.weight", {10, 512}}, {"layers.6.bias", {10}}};
  ASSERT_EQ(params.size(), expected.size());
  for (size_t i = 0; i < params.size(); ++i) {
    EXPECT_EQ(params[i].first, expected[i].first);
    EXPECT_EQ(params[i].second.shape(), expected[i].second);
  }
}

TEST(Mlp, LoadParametersChecksNamesAndShapes) {
  Generator gen(0);
  Mlp a(MlpConfig{.hidden = {4}}, gen), b(MlpConfig{.hidden = {4}}, gen);
  std::map<std::string, Tensor> values;
  for (auto& [name, t] : a.named_parameters()) values[name] = t;
  b.load_parameters(values, "test");
  EXPECT_EQ(b.named_parameters()[0].second.to_vector<float>(), a.named_parameters()[0].second.to_vector<float>());
  values["extra"] = Tensor::zeros({1});
  EXPECT_THROW(b.load_parameters(values, "test"), Error);
  values.erase("extra");
  values["layers.0.bias"] = Tensor::zeros({5});
  EXPECT_THROW(b.load_parameters(values, "test"), Error);
}

TEST(Module, ToDtypeConvertsParametersInPlace) {
  Generator gen(0);
  Mlp mlp(MlpConfig{.hidden = {4}}, gen);
  const Tensor weight = mlp.named_parameters()[0].second;  // a handle held outside the module
  const std::vector<float> before = weight.to_vector<float>();
  const Tensor x = Tensor::full({2, 784}, 0.5);
  mlp.eval();
  const std::vector<float> y32 = mlp(x).to_vector<float>();
  mlp.to(DType::F64);
  EXPECT_EQ(weight.dtype(), DType::F64);
  const std::vector<double> after = weight.to_vector<double>();
  for (size_t i = 0; i < before.size(); ++i) EXPECT_EQ(after[i], static_cast<double>(before[i]));
  const std::vector<double> y64 = mlp(to_dtype(x, DType::F64)).to_vector<double>();
  for (size_t i = 0; i < y32.size(); ++i) EXPECT_NEAR(y64[i], y32[i], 1e-5);
  mlp.train();
  sum(mlp(to_dtype(x, DType::F64))).backward();
  EXPECT_EQ(weight.grad().dtype(), DType::F64);
}

TEST(DropoutModule, TrainScalesKeptUnitsAndEvalIsIdentity) {
  Generator gen(77);
  const auto layer = make_dropout_layer("dropout", 0.25, gen);
  const Tensor x = Tensor::full({100000}, 2.0);
  const std::vector<float> y = (*layer)(x).to_vector<float>();
  int64_t kept = 0;
  for (float v : y) {
    ASSERT_TRUE(v == 0.0f || std::abs(v - 2.0f / 0.75f) < 1e-6f) << v;
    kept += v != 0.0f;
  }
  EXPECT_NEAR(kept / 1e5, 0.75, 5 * std::sqrt(0.25 * 0.75 / 1e5));
  layer->eval();
  EXPECT_TRUE((*layer)(x).same(x));
  EXPECT_THROW(make_dropout_layer("dropout", -0.1, default_generator()), Error);
  EXPECT_THROW(make_dropout_layer("dropout", std::nan(""), default_generator()), Error);
  for (float v : (*make_dropout_layer("dropout", 1.0, gen))(x).to_vector<float>()) ASSERT_EQ(v, 0.0f);
}

TEST(DropoutModule, BackwardUsesTheForwardMask) {
  Generator gen(5);
  Tensor x = Tensor::full({1000}, 1.0);
  x.requires_grad_(true);
  const Tensor y = dropout(x, 0.5, true, gen);
  sum(y).backward();
  EXPECT_EQ(x.grad().to_vector<float>(), y.to_vector<float>());  // both are keep / (1 - p)
}

// loss = 0.5 * p^2 has gradient p: the trajectories below are worked out by hand.
TEST(SGD, MomentumNesterovAndWeightDecayFollowTorchFormulas) {
  auto run = [](SgdOptions o, int steps) {
    Tensor p = Tensor::full({1}, 1.0, DType::F64);
    p.requires_grad_(true);
    SGD opt({p}, o);
    for (int i = 0; i < steps; ++i) {
      opt.zero_grad();
      (p * p * 0.5).backward();
      opt.step();
    }
    return p.item();
  };
  // plain: p <- p (1 - lr)
  EXPECT_DOUBLE_EQ(run({.lr = 0.1}, 2), 0.81);
  // momentum 0.9: step 1 buf = 1, p = 0.9; step 2 buf = 0.9 + 0.9 = 1.8, p = 0.9 - 0.18 = 0.72
  EXPECT_DOUBLE_EQ(run({.lr = 0.1, .momentum = 0.9}, 2), 0.72);
  // nesterov: step 1 d = 1 + 0.9 = 1.9, p = 0.81; step 2 buf = 0.9 + 0.81 = 1.71, d = 0.81 + 1.539
  EXPECT_NEAR(run({.lr = 0.1, .momentum = 0.9, .nesterov = true}, 2), 0.81 - 0.1 * (0.81 + 0.9 * 1.71), 1e-15);
  // weight decay 0.5 adds 0.5 p to the gradient: p <- p (1 - 0.1 * 1.5)
  EXPECT_DOUBLE_EQ(run({.lr = 0.1, .weight_decay = 0.5}, 1), 0.85);
}

TEST(AdamW, FirstStepMovesByLrTimesSignAfterDecoupledDecay) {
  Tensor p = Tensor::from_vector(std::vector<double>{1.0, -2.0, 0.5}, {3});
  p.requires_grad_(true);
  AdamW opt({p}, {.lr = 0.01, .weight_decay = 0.1});
  (sum(p * p) * 0.5).backward();  // g = p
  opt.step();
  // m_hat = g, v_hat = g^2: the step is lr * g / (|g| + eps) after p *= 1 - lr * wd.
  const std::vector<double> got = p.to_vector<double>();
  const double start[] = {1.0, -2.0, 0.5};
  for (int i = 0; i < 3; ++i) {
    const double g = start[i];
    EXPECT_NEAR(got[i], start[i] * (1 - 0.01 * 0.1) - 0.01 * g / (std::abs(g) + 1e-8), 1e-15);
  }
}

TEST(Optimizers, RejectInvalidHyperParameters) {
  Tensor p = Tensor::zeros({2});
  p.requires_grad_(true);
  EXPECT_THROW(SGD({p}, {.lr = std::nan("")}), Error);
  EXPECT_THROW(SGD({p}, {.lr = -1}), Error);
  EXPECT_THROW(SGD({p}, {.momentum = -0.5}), Error);
  EXPECT_THROW(SGD({p}, {.momentum = 0.9, .dampening = 0.1, .nesterov = true}), Error);
  EXPECT_THROW(AdamW({p}, {.beta1 = 1.0}), Error);
  EXPECT_THROW(AdamW({p}, {.eps = std::nan("")}), Error);
  EXPECT_THROW(AdamW({}, {}), Error);
}

TEST(CosineSchedule, WarmupThenHalfCosine) {
  const CosineSchedule s(1.0, 110, 10);
  EXPECT_DOUBLE_EQ(s.lr_at(0), 0.1);
  EXPECT_DOUBLE_EQ(s.lr_at(9), 1.0);
  EXPECT_DOUBLE_EQ(s.lr_at(10), 1.0);
  EXPECT_NEAR(s.lr_at(60), 0.5, 1e-15);
  EXPECT_NEAR(s.lr_at(110), 0.0, 1e-15);
  EXPECT_THROW(CosineSchedule(std::nan(""), 10), Error);
  EXPECT_THROW(CosineSchedule(1.0, 10, 10), Error);
}

// End to end on a problem with a known answer: two Gaussian blobs are linearly separable, so
// a small MLP must fit them almost perfectly.
TEST(Training, MlpSeparatesTwoBlobs) {
  Generator data_gen(1), init_gen(2), drop_gen(3);
  const int64_t n = 512;
  std::vector<float> x(n * 2);
  std::vector<int64_t> y(n);
  for (int64_t i = 0; i < n; ++i) {
    y[i] = i % 2;
    const double centre = y[i] ? 1.5 : -1.5;
    x[i * 2] = static_cast<float>(centre + (data_gen.next_uniform() - 0.5));
    x[i * 2 + 1] = static_cast<float>(-centre + (data_gen.next_uniform() - 0.5));
  }
  const Tensor xs = Tensor::from_vector(x, {n, 2}), ys = Tensor::from_vector(y, {n});
  Mlp model(MlpConfig{.inputs = 2, .hidden = {16}, .classes = 2, .dropout = 0.1}, init_gen, drop_gen);
  AdamW opt(model.parameters(), {.lr = 0.05});
  double first_loss = 0, loss_value = 0;
  for (int step = 0; step < 60; ++step) {
    opt.zero_grad();
    const Tensor loss = cross_entropy(model(xs), ys);
    loss.backward();
    opt.step();
    loss_value = loss.item();
    if (step == 0) first_loss = loss_value;
  }
  EXPECT_LT(loss_value, first_loss / 5);
  model.eval();
  NoGradGuard no_grad;
  const std::vector<int64_t> pred = argmax(model(xs), 1).to_vector<int64_t>();
  int64_t correct = 0;
  for (int64_t i = 0; i < n; ++i) correct += pred[i] == y[i];
  EXPECT_EQ(correct, n);
}

}  // namespace
}  // namespace minidl
