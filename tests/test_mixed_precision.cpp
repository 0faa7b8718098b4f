// bf16 tensors and autocast: casts on every backend, the GEMM's f32 accumulation against exact
// products, the bf16 elementwise, reduction and dropout kernels against the rounded f32 reference,
// promotion to f32, autocast's results and gradients, and one clear error wherever bf16 has no
// kernel.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <random>
#include <vector>

#include "file_checks.h"
#include "framework/core/cuda_memory.h"
#include "framework/io/safetensors.h"
#include "framework/ops/autocast.h"
#include "framework/ops/ops.h"
#include "framework/random/generator.h"
#include "tests/parity_checks.h"

namespace minidl {
namespace {

std::vector<float> uniform_values(size_t n, uint32_t seed, float low = -1, float high = 1) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(low, high);
  std::vector<float> v(n);
  for (float& x : v) x = dist(rng);
  return v;
}

std::vector<uint16_t> bits_of(const Tensor& t) {
  std::vector<uint16_t> out;
  for (bf16 b : to_device(contiguous(t), kCPU).to_vector<bf16>()) out.push_back(b.bits);
  return out;
}

TEST(Bf16, CastsRoundEachValueOnceAndWidenExactly) {
  std::vector<float> v = uniform_values(1000, 1, -300, 300);
  v.insert(v.end(), {0.f, -0.f, 1e-40f, 3.4e38f, -INFINITY, INFINITY, NAN});
  const Tensor x = Tensor::from_vector(v, {static_cast<int64_t>(v.size())});
  const Tensor h = to_dtype(x, DType::BF16);
  EXPECT_EQ(h.dtype(), DType::BF16);
  EXPECT_EQ(dtype_size(DType::BF16), 2u);
  const std::vector<uint16_t> bits = bits_of(h);
  const std::vector<float> back = to_dtype(h, DType::F32).to_vector<float>();
  for (size_t i = 0; i < v.size(); ++i) {
    ASSERT_EQ(bits[i], bf16(v[i]).bits) << "value " << v[i];
    if (std::isnan(v[i])) {
      ASSERT_TRUE(std::isnan(back[i]));
    } else {
      ASSERT_EQ(back[i], static_cast<float>(bf16(v[i]))) << "value " << v[i];
      // Half an ulp of bf16's 8 significant bits, for normal values below its largest finite one.
      if (std::abs(v[i]) >= std::numeric_limits<float>::min() && std::abs(v[i]) <= 3e38f) {
        ASSERT_LE(std::abs(back[i] - v[i]), std::ldexp(std::abs(v[i]), -8)) << "more than half an ulp from " << v[i];
      }
    }
  }
  // bf16 to the integer and bool dtypes goes through its f32 value.
  const Tensor small = to_dtype(Tensor::from_vector(std::vector<float>{-2.5f, 0.f, 3.f, 255.f}, {4}), DType::BF16);
  EXPECT_EQ(to_dtype(small, DType::I32).to_vector<int32_t>(), (std::vector<int32_t>{-2, 0, 3, 255}));
  EXPECT_EQ(to_dtype(small, DType::Bool).to_vector<uint8_t>(), (std::vector<uint8_t>{1, 0, 1, 1}));
  EXPECT_EQ(to_dtype(small, DType::F64).to_vector<double>(), (std::vector<double>{-2.5, 0, 3, 255}));
}

// A transposed matrix casts to a transposed matrix (the GEMM then reads it with a transpose flag).
TEST(Bf16, CastOfATransposedMatrixKeepsItsLayout) {
  const Tensor w = Tensor::from_vector(uniform_values(12, 11), {3, 4});
  const Tensor cast = to_dtype(transpose(w, 0, 1), DType::BF16);
  EXPECT_EQ(cast.shape(), (Shape{4, 3}));
  EXPECT_EQ(cast.strides(), transpose(w, 0, 1).strides());
  EXPECT_EQ(bits_of(cast), bits_of(contiguous(transpose(to_dtype(w, DType::BF16), 0, 1))));
}

TEST(Bf16, SafetensorsRoundTripKeepsTheBits) {
  TempDir dir;
  const Tensor h = to_dtype(Tensor::from_vector(uniform_values(12, 2), {3, 4}), DType::BF16);
  const std::string path = dir.file("h.safetensors");
  save_safetensors(path, {{"h", h}});
  const SafetensorsFile file = load_safetensors(path);
  EXPECT_EQ(file.at("h").dtype(), DType::BF16);
  EXPECT_EQ(bits_of(file.at("h")), bits_of(h));
}

TEST(Bf16, OpsWithoutABf16KernelSayWhatToDo) {
  const Tensor h = to_dtype(Tensor::from_vector(uniform_values(6, 3), {2, 3}), DType::BF16);
  expect_error([&] { add(h, h); }, "no bf16 kernel");
  expect_error([&] { matmul(h, transpose(h, 0, 1)); }, "no bf16 kernel");  // the CPU computes in f32
  expect_error([&] { AutocastGuard guard(DType::F64); }, "expected bf16");
}

TEST(Autocast, TheCpuComputesInF32AndGuardsNest) {
  const Tensor a = Tensor::from_vector(uniform_values(6, 4), {2, 3});
  EXPECT_FALSE(autocast_dtype().has_value());
  {
    AutocastGuard on(DType::BF16);
    EXPECT_EQ(autocast_dtype(), DType::BF16);
    expect_error([&] { matmul(a, transpose(a, 0, 1)); }, "the CPU computes in f32");
    {
      AutocastGuard off(std::nullopt);
      EXPECT_FALSE(autocast_dtype().has_value());
      EXPECT_EQ(matmul(a, transpose(a, 0, 1)).dtype(), DType::F32);
    }
    EXPECT_EQ(autocast_dtype(), DType::BF16);
  }
  EXPECT_FALSE(autocast_dtype().has_value());
}

// On a CUDA device (the emulator, or a GPU): casts equal the CPU's bit for bit.
void check_casts_match_the_cpu(Device device) {
  const Tensor x = Tensor::from_vector(uniform_values(35, 5, -1e4f, 1e4f), {5, 7});
  const Tensor on_device = to_device(x, device);
  // A transposed view exercises the strided copy.
  EXPECT_EQ(bits_of(to_dtype(transpose(on_device, 0, 1), DType::BF16)),
            bits_of(to_dtype(transpose(x, 0, 1), DType::BF16)));
  const Tensor h = to_dtype(on_device, DType::BF16);
  EXPECT_EQ(to_dtype(h, DType::F32).to_vector<float>(),
            to_dtype(to_dtype(x, DType::BF16), DType::F32).to_vector<float>());
  const Tensor filled = Tensor::full({3}, 1.0 / 3.0, DType::BF16, device);
  for (uint16_t b : bits_of(filled)) EXPECT_EQ(b, bf16(1.0f / 3.0f).bits);
}

// Each element of a bf16 product against the exact (f64) product of the same bf16 values: one
// rounding to bf16 (half an ulp: 2^-8 relative, bf16 keeping 8 significant bits) plus f32
// accumulation (k products, each off by at most 2^-24 of the running sum of magnitudes).
void expect_bf16_product(const Tensor& out, const std::vector<float>& a, const std::vector<float>& b, int64_t m,
                         int64_t n, int64_t k, bool trans_b) {
  const std::vector<float> got = to_dtype(out, DType::F32).to_vector<float>();
  ASSERT_EQ(got.size(), static_cast<size_t>(m * n));
  for (int64_t i = 0; i < m; ++i) {
    for (int64_t j = 0; j < n; ++j) {
      double exact = 0, magnitude = 0;
      for (int64_t p = 0; p < k; ++p) {
        const double prod = static_cast<double>(a[i * k + p]) * b[trans_b ? j * k + p : p * n + j];
        exact += prod;
        magnitude += std::abs(prod);
      }
      const double bound = std::ldexp(std::abs(exact), -8) + static_cast<double>(k) * std::ldexp(magnitude, -23);
      ASSERT_LE(std::abs(got[i * n + j] - exact), bound)
          << "C[" << i << "," << j << "] of " << m << "x" << n << "x" << k;
    }
  }
}

void check_gemm_accumulates_in_f32(Device device) {
  for (auto [m, n, k] : {std::tuple<int64_t, int64_t, int64_t>{1, 1, 1}, {5, 7, 3}, {65, 70, 33}, {64, 64, 300}}) {
    for (bool trans_b : {false, true}) {
      const std::vector<float> a = rounded_to_bf16(uniform_values(m * k, 6)),
                               b = rounded_to_bf16(uniform_values(k * n, 7));
      const Tensor ta = to_dtype(to_device(Tensor::from_vector(a, {m, k}), device), DType::BF16);
      Tensor tb = to_dtype(to_device(Tensor::from_vector(b, trans_b ? Shape{n, k} : Shape{k, n}), device), DType::BF16);
      if (trans_b) tb = transpose(tb, 0, 1);
      const Tensor out = matmul(ta, tb);
      EXPECT_EQ(out.dtype(), DType::BF16);
      expect_bf16_product(out, a, b, m, n, k, trans_b);
    }
  }
  // A running sum kept in bf16 (8 significant bits) would stop at 256; f32 reaches 1000, which bf16 holds.
  const Tensor ones = Tensor::full({1, 1000}, 1.0, DType::BF16, device);
  EXPECT_EQ(matmul(ones, transpose(ones, 0, 1)).item(), 1000.0);
}

// Under autocast an f32 product on a CUDA device is the bf16 product of the rounded operands,
// returned in bf16; gradients reach the f32 leaves in f32 and approximate the f32 ones.
void check_autocast_matmul(Device device) {
  const int64_t batch = 3, m = 4, k = 37, n = 5;
  const std::vector<float> av = uniform_values(batch * m * k, 8), bv = uniform_values(k * n, 9);
  auto leaves = [&] {
    Tensor a = to_device(Tensor::from_vector(av, {batch, m, k}), device);
    Tensor b = to_device(Tensor::from_vector(bv, {k, n}), device);
    a.requires_grad_(true);
    b.requires_grad_(true);
    return std::pair{a, b};
  };
  auto [a16, b16] = leaves();
  Tensor out;
  {
    AutocastGuard guard(DType::BF16);
    out = matmul(a16, b16);
  }
  ASSERT_EQ(out.dtype(), DType::BF16);
  ASSERT_EQ(out.shape(), (Shape{batch, m, n}));
  expect_bf16_product(out, rounded_to_bf16(av), rounded_to_bf16(bv), batch * m, n, k, false);

  auto [a32, b32] = leaves();
  const Tensor exact = matmul(a32, b32);
  const std::vector<float> f32 = exact.to_vector<float>(), mixed = to_dtype(out, DType::F32).to_vector<float>();
  EXPECT_NE(f32, mixed) << "autocast left the operands in f32";

  const std::vector<float> wv = uniform_values(batch * m * n, 10);
  const Tensor weights = to_device(Tensor::from_vector(wv, {batch, m, n}), device);
  sum(mul(out, weights)).backward();  // bf16 * f32 computes in f32
  sum(mul(exact, weights)).backward();
  // dA = W B^T and dB = A^T W, each factor rounded to bf16 (2^-8 relative) and the product
  // rounded once more: within 3 * 2^-8 < 2^-6 of the sum of the magnitudes of the terms.
  std::vector<double> bound_a(av.size(), 0), bound_b(bv.size(), 0);
  for (int64_t r = 0; r < batch * m; ++r)
    for (int64_t p = 0; p < k; ++p)
      for (int64_t j = 0; j < n; ++j) {
        bound_a[r * k + p] += std::abs(wv[r * n + j] * bv[p * n + j]);
        bound_b[p * n + j] += std::abs(av[r * k + p] * wv[r * n + j]);
      }
  for (auto [mixed_leaf, f32_leaf, bound] : {std::tuple{a16, a32, bound_a}, std::tuple{b16, b32, bound_b}}) {
    ASSERT_EQ(mixed_leaf.grad().dtype(), DType::F32);
    const std::vector<float> g = mixed_leaf.grad().to_vector<float>(), r = f32_leaf.grad().to_vector<float>();
    for (size_t i = 0; i < g.size(); ++i) ASSERT_NEAR(g[i], r[i], std::ldexp(bound[i], -6) + 1e-6) << "gradient " << i;
  }
}

// A matrix broadcast over a batch (W @ X[b]) gets its gradient summed over the batch (f64
// accumulation, one rounding), and Linear's x @ W^T leaves W's gradient in W's own row-major
// layout.
void check_autocast_broadcast_and_linear_gradients(Device device) {
  const int64_t batch = 3, m = 5, k = 6, n = 4;
  const std::vector<float> wv = uniform_values(m * k, 12), xv = uniform_values(batch * k * n, 13);
  std::vector<Tensor> w_grads;
  for (bool mixed : {false, true}) {
    Tensor w = to_device(Tensor::from_vector(wv, {m, k}), device),
           x = to_device(Tensor::from_vector(xv, {batch, k, n}), device);
    w.requires_grad_(true);
    const AutocastGuard guard(mixed ? std::optional(DType::BF16) : std::nullopt);
    sum(matmul(w, x)).backward();
    ASSERT_EQ(w.grad().dtype(), DType::F32);
    ASSERT_EQ(w.grad().shape(), (Shape{m, k}));
    w_grads.push_back(w.grad());
  }
  // d sum(W X) / dW[i, p] = sum over b, j of X[b, p, j]: batch * n bf16-rounded terms.
  const std::vector<float> f32 = w_grads[0].to_vector<float>(), mixed = w_grads[1].to_vector<float>();
  for (size_t i = 0; i < f32.size(); ++i) ASSERT_NEAR(mixed[i], f32[i], std::ldexp(batch * n, -6)) << "gradient " << i;

  Tensor linear_weight = to_device(Tensor::from_vector(wv, {m, k}), device);
  linear_weight.requires_grad_(true);
  {
    const AutocastGuard guard(DType::BF16);
    sum(matmul(to_device(Tensor::from_vector(xv, {batch, n, k}), device), transpose(linear_weight, 0, 1))).backward();
  }
  EXPECT_TRUE(linear_weight.grad().is_contiguous()) << "the optimizer would copy a transposed gradient every step";
}

// x's values as a bf16 tensor on device, and the same values in f32 on the CPU: the reference.
struct Bf16Operand {
  Tensor device_bf16, cpu_f32;
};

Bf16Operand bf16_operand(const std::vector<float>& v, const Shape& shape, Device device) {
  const Tensor cpu = Tensor::from_vector(rounded_to_bf16(v), shape);
  return {to_dtype(to_device(cpu, device), DType::BF16), cpu};
}

// A bf16 kernel computes in f32 and rounds once on store, so its result is the f32 reference's,
// rounded: bit for bit in the emulator, within max_ulps bf16 ulps on a GPU, whose exp and erf may
// differ from the host's libm in the last f32 ulp.
void expect_rounded_reference(const Tensor& got, const Tensor& reference, int max_ulps, const std::string& what) {
  ASSERT_EQ(got.dtype(), DType::BF16) << what;
  ASSERT_EQ(got.shape(), reference.shape()) << what;
  const std::vector<uint16_t> bits = bits_of(got), expected = bits_of(to_dtype(reference, DType::BF16));
  for (size_t i = 0; i < bits.size(); ++i)
    ASSERT_LE(std::abs(static_cast<int>(bits[i]) - static_cast<int>(expected[i])), max_ulps)
        << what << " element " << i << ": bits " << bits[i] << " vs " << expected[i];
}

// Every unary and binary kind, strided and broadcast operands, their gradients, and the reductions.
void check_bf16_elementwise_and_reductions(Device device, int max_ulps) {
  const Bf16Operand x = bf16_operand(uniform_values(7 * 301, 21, -3, 3), {7, 301}, device);
  const Bf16Operand positive = bf16_operand(uniform_values(7 * 301, 22, 0.1f, 4), {7, 301}, device);
  const Bf16Operand row = bf16_operand(uniform_values(301, 23), {301}, device);
  using Unary = Tensor (*)(const Tensor&);
  for (auto [name, op] : {std::pair<const char*, Unary>{"neg", neg},
                          {"exp", exp},
                          {"relu", relu},
                          {"gelu", gelu},
                          {"tanh", tanh},
                          {"sigmoid", sigmoid}})
    expect_rounded_reference(op(x.device_bf16), op(x.cpu_f32), max_ulps, name);
  expect_rounded_reference(log(positive.device_bf16), log(positive.cpu_f32), max_ulps, "log");
  expect_rounded_reference(sqrt(positive.device_bf16), sqrt(positive.cpu_f32), max_ulps, "sqrt");
  expect_rounded_reference(gelu(transpose(x.device_bf16, 0, 1)), gelu(transpose(x.cpu_f32, 0, 1)), max_ulps,
                           "gelu of a transposed view");
  using Binary = Tensor (*)(const Tensor&, const Tensor&);
  for (auto [name, op] :
       {std::pair<const char*, Binary>{"add", add}, {"sub", sub}, {"mul", mul}, {"div", div}, {"pow", pow}}) {
    expect_rounded_reference(op(positive.device_bf16, x.device_bf16), op(positive.cpu_f32, x.cpu_f32), max_ulps, name);
    expect_rounded_reference(op(x.device_bf16, row.device_bf16), op(x.cpu_f32, row.cpu_f32), max_ulps,
                             std::string(name) + " with a broadcast row");
  }
  // A number stays f32 (as a Python number in PyTorch), not rounded to bf16 first.
  expect_rounded_reference(mul(x.device_bf16, 0.1767767), mul(x.cpu_f32, 0.1767767), 0, "mul by a number");
  expect_rounded_reference(add(x.device_bf16, 1e-3), add(x.cpu_f32, 1e-3), 0, "add a number");
  expect_rounded_reference(pow(positive.device_bf16, 1.5), pow(positive.cpu_f32, 1.5), max_ulps, "pow by a number");

  Tensor leaf = x.device_bf16.detach();
  leaf.requires_grad_(true);
  sum(gelu(leaf)).backward();  // sum's gradient is ones, so x's gradient is gelu'(x), rounded
  Tensor reference_leaf = x.cpu_f32.detach();
  reference_leaf.requires_grad_(true);
  sum(gelu(reference_leaf)).backward();
  expect_rounded_reference(leaf.grad(), reference_leaf.grad(), max_ulps, "gelu backward");

  // Sums accumulate in f64, exactly for these bf16 values, and are rounded to bf16 once.
  const std::vector<float> values = to_dtype(x.device_bf16, DType::F32).to_vector<float>();
  std::vector<double> row_sums(7), column_sums(301, 0);
  std::vector<float> row_max(7, -INFINITY);
  std::vector<int64_t> row_argmax(7, 0);
  for (size_t r = 0; r < 7; ++r) {
    double total = 0;
    for (size_t c = 0; c < 301; ++c) {
      const float v = values[r * 301 + c];
      total += v;
      column_sums[c] += v;
      if (v > row_max[r]) {
        row_max[r] = v;
        row_argmax[r] = static_cast<int64_t>(c);
      }
    }
    row_sums[r] = total;
  }
  expect_rounded_reference(sum(x.device_bf16, {1}), Tensor::from_vector(row_sums, {7}), 0, "row sums");
  expect_rounded_reference(max(x.device_bf16, 1), Tensor::from_vector(row_max, {7}), 0, "row maxima");
  EXPECT_EQ(to_device(argmax(x.device_bf16, 1), kCPU).to_vector<int64_t>(), row_argmax);
  expect_rounded_reference(sum(x.device_bf16, {0}), Tensor::from_vector(column_sums, {301}), 0, "column sums");
  expect_rounded_reference(sum(transpose(x.device_bf16, 0, 1), {0}), Tensor::from_vector(row_sums, {7}), 0,
                           "row sums of a transposed view");

  // Columns of a tall matrix (a bias gradient's shape) reduce in chunks of rows, then across chunks.
  const Bf16Operand tall = bf16_operand(uniform_values(300 * 40, 33), {300, 40}, device);
  const std::vector<float> tall_values = tall.cpu_f32.to_vector<float>();
  std::vector<double> tall_sums(40, 0);
  std::vector<float> tall_max(40, -INFINITY);
  for (size_t i = 0; i < tall_values.size(); ++i) {
    tall_sums[i % 40] += tall_values[i];
    tall_max[i % 40] = std::max(tall_max[i % 40], tall_values[i]);
  }
  expect_rounded_reference(sum(tall.device_bf16, {0}), Tensor::from_vector(tall_sums, {40}), 0, "tall column sums");
  expect_rounded_reference(max(tall.device_bf16, 0), Tensor::from_vector(tall_max, {40}), 0, "tall column maxima");
}

// bf16 meeting f32 computes in f32, and each operand's gradient comes back in its own dtype.
void check_bf16_promotes_to_f32(Device device) {
  const Bf16Operand x = bf16_operand(uniform_values(24, 31), {4, 6}, device);
  const std::vector<float> yv = uniform_values(6, 32);
  Tensor h = x.device_bf16.detach(), y = to_device(Tensor::from_vector(yv, {6}), device);
  h.requires_grad_(true);
  y.requires_grad_(true);
  const Tensor out = mul(h, y);
  ASSERT_EQ(out.dtype(), DType::F32);
  EXPECT_EQ(to_device(out, kCPU).to_vector<float>(), mul(x.cpu_f32, Tensor::from_vector(yv, {6})).to_vector<float>());
  sum(out).backward();
  ASSERT_EQ(h.grad().dtype(), DType::BF16);
  ASSERT_EQ(y.grad().dtype(), DType::F32);
  // d/dh = y broadcast, rounded to bf16; d/dy = column sums of h, in f32.
  std::vector<float> expected_h, expected_y(6, 0);
  const std::vector<float> hv = x.cpu_f32.to_vector<float>();
  for (size_t i = 0; i < hv.size(); ++i) {
    expected_h.push_back(yv[i % 6]);
    expected_y[i % 6] += hv[i];
  }
  expect_rounded_reference(h.grad(), Tensor::from_vector(expected_h, {4, 6}), 0, "bf16 operand's gradient");
  const std::vector<float> gy = to_device(y.grad(), kCPU).to_vector<float>();
  for (size_t j = 0; j < 6; ++j) EXPECT_NEAR(gy[j], expected_y[j], 1e-6) << "f32 operand's gradient " << j;
  expect_error([&] { add(to_device(Tensor::zeros({2}), device), to_device(Tensor::zeros({2}, DType::F64), device)); },
               "different dtypes");
}

// Dropout of bf16 and the fused bias + dropout + residual with a bf16 input draw the f32 ops' masks
// from the same words, and compute the same values before rounding.
void check_bf16_dropout(Device device) {
  const Bf16Operand x = bf16_operand(uniform_values(3 * 1003, 41), {3, 1003}, device);
  Generator g16(5), g32(5);
  expect_rounded_reference(dropout(x.device_bf16, 0.3, true, g16), dropout(x.cpu_f32, 0.3, true, g32), 0, "dropout");

  const std::vector<float> bias = uniform_values(1003, 42), residual = uniform_values(3 * 1003, 43);
  const Tensor b = to_device(Tensor::from_vector(bias, {1003}), device),
               r = to_device(Tensor::from_vector(residual, {3, 1003}), device);
  Tensor h = x.device_bf16.detach(), h32 = to_dtype(x.device_bf16, DType::F32).detach();
  h.requires_grad_(true);
  h32.requires_grad_(true);
  Generator m16(6), m32(6);
  const Tensor mixed = bias_dropout_residual(h, b, r, 0.2, true, m16);
  const Tensor reference = bias_dropout_residual(h32, b, r, 0.2, true, m32);
  ASSERT_EQ(mixed.dtype(), DType::F32);
  EXPECT_EQ(to_device(mixed, kCPU).to_vector<float>(), to_device(reference, kCPU).to_vector<float>());
  const Tensor weights = to_device(Tensor::from_vector(uniform_values(3 * 1003, 44), {3, 1003}), device);
  sum(mul(mixed, weights)).backward();
  sum(mul(reference, weights)).backward();
  expect_rounded_reference(h.grad(), to_device(h32.grad(), kCPU), 0, "bias_dropout_residual's gradient of x");
}

// Under autocast the ops that compute in f32 take bf16 and return f32, and the gradient reaches
// the bf16 input in bf16: against the CPU's f32 op on the same values (another backend's kernels),
// forward within f32 reordering and the gradient within one bf16 rounding. Outside autocast a bf16
// operand of such an op is an error that says what to do.
void check_autocast_widens_f32_ops(Device device) {
  const Bf16Operand x = bf16_operand(uniform_values(4 * 10, 51), {4, 10}, device);
  expect_error([&] { softmax(x.device_bf16, 1); }, "no bf16 kernel");
  const auto on = [](Device d) {
    return std::pair{to_device(Tensor::from_vector(uniform_values(10, 52), {10}), d),
                     to_device(Tensor::from_vector(std::vector<int64_t>{1, 0, 9, 3}, {4}), d)};
  };
  using Op = std::function<Tensor(const Tensor& x, const Tensor& w, const Tensor& target)>;
  const std::vector<std::pair<const char*, Op>> ops = {
      {"layer_norm", [](const Tensor& v, const Tensor& w, const Tensor&) { return layer_norm(v, w, w); }},
      {"softmax", [](const Tensor& v, const Tensor&, const Tensor&) { return softmax(v, 1); }},
      {"log_softmax", [](const Tensor& v, const Tensor&, const Tensor&) { return log_softmax(v, 0); }},
      {"cross_entropy", [](const Tensor& v, const Tensor&, const Tensor& t) { return cross_entropy(v, t, 0.1); }},
      {"mse_loss",
       [](const Tensor& v, const Tensor& w, const Tensor&) {
         return mse_loss(v, expand(w, {4, 10}));
       }},
      {"sum", [](const Tensor& v, const Tensor&, const Tensor&) { return sum(v, {0}); }},
      {"mean", [](const Tensor& v, const Tensor&, const Tensor&) { return mean(v); }},
      {"max", [](const Tensor& v, const Tensor&, const Tensor&) { return max(v, 1); }},
      {"embedding", [](const Tensor& v, const Tensor&, const Tensor& t) { return embedding(v, slice(t, 0, 0, 2)); }},
      {"lstm_cell",
       [](const Tensor& v, const Tensor&, const Tensor&) { return lstm_cell(slice(v, 1, 0, 8), slice(v, 1, 8, 10)); }},
      {"conv2d",
       [](const Tensor& v, const Tensor& w, const Tensor&) {
         return conv2d(reshape(v, {1, 4, 2, 5}), reshape(slice(w, 0, 0, 8), {2, 4, 1, 1}), Tensor());
       }},
  };
  for (const auto& [name, op] : ops) {
    Tensor leaf = x.device_bf16.detach(), reference_leaf = x.cpu_f32.detach();
    leaf.requires_grad_(true);
    reference_leaf.requires_grad_(true);
    const auto [w, target] = on(device);
    const auto [cpu_w, cpu_target] = on(kCPU);
    Tensor out;
    {
      const AutocastGuard guard(DType::BF16);
      out = op(leaf, w, target);
      ASSERT_EQ(out.dtype(), DType::F32) << name;
      sum(mul(out, out)).backward();
    }
    const Tensor reference = op(reference_leaf, cpu_w, cpu_target);
    sum(mul(reference, reference)).backward();
    const std::vector<float> got = to_device(out, kCPU).to_vector<float>(), want = reference.to_vector<float>();
    for (size_t i = 0; i < want.size(); ++i) EXPECT_NEAR(got[i], want[i], 1e-5 * (1 + std::abs(want[i]))) << name;
    ASSERT_EQ(leaf.grad().dtype(), DType::BF16) << name;
    expect_rounded_reference(leaf.grad(), reference_leaf.grad(), 1, std::string(name) + " gradient");
  }
}

double relative_rms_difference(const Tensor& a, const Tensor& b) {
  const std::vector<float> x = to_dtype(to_device(contiguous(a), kCPU), DType::F32).to_vector<float>(),
                           y = to_dtype(to_device(contiguous(b), kCPU), DType::F32).to_vector<float>();
  double err = 0, ref = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    err += (static_cast<double>(x[i]) - y[i]) * (static_cast<double>(x[i]) - y[i]);
    ref += static_cast<double>(y[i]) * y[i];
  }
  return std::sqrt(err / ref);
}

// The attention kernels on bf16 widen each tile to f32 and round each result once, so the forward
// is the f32 kernel's on the same (rounded) values, rounded: bit for bit on the same device, masks
// included. Gradients see the saved bf16 probabilities and outputs, so they match the f32 ones to
// a few bf16 roundings (at most 2^-8 relative each, about half that on average; about one is seen).
void check_bf16_attention(Device device) {
  const int64_t batch = 2, heads = 2, t = 37, dh = 16;
  const Shape shape{batch, heads, t, dh};
  const auto operand = [&](uint32_t seed, float range) {
    return to_dtype(
        to_device(Tensor::from_vector(uniform_values(shape_numel(shape), seed, -range, range), shape), device),
        DType::BF16);
  };
  const Tensor scores = to_dtype(
      to_device(Tensor::from_vector(uniform_values(batch * heads * t * t, 61, -4, 4), {batch, heads, t, t}), device),
      DType::BF16);
  const Tensor q = operand(63, 2), k = operand(64, 2), v = operand(65, 1), g = operand(66, 1);
  const Tensor g_scores =
      to_dtype(to_device(Tensor::from_vector(uniform_values(batch * heads * t * t, 67), {batch, heads, t, t}), device),
               DType::BF16);

  // softmax_dropout: forward bit for bit, and the gradient.
  {
    Tensor x16 = scores.detach(), x32 = to_dtype(scores, DType::F32).detach();
    x16.requires_grad_(true);
    x32.requires_grad_(true);
    Generator gen16(7), gen32(7);
    const Tensor y16 = softmax_dropout(x16, 0.25, true, true, gen16);
    const Tensor y32 = softmax_dropout(x32, 0.25, true, true, gen32);
    expect_rounded_reference(y16, to_device(y32, kCPU), 0, "softmax_dropout");
    sum(mul(y16, g_scores)).backward();
    sum(mul(y32, to_dtype(g_scores, DType::F32))).backward();
    ASSERT_EQ(x16.grad().dtype(), DType::BF16);
    EXPECT_LT(relative_rms_difference(x16.grad(), x32.grad()), std::ldexp(1.0, -7)) << "softmax_dropout gradient";
  }
  // flash_attention: forward bit for bit, and the three gradients.
  {
    std::vector<Tensor> leaves16, leaves32;
    for (const Tensor& x : {q, k, v}) {
      Tensor a = x.detach(), b = to_dtype(x, DType::F32).detach();
      a.requires_grad_(true);
      b.requires_grad_(true);
      leaves16.push_back(a);
      leaves32.push_back(b);
    }
    Generator gen16(8), gen32(8);
    const Tensor out16 = flash_attention(leaves16[0], leaves16[1], leaves16[2], 0.2, true, true, gen16);
    const Tensor out32 = flash_attention(leaves32[0], leaves32[1], leaves32[2], 0.2, true, true, gen32);
    expect_rounded_reference(out16, to_device(out32, kCPU), 0, "flash_attention");
    sum(mul(out16, g)).backward();
    sum(mul(out32, to_dtype(g, DType::F32))).backward();
    for (size_t i = 0; i < 3; ++i) {
      ASSERT_EQ(leaves16[i].grad().dtype(), DType::BF16);
      EXPECT_LT(relative_rms_difference(leaves16[i].grad(), leaves32[i].grad()), std::ldexp(1.0, -7))
          << "flash_attention gradient of input " << i;
    }
  }
}

#if defined(MINIDL_HAS_EMU)
const Device kEmu{DeviceType::CUDAEmu, 0};
TEST(Bf16EmulatedCuda, CastsMatchTheCpuBitForBit) { check_casts_match_the_cpu(kEmu); }
TEST(Bf16EmulatedCuda, GemmAccumulatesInF32) { check_gemm_accumulates_in_f32(kEmu); }
TEST(AutocastEmulatedCuda, MatmulRoundsItsOperandsAndReturnsBf16) { check_autocast_matmul(kEmu); }
TEST(AutocastEmulatedCuda, BroadcastAndLinearGradients) { check_autocast_broadcast_and_linear_gradients(kEmu); }
TEST(Bf16EmulatedCuda, ElementwiseAndReductionsRoundTheF32Result) { check_bf16_elementwise_and_reductions(kEmu, 0); }
TEST(Bf16EmulatedCuda, Bf16MeetingF32ComputesInF32) { check_bf16_promotes_to_f32(kEmu); }
TEST(Bf16EmulatedCuda, DropoutDrawsTheF32Masks) { check_bf16_dropout(kEmu); }
TEST(Bf16EmulatedCuda, AttentionRoundsTheF32Kernels) { check_bf16_attention(kEmu); }
TEST(AutocastEmulatedCuda, F32OpsWidenBf16) { check_autocast_widens_f32_ops(kEmu); }
#endif

// The same on a GPU: cuBLAS's bf16 GEMM by default, the native kernel under MINIDL_GEMM=native.
class Bf16Gpu : public ::testing::Test {
 protected:
  void SetUp() override {
    if (cuda_device_count() == 0) GTEST_SKIP() << "needs a GPU: " << cuda_unavailable_reason();
  }
  const Device gpu_{DeviceType::CUDA, 0};
};
TEST_F(Bf16Gpu, CastsMatchTheCpuBitForBit) { check_casts_match_the_cpu(gpu_); }
TEST_F(Bf16Gpu, GemmAccumulatesInF32) { check_gemm_accumulates_in_f32(gpu_); }
TEST_F(Bf16Gpu, AutocastMatmulRoundsItsOperandsAndReturnsBf16) { check_autocast_matmul(gpu_); }
TEST_F(Bf16Gpu, AutocastBroadcastAndLinearGradients) { check_autocast_broadcast_and_linear_gradients(gpu_); }
TEST_F(Bf16Gpu, ElementwiseAndReductionsRoundTheF32Result) { check_bf16_elementwise_and_reductions(gpu_, 1); }
TEST_F(Bf16Gpu, Bf16MeetingF32ComputesInF32) { check_bf16_promotes_to_f32(gpu_); }
TEST_F(Bf16Gpu, DropoutDrawsTheF32Masks) { check_bf16_dropout(gpu_); }
TEST_F(Bf16Gpu, AttentionRoundsTheF32Kernels) { check_bf16_attention(gpu_); }
TEST_F(Bf16Gpu, AutocastF32OpsWidenBf16) { check_autocast_widens_f32_ops(gpu_); }

}  // namespace
}  // namespace minidl
