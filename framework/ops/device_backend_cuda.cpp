// The real GPU: kernels/cuda compiled by nvcc. GEMM goes to cuBLAS by default; MINIDL_GEMM=native
// selects the hand-written tiled GEMM (kernels/cuda/matmul.cu) instead.
#if defined(MINIDL_HAS_CUDA)
#include <cublas_v2.h>

#include <cstdlib>
#include <cstring>
#include <type_traits>

#include "framework/core/check.h"
#include "framework/ops/backend.h"
#include "kernels/cuda/launchers.h"

namespace minidl {
namespace {

bool native_gemm() {
  const char* choice = std::getenv("MINIDL_GEMM");
  if (choice == nullptr || std::strcmp(choice, "cublas") == 0) return false;
  MINIDL_CHECK(std::strcmp(choice, "native") == 0, "MINIDL_GEMM='{}': expected cublas or native", choice);
  return true;
}

cublasHandle_t cublas() {
  static cublasHandle_t handle = [] {
    cublasHandle_t h = nullptr;
    cublasStatus_t status = cublasCreate(&h);
    MINIDL_CHECK(status == CUBLAS_STATUS_SUCCESS, "cublasCreate failed: {}", cublasGetStatusString(status));
    // No TF32, and bf16 GEMMs keep f32 in split-K reductions too, as the native kernel does.
    status = cublasSetMathMode(
        h, static_cast<cublasMath_t>(CUBLAS_DEFAULT_MATH | CUBLAS_MATH_DISALLOW_REDUCED_PRECISION_REDUCTION));
    MINIDL_CHECK(status == CUBLAS_STATUS_SUCCESS, "cublasSetMathMode failed: {}", cublasGetStatusString(status));
    return h;
  }();
  return handle;
}

// Row-major C = op(A) op(B) is column-major C^T = op(B)^T op(A)^T: cuBLAS gets B first.
// bf16 operands and result accumulate in f32 (CUBLAS_COMPUTE_32F), as the native kernel does.
template <typename T>
void cublas_gemm(const Backend::GemmBatch& g, const T* a, const T* b, T* c) {
  const compute_t<T> one = 1, zero = 0;
  const cublasOperation_t op_a = g.trans_a ? CUBLAS_OP_T : CUBLAS_OP_N, op_b = g.trans_b ? CUBLAS_OP_T : CUBLAS_OP_N;
  cublasStatus_t status;
  if constexpr (std::is_same_v<T, bf16>) {
    status = cublasGemmStridedBatchedEx(cublas(), op_b, op_a, g.n, g.m, g.k, &one, b, CUDA_R_16BF, g.ldb, g.stride_b, a,
                                        CUDA_R_16BF, g.lda, g.stride_a, &zero, c, CUDA_R_16BF, g.n, g.m * g.n, g.batch,
                                        CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT);
  } else if constexpr (std::is_same_v<T, float>) {
    status = cublasSgemmStridedBatched(cublas(), op_b, op_a, g.n, g.m, g.k, &one, b, g.ldb, g.stride_b, a, g.lda,
                                       g.stride_a, &zero, c, g.n, g.m * g.n, g.batch);
  } else {
    status = cublasDgemmStridedBatched(cublas(), op_b, op_a, g.n, g.m, g.k, &one, b, g.ldb, g.stride_b, a, g.lda,
                                       g.stride_a, &zero, c, g.n, g.m * g.n, g.batch);
  }
  MINIDL_CHECK(status == CUBLAS_STATUS_SUCCESS, "cuBLAS GEMM {}x{}x{} (batch {}) failed: {}", g.m, g.n, g.k, g.batch,
               cublasGetStatusString(status));
}

template <typename T>
void device_gemm(const Backend::GemmBatch& g, const T* a, const T* b, T* c) {
  static const bool native = native_gemm();
  if (native || g.k == 0) {  // cuBLAS leaves C untouched for k = 0; the native kernel writes zeros
    cuda::gemm<T>(g.trans_a, g.trans_b, g.batch, g.m, g.n, g.k, a, g.lda, g.stride_a, b, g.ldb, g.stride_b, c, nullptr);
  } else {
    cublas_gemm<T>(g, a, b, c);
  }
}

}  // namespace
}  // namespace minidl

#define MINIDL_KERNELS_NS cuda
#include "framework/ops/device_backend.inl"
#endif

#include "framework/ops/backend.h"
#include "framework/core/cuda_memory.h"

namespace minidl {

Backend& cuda_backend() {
#if defined(MINIDL_HAS_CUDA)
  static DeviceBackend backend;
  return backend;
#else
  MINIDL_FAIL("device cuda: {}", cuda_unavailable_reason());
#endif
}

}  // namespace minidl
