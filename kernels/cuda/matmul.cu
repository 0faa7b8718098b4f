// The native GEMM: C_b = op(A_b) @ op(B_b) for a batch of row-major matrices (CPU reference:
// kernels/cpu/matmul.h gemm_reference with alpha = 1, beta = 0).
//
// Tiling. A block of 256 threads computes one 64 x 64 tile of C (kBM x kBN). It walks k in
// steps of kBK = 16: the 256 threads copy the 64 x 16 slice of op(A) and the 16 x 64 slice of
// op(B) into shared memory (zeros past m, n or k, so tails need no other care), wait, and each
// thread accumulates a 4 x 4 micro-tile of C from them: rows ty + 16 r and columns tx + 16 c
// (tx = thread % 16, ty = thread / 16). That strided micro-tile makes a warp's shared reads either
// one broadcast address (A) or 16 consecutive words (B), and its C writes 16 consecutive columns.
// Both slices are stored k-major (As[p][i], Bs[p][j]); the thread-to-element mapping of the copy
// follows the stored layout of each operand (transposed or not), so global reads run along the
// contiguous dimension, and the rows are padded by one element against bank conflicts.
//
// Blocks: blockIdx.x walks the output tiles (a block-uniform loop covers any count), blockIdx.z
// the batch, at most 65535 matrices a launch (the launcher loops over chunks). Products accumulate
// in compute_t<T> (f32 for bf16, whose operands are widened as they enter shared memory and whose
// results round once on store) in increasing k order; the block shape is fixed, so results do not
// depend on the launch policy. k == 0 writes zeros.
#include <algorithm>
#include <cstdint>

#include "kernels/common/bfloat16.h"
#include "kernels/cuda/launch.h"

namespace minidl::MINIDL_CUDA_NS {

#include "kernels/cuda/matmul.inc"

namespace {

constexpr int kBM = 64, kBN = 64, kBK = 16;
constexpr int kThreads = 256;                  // 16 x 16 threads
constexpr int kTM = kBM / 16, kTN = kBN / 16;  // the micro-tile: 4 x 4
constexpr int kLdA = kBM + 1, kLdB = kBN + 1;  // padded shared rows
constexpr unsigned kMaxBatchPerLaunch = 65535;

template <typename T>
__global__ void gemm_tiled_kernel(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, const T* a, int64_t lda,
                                  int64_t stride_a, const T* b, int64_t ldb, int64_t stride_b, T* c,
                                  int64_t batch_offset) {
  using Acc = compute_t<T>;
  MINIDL_SHARED(Acc, as, kBK * kLdA);
  MINIDL_SHARED(Acc, bs, kBK * kLdB);
  const int tid = static_cast<int>(threadIdx.x);
  const int tx = tid % 16, ty = tid / 16;
  const int64_t batch = batch_offset + blockIdx.z;
  const T* ab = a + batch * stride_a;
  const T* bb = b + batch * stride_b;
  T* cb = c + batch * m * n;
  const int64_t tiles_n = (n + kBN - 1) / kBN;
  const int64_t tiles = (m + kBM - 1) / kBM * tiles_n;

  for (int64_t tile = blockIdx.x; tile < tiles; tile += gridDim.x) {  // block-uniform
    const int64_t row0 = tile / tiles_n * kBM, col0 = tile % tiles_n * kBN;
    Acc acc[kTM][kTN];
    for (int r = 0; r < kTM; ++r)
      for (int q = 0; q < kTN; ++q) acc[r][q] = Acc(0);

    for (int64_t k0 = 0; k0 < k; k0 += kBK) {
      // op(A)[i, p] for i in [row0, row0 + 64), p in [k0, k0 + 16): 1024 elements, 4 a thread.
      for (int s = 0; s < kBM * kBK / kThreads; ++s) {
        const int l = tid + s * kThreads;
        // Consecutive threads take consecutive addresses of the stored matrix.
        const int i = trans_a ? l % kBM : l / kBK, p = trans_a ? l / kBM : l % kBK;
        const int64_t gi = row0 + i, gp = k0 + p;
        Acc v = Acc(0);
        if (gi < m && gp < k) v = Acc(trans_a ? ab[gp * lda + gi] : ab[gi * lda + gp]);
        as[p * kLdA + i] = v;
      }
      // op(B)[p, j] for p in [k0, k0 + 16), j in [col0, col0 + 64).
      for (int s = 0; s < kBK * kBN / kThreads; ++s) {
        const int l = tid + s * kThreads;
        const int j = trans_b ? l / kBK : l % kBN, p = trans_b ? l % kBK : l / kBN;
        const int64_t gp = k0 + p, gj = col0 + j;
        Acc v = Acc(0);
        if (gp < k && gj < n) v = Acc(trans_b ? bb[gj * ldb + gp] : bb[gp * ldb + gj]);
        bs[p * kLdB + j] = v;
      }
      __syncthreads();
      for (int p = 0; p < kBK; ++p) {
        Acc av[kTM], bv[kTN];
        for (int r = 0; r < kTM; ++r) av[r] = as[p * kLdA + ty + 16 * r];
        for (int q = 0; q < kTN; ++q) bv[q] = bs[p * kLdB + tx + 16 * q];
        for (int r = 0; r < kTM; ++r)
          for (int q = 0; q < kTN; ++q) acc[r][q] += av[r] * bv[q];
      }
      __syncthreads();  // the slices are rewritten next step
    }

    for (int r = 0; r < kTM; ++r) {
      const int64_t gi = row0 + ty + 16 * r;
      for (int q = 0; q < kTN; ++q) {
        const int64_t gj = col0 + tx + 16 * q;
        if (gi < m && gj < n) cb[gi * n + gj] = T(acc[r][q]);
      }
    }
  }
}

}  // namespace

template <typename T>
void gemm(bool trans_a, bool trans_b, int64_t batch, int64_t m, int64_t n, int64_t k, const T* a, int64_t lda,
          int64_t stride_a, const T* b, int64_t ldb, int64_t stride_b, T* c, Stream stream) {
  if (batch <= 0 || m <= 0 || n <= 0) return;
  const int64_t tiles = (m + kBM - 1) / kBM * ((n + kBN - 1) / kBN);
  const unsigned grid_x = static_cast<unsigned>(std::min<int64_t>(tiles, 2147483647));
  for (int64_t b0 = 0; b0 < batch; b0 += kMaxBatchPerLaunch) {
    const unsigned chunk = static_cast<unsigned>(std::min<int64_t>(batch - b0, kMaxBatchPerLaunch));
    launch("gemm_tiled", gemm_tiled_kernel<T>, dim3(grid_x, 1, chunk), dim3(kThreads), 0, stream, trans_a, trans_b, m,
           n, k, a, lda, stride_a, b, ldb, stride_b, c, b0);
  }
}

template void gemm<float>(bool, bool, int64_t, int64_t, int64_t, int64_t, const float*, int64_t, int64_t, const float*,
                          int64_t, int64_t, float*, Stream);
template void gemm<double>(bool, bool, int64_t, int64_t, int64_t, int64_t, const double*, int64_t, int64_t,
                           const double*, int64_t, int64_t, double*, Stream);
template void gemm<bf16>(bool, bool, int64_t, int64_t, int64_t, int64_t, const bf16*, int64_t, int64_t, const bf16*,
                         int64_t, int64_t, bf16*, Stream);

}  // namespace minidl::MINIDL_CUDA_NS
