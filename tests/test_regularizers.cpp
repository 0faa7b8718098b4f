// The training-step regularizers (framework/regularize/regularizers.h): each shows its defining
// property against a closed form or an independent computation.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "framework/autograd/grad_mode.h"
#include "framework/nn/layers.h"
#include "framework/ops/ops.h"
#include "framework/optim/optimizers.h"
#include "framework/regularize/regularizers.h"

namespace minidl {
namespace {

std::shared_ptr<Sequential> small_mlp(uint64_t seed) {
  Generator gen(seed);
  auto model = std::make_shared<Sequential>();
  model->add(std::make_shared<Linear>(6, 5, true, gen));
  model->add(std::make_shared<ReLU>());
  model->add(std::make_shared<Linear>(5, 5, true, gen));
  return model;
}

Tensor batch(uint64_t seed, DType dtype = DType::F32) {
  Generator gen(seed, 4);
  return to_dtype(add(mul(rand({8, 6}, DType::F64, kCPU, gen), 4.0), -2.0), dtype);
}

const Tensor kTargets = Tensor::from_vector(std::vector<int64_t>{0, 1, 2, 3, 4, 0, 1, 2}, {8});

// Label smoothing: loss and gradient against the smoothed target q = (1 - eps) onehot + eps / C.
TEST(Regularizers, LabelSmoothingMatchesTheSmoothedTargetDistribution) {
  const double eps = 0.2;
  Tensor logits = batch(1, DType::F64);
  logits = slice(logits, 1, 0, 5).detach().requires_grad_(true);
  const Tensor loss = cross_entropy(logits, kTargets, eps);
  loss.backward();
  const std::vector<double> z = logits.to_vector<double>(), g = logits.grad().to_vector<double>();
  const std::vector<int64_t> t = kTargets.to_vector<int64_t>();
  double expected = 0;
  for (int r = 0; r < 8; ++r) {
    double norm = 0;
    for (int c = 0; c < 5; ++c) norm += std::exp(z[r * 5 + c]);
    for (int c = 0; c < 5; ++c) {
      const double q = (c == t[r] ? 1 - eps : 0) + eps / 5, p = std::exp(z[r * 5 + c]) / norm;
      expected -= q * std::log(p) / 8;
      EXPECT_NEAR(g[r * 5 + c], (p - q) / 8, 1e-12);
    }
  }
  EXPECT_NEAR(loss.item(), expected, 1e-12);
  EXPECT_EQ(make_regularizer("label-smoothing:0.1")->label_smoothing(), 0.1);
  EXPECT_THROW(cross_entropy(logits, kTargets, 1.5), Error);
}

// Max-norm: after every step, every row (a unit's incoming weights) has norm <= c.
TEST(Regularizers, MaxNormKeepsEveryRowNormWithinC) {
  auto model = small_mlp(2);
  const double c = 0.5;
  auto reg = make_regularizer("max-norm:0.5");
  SGD sgd(model->parameters(), SgdOptions{.lr = 1.0});
  bool clipped = false;
  for (int step = 0; step < 5; ++step) {
    sgd.zero_grad();
    cross_entropy((*model)(batch(10 + step)), kTargets).backward();
    sgd.step();
    reg->after_step(*model, 1.0);
    for (const Tensor& w : weight_matrices(*model)) {
      const std::vector<float> v = w.to_vector<float>();
      const int64_t cols = w.size(1);
      for (int64_t r = 0; r < w.size(0); ++r) {
        double norm = 0;
        for (int64_t k = 0; k < cols; ++k) norm += double(v[r * cols + k]) * v[r * cols + k];
        EXPECT_LE(std::sqrt(norm), c * (1 + 1e-6)) << "step " << step << " row " << r;
        clipped = clipped || std::abs(std::sqrt(norm) - c) < 1e-5;
      }
    }
  }
  EXPECT_TRUE(clipped) << "lr 1 must push some row past c, or the test shows nothing";
  EXPECT_THROW(make_regularizer("max-norm:0"), Error);
}

// Decoupled weight decay with zero gradients shrinks weights geometrically: w_k = w_0 (1 - lr lambda)^k.
TEST(Regularizers, WeightDecayShrinksWeightsGeometrically) {
  auto model = small_mlp(3);
  const std::vector<float> w0 = weight_matrices(*model)[0].to_vector<float>();
  auto reg = make_regularizer("weight-decay:0.1");
  for (int k = 0; k < 4; ++k) reg->after_step(*model, 0.5);
  const std::vector<float> w4 = weight_matrices(*model)[0].to_vector<float>();
  for (size_t i = 0; i < w0.size(); ++i) EXPECT_NEAR(w4[i], w0[i] * std::pow(0.95, 4), 1e-6) << i;
}

// The L2 penalty's gradient is lambda * w; the L1 penalty's is lambda * sign(w).
TEST(Regularizers, L2AndL1PenaltiesHaveTheirClosedFormGradients) {
  for (const char* spec : {"l2:0.3", "l1:0.3"}) {
    auto model = small_mlp(4);
    auto reg = make_regularizer(spec);
    reg->penalty(*model).backward();
    for (const Tensor& w : weight_matrices(*model)) {
      const std::vector<float> v = w.to_vector<float>(), g = w.grad().to_vector<float>();
      for (size_t i = 0; i < v.size(); ++i) {
        const double want = spec[1] == '2' ? 0.3 * v[i] : 0.3 * (v[i] > 0 ? 1 : -1);
        EXPECT_NEAR(g[i], want, 1e-6) << spec << " element " << i;
      }
    }
    for (const auto& [name, p] : model->named_parameters())
      if (p.dim() == 1) {
        EXPECT_FALSE(p.grad().defined()) << spec << ": biases are not penalized (" << name << ")";
      }
  }
}

TEST(Regularizers, ActivationL1PenalizesTheMeanAbsoluteReluOutput) {
  auto model = small_mlp(5);
  auto reg = make_regularizer("activation-l1:0.7");
  reg->attach(*model);
  const Tensor x = batch(6);
  (void)(*model)(x);
  // The ReLU output recomputed by hand: relu(x W^T + b) of the first layer.
  const auto params = model->named_parameters();
  const std::vector<float> h = relu(add(matmul(x, transpose(params[0].second, 0, 1)), params[1].second)).to_vector<float>();
  double mean_abs = 0;
  for (float v : h) mean_abs += std::abs(v) / h.size();
  EXPECT_NEAR(reg->penalty(*model).item(), 0.7 * mean_abs, 1e-6);
  EXPECT_FALSE(reg->penalty(*model).defined()) << "activations are consumed by one penalty";
}

// Weight noise: the forward pass sees noisy weights; after backward the clean weights are back.
TEST(Regularizers, WeightNoisePerturbsTheForwardPassAndRestoresTheWeights) {
  auto model = small_mlp(7);
  const std::vector<float> clean = weight_matrices(*model)[0].to_vector<float>();
  const Tensor clean_out = (*model)(batch(8));
  auto reg = make_regularizer("weight-noise:0.1");
  Generator gen(9);
  reg->before_forward(*model, gen);
  const std::vector<float> noisy = weight_matrices(*model)[0].to_vector<float>();
  double moved = 0;
  for (size_t i = 0; i < clean.size(); ++i) moved += (noisy[i] - clean[i]) * (noisy[i] - clean[i]);
  // The noise's sample standard deviation, 30 draws: within a factor 2 of sigma.
  EXPECT_NEAR(std::sqrt(moved / clean.size()), 0.1, 0.05);
  cross_entropy((*model)(batch(8)), kTargets).backward();
  reg->after_backward(*model);
  EXPECT_EQ(weight_matrices(*model)[0].to_vector<float>(), clean);
  EXPECT_TRUE(weight_matrices(*model)[0].grad().defined());
}

TEST(Regularizers, InputNoiseAddsNoiseOfStandardDeviationSigma) {
  auto reg = make_regularizer("input-noise:0.25");
  Generator gen(10);
  const int64_t n = 1 << 16;
  const std::vector<double> y = reg->transform_input(Tensor::zeros({n}, DType::F64), gen).to_vector<double>();
  double var = 0;
  for (double v : y) var += v * v / n;
  // The sample variance of n normals has standard error sigma^2 sqrt(2 / n).
  EXPECT_NEAR(var, 0.0625, 5 * 0.0625 * std::sqrt(2.0 / n));
}

TEST(Regularizers, EarlyStoppingStopsAfterPatienceAndRestoresTheBestParameters) {
  auto model = small_mlp(11);
  auto reg = make_regularizer("early-stopping:2,0.01");
  const std::vector<float> at_best = model->parameters()[0].to_vector<float>();
  EXPECT_FALSE(reg->after_evaluation(*model, 3.0));
  EXPECT_FALSE(reg->after_evaluation(*model, 2.0));  // the best
  const std::vector<float> best = model->parameters()[0].to_vector<float>();
  EXPECT_EQ(best, at_best);
  {
    NoGradGuard no_grad;
    fill_(model->parameters()[0], 9.0);  // training moves on
  }
  EXPECT_FALSE(reg->after_evaluation(*model, 1.995)); // not better by more than min_delta
  EXPECT_TRUE(reg->after_evaluation(*model, 2.5));    // second evaluation without improvement
  EXPECT_EQ(model->parameters()[0].to_vector<float>(), best);
}

TEST(Regularizers, TiedParametersStayEqualAndShareTheirGradient) {
  auto model = small_mlp(12);
  auto reg = make_regularizer("tie:0.bias,2.bias");
  reg->attach(*model);
  const auto params = model->named_parameters();
  const Tensor a = params[1].second, b = params[3].second;
  EXPECT_EQ(a.to_vector<float>(), b.to_vector<float>());
  SGD sgd(model->parameters(), SgdOptions{.lr = 0.1, .momentum = 0.9});
  for (int step = 0; step < 3; ++step) {
    sgd.zero_grad();
    cross_entropy((*model)(batch(20 + step)), kTargets).backward();
    const std::vector<float> ga = a.grad().to_vector<float>(), gb = b.grad().to_vector<float>();
    reg->after_backward(*model);
    const std::vector<float> sum = a.grad().to_vector<float>();
    for (size_t i = 0; i < sum.size(); ++i) EXPECT_FLOAT_EQ(sum[i], ga[i] + gb[i]);
    EXPECT_EQ(b.grad().to_vector<float>(), sum);
    sgd.step();
    EXPECT_EQ(a.to_vector<float>(), b.to_vector<float>()) << "step " << step;
  }
  EXPECT_THROW(make_regularizer("tie:0.bias,0.weight")->attach(*model), Error);  // shapes differ
  EXPECT_THROW(make_regularizer("tie:0.bias,nope")->attach(*model), Error);
}

TEST(Regularizers, RegistryRejectsBadSpecsWithClearErrors) {
  auto message = [](const std::string& spec) {
    try {
      make_regularizer(spec);
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_NE(message("nonsense:1").find("unknown regularizer 'nonsense'"), std::string::npos);
  EXPECT_NE(message("l2").find("expected l2:lambda"), std::string::npos);
  EXPECT_NE(message("l2:abc").find("'abc' is not a number"), std::string::npos);
  EXPECT_NE(message("l2:nan").find("must be finite"), std::string::npos);
  EXPECT_NE(message("l2:1,2").find("expected l2:lambda"), std::string::npos);
  EXPECT_NE(message("early-stopping:1.5").find("whole number"), std::string::npos);
  EXPECT_NE(message("label-smoothing:2").find("outside [0, 1]"), std::string::npos);
}

}  // namespace
}  // namespace minidl
