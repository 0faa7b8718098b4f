// The Transformer pieces: attention's gradients at fixed masks, the fused kernels against the
// unfused composition with the same masks, the emulated CUDA kernels against the CPU over the
// launch policies (dropout masks bit for bit), the GPT's causality and training, model files,
// sampling and the character corpus.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "framework/autograd/gradcheck.h"
#include "framework/autograd/grad_mode.h"
#include "framework/core/allocator.h"
#include "framework/io/text_corpus.h"
#include "framework/optim/optimizers.h"
#include "framework/ops/autocast.h"
#include "framework/ops/ops.h"
#include "models/classifier.h"
#include "models/gpt.h"
#include "tests/language_model_checks.h"
#include "tests/launch_policy_test.h"

namespace minidl {
namespace {

Tensor random_values(const Shape& shape, uint32_t seed, DType dtype = DType::F64, double scale = 1.0) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> dist(-scale, scale);
  std::vector<double> v(static_cast<size_t>(shape_numel(shape)));
  for (double& x : v) x = dist(rng);
  return to_dtype(Tensor::from_vector(v, shape), dtype);
}

std::vector<double> as_doubles(const Tensor& t) { return to_dtype(to_device(contiguous(t), kCPU), DType::F64).to_vector<double>(); }

// Causal attention of q, k, v [batch, heads, T, dh] with dropout p on the probabilities.
Tensor attention(const Tensor& q, const Tensor& k, const Tensor& v, double p, Generator& gen) {
  const Tensor scores = mul(matmul(q, transpose(k, 2, 3)), 1.0 / std::sqrt(static_cast<double>(q.size(-1))));
  return matmul(softmax_dropout(scores, p, true, true, gen), v);
}

TEST(Attention, GradcheckWithAndWithoutDropoutAtFixedMasks) {
  const std::vector<Tensor> qkv = {random_values({2, 2, 5, 4}, 1), random_values({2, 2, 5, 4}, 2),
                                   random_values({2, 2, 5, 4}, 3)};
  for (double p : {0.0, 0.3}) {
    const GradcheckResult r = gradcheck(
        [p](const std::vector<Tensor>& in) {
          Generator gen(3, 1);  // the same mask at every evaluation
          return attention(in[0], in[1], in[2], p, gen);
        },
        qkv);
    EXPECT_TRUE(r.ok) << "p = " << p << ": " << r.message;
  }
}

// |a - b| <= tol * (1 + |b|), and exact zeros in the same places (some, when expect_zeros: dropped
// or masked elements, without which the comparison of masks would show nothing).
void expect_same_values_and_zeros(const Tensor& fused, const Tensor& unfused, double tol, const std::string& what,
                                  bool expect_zeros = true) {
  const std::vector<double> a = as_doubles(fused), b = as_doubles(unfused);
  ASSERT_EQ(a.size(), b.size()) << what;
  int64_t zeros = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    ASSERT_LE(std::abs(a[i] - b[i]), tol * (1 + std::abs(b[i]))) << what << " element " << i;
    ASSERT_EQ(a[i] == 0, b[i] == 0) << what << ": zero pattern differs at element " << i;
    zeros += a[i] == 0;
  }
  if (expect_zeros) {
    EXPECT_GT(zeros, 0) << what << ": no element was dropped or masked";
  }
}

TEST(Attention, FusedSoftmaxDropoutEqualsTheComposition) {
  // Scores [2, 3, 7, 9]: queries t see keys c <= t + 2.
  const Tensor x = random_values({2, 3, 7, 9}, 4, DType::F32, 3.0);
  std::vector<float> mask_values(7 * 9);
  for (int64_t t = 0; t < 7; ++t)
    for (int64_t c = 0; c < 9; ++c)
      mask_values[static_cast<size_t>(t * 9 + c)] = c <= t + 2 ? 0.0f : -std::numeric_limits<float>::infinity();
  const Tensor mask = Tensor::from_vector(mask_values, {7, 9});
  const Tensor weights = random_values({2, 3, 7, 9}, 5, DType::F32);

  Tensor x1 = clone(x), x2 = clone(x);
  x1.requires_grad_(true);
  x2.requires_grad_(true);
  Generator fused_gen(9, 4), unfused_gen(9, 4);
  const Tensor fused = softmax_dropout(x1, 0.25, true, true, fused_gen);
  sum(mul(fused, weights)).backward();
  const Tensor unfused = dropout(softmax(add(x2, mask), -1), 0.25, true, unfused_gen);
  sum(mul(unfused, weights)).backward();
  expect_same_values_and_zeros(fused, unfused, 1e-6, "softmax_dropout forward");
  const std::vector<double> g1 = as_doubles(x1.grad()), g2 = as_doubles(x2.grad());
  for (size_t i = 0; i < g1.size(); ++i) ASSERT_NEAR(g1[i], g2[i], 1e-6 * (1 + std::abs(g2[i]))) << "gradient " << i;
}

// Attention composed of matmul, softmax_dropout and matmul, with the causal mask when asked.
Tensor composed_attention(const Tensor& q, const Tensor& k, const Tensor& v, double p, bool causal, Generator& gen) {
  const Tensor scores = mul(matmul(q, transpose(k, 2, 3)), 1.0 / std::sqrt(static_cast<double>(q.size(-1))));
  return matmul(softmax_dropout(scores, p, causal, true, gen), v);
}

std::vector<Device> attention_devices() {
#if defined(MINIDL_HAS_EMU)
  return {kCPU, Device{DeviceType::CUDAEmu, 0}};
#else
  return {kCPU};
#endif
}

// flash_attention against the composition with the same generator state, on the CPU and the
// emulated GPU: the output and the gradients of q, k and v of a weighted sum, in f32. Both read
// the same Philox words; at p = 0.5 a mask that differed in one score would move an output by
// about 2 p |v| >= 1e-2 here, against sums that differ only in their order (1e-5).
TEST(Attention, FlashAttentionEqualsTheComposition) {
  struct Case {
    int64_t queries, keys;
    bool causal;
    double p;
  };
  for (Device device : attention_devices())
    for (const Case& c : {Case{37, 37, true, 0.5}, Case{37, 37, false, 0.5}, Case{21, 37, true, 0.0},
                          Case{21, 37, true, 0.5}}) {
      const std::string what = device.str() + (c.causal ? " causal" : "") + " p " + std::to_string(c.p) + " " +
                                std::to_string(c.queries) + "x" + std::to_string(c.keys);
      const std::vector<Tensor> qkv = {random_values({2, 3, c.queries, 16}, 21, DType::F32, 1.5),
                                       random_values({2, 3, c.keys, 16}, 22, DType::F32, 1.5),
                                       random_values({2, 3, c.keys, 16}, 23, DType::F32)};
      const Tensor weights = to_device(random_values({2, 3, c.queries, 16}, 24, DType::F32), device);
      std::vector<std::vector<Tensor>> grads;
      std::vector<Tensor> outputs;
      std::vector<uint64_t> offsets;
      for (bool fused : {true, false}) {
        std::vector<Tensor> leaves;
        for (const Tensor& t : qkv) {
          leaves.push_back(to_device(t, device).detach());
          leaves.back().requires_grad_(true);
        }
        Generator gen(5, 2);
        const Tensor y = fused ? flash_attention(leaves[0], leaves[1], leaves[2], c.p, c.causal, true, gen)
                               : composed_attention(leaves[0], leaves[1], leaves[2], c.p, c.causal, gen);
        sum(mul(y, weights)).backward();
        outputs.push_back(y);
        grads.push_back({leaves[0].grad(), leaves[1].grad(), leaves[2].grad()});
        offsets.push_back(gen.offset());
      }
      EXPECT_EQ(offsets[0], offsets[1]) << what << ": the ops reserve different numbers of words";
      expect_same_values_and_zeros(outputs[0], outputs[1], 1e-5, what + " forward", false);
      // (Gradients that are zero in exact arithmetic, as grad_q of a query that sees one key, may
      // round to zero in one sum and not in the other.)
      for (size_t i = 0; i < 3; ++i) {
        const std::vector<double> a = as_doubles(grads[0][i]), b = as_doubles(grads[1][i]);
        for (size_t e = 0; e < a.size(); ++e)
          ASSERT_NEAR(a[e], b[e], 1e-5 * (1 + std::abs(b[e]))) << what << " gradient of " << "qkv"[i] << " " << e;
      }
    }
}

// With v the identity (Tk = dh), attention's output is the matrix of probabilities after dropout,
// so its zeros are the masked and the dropped scores: flash_attention's are softmax_dropout's, bit
// for bit, on every device.
TEST(Attention, FlashAttentionDrawsTheMasksOfSoftmaxDropout) {
  const Tensor q = random_values({2, 3, 16, 16}, 25, DType::F32, 2.0);
  const Tensor k = random_values({2, 3, 16, 16}, 26, DType::F32, 2.0);
  std::vector<float> eye(16 * 16, 0.0f);
  for (size_t i = 0; i < 16; ++i) eye[i * 16 + i] = 1.0f;
  const Tensor v = expand(Tensor::from_vector(eye, {1, 1, 16, 16}), {2, 3, 16, 16});
  for (Device device : attention_devices()) {
    Generator fused_gen(8, 1), unfused_gen(8, 1);
    const Tensor fused = flash_attention(to_device(q, device), to_device(k, device), to_device(v, device), 0.5, true,
                                         true, fused_gen);
    const Tensor scores = mul(matmul(to_device(q, device), transpose(to_device(k, device), 2, 3)), 0.25);
    const Tensor probs = softmax_dropout(scores, 0.5, true, true, unfused_gen);
    expect_same_values_and_zeros(fused, probs, 1e-5, "flash_attention's masks on " + device.str());
  }
}

TEST(Attention, FusedBiasDropoutResidualEqualsTheComposition) {
  const Tensor x = random_values({6, 33}, 6, DType::F32), bias = random_values({33}, 7, DType::F32);
  const Tensor residual = random_values({6, 33}, 8, DType::F32);
  Generator fused_gen(2, 2), unfused_gen(2, 2);
  const Tensor fused = bias_dropout_residual(x, bias, residual, 0.3, true, fused_gen);
  const Tensor unfused = add(dropout(add(x, bias), 0.3, true, unfused_gen), residual);
  // Dropped elements equal the residual exactly; compare the dropped part's zeros.
  expect_same_values_and_zeros(sub(fused, residual), sub(unfused, residual), 1e-6, "bias_dropout_residual");
}

#if defined(MINIDL_HAS_EMU)
// The emulated CUDA kernels of the Transformer ops against the CPU over the launch policies: masks
// bit for bit (the same zeros), values within f32 reorder tolerance, the embedding gradient exact.
class EmulatedCudaTransformer : public LaunchPolicyTest {};

const Device kEmu{DeviceType::CUDAEmu, 0};

void check_softmax_dropout_parity(const Shape& shape, bool causal, double p) {
  const Tensor x = random_values(shape, 11, DType::F32, 4.0), weights = random_values(shape, 12, DType::F32);
  std::vector<Tensor> outputs, grads;
  for (Device device : {kCPU, kEmu}) {
    Tensor xd = to_device(x, device).detach();
    xd.requires_grad_(true);
    Generator gen(21, 3);
    const Tensor y = softmax_dropout(xd, p, causal, true, gen);
    sum(mul(y, to_device(weights, device))).backward();
    outputs.push_back(y);
    grads.push_back(xd.grad());
  }
  expect_same_values_and_zeros(outputs[1], outputs[0], 1e-6, "softmax_dropout on cuda-emu");
  // Dropped elements still get gradient through the row sum; masked ones get none.
  expect_same_values_and_zeros(grads[1], grads[0], 1e-5, "softmax_dropout gradient on cuda-emu", causal);
}

TEST_P(EmulatedCudaTransformer, SoftmaxDropoutMatchesCpu) {
  check_softmax_dropout_parity({3, 37, 45}, true, 0.5);  // a warp per row
  check_softmax_dropout_parity({2, 5, 1101}, true, 0.1);  // a block per row; rows start mid Philox block
  check_softmax_dropout_parity({4, 9, 9}, false, 0.3);
}

TEST_P(EmulatedCudaTransformer, LayerNormAndEmbeddingMatchCpu) {
  const Tensor x = random_values({13, 1100}, 13, DType::F32), w = random_values({1100}, 14, DType::F32);
  const Tensor b = random_values({1100}, 15, DType::F32);
  std::vector<int64_t> ids(300);
  for (size_t i = 0; i < ids.size(); ++i) ids[i] = static_cast<int64_t>((i * 7919) % 37);
  const Tensor ids_cpu = Tensor::from_vector(ids, {3, 100});
  const Tensor table = random_values({37, 24}, 16, DType::F32), gy = random_values({3, 100, 24}, 17, DType::F32);
  std::vector<std::vector<double>> norm, norm_grad, rows, table_grad;
  for (Device device : {kCPU, kEmu}) {
    Tensor xd = to_device(x, device).detach();
    xd.requires_grad_(true);
    const Tensor y = layer_norm(xd, to_device(w, device), to_device(b, device));
    sum(mul(y, to_device(x, device))).backward();
    norm.push_back(as_doubles(y));
    norm_grad.push_back(as_doubles(xd.grad()));
    Tensor td = to_device(table, device).detach();
    td.requires_grad_(true);
    const Tensor e = embedding(td, to_device(ids_cpu, device));
    sum(mul(e, to_device(gy, device))).backward();
    rows.push_back(as_doubles(e));
    table_grad.push_back(as_doubles(td.grad()));
  }
  for (size_t i = 0; i < norm[0].size(); ++i) {
    ASSERT_NEAR(norm[1][i], norm[0][i], 1e-5 * (1 + std::abs(norm[0][i]))) << "layer_norm " << i;
    ASSERT_NEAR(norm_grad[1][i], norm_grad[0][i], 1e-4 * (1 + std::abs(norm_grad[0][i]))) << "layer_norm grad " << i;
  }
  EXPECT_EQ(rows[1], rows[0]);
  EXPECT_EQ(table_grad[1], table_grad[0]) << "the table gradient sums in the reference's order: bit for bit";
}

INSTANTIATE_TEST_SUITE_P(LaunchPolicies, EmulatedCudaTransformer, ::testing::ValuesIn(kLaunchPolicies),
                         launch_policy_name);
#endif

GptConfig tiny_config() {
  GptConfig c;
  c.vocab = 11;
  c.context = 8;
  c.layers = 2;
  c.heads = 2;
  c.width = 16;
  return c;
}

Tensor ids_tensor(const std::vector<int64_t>& ids, int64_t batch) {
  return Tensor::from_vector(ids, {batch, static_cast<int64_t>(ids.size()) / batch});
}

TEST(Gpt, LaterTokensDoNotChangeEarlierLogits) {
  Generator init(1), drop(2);
  Gpt model(tiny_config(), init, drop);
  model.eval();
  std::vector<int64_t> a = {1, 4, 2, 9, 3, 3, 0, 7, 5, 5, 6, 1, 10, 2, 8, 4};
  std::vector<int64_t> b = a;
  b[7] = 2;  // the last position of the first sequence
  const std::vector<double> la = as_doubles(model(ids_tensor(a, 2))), lb = as_doubles(model(ids_tensor(b, 2)));
  double last_change = 0;
  for (size_t i = 0; i < la.size(); ++i) {
    const size_t position = (i / 11) % 8, sequence = i / (11 * 8);
    if (sequence == 0 && position == 7) {
      last_change = std::max(last_change, std::abs(la[i] - lb[i]));
    } else {
      ASSERT_NEAR(la[i], lb[i], 1e-6) << "logit " << i << " (sequence " << sequence << ", position " << position
                                      << ") depends on a later token";
    }
  }
  EXPECT_GT(last_change, 1e-4) << "the changed token's own logits did not change";
}

// The fused attention draws the reference path's masks, so a training step of the two models
// built from the same seeds agrees up to the order of float sums: logits and every gradient.
TEST(Gpt, FusedAttentionTrainsLikeTheReference) {
  const std::vector<int64_t> ids = {1, 4, 2, 9, 3, 3, 0, 7, 5, 5, 6, 1, 10, 2, 8, 4};
  std::vector<std::vector<double>> logits, grads;
  for (bool fused : {false, true}) {
    GptConfig c = tiny_config();
    c.dropout = 0.1;
    c.attention_dropout = 0.3;
    c.fused_attention = fused;
    Generator init(9), drop(10);
    Gpt model(c, init, drop);
    const Tensor out = model(ids_tensor(ids, 2));
    sum(mul(out, out)).backward();
    logits.push_back(as_doubles(out));
    std::vector<double> g;
    for (const auto& [name, p] : model.named_parameters()) {
      const std::vector<double> values = as_doubles(p.grad());
      g.insert(g.end(), values.begin(), values.end());
    }
    grads.push_back(g);
  }
  ASSERT_EQ(logits[0].size(), logits[1].size());
  for (size_t i = 0; i < logits[0].size(); ++i) ASSERT_NEAR(logits[1][i], logits[0][i], 1e-5) << "logit " << i;
  ASSERT_EQ(grads[0].size(), grads[1].size());
  for (size_t i = 0; i < grads[0].size(); ++i) ASSERT_NEAR(grads[1][i], grads[0][i], 1e-4) << "gradient " << i;
}

#if defined(MINIDL_HAS_EMU)
// The root mean square of a - b relative to that of b.
double relative_rms_error(const std::vector<double>& a, const std::vector<double>& b) {
  double err = 0, ref = 0;
  for (size_t i = 0; i < b.size(); ++i) {
    err += (a[i] - b[i]) * (a[i] - b[i]);
    ref += b[i] * b[i];
  }
  return std::sqrt(err / ref);
}

// bf16 autocast on a CUDA device: the same model and masks give logits and gradients within a few
// bf16 roundings (2^-8 relative each) of the f32 ones, but not equal to them, and the parameters
// and their gradients stay f32.
TEST(GptEmulatedCuda, Bf16AutocastStaysWithinBf16RoundingOfF32) {
  const Device emu{DeviceType::CUDAEmu, 0};
  const std::vector<int64_t> ids = {1, 4, 2, 9, 3, 3, 0, 7, 5, 5, 6, 1, 10, 2, 8, 4};
  std::vector<std::vector<double>> logits, grads;
  for (bool mixed : {false, true}) {
    Generator init(9), drop(10);
    Gpt model(tiny_config(), init, drop);
    model.to(emu);
    const AutocastGuard autocast(mixed ? std::optional(DType::BF16) : std::nullopt);
    const Tensor out = model(to_device(ids_tensor(ids, 2), emu));
    ASSERT_EQ(out.dtype(), mixed ? DType::BF16 : DType::F32);  // the tied output layer's GEMM
    cross_entropy(reshape(out, {16, 11}), to_device(Tensor::from_vector(ids, {16}), emu)).backward();
    logits.push_back(as_doubles(out));
    std::vector<double> g;
    for (const auto& [name, p] : model.named_parameters()) {
      ASSERT_EQ(p.dtype(), DType::F32) << name;
      ASSERT_EQ(p.grad().dtype(), DType::F32) << name;
      const std::vector<double> values = as_doubles(p.grad());
      g.insert(g.end(), values.begin(), values.end());
    }
    grads.push_back(g);
  }
  const double logit_error = relative_rms_error(logits[1], logits[0]);
  const double grad_error = relative_rms_error(grads[1], grads[0]);
  EXPECT_GT(logit_error, 0) << "autocast changed nothing";
  EXPECT_LT(logit_error, std::ldexp(1.0, -6)) << "logits";
  EXPECT_LT(grad_error, std::ldexp(1.0, -5)) << "gradients";
}

// What a training forward leaves allocated for backward, in bytes, per attention path and
// precision: under autocast the GEMMs' outputs and what follows them (q/k/v, the scores and
// probabilities or flash's inputs, the MLP's hidden layer) are kept in bf16, half the bytes.
TEST(GptEmulatedCuda, Bf16AutocastShrinksTheActivationsKeptForBackward) {
  const Device emu{DeviceType::CUDAEmu, 0};
  GptConfig c = tiny_config();
  c.context = 64;
  c.width = 32;
  std::vector<int64_t> ids(8 * 64);
  for (size_t i = 0; i < ids.size(); ++i) ids[i] = static_cast<int64_t>(i * 7 % 11);
  const Tensor batch = to_device(ids_tensor(ids, 8), emu);
  for (bool fused : {false, true}) {
    c.fused_attention = fused;
    std::vector<double> kept;
    for (bool mixed : {false, true}) {
      Generator init(9), drop(10);
      Gpt model(c, init, drop);
      model.to(emu);
      const AutocastGuard autocast(mixed ? std::optional(DType::BF16) : std::nullopt);
      const size_t before = allocator_for(emu).stats().allocated;
      const Tensor out = model(batch);
      kept.push_back(static_cast<double>(allocator_for(emu).stats().allocated - before));
    }
    // Not all of it halves: the f32 residual stream, LayerNorm's statistics and the bf16 copies of
    // the weights stay. Measured: 0.57 (reference attention) and 0.60 (fused) of the f32 bytes.
    EXPECT_LT(kept[1], 0.65 * kept[0]) << (fused ? "fused" : "reference") << " attention: " << kept[1] << " of "
                                       << kept[0] << " bytes";
  }
}
#endif

// The maps the lab reads: per block [batch, heads, T, T], in eval mode causal rows summing to 1.
TEST(Gpt, AttentionProbabilitiesAreCausalDistributions) {
  Generator init(11), drop(12);
  Gpt model(tiny_config(), init, drop);
  model.eval();
  const std::vector<Tensor> maps =
      model.attention_probabilities(ids_tensor({1, 4, 2, 9, 3, 3, 0, 7, 5, 5, 6, 1, 10, 2, 8, 4}, 2));
  ASSERT_EQ(maps.size(), 2u);  // tiny_config's layers
  for (const Tensor& map : maps) {
    ASSERT_EQ(map.shape(), (Shape{2, 2, 8, 8}));
    const std::vector<double> p = as_doubles(map);
    for (size_t row = 0; row < p.size() / 8; ++row) {
      const size_t query = row % 8;
      double total = 0;
      for (size_t key = 0; key < 8; ++key) {
        total += p[row * 8 + key];
        if (key > query) {
          EXPECT_EQ(p[row * 8 + key], 0.0) << "row " << row << " sees a later key " << key;
        }
      }
      EXPECT_NEAR(total, 1.0, 1e-6) << "row " << row;
    }
  }
}

TEST(Gpt, TrainingLearnsARepeatingText) {
  GptConfig c = tiny_config();
  c.dropout = c.attention_dropout = 0.1;
  Generator init(3), drop(4);
  Gpt model(c, init, drop);
  expect_learns_repeating_text(model, 3e-3);
}

TEST(Gpt, ModelFileRoundTripAndGreedySampling) {
  Generator init(6), drop(7);
  Gpt model(tiny_config(), init, drop);
  const std::string path = ::testing::TempDir() + "/gpt_round_trip.safetensors";
  std::vector<uint8_t> vocab;
  for (uint8_t b = 'a'; b < 'a' + 11; ++b) vocab.push_back(b);
  save_model_file(path, model, {{"model", "gpt"}, {"config", model.config().to_json()}, {"vocab", vocab}});
  Generator drop2(7);
  LoadedLanguageModel loaded = load_language_model_file(path, drop2);
  EXPECT_EQ(loaded.vocab, vocab);
  model.eval();
  loaded.model->eval();
  const Tensor ids = ids_tensor({3, 1, 4, 1, 5}, 1);
  EXPECT_EQ(as_doubles(model(ids)), as_doubles((*loaded.model)(ids)));

  // top_k = 1 is greedy decoding: each id is the argmax of the previous logits.
  Generator gen(8);
  const std::vector<int64_t> greedy = generate(model, {3, 1}, 12, 1.0, 1, gen);
  std::vector<int64_t> context = {3, 1};
  for (int64_t id : greedy) {
    const int64_t t = std::min<int64_t>(static_cast<int64_t>(context.size()), 8);
    const std::vector<int64_t> window(context.end() - t, context.end());
    const std::vector<double> logits = as_doubles(slice(model(ids_tensor(window, 1)), 1, t - 1, t));
    EXPECT_EQ(id, std::max_element(logits.begin(), logits.end()) - logits.begin());
    context.push_back(id);
  }
  EXPECT_THROW(load_language_model_file(::testing::TempDir() + "/missing.safetensors", drop2), Error);
}

TEST(Gpt, RejectsBadConfigsAndInputs) {
  Generator init, drop;
  GptConfig c = tiny_config();
  c.heads = 3;
  EXPECT_THROW({ Gpt bad(c, init, drop); }, Error);
  c = tiny_config();
  c.attention_dropout = 1.0;
  EXPECT_THROW({ Gpt bad(c, init, drop); }, Error);
  Gpt model(tiny_config(), init, drop);
  EXPECT_THROW(model(ids_tensor(std::vector<int64_t>(9, 1), 1)), Error);  // longer than the context
  EXPECT_THROW(model(ids_tensor({1, 11}, 1)), Error);                     // id outside the vocabulary
  Generator gen;
  EXPECT_THROW(generate(model, {1}, 3, 0.0, 0, gen), Error);
  EXPECT_THROW(generate(model, {1}, 3, 1.0, 12, gen), Error);
}

TEST(TextCorpus, EncodingWindowsAndTheUnigramBaseline) {
  const std::vector<uint8_t> vocab = {'\n', 'a', 'b'};
  const Tensor ids = encode("ab\nba", vocab);
  EXPECT_EQ(ids.to_vector<int64_t>(), (std::vector<int64_t>{1, 2, 0, 2, 1}));
  EXPECT_EQ(decode(ids.to_vector<int64_t>(), vocab), "ab\nba");
  EXPECT_THROW(encode("abc", vocab), Error);

  Generator gen(1);
  const std::vector<int64_t> text = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9};
  const TextBatch batch = sample_windows(Tensor::from_vector(text, {10}), 4, 3, gen);
  const std::vector<int64_t> in = batch.inputs.to_vector<int64_t>(), out = batch.targets.to_vector<int64_t>();
  for (size_t i = 0; i < in.size(); ++i) EXPECT_EQ(out[i], in[i] + 1) << "targets are the inputs shifted by one";

  // Train "aab", validation "ab": add-one counts a 3, b 2 of 5 (the newline 1 of 6 in all).
  CharCorpus corpus{vocab, encode("aab", vocab), encode("ab", vocab)};
  EXPECT_NEAR(unigram_cross_entropy(corpus), -(std::log(3.0 / 6) + std::log(2.0 / 6)) / 2, 1e-12);
  EXPECT_THROW(load_fortunes("/nonexistent/fortunes"), Error);
}

}  // namespace
}  // namespace minidl
