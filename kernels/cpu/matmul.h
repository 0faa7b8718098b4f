// CPU reference GEMM: C = alpha * op(A) @ op(B) + beta * C, row-major, op = transpose or not.
// A plain triple loop with double accumulation: the test reference for every fast GEMM path.
#pragma once

#include <cstdint>

namespace minidl::cpu {

template <typename T>
void gemm_reference(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, T alpha, const T* a,
                    int64_t lda, const T* b, int64_t ldb, T beta, T* c, int64_t ldc);

}  // namespace minidl::cpu
