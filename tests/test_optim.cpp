// The optimizers against torch.optim and, for Lion and LAMB, the papers' rules: parameter
// trajectories precomputed by tools/optim_reference.py (tests/data/optim_reference.json), to
// 1e-10 relative in f64; every optimizer on the emulated CUDA device against the CPU; per-parameter
// state; hyper-parameter validation; gradient clipping against hand-computed values.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "framework/ops/ops.h"
#include "framework/optim/clip.h"
#include "framework/optim/optimizers.h"
#include "tests/file_checks.h"

namespace minidl {
namespace {

using nlohmann::json;

const json& reference() {
  static const json doc = [] {
    const std::string path = std::string(MINIDL_TEST_DATA_DIR) + "/optim_reference.json";
    std::ifstream in(path);
    if (!in) throw std::runtime_error("cannot read " + path + " (written by tools/optim_reference.py)");
    return json::parse(in);
  }();
  return doc;
}

// A case's settings, read into an options struct. Every key must be read, so a setting the test
// does not pass on fails the test instead of being ignored.
class Settings {
 public:
  explicit Settings(const json& settings) : settings_(settings) {}
  template <typename V>
  void read(const char* key, V& field) {
    if (!settings_.contains(key)) return;
    field = settings_.at(key).get<V>();
    read_.insert(key);
  }
  std::vector<std::string> unread() const {
    std::vector<std::string> keys;
    for (const auto& [key, value] : settings_.items())
      if (!read_.count(key)) keys.push_back(key);
    return keys;
  }

 private:
  const json& settings_;
  std::set<std::string> read_;
};

using Factory = std::function<std::unique_ptr<Optimizer>(std::vector<Tensor>, Settings&)>;

template <typename Opt, typename Options, typename ReadFields>
Factory factory(ReadFields read_fields) {
  return [read_fields](std::vector<Tensor> params, Settings& s) -> std::unique_ptr<Optimizer> {
    Options o;
    read_fields(s, o);
    return std::make_unique<Opt>(std::move(params), o);
  };
}

// Adam-style options: lr, betas, eps, weight decay.
template <typename Options>
void read_adam_like(Settings& s, Options& o) {
  s.read("lr", o.lr);
  s.read("beta1", o.beta1);
  s.read("beta2", o.beta2);
  s.read("eps", o.eps);
  s.read("weight_decay", o.weight_decay);
}

// Every optimizer, by the reference file's names. A new optimizer belongs here and in
// tools/optim_reference.py: ReferenceCoverage fails until both have it.
const std::map<std::string, Factory>& factories() {
  static const std::map<std::string, Factory> table = {
      {"sgd", factory<SGD, SgdOptions>([](Settings& s, SgdOptions& o) {
         s.read("lr", o.lr);
         s.read("momentum", o.momentum);
         s.read("dampening", o.dampening);
         s.read("weight_decay", o.weight_decay);
         s.read("nesterov", o.nesterov);
       })},
      {"adam", factory<Adam, AdamOptions>([](Settings& s, AdamOptions& o) {
         read_adam_like(s, o);
         s.read("amsgrad", o.amsgrad);
       })},
      {"adamw", factory<AdamW, AdamWOptions>([](Settings& s, AdamWOptions& o) {
         read_adam_like(s, o);
         s.read("amsgrad", o.amsgrad);
       })},
      {"adagrad", factory<Adagrad, AdagradOptions>([](Settings& s, AdagradOptions& o) {
         s.read("lr", o.lr);
         s.read("lr_decay", o.lr_decay);
         s.read("weight_decay", o.weight_decay);
         s.read("initial_accumulator_value", o.initial_accumulator_value);
         s.read("eps", o.eps);
       })},
      {"adadelta", factory<Adadelta, AdadeltaOptions>([](Settings& s, AdadeltaOptions& o) {
         s.read("lr", o.lr);
         s.read("rho", o.rho);
         s.read("eps", o.eps);
         s.read("weight_decay", o.weight_decay);
       })},
      {"rmsprop", factory<RMSprop, RmspropOptions>([](Settings& s, RmspropOptions& o) {
         s.read("lr", o.lr);
         s.read("alpha", o.alpha);
         s.read("eps", o.eps);
         s.read("weight_decay", o.weight_decay);
         s.read("momentum", o.momentum);
         s.read("centered", o.centered);
       })},
      {"adamax", factory<Adamax, AdamaxOptions>(read_adam_like<AdamaxOptions>)},
      {"nadam", factory<NAdam, NadamOptions>([](Settings& s, NadamOptions& o) {
         read_adam_like(s, o);
         s.read("momentum_decay", o.momentum_decay);
       })},
      {"radam", factory<RAdam, RadamOptions>(read_adam_like<RadamOptions>)},
      {"lion", factory<Lion, LionOptions>([](Settings& s, LionOptions& o) {
         s.read("lr", o.lr);
         s.read("beta1", o.beta1);
         s.read("beta2", o.beta2);
         s.read("weight_decay", o.weight_decay);
       })},
      {"lamb", factory<Lamb, LambOptions>(read_adam_like<LambOptions>)},
  };
  return table;
}

std::vector<std::string> optimizer_names() {
  std::vector<std::string> names;
  for (const auto& [name, f] : factories()) names.push_back(name);
  return names;
}

// The reference cases of one optimizer.
std::vector<json> cases_of(const std::string& name) {
  std::vector<json> cases;
  for (const json& c : reference().at("cases"))
    if (c.at("optimizer") == name) cases.push_back(c);
  return cases;
}

std::unique_ptr<Optimizer> make(const std::string& name, std::vector<Tensor> params, const json& settings) {
  Settings s(settings);
  std::unique_ptr<Optimizer> opt = factories().at(name)(std::move(params), s);
  EXPECT_TRUE(s.unread().empty()) << name << ": settings the test does not apply: " << json(s.unread()).dump();
  return opt;
}

Shape shape_of(const json& j) { return j.get<std::vector<int64_t>>(); }

TEST(ReferenceCoverage, EveryOptimizerHasCasesAndEveryCaseAnOptimizer) {
  std::set<std::string> in_file;
  for (const json& c : reference().at("cases")) in_file.insert(c.at("optimizer").get<std::string>());
  for (const std::string& name : optimizer_names())
    EXPECT_TRUE(in_file.count(name)) << name
                                     << " has no case in optim_reference.json: add it to tools/optim_reference.py";
  for (const std::string& name : in_file)
    EXPECT_TRUE(factories().count(name)) << "optim_reference.json has cases of " << name << ", which this test lacks";
}

class ReferenceTrajectory : public ::testing::TestWithParam<std::string> {};

// Each case: the fixed problem's parameters in f64, the recorded gradients (none where null), and
// after every step each parameter within 1e-10 relative of the reference.
TEST_P(ReferenceTrajectory, MatchesTorchOrThePaper) {
  const std::string name = GetParam();
  const json& problem = reference().at("problem");
  const std::vector<json> cases = cases_of(name);
  ASSERT_FALSE(cases.empty()) << name << " has no reference case";
  for (const json& c : cases) {
    SCOPED_TRACE(name + " " + c.at("settings").dump());
    std::vector<Tensor> params;
    for (size_t t = 0; t < problem.at("shapes").size(); ++t) {
      params.push_back(Tensor::from_vector(problem.at("initial")[t].get<std::vector<double>>(),
                                           shape_of(problem.at("shapes")[t])));
      params.back().requires_grad_(true);
    }
    std::unique_ptr<Optimizer> opt = make(name, params, c.at("settings"));
    const json& trajectory = c.at("trajectory");
    ASSERT_EQ(trajectory.size(), problem.at("gradients").size());
    for (size_t step = 0; step < trajectory.size(); ++step) {
      for (size_t t = 0; t < params.size(); ++t) {
        const json& g = problem.at("gradients")[step][t];
        params[t].set_grad(g.is_null() ? Tensor()
                                       : Tensor::from_vector(g.get<std::vector<double>>(), params[t].shape()));
      }
      opt->step();
      for (size_t t = 0; t < params.size(); ++t) {
        const std::vector<double> got = params[t].to_vector<double>();
        const std::vector<double> want = trajectory[step][t].get<std::vector<double>>();
        ASSERT_EQ(got.size(), want.size());
        for (size_t i = 0; i < got.size(); ++i)
          ASSERT_LE(std::fabs(got[i] - want[i]), 1e-10 * std::fabs(want[i]) + 1e-14)
              << "step " << step + 1 << ", tensor " << t << ", element " << i << ": got " << got[i] << ", want "
              << want[i];
      }
    }
  }
}

std::string optimizer_param_name(const ::testing::TestParamInfo<std::string>& param) { return param.param; }

INSTANTIATE_TEST_SUITE_P(Optimizers, ReferenceTrajectory, ::testing::ValuesIn(optimizer_names()),
                         optimizer_param_name);

// ---- the emulated CUDA device against the CPU

// Values of a deterministic sequence in about [-2, 2]; every 7th exactly 0.
std::vector<double> wave(int64_t n, double phase) {
  std::vector<double> v(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) v[i] = i % 7 == 3 ? 0.0 : 2 * std::sin(0.731 * static_cast<double>(i) + phase);
  return v;
}

// Every reference setting of one optimizer, in f32 and f64, on tensors of two chunks, one element
// and a few, for four steps (tensor 1 skipping step 2), on cuda-emu and on the CPU. Elementwise
// rules match bit for bit. LAMB's trust ratio sums in another order (within 4e-12 relative,
// tests/test_parity_optim.cpp); since |trust * r_i| <= ||p||, each step's update then differs by at
// most (4e-12 + 2u) lr ||p||, plus the rounding of p (u |p|), u the unit roundoff of the dtype.
class OptimizerEmulatedCuda : public ::testing::TestWithParam<std::string> {};

TEST_P(OptimizerEmulatedCuda, MatchesCpu) {
  const std::string name = GetParam();
  const Device emu = Device::parse("cuda-emu");
  const std::vector<Shape> shapes = {{70, 300}, {1}, {3, 5}};
  constexpr int kSteps = 4;
  for (const json& c : cases_of(name)) {
    for (DType dtype : {DType::F32, DType::F64}) {
      SCOPED_TRACE(name + " " + c.at("settings").dump() + " " + std::string(dtype_name(dtype)));
      std::vector<Tensor> on_cpu, on_emu;
      double largest_norm = 0;
      for (size_t t = 0; t < shapes.size(); ++t) {
        const Tensor values = to_dtype(Tensor::from_vector(wave(shape_numel(shapes[t]), 0.1 * t), shapes[t]), dtype);
        on_cpu.push_back(clone(values));
        on_emu.push_back(to_device(values, emu));
        largest_norm = std::max(largest_norm, std::sqrt(sum(values * values).item()));
      }
      for (Tensor& p : on_cpu) p.requires_grad_(true);
      for (Tensor& p : on_emu) p.requires_grad_(true);
      std::unique_ptr<Optimizer> cpu_opt = make(name, on_cpu, c.at("settings"));
      std::unique_ptr<Optimizer> emu_opt = make(name, on_emu, c.at("settings"));
      for (int step = 1; step <= kSteps; ++step) {
        for (size_t t = 0; t < shapes.size(); ++t) {
          const bool skipped = t == 1 && step == 2;
          const Tensor g =
              to_dtype(Tensor::from_vector(wave(shape_numel(shapes[t]), 1.3 * step + t), shapes[t]), dtype);
          on_cpu[t].set_grad(skipped ? Tensor() : g);
          on_emu[t].set_grad(skipped ? Tensor() : to_device(g, emu));
        }
        cpu_opt->step();
        emu_opt->step();
      }
      const double u = dtype == DType::F32 ? 0x1p-24 : 0x1p-53;
      for (size_t t = 0; t < shapes.size(); ++t) {
        const std::vector<double> want = on_cpu[t].to_vector<double>(), got = on_emu[t].to_vector<double>();
        for (size_t i = 0; i < want.size(); ++i) {
          if (name == "lamb") {
            const double lr = c.at("settings").value("lr", LambOptions{}.lr);
            const double bound = kSteps * ((4e-12 + 2 * u) * lr * 2 * largest_norm + u * 2 * std::fabs(want[i]));
            ASSERT_LE(std::fabs(got[i] - want[i]), bound) << "tensor " << t << " element " << i;
          } else {
            ASSERT_EQ(got[i], want[i]) << "tensor " << t << " element " << i;
          }
        }
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Optimizers, OptimizerEmulatedCuda, ::testing::ValuesIn(optimizer_names()),
                         optimizer_param_name);

// ---- per-parameter state

TEST(OptimizerState, StepsCountPerParameterAndBuffersFollowTheConfiguration) {
  Tensor a = Tensor::zeros({2}, DType::F64), b = Tensor::zeros({3}, DType::F64);
  a.requires_grad_(true);
  b.requires_grad_(true);
  Adam adam({a, b}, {.amsgrad = true});
  EXPECT_EQ(adam.state_names()[2], "max_exp_avg_sq");
  EXPECT_FALSE(adam.param_state(0)[0].defined());  // nothing before the first step
  a.set_grad(Tensor::full({2}, 1.0, DType::F64));
  adam.step();
  b.set_grad(Tensor::full({3}, 1.0, DType::F64));
  adam.step();
  EXPECT_EQ(adam.param_steps(0), 2);
  EXPECT_EQ(adam.param_steps(1), 1);
  EXPECT_TRUE(adam.param_state(1)[2].defined());
  EXPECT_EQ(RMSprop({a}, {.momentum = 0.5}).state_names(),
            (std::array<std::string, kMaxOptimizerState>{"square_avg", "momentum_buffer", ""}));
}

TEST(OptimizerState, AdagradSumStartsAtTheInitialAccumulatorValue) {
  Tensor p = Tensor::zeros({2}, DType::F64);
  p.requires_grad_(true);
  Adagrad opt({p}, {.lr = 0.1, .initial_accumulator_value = 0.5});
  p.set_grad(Tensor::from_vector(std::vector<double>{1.0, -2.0}, {2}));
  opt.step();
  EXPECT_EQ(opt.param_state(0)[0].to_vector<double>(), (std::vector<double>{1.5, 4.5}));
}

// ||p|| = 0: the trust ratio is 1 and the step is lr * r, r = m_hat / (sqrt(v_hat) + eps) = g / (|g| + eps).
TEST(OptimizerState, LambTrustRatioIsOneForAZeroParameter) {
  Tensor p = Tensor::zeros({2}, DType::F64);
  p.requires_grad_(true);
  Lamb opt({p}, {.lr = 0.1});
  p.set_grad(Tensor::from_vector(std::vector<double>{1.0, -2.0}, {2}));
  opt.step();
  const std::vector<double> got = p.to_vector<double>();
  EXPECT_NEAR(got[0], -0.1 * 1.0 / (1.0 + 1e-6), 1e-15);
  EXPECT_NEAR(got[1], -0.1 * -2.0 / (2.0 + 1e-6), 1e-15);
}

// ---- hyper-parameter validation

TEST(OptimizerValidation, InvalidHyperParametersNameTheValueAndTheRange) {
  Tensor p = Tensor::zeros({2});
  p.requires_grad_(true);
  const double nan = std::nan(""), inf = INFINITY;
  const std::vector<Tensor> ps = {p};
  expect_error([&] { SGD(ps, {.lr = nan}); }, "SGD: lr = nan is invalid: expected a finite value >= 0");
  expect_error([&] { SGD(ps, {.lr = -1}); }, "SGD: lr = -1 is invalid");
  expect_error([&] { SGD(ps, {.momentum = -0.5}); }, "SGD: momentum = -0.5 is invalid: expected a finite value >= 0");
  expect_error([&] { SGD(ps, {.dampening = 1.5}); }, "SGD: dampening = 1.5 is invalid: expected a value in [0, 1]");
  expect_error([&] { SGD(ps, {.momentum = 0.9, .dampening = 0.1, .nesterov = true}); }, "Nesterov momentum needs");
  expect_error([&] { Adam(ps, {.beta2 = 1}); }, "Adam: beta2 = 1 is invalid: expected a value in [0, 1)");
  expect_error([&] { Adam(ps, {.beta1 = nan}); }, "Adam: beta1 = nan is invalid");
  expect_error([&] { AdamW(ps, {.eps = nan}); }, "AdamW: eps = nan is invalid");
  expect_error([&] { AdamW(ps, {.weight_decay = -0.1}); }, "AdamW: weight_decay = -0.1 is invalid");
  expect_error([&] { Adagrad(ps, {.lr_decay = -1}); }, "Adagrad: lr_decay = -1 is invalid");
  expect_error([&] { Adagrad(ps, {.initial_accumulator_value = nan}); }, "Adagrad: initial_accumulator_value = nan");
  expect_error([&] { Adadelta(ps, {.rho = 1.5}); }, "Adadelta: rho = 1.5 is invalid: expected a value in [0, 1]");
  expect_error([&] { RMSprop(ps, {.alpha = nan}); }, "RMSprop: alpha = nan is invalid: expected a value in [0, 1]");
  expect_error([&] { RMSprop(ps, {.momentum = -1}); }, "RMSprop: momentum = -1 is invalid");
  expect_error([&] { Adamax(ps, {.beta1 = -0.1}); }, "Adamax: beta1 = -0.1 is invalid: expected a value in [0, 1)");
  expect_error([&] { NAdam(ps, {.momentum_decay = nan}); }, "NAdam: momentum_decay = nan is invalid");
  expect_error([&] { RAdam(ps, {.weight_decay = inf}); },
               "RAdam: weight_decay = inf is invalid: expected a finite value");
  expect_error([&] { Lion(ps, {.beta1 = 1}); }, "Lion: beta1 = 1 is invalid: expected a value in [0, 1)");
  expect_error([&] { Lamb(ps, {.eps = -1}); }, "LAMB: eps = -1 is invalid");
  expect_error([&] { Lamb({}, {}); }, "LAMB: the parameter list is empty");
  expect_error([&] { Adam(ps).set_lr(nan); }, "Adam: lr = nan is invalid");
}

TEST(OptimizerValidation, AGradientOfAnotherShapeIsAnErrorAndChangesNothing) {
  Tensor p = Tensor::zeros({2}, DType::F64);
  p.requires_grad_(true);
  Adam opt({p});
  p.set_grad(Tensor::zeros({3}, DType::F64));
  expect_error([&] { opt.step(); }, "Adam: parameter 0 (f64[2] on cpu) has a gradient f64[3] on cpu");
  EXPECT_EQ(opt.param_steps(0), 0);
}

// ---- gradient clipping

Tensor param_with_grad(const std::vector<double>& grad) {
  Tensor p = Tensor::zeros({static_cast<int64_t>(grad.size())}, DType::F64);
  p.requires_grad_(true);
  p.set_grad(Tensor::from_vector(grad, {static_cast<int64_t>(grad.size())}));
  return p;
}

// Gradients (3, 4) and (12): total 2-norm sqrt(9 + 16 + 144) = 13, inf-norm 12.
TEST(ClipGradNorm, ScalesByMaxNormOverTheTotalNorm) {
  const Tensor a = param_with_grad({3, -4}), b = param_with_grad({12}), none = Tensor::zeros({1}, DType::F64);
  const Tensor held = a.grad();
  EXPECT_DOUBLE_EQ(clip_grad_norm_({a, none, b}, 6.5), 13.0);
  const double c = 6.5 / (13 + 1e-6);
  EXPECT_EQ(a.grad().to_vector<double>(), (std::vector<double>{3 * c, -4 * c}));
  EXPECT_EQ(b.grad().to_vector<double>(), (std::vector<double>{12 * c}));
  EXPECT_EQ(held.to_vector<double>(), (std::vector<double>{3, -4}));  // out of place: a held gradient keeps its values
}

TEST(ClipGradNorm, InfNormAndNoClippingBelowMaxNorm) {
  const Tensor a = param_with_grad({3, -4}), b = param_with_grad({-12});
  EXPECT_DOUBLE_EQ(clip_grad_norm_({a, b}, 6, INFINITY), 12.0);
  const double c = 6 / (12 + 1e-6);
  EXPECT_EQ(b.grad().to_vector<double>(), (std::vector<double>{-12 * c}));
  const Tensor before = a.grad();
  EXPECT_DOUBLE_EQ(clip_grad_norm_({a}, 100), 4 * c * 5 / 4);  // ||(3c, -4c)|| = 5c
  EXPECT_TRUE(a.grad().same(before));                             // coefficient >= 1: untouched
  EXPECT_EQ(clip_grad_norm_({Tensor::zeros({1})}, 1.0), 0.0);     // no gradients at all
}

TEST(ClipGradNorm, NanGradientMakesEveryGradientNan) {
  const Tensor a = param_with_grad({1, std::nan("")}), b = param_with_grad({2});
  EXPECT_TRUE(std::isnan(clip_grad_norm_({a, b}, 1.0)));
  EXPECT_TRUE(std::isnan(b.grad().item()));
}

TEST(ClipGradValue, ClampsIntoTheRange) {
  const Tensor a = param_with_grad({-3, 0.5, 7, -1});
  clip_grad_value_({a}, 1.0);
  EXPECT_EQ(a.grad().to_vector<double>(), (std::vector<double>{-1, 0.5, 1, -1}));
}

TEST(ClipValidation, RejectsInvalidArguments) {
  const Tensor a = param_with_grad({1});
  expect_error([&] { clip_grad_norm_({a}, std::nan("")); }, "clip_grad_norm_: max_norm = nan is invalid");
  expect_error([&] { clip_grad_norm_({a}, -1); }, "clip_grad_norm_: max_norm = -1 is invalid: expected a value >= 0");
  expect_error([&] { clip_grad_norm_({a}, 1, 1); },
               "clip_grad_norm_: norm_type = 1 is not supported: expected 2 or inf");
  expect_error([&] { clip_grad_value_({a}, -0.5); }, "clip_grad_value_: clip_value = -0.5 is invalid");
  expect_error([&] { clip_grad_value_({a}, std::nan("")); }, "clip_grad_value_: clip_value = nan is invalid");
}

// On cuda-emu: by value bit for bit; by norm the total within 4e-12 relative (a chunk's sum of
// squares is reordered), so the coefficient within that plus its rounding to the dtype.
TEST(ClipEmulatedCuda, MatchesCpu) {
  const Device emu = Device::parse("cuda-emu");
  const std::vector<int64_t> sizes = {40000, 3, 0};
  for (DType dtype : {DType::F32, DType::F64}) {
    std::vector<Tensor> cpu_params, emu_params;
    for (int64_t n : sizes) {
      cpu_params.push_back(Tensor::zeros({n}, dtype));
      emu_params.push_back(Tensor::zeros({n}, dtype, emu));
    }
    auto set_grads = [&] {
      for (size_t k = 0; k < sizes.size(); ++k) {
        const Tensor g = to_dtype(Tensor::from_vector(wave(sizes[k], 0.5), {sizes[k]}), dtype);
        cpu_params[k].set_grad(g);
        emu_params[k].set_grad(to_device(g, emu));
      }
    };
    set_grads();
    const double u = dtype == DType::F32 ? 0x1p-24 : 0x1p-53;
    const double want = clip_grad_norm_(cpu_params, 10), got = clip_grad_norm_(emu_params, 10);
    EXPECT_LE(std::fabs(got - want), 4e-12 * want);
    for (size_t k = 0; k < sizes.size(); ++k) {
      const std::vector<double> w = cpu_params[k].grad().to_vector<double>();
      const std::vector<double> e = emu_params[k].grad().to_vector<double>();
      for (size_t i = 0; i < w.size(); ++i) ASSERT_LE(std::fabs(e[i] - w[i]), (4e-12 + 2 * u) * std::fabs(w[i]));
    }
    set_grads();
    clip_grad_value_(cpu_params, 0.5);
    clip_grad_value_(emu_params, 0.5);
    for (size_t k = 0; k < sizes.size(); ++k)
      EXPECT_EQ(cpu_params[k].grad().to_vector<double>(), emu_params[k].grad().to_vector<double>());
  }
}

}  // namespace
}  // namespace minidl
