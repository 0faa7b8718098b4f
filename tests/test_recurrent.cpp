// The LSTM layer and the LSTM language model: the layer against plain f64 loops, its gradients
// (with and without fixed dropout masks), the variational masks (the same at every step, at their
// keep rate), zoneout's limits, the emulated CUDA kernels against the CPU over the launch policies
// (masks bit for bit), a tiny LM learning a periodic text, and model files.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "framework/autograd/gradcheck.h"
#include "framework/io/text_corpus.h"
#include "framework/nn/recurrent.h"
#include "framework/ops/ops.h"
#include "framework/optim/optimizers.h"
#include "models/classifier.h"
#include "models/lstm_lm.h"
#include "tests/file_checks.h"
#include "tests/language_model_checks.h"
#include "tests/launch_policy_test.h"

namespace minidl {
namespace {

Tensor random_values(const Shape& shape, uint32_t seed, DType dtype = DType::F64) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> dist(-1.0, 1.0);
  std::vector<double> v(static_cast<size_t>(shape_numel(shape)));
  for (double& x : v) x = dist(rng);
  return to_dtype(Tensor::from_vector(v, shape), dtype);
}

std::vector<double> values(const Tensor& t) {
  return to_dtype(to_device(contiguous(t), kCPU), DType::F64).to_vector<double>();
}

// The reference: one LSTM layer after another in plain loops over doubles, every matrix row-major.
struct ReferenceLayer {
  std::vector<double> weight_ih, weight_hh, bias_ih, bias_hh;  // [4H, in], [4H, H], [4H], [4H]
  int64_t in = 0;
};

std::vector<ReferenceLayer> reference_layers(const Lstm& layer) {
  std::vector<ReferenceLayer> layers;
  for (const LstmLayerWeights& w : layer.weights())
    layers.push_back({values(w.weight_ih), values(w.weight_hh), values(w.bias_ih), values(w.bias_hh),
                      w.weight_ih.size(1)});
  return layers;
}

// Masks as the layer applies them (0 or 1 / (1 - p)), constant over time; empty where unused.
struct ReferenceMasks {
  std::vector<std::vector<double>> input, recurrent;  // per layer: [N * in], [N * H]
  std::vector<double> output;                         // [N * H]
};

struct ReferenceResult {
  std::vector<double> outputs, h, c;  // [T * N * H], [layers * N * H] twice
};

double sigmoid_of(double v) { return 1.0 / (1.0 + std::exp(-v)); }

// x [T, N, in] from the state (h0, c0) [layers, N, H]; zoneout_expectation p mixes each new state
// with the previous one as zoneout does in eval: prev + (1 - p) (new - prev).
ReferenceResult reference_lstm(const std::vector<double>& x, int64_t steps, int64_t batch, int64_t hidden,
                               const std::vector<ReferenceLayer>& layers, const std::vector<double>& h0,
                               const std::vector<double>& c0, const ReferenceMasks& masks = {},
                               double zoneout_expectation = 0) {
  const auto mask = [](const std::vector<std::vector<double>>& m, size_t l, int64_t i) {
    return m.empty() ? 1.0 : m[l][static_cast<size_t>(i)];
  };
  ReferenceResult r;
  std::vector<double> sequence = x;
  const int64_t state_size = batch * hidden;
  for (size_t l = 0; l < layers.size(); ++l) {
    const ReferenceLayer& w = layers[l];
    const auto first = static_cast<std::ptrdiff_t>(static_cast<int64_t>(l) * state_size);
    std::vector<double> h(h0.begin() + first, h0.begin() + first + state_size);
    std::vector<double> c(c0.begin() + first, c0.begin() + first + state_size);
    std::vector<double> out(static_cast<size_t>(steps * state_size));
    for (int64_t t = 0; t < steps; ++t) {
      for (int64_t n = 0; n < batch; ++n) {
        std::vector<double> gates(static_cast<size_t>(4 * hidden));
        for (int64_t g = 0; g < 4 * hidden; ++g) {
          double v = w.bias_ih[static_cast<size_t>(g)] + w.bias_hh[static_cast<size_t>(g)];
          for (int64_t f = 0; f < w.in; ++f)
            v += w.weight_ih[static_cast<size_t>(g * w.in + f)] *
                 sequence[static_cast<size_t>((t * batch + n) * w.in + f)] * mask(masks.input, l, n * w.in + f);
          for (int64_t j = 0; j < hidden; ++j)
            v += w.weight_hh[static_cast<size_t>(g * hidden + j)] * h[static_cast<size_t>(n * hidden + j)] *
                 mask(masks.recurrent, l, n * hidden + j);
          gates[static_cast<size_t>(g)] = v;
        }
        for (int64_t j = 0; j < hidden; ++j) {
          const auto k = static_cast<size_t>(n * hidden + j);
          const double i_gate = sigmoid_of(gates[static_cast<size_t>(j)]);
          const double f_gate = sigmoid_of(gates[static_cast<size_t>(hidden + j)]);
          const double g_gate = std::tanh(gates[static_cast<size_t>(2 * hidden + j)]);
          const double o_gate = sigmoid_of(gates[static_cast<size_t>(3 * hidden + j)]);
          const double c_new = f_gate * c[k] + i_gate * g_gate;
          const double h_new = o_gate * std::tanh(c_new);
          const double keep = 1 - zoneout_expectation;
          c[k] = zoneout_expectation == 0 ? c_new : c[k] + keep * (c_new - c[k]);
          h[k] = zoneout_expectation == 0 ? h_new : h[k] + keep * (h_new - h[k]);
          out[static_cast<size_t>(t * state_size) + k] = h[k];
        }
      }
    }
    r.h.insert(r.h.end(), h.begin(), h.end());
    r.c.insert(r.c.end(), c.begin(), c.end());
    sequence = out;
  }
  if (!masks.output.empty())
    for (size_t i = 0; i < sequence.size(); ++i) sequence[i] *= masks.output[i % static_cast<size_t>(state_size)];
  r.outputs = sequence;
  return r;
}

void expect_all_near(const std::vector<double>& a, const std::vector<double>& b, double tol, const std::string& what) {
  ASSERT_EQ(a.size(), b.size()) << what;
  for (size_t i = 0; i < a.size(); ++i) ASSERT_NEAR(a[i], b[i], tol * (1 + std::abs(b[i]))) << what << " element " << i;
}

TEST(Lstm, ParametersFollowTorchNamesShapesAndInitialization) {
  Generator init(1), drop(2);
  const Lstm layer(3, 4, 2, {}, init, drop);
  const std::vector<std::pair<std::string, Shape>> expected = {
      {"weight_ih_l0", {16, 3}}, {"weight_hh_l0", {16, 4}}, {"bias_ih_l0", {16}}, {"bias_hh_l0", {16}},
      {"weight_ih_l1", {16, 4}}, {"weight_hh_l1", {16, 4}}, {"bias_ih_l1", {16}}, {"bias_hh_l1", {16}}};
  const NamedTensors params = layer.named_parameters();
  ASSERT_EQ(params.size(), expected.size());
  for (size_t i = 0; i < params.size(); ++i) {
    EXPECT_EQ(params[i].first, expected[i].first);
    EXPECT_EQ(params[i].second.shape(), expected[i].second) << params[i].first;
    for (double v : values(params[i].second)) ASSERT_LE(std::abs(v), 0.5) << params[i].first << ": 1/sqrt(4) bounds";
  }
}

TEST(Lstm, MatchesAPlainLoopReference) {
  const int64_t steps = 5, batch = 2, input = 3, hidden = 4, layers = 2;
  Generator init(1), drop(2);
  Lstm layer(input, hidden, layers, {}, init, drop, DType::F64);
  const Tensor x = random_values({steps, batch, input}, 10);
  const Tensor h0 = random_values({layers, batch, hidden}, 11), c0 = random_values({layers, batch, hidden}, 12);
  for (bool training : {true, false}) {
    layer.train(training);
    const LstmOutput out = layer.forward(x, {h0, c0});
    const ReferenceResult ref =
        reference_lstm(values(x), steps, batch, hidden, reference_layers(layer), values(h0), values(c0));
    expect_all_near(values(out.outputs), ref.outputs, 1e-12, "outputs");
    expect_all_near(values(out.state.h), ref.h, 1e-12, "final h");
    expect_all_near(values(out.state.c), ref.c, 1e-12, "final c");
  }
  // From the zero state by default.
  const std::vector<double> zeros(static_cast<size_t>(layers * batch * hidden), 0.0);
  expect_all_near(values(layer(x)),
                  reference_lstm(values(x), steps, batch, hidden, reference_layers(layer), zeros, zeros).outputs,
                  1e-12, "outputs from the zero state");
  // Zoneout in eval takes its expectation: prev + (1 - p) (new - prev).
  Generator init2(1);
  Lstm zoned(input, hidden, layers, {.zoneout = 0.3}, init2, drop, DType::F64);
  zoned.eval();
  const LstmOutput out = zoned.forward(x, {h0, c0});
  const ReferenceResult ref =
      reference_lstm(values(x), steps, batch, hidden, reference_layers(zoned), values(h0), values(c0), {}, 0.3);
  expect_all_near(values(out.outputs), ref.outputs, 1e-12, "outputs with zoneout in eval");
  expect_all_near(values(out.state.c), ref.c, 1e-12, "final c with zoneout in eval");
}

// outputs, h and c in one vector, for gradcheck.
Tensor flattened(const LstmOutput& out) {
  return cat({reshape(out.outputs, {-1}), reshape(out.state.h, {-1}), reshape(out.state.c, {-1})}, 0);
}

TEST(Lstm, GradcheckWithAndWithoutFixedMasks) {
  const int64_t steps = 3, batch = 3, input = 3, hidden = 3;
  std::vector<Tensor> inputs = {random_values({steps, batch, input}, 20), random_values({2, batch, hidden}, 21),
                                random_values({2, batch, hidden}, 22)};
  uint32_t seed = 23;
  for (int64_t in : {input, hidden})
    for (const Shape& shape : {Shape{4 * hidden, in}, Shape{4 * hidden, hidden}, Shape{4 * hidden}, Shape{4 * hidden}})
      inputs.push_back(random_values(shape, seed++));
  const auto run = [](const std::vector<Tensor>& in, const LstmRegularization& reg) {
    const std::vector<LstmLayerWeights> layers = {{in[3], in[4], in[5], in[6]}, {in[7], in[8], in[9], in[10]}};
    Generator gen(5, 2);  // the same masks at every evaluation
    return lstm(in[0], layers, {in[1], in[2]}, reg, true, gen);
  };
  const LstmRegularization all_sites{.input_dropout = 0.3, .recurrent_dropout = 0.3, .output_dropout = 0.3,
                                     .zoneout = 0.3};
  const std::vector<double> masked = values(run(inputs, all_sites).outputs);
  EXPECT_GT(std::count(masked.begin(), masked.end(), 0.0), 0) << "no output unit was dropped: pick another seed";
  for (const LstmRegularization& reg : {LstmRegularization{}, all_sites}) {
    const GradcheckResult r =
        gradcheck([&](const std::vector<Tensor>& in) { return flattened(run(in, reg)); }, inputs);
    EXPECT_TRUE(r.ok) << "zoneout " << reg.zoneout << ": " << r.message;
  }
}

// |kept / n - (1 - p)| within 5 binomial standard deviations.
void expect_keep_rate(const std::vector<double>& mask, double p, const char* what) {
  const double n = static_cast<double>(mask.size());
  const double kept = static_cast<double>(mask.size() - static_cast<size_t>(std::count(mask.begin(), mask.end(), 0.0)));
  EXPECT_NEAR(kept / n, 1 - p, 5 * std::sqrt(p * (1 - p) / n)) << what;
}

TEST(Lstm, VariationalMasksAreTheSameAtEveryStep) {
  const int64_t steps = 4, batch = 64, input = 16, hidden = 16;
  const double p = 0.3, scale = 1 / (1 - p);
  Generator init(3), drop(4);
  Lstm layer(input, hidden, 1, {.input_dropout = p, .recurrent_dropout = p, .output_dropout = p}, init, drop,
             DType::F64);
  Tensor x = random_values({steps, batch, input}, 30), h0 = random_values({1, batch, hidden}, 31);
  const Tensor c0 = random_values({1, batch, hidden}, 32);
  x.requires_grad_(true);
  h0.requires_grad_(true);
  const LstmOutput out = layer.forward(x, {h0, c0});
  sum(mul(out.outputs, random_values({steps, batch, hidden}, 33))).backward();

  // Each mask read where it shows exactly: a dropped input unit gets no gradient at any step, a
  // dropped recurrent unit of h0 none either, and a dropped output unit is 0 at every step.
  const std::vector<double> x_grad = values(x.grad()), h0_grad = values(h0.grad()), outputs = values(out.outputs);
  ReferenceMasks masks{{std::vector<double>(static_cast<size_t>(batch * input))},
                       {std::vector<double>(static_cast<size_t>(batch * hidden))},
                       std::vector<double>(static_cast<size_t>(batch * hidden))};
  for (int64_t i = 0; i < batch * input; ++i) {
    const bool dropped = x_grad[static_cast<size_t>(i)] == 0;
    for (int64_t t = 1; t < steps; ++t)
      ASSERT_EQ(x_grad[static_cast<size_t>(t * batch * input + i)] == 0, dropped)
          << "input unit " << i << ", step " << t;
    masks.input[0][static_cast<size_t>(i)] = dropped ? 0 : scale;
  }
  for (int64_t i = 0; i < batch * hidden; ++i) {
    const bool dropped = outputs[static_cast<size_t>(i)] == 0;
    for (int64_t t = 1; t < steps; ++t)
      ASSERT_EQ(outputs[static_cast<size_t>(t * batch * hidden + i)] == 0, dropped) << "output " << i << ", step " << t;
    masks.output[static_cast<size_t>(i)] = dropped ? 0 : scale;
    masks.recurrent[0][static_cast<size_t>(i)] = h0_grad[static_cast<size_t>(i)] == 0 ? 0 : scale;
  }
  expect_keep_rate(masks.input[0], p, "input mask");
  expect_keep_rate(masks.recurrent[0], p, "recurrent mask");
  expect_keep_rate(masks.output, p, "output mask");
  // The recurrent mask read at the first step, applied at every step, gives the layer's outputs.
  const ReferenceResult ref =
      reference_lstm(values(x), steps, batch, hidden, reference_layers(layer), values(h0), values(c0), masks);
  expect_all_near(outputs, ref.outputs, 1e-12, "outputs with the masks constant over time");
}

TEST(Lstm, ZoneoutOneFreezesTheStateAndZeroIsThePlainLstm) {
  const int64_t steps = 6, batch = 3, input = 4, hidden = 5;
  const Tensor x = random_values({steps, batch, input}, 40);
  const Tensor h0 = random_values({2, batch, hidden}, 41), c0 = random_values({2, batch, hidden}, 42);
  Generator init(5), drop(6);
  Lstm frozen(input, hidden, 2, {.zoneout = 1.0}, init, drop, DType::F64);
  const LstmOutput out = frozen.forward(x, {h0, c0});
  const std::vector<double> last_h0 = values(slice(h0, 0, 1, 2));
  for (int64_t t = 0; t < steps; ++t)
    EXPECT_EQ(values(slice(out.outputs, 0, t, t + 1)), last_h0) << "step " << t << " changed the state";
  EXPECT_EQ(values(out.state.h), values(h0));
  EXPECT_EQ(values(out.state.c), values(c0));

  Generator init_a(7), init_b(7);
  Lstm zero_rate(input, hidden, 2, {.zoneout = 0.0}, init_a, drop, DType::F64);
  Lstm plain(input, hidden, 2, {}, init_b, drop, DType::F64);
  plain.eval();
  EXPECT_EQ(values(zero_rate.forward(x, {h0, c0}).outputs), values(plain.forward(x, {h0, c0}).outputs));

  // In between, each unit of each step keeps its previous value with probability p, drawn anew
  // at every step.
  const double p = 0.5;
  Generator init_c(8);
  Lstm zoned(input, 16, 1, {.zoneout = p}, init_c, drop, DType::F64);
  const Tensor xs = random_values({8, 64, input}, 43);
  const std::vector<double> hs = values(zoned.forward(xs, {random_values({1, 64, 16}, 44), {}}).outputs);
  const size_t state = 64 * 16;
  std::vector<double> kept_new;  // 0 where h_t == h_{t-1}
  int64_t frozen_then_not = 0;
  for (size_t t = 1; t < 8; ++t)
    for (size_t i = 0; i < state; ++i) {
      kept_new.push_back(hs[t * state + i] == hs[(t - 1) * state + i] ? 0.0 : 1.0);
      if (t >= 2) frozen_then_not += kept_new[(t - 2) * state + i] == 0 && kept_new.back() == 1;
    }
  expect_keep_rate(kept_new, p, "zoneout's update rate");
  EXPECT_GT(frozen_then_not, 0) << "zoneout's draws must change from step to step";
}

TEST(Lstm, RejectsBadShapesAndRates) {
  Generator init, drop;
  Lstm layer(3, 4, 2, {}, init, drop);
  expect_error([&] { layer(Tensor::zeros({5, 2, 4})); }, "expected x [T, N, 3]");
  expect_error([&] { layer.forward(Tensor::zeros({5, 2, 3}), {Tensor::zeros({1, 2, 4}), {}}); },
               "initial h must be [2, 2, 4]");
  expect_error([&] { Lstm bad(3, 4, 1, {.recurrent_dropout = 1.0}, init, drop); }, "recurrent_dropout = 1");
  expect_error([&] { Lstm bad(3, 4, 1, {.zoneout = 1.5}, init, drop); }, "zoneout = 1.5");
  expect_error([&] { Lstm bad(3, 0, 1, {}, init, drop); }, "must be positive");
}

#if defined(MINIDL_HAS_EMU)
// The LSTM on the emulated CUDA device against the CPU over the launch policies, every site
// regularized: the same dropped outputs and zoned-out units (the masks bit for bit), values and
// gradients within f32 reordering.
class EmulatedCudaLstm : public LaunchPolicyTest {};

const Device kEmu{DeviceType::CUDAEmu, 0};

TEST_P(EmulatedCudaLstm, MatchesCpuWithTheSameMasks) {
  const int64_t steps = 5, batch = 3, input = 6, hidden = 8;
  const LstmRegularization reg{.input_dropout = 0.2, .recurrent_dropout = 0.3, .output_dropout = 0.25,
                               .zoneout = 0.3};
  const Tensor x = random_values({steps, batch, input}, 50, DType::F32);
  const Tensor weights = random_values({steps, batch, hidden}, 51, DType::F32);
  std::vector<std::vector<double>> outputs, states, grads;
  for (Device device : {kCPU, kEmu}) {
    Generator init(9), drop(10);
    Lstm layer(input, hidden, 2, reg, init, drop);
    layer.to(device);
    Tensor xd = to_device(x, device).detach();
    xd.requires_grad_(true);
    const LstmOutput out = layer.forward(xd, {});
    sum(mul(out.outputs, to_device(weights, device))).backward();
    outputs.push_back(values(out.outputs));
    states.push_back(values(cat({out.state.h, out.state.c}, 0)));
    std::vector<double> g = values(xd.grad());
    for (const Tensor& param : layer.parameters()) {
      const std::vector<double> pg = values(param.grad());
      g.insert(g.end(), pg.begin(), pg.end());
    }
    grads.push_back(g);
  }
  const std::vector<double>&cpu = outputs[0], &emu = outputs[1];
  const size_t state = static_cast<size_t>(batch * hidden);
  int64_t dropped = 0, zoned = 0;
  for (size_t i = 0; i < cpu.size(); ++i) {
    ASSERT_EQ(emu[i] == 0, cpu[i] == 0) << "output dropout differs at " << i;
    if (i >= state) {
      const bool cpu_zoned = cpu[i] == cpu[i - state], emu_zoned = emu[i] == emu[i - state];
      ASSERT_EQ(emu_zoned, cpu_zoned) << "zoneout differs at " << i;
      zoned += cpu_zoned && cpu[i] != 0;
    }
    dropped += cpu[i] == 0;
  }
  EXPECT_GT(dropped, 0);
  EXPECT_GT(zoned, 0);
  expect_all_near(emu, cpu, 1e-5, "outputs on cuda-emu");
  expect_all_near(states[1], states[0], 1e-5, "final state on cuda-emu");
  expect_all_near(grads[1], grads[0], 1e-4, "gradients on cuda-emu");
}

INSTANTIATE_TEST_SUITE_P(LaunchPolicies, EmulatedCudaLstm, ::testing::ValuesIn(kLaunchPolicies), launch_policy_name);
#endif

LstmLmConfig tiny_config() {
  LstmLmConfig c;
  c.vocab = 11;
  c.context = 16;
  c.embedding = 16;
  c.width = 32;
  c.layers = 1;
  return c;
}

TEST(LstmLm, TrainingLearnsARepeatingText) {
  LstmLmConfig c = tiny_config();
  c.embedding_dropout = 0.05;
  c.regularization = {.input_dropout = 0.1, .recurrent_dropout = 0.1, .output_dropout = 0.1, .zoneout = 0.05};
  Generator init(3), drop(4);
  LstmLm model(c, init, drop);
  expect_learns_repeating_text(model, 1e-2);
}

TEST(LstmLm, TorchNamesModelFilesAndTiedWeights) {
  for (bool tied : {false, true}) {
    LstmLmConfig c = tiny_config();
    c.tied = tied;
    c.embedding = tied ? c.width : 16;
    Generator init(6), drop(7);
    LstmLm model(c, init, drop);
    std::vector<std::string> names;
    for (const auto& [name, t] : model.named_parameters()) names.push_back(name);
    std::vector<std::string> expected = {"encoder.weight", "rnn.weight_ih_l0", "rnn.weight_hh_l0", "rnn.bias_ih_l0",
                                         "rnn.bias_hh_l0"};
    if (!tied) expected.push_back("decoder.weight");
    expected.push_back("decoder.bias");
    std::sort(names.begin(), names.end());
    std::sort(expected.begin(), expected.end());
    EXPECT_EQ(names, expected);

    const std::string path = ::testing::TempDir() + "/lstm_lm_round_trip.safetensors";
    std::vector<uint8_t> vocab;
    for (uint8_t b = 'a'; b < 'a' + 11; ++b) vocab.push_back(b);
    save_model_file(path, model, {{"model", "lstm"}, {"config", model.config_json()}, {"vocab", vocab}});
    Generator drop2(7);
    LoadedLanguageModel loaded = load_language_model_file(path, drop2);
    EXPECT_EQ(loaded.model->model_name(), "lstm");
    EXPECT_EQ(loaded.vocab, vocab);
    EXPECT_EQ(loaded.model->config_json(), model.config_json());
    model.eval();
    loaded.model->eval();
    const Tensor ids = Tensor::from_vector(std::vector<int64_t>{3, 1, 4, 1, 5, 9, 2, 6}, {2, 4});
    EXPECT_EQ(values(model(ids)), values((*loaded.model)(ids))) << "tied " << tied;
    Generator gen(8);
    EXPECT_EQ(generate(*loaded.model, {3, 1}, 20, 1.0, 0, gen).size(), 20u);
  }
}

TEST(LstmLm, RejectsBadConfigsAndInputs) {
  Generator init, drop;
  LstmLmConfig c = tiny_config();
  c.tied = true;
  expect_error([&] { LstmLm bad(c, init, drop); }, "tied weights need the embedding width (16) to equal");
  c = tiny_config();
  c.embedding_dropout = 1.0;
  expect_error([&] { LstmLm bad(c, init, drop); }, "embedding_dropout = 1");
  LstmLm model(tiny_config(), init, drop);
  expect_error([&] { model(Tensor::from_vector(std::vector<int64_t>{1, 2}, {2})); }, "expected i64 ids [batch, T]");
  expect_error([&] { model(Tensor::from_vector(std::vector<int64_t>{1, 11}, {1, 2})); }, "11");
  expect_error([&] { make_language_model("rnn", {}, init, drop); }, "unknown language model 'rnn'");
}

}  // namespace
}  // namespace minidl
