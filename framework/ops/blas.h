// The CPU GEMM fast path: OpenBLAS, loaded on first use.
//
// OpenBLAS picks its kernels when it is loaded. Version 0.3.21 (Debian 12) does not recognize
// recent Xeons and falls back to its SSE3 "Prescott" kernels, 3-5x slower than the AVX2/AVX-512
// ones these CPUs run. So minidl loads it itself: when OPENBLAS_CORETYPE is unset, it names the
// kernel family the CPU's own feature flags support (SkylakeX for AVX-512, Haswell for AVX2+FMA)
// before loading. A value already in the environment is always respected.
#pragma once

#include <cstdint>
#include <string>

namespace minidl::blas {

// C = op(A) @ op(B), row-major, beta = 0.
void gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, const float* a, int64_t lda, const float* b,
          int64_t ldb, float* c, int64_t ldc);
void gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, const double* a, int64_t lda,
          const double* b, int64_t ldb, double* c, int64_t ldc);

// The kernel family OpenBLAS runs ("Haswell", "Prescott", ...), loading it if needed.
std::string core_name();

}  // namespace minidl::blas
