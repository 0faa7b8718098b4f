// The autograd engine: accumulation, broadcasting, NoGradGuard, version counters, and a
// gradcheck that catches a wrong gradient.
#include <gtest/gtest.h>

#include "framework/autograd/gradcheck.h"
#include "framework/autograd/grad_mode.h"
#include "framework/autograd/node.h"
#include "framework/ops/ops.h"

namespace minidl {
namespace {

Tensor leaf(std::vector<double> v, Shape shape) {
  Tensor t = Tensor::from_vector(v, shape);
  t.requires_grad_(true);
  return t;
}

TEST(Autograd, ChainRuleAndFanInAccumulate) {
  // y = sum(x * x + 3x): dy/dx = 2x + 3, and x feeds three uses.
  const Tensor x = leaf({1, -2, 0.5}, {3});
  sum(x * x + x * 3.0).backward();
  EXPECT_EQ(x.grad().to_vector<double>(), (std::vector<double>{5, -1, 4}));
  // A second backward accumulates into .grad.
  sum(x * 2.0).backward();
  EXPECT_EQ(x.grad().to_vector<double>(), (std::vector<double>{7, 1, 6}));
}

TEST(Autograd, BroadcastGradientsAreSummedBack) {
  const Tensor a = leaf({1, 2, 3, 4, 5, 6}, {2, 3});
  const Tensor b = leaf({10, 20, 30}, {3});
  const Tensor c = leaf({2}, {});
  sum(a * b * c).backward();
  // d/db_j = c * sum_i a_ij; d/dc = sum a*b.
  EXPECT_EQ(b.grad().to_vector<double>(), (std::vector<double>{10, 14, 18}));
  EXPECT_EQ(c.grad().item(), 1 * 10 + 2 * 20 + 3 * 30 + 4 * 10 + 5 * 20 + 6 * 30);
  EXPECT_EQ(a.grad().shape(), (Shape{2, 3}));
}

TEST(Autograd, UnusedInputAndIntegerTargetGetNoGradient) {
  const Tensor x = leaf({0.5, -0.5, 1.0, 2.0}, {2, 2});
  const Tensor unused = leaf({1}, {1});
  const Tensor target = Tensor::from_vector(std::vector<int64_t>{1, 0}, {2});
  cross_entropy(x, target).backward();
  EXPECT_TRUE(x.grad().defined());
  EXPECT_FALSE(unused.grad().defined());
  EXPECT_FALSE(target.requires_grad());
}

TEST(Autograd, MaxSplitsTheGradientEvenlyAmongTies) {
  const Tensor x = leaf({1, 3, 3, 0, 2, 2, 2, 2}, {2, 4});
  sum(max(x, 1)).backward();
  EXPECT_EQ(x.grad().to_vector<double>(), (std::vector<double>{0, 0.5, 0.5, 0, 0.25, 0.25, 0.25, 0.25}));
}

TEST(Autograd, NoGradGuardStopsRecording) {
  const Tensor x = leaf({1, 2}, {2});
  {
    NoGradGuard guard;
    EXPECT_FALSE(grad_enabled());
    EXPECT_FALSE((x * 2.0).requires_grad());
  }
  EXPECT_TRUE(grad_enabled());
  EXPECT_TRUE((x * 2.0).requires_grad());
  EXPECT_FALSE(x.detach().requires_grad());
}

TEST(Autograd, InPlaceChangeOfSavedTensorIsAnError) {
  const Tensor x = leaf({1, 2, 3}, {3});
  const Tensor y = x * 1.0;
  const Tensor z = sum(exp(y));  // exp saves y and its output
  {
    NoGradGuard guard;
    fill_(y, 0.0);
  }
  try {
    z.backward();
    FAIL() << "backward used a tensor modified in place";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("modified in place"), std::string::npos) << e.what();
  }
}

TEST(Autograd, InPlaceWriteToLeafThatRequiresGradIsAnError) {
  const Tensor x = leaf({1, 2}, {2});
  EXPECT_THROW(fill_(x, 0.0), Error);
  NoGradGuard guard;
  EXPECT_NO_THROW(fill_(x, 0.0));
}

TEST(Autograd, BackwardErrors) {
  const Tensor x = leaf({1, 2}, {2});
  EXPECT_THROW((x * 2.0).backward(), Error);  // non-scalar without a gradient
  EXPECT_THROW(Tensor::zeros({1}).backward(), Error);  // no history
  EXPECT_THROW((Tensor::zeros({2}, DType::I64)).requires_grad_(true), Error);
}

TEST(Gradcheck, PassesForCorrectAndFailsForWrongGradient) {
  const Tensor x = Tensor::from_vector(std::vector<double>{0.3, -0.7, 1.1}, {3});
  EXPECT_TRUE(gradcheck([](const std::vector<Tensor>& in) { return tanh(in[0]) * in[0]; }, {x}).ok);
  // An op whose rule is deliberately off by a factor of 2.
  auto wrong = [](const std::vector<Tensor>& in) {
    Tensor out = in[0].detach() * in[0].detach();
    record_op("wrong_square", {in[0]}, out, {in[0]},
              [](const Tensor& g, const std::vector<Tensor>& s) { return std::vector<Tensor>{g * s[0]}; });
    return out;
  };
  const GradcheckResult r = gradcheck(wrong, {x});
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.message.find("input 0"), std::string::npos) << r.message;
}

TEST(Gradcheck, RejectsF32AndExpandedInputs) {
  auto f = [](const std::vector<Tensor>& in) { return in[0] * 2.0; };
  EXPECT_THROW(gradcheck(f, {Tensor::zeros({2})}), Error);
  EXPECT_THROW(gradcheck(f, {expand(Tensor::zeros({1}, DType::F64), {3})}), Error);
}

}  // namespace
}  // namespace minidl
