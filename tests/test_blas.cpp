// The OpenBLAS fast path against the naive reference GEMM, in f32 on the MLP's shapes and on odd
// ones, with every transpose combination: this is what catches a kernel family that computes
// wrong results on this CPU.
#include <gtest/gtest.h>

#include <cmath>

#include "framework/ops/blas.h"
#include "framework/ops/ops.h"
#include "framework/random/generator.h"
#include "kernels/cpu/matmul.h"

namespace minidl {
namespace {

std::vector<float> random_values(int64_t n, Generator& gen) {
  std::vector<float> v(static_cast<size_t>(n));
  for (float& x : v) x = static_cast<float>(gen.next_uniform() * 2 - 1);
  return v;
}

TEST(CpuGemm, OpenBlasMatchesNaiveReference) {
  Generator gen(17);
  struct Case {
    int64_t m, n, k;
  };
  for (const Case c : {Case{128, 512, 784}, Case{128, 10, 512}, Case{1, 1, 1}, Case{7, 13, 5}, Case{33, 65, 129}}) {
    for (int trans = 0; trans < 4; ++trans) {
      const bool ta = trans & 1, tb = trans & 2;
      const std::vector<float> a = random_values(c.m * c.k, gen), b = random_values(c.k * c.n, gen);
      std::vector<float> fast(static_cast<size_t>(c.m * c.n)), ref(fast.size());
      const int64_t lda = ta ? c.m : c.k, ldb = tb ? c.k : c.n;
      blas::gemm(ta, tb, c.m, c.n, c.k, a.data(), lda, b.data(), ldb, fast.data(), c.n);
      cpu::gemm_reference<float>(ta, tb, c.m, c.n, c.k, 1.0f, a.data(), lda, b.data(), ldb, 0.0f, ref.data(), c.n);
      // |a|, |b| <= 1: any summation order stays within k * 2^-23 of the exact sum, plus rounding.
      const double tol = static_cast<double>(c.k) * 1.2e-7 + 1e-6;
      for (size_t i = 0; i < fast.size(); ++i) {
        ASSERT_NEAR(fast[i], ref[i], tol) << c.m << "x" << c.n << "x" << c.k << " trans " << trans << " element " << i
                                          << " (OpenBLAS core " << blas::core_name() << ")";
      }
    }
  }
}

TEST(CpuGemm, KernelFamilyFollowsTheCpu) {
  const std::string core = blas::core_name();
  EXPECT_FALSE(core.empty());
  // Unless the environment asked for the SSE3 kernels, an AVX2 CPU must not get them.
  const char* requested = std::getenv("OPENBLAS_CORETYPE");
  const bool asked_for_sse3 = requested != nullptr && std::string(requested) == "Prescott";
  if (!asked_for_sse3 && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
    EXPECT_NE(core, "Prescott") << "an AVX2 CPU runs OpenBLAS's SSE3 kernels";
  }
}

}  // namespace
}  // namespace minidl
