// bf16 tensors and autocast: casts on every backend, the GEMM's f32 accumulation against exact
// products, autocast's f32 results and gradients, and one clear error wherever bf16 has no kernel.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include "file_checks.h"
#include "framework/core/cuda_memory.h"
#include "framework/io/safetensors.h"
#include "framework/ops/autocast.h"
#include "framework/ops/ops.h"

namespace minidl {
namespace {

std::vector<float> uniform_values(size_t n, uint32_t seed, float low = -1, float high = 1) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(low, high);
  std::vector<float> v(n);
  for (float& x : v) x = dist(rng);
  return v;
}

// Values a bf16 tensor holds exactly: each rounded by the shared rule (itself checked against
// cuda_bf16.h in test_bfloat16.cpp).
std::vector<float> rounded_to_bf16(std::vector<float> v) {
  for (float& x : v) x = static_cast<float>(bf16(x));
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
// rounding to bf16 (half an ulp, 2^-9 relative) plus f32 accumulation (k products, each off by at
// most 2^-24 of the running sum of magnitudes).
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
// returned in f32; gradients reach the f32 leaves in f32 and approximate the f32 ones.
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
  ASSERT_EQ(out.dtype(), DType::F32);
  ASSERT_EQ(out.shape(), (Shape{batch, m, n}));
  expect_bf16_product(out, rounded_to_bf16(av), rounded_to_bf16(bv), batch * m, n, k, false);

  auto [a32, b32] = leaves();
  const Tensor exact = matmul(a32, b32);
  const std::vector<float> f32 = exact.to_vector<float>(), mixed = out.to_vector<float>();
  EXPECT_NE(f32, mixed) << "autocast left the operands in f32";

  const std::vector<float> wv = uniform_values(batch * m * n, 10);
  const Tensor weights = to_device(Tensor::from_vector(wv, {batch, m, n}), device);
  sum(mul(out, weights)).backward();
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

// A matrix broadcast over a batch (W @ X[b]) gets its gradient summed over the batch in f32, and
// Linear's x @ W^T leaves W's gradient in W's own row-major layout.
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

#if defined(MINIDL_HAS_EMU)
const Device kEmu{DeviceType::CUDAEmu, 0};
TEST(Bf16EmulatedCuda, CastsMatchTheCpuBitForBit) { check_casts_match_the_cpu(kEmu); }
TEST(Bf16EmulatedCuda, GemmAccumulatesInF32) { check_gemm_accumulates_in_f32(kEmu); }
TEST(AutocastEmulatedCuda, MatmulRoundsItsOperandsAndReturnsF32) { check_autocast_matmul(kEmu); }
TEST(AutocastEmulatedCuda, BroadcastAndLinearGradients) { check_autocast_broadcast_and_linear_gradients(kEmu); }
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
TEST_F(Bf16Gpu, AutocastMatmulRoundsItsOperandsAndReturnsF32) { check_autocast_matmul(gpu_); }
TEST_F(Bf16Gpu, AutocastBroadcastAndLinearGradients) { check_autocast_broadcast_and_linear_gradients(gpu_); }

}  // namespace
}  // namespace minidl
