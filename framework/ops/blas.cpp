#include "framework/ops/blas.h"

#include <cblas.h>
#include <dlfcn.h>

#include <cstdlib>
#include <mutex>

#include "framework/core/check.h"

namespace minidl::blas {

namespace {

struct OpenBlas {
  decltype(&cblas_sgemm) sgemm;
  decltype(&cblas_dgemm) dgemm;
  decltype(&openblas_get_corename) corename;
};

const char* core_for_this_cpu() {
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
      __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl"))
    return "SkylakeX";
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return "Haswell";
  return nullptr;  // let OpenBLAS decide
}

template <typename Fn>
Fn symbol(void* lib, const char* name) {
  void* fn = dlsym(lib, name);
  MINIDL_CHECK(fn != nullptr, "OpenBLAS at {} lacks {}: {}", MINIDL_OPENBLAS_PATH, name, dlerror());
  return reinterpret_cast<Fn>(fn);
}

const OpenBlas& openblas() {
  static OpenBlas lib;
  static std::once_flag once;
  std::call_once(once, [] {
    const char* core = core_for_this_cpu();
    if (core != nullptr && std::getenv("OPENBLAS_CORETYPE") == nullptr) setenv("OPENBLAS_CORETYPE", core, 0);
    void* handle = dlopen(MINIDL_OPENBLAS_PATH, RTLD_NOW | RTLD_LOCAL);
    MINIDL_CHECK(handle != nullptr, "cannot load OpenBLAS from {}: {} (install libopenblas0-openmp)",
                 MINIDL_OPENBLAS_PATH, dlerror());
    lib = {symbol<decltype(&cblas_sgemm)>(handle, "cblas_sgemm"), symbol<decltype(&cblas_dgemm)>(handle, "cblas_dgemm"),
           symbol<decltype(&openblas_get_corename)>(handle, "openblas_get_corename")};
  });
  return lib;
}

CBLAS_TRANSPOSE op(bool trans) { return trans ? CblasTrans : CblasNoTrans; }

}  // namespace

void gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, const float* a, int64_t lda, const float* b,
          int64_t ldb, float* c, int64_t ldc) {
  openblas().sgemm(CblasRowMajor, op(trans_a), op(trans_b), m, n, k, 1.0f, a, lda, b, ldb, 0.0f, c, ldc);
}

void gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, const double* a, int64_t lda,
          const double* b, int64_t ldb, double* c, int64_t ldc) {
  openblas().dgemm(CblasRowMajor, op(trans_a), op(trans_b), m, n, k, 1.0, a, lda, b, ldb, 0.0, c, ldc);
}

std::string core_name() { return openblas().corename(); }

}  // namespace minidl::blas
