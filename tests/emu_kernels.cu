// Kernels that exercise the SIMT emulator: correct ones checked against closed forms, and
// deliberately wrong ones that the emulator must report. Built for the emulator only: on a GPU
// the wrong ones would be undefined behaviour.
#include "kernels/cuda/launch.h"

namespace minidl::MINIDL_CUDA_NS {

#include "tests/emu_kernels.inc"

namespace {

__global__ void divergent_barrier_kernel() {
  if (threadIdx.x >= blockDim.x / 2) return;  // the bug the emulator must name
  __syncthreads();
}

__global__ void split_barrier_sites_kernel() {
  if (threadIdx.x % 2 == 0) {
    __syncthreads();
  } else {
    __syncthreads();
  }
}

__global__ void partial_warp_shuffle_kernel() {
  if (threadIdx.x >= 16) return;
  float v = static_cast<float>(threadIdx.x);
  v += __shfl_down_sync(0xffffffffu, v, 1);
}

__global__ void barrier_warp_deadlock_kernel() {
  float v = 1.0f;
  if (threadIdx.x < 16) {
    v = __shfl_sync(0xffffffffu, v, 0);
  } else {
    __syncthreads();
  }
}

__global__ void shuffle_outside_mask_kernel(float* out) {
  if (threadIdx.x < 1) out[0] = __shfl_sync(0x1u, 1.0f, 1);
}

__global__ void uninitialized_shared_kernel(int written, float* out) {
  MINIDL_SHARED(float, buffer, 1024);
  if (static_cast<int>(threadIdx.x) < written) buffer[threadIdx.x] = 1.0f;
  __syncthreads();
  out[threadIdx.x] = buffer[threadIdx.x];
}

__global__ void block_sum_kernel(const float* x, float* out) {
  MINIDL_SHARED(float, partial, 1024);
  const unsigned t = threadIdx.x;
  partial[t] = x[blockIdx.x * blockDim.x + t];
  __syncthreads();
  for (unsigned half = blockDim.x / 2; half >= 32; half /= 2) {
    if (t < half) partial[t] += partial[t + half];
    __syncthreads();
  }
  if (t < 32) {
    float v = partial[t];
    for (int delta = 16; delta > 0; delta /= 2) v += __shfl_down_sync(0xffffffffu, v, delta);
    if (t == 0) out[blockIdx.x] = v;
  }
}

__global__ void barrier_predicates_kernel(const float* x, int* counts) {
  const int p = x[threadIdx.x] > 0.0f;
  const int count = __syncthreads_count(p);
  const int all = __syncthreads_and(p);
  const int any = __syncthreads_or(p);
  if (threadIdx.x == 0) {
    counts[0] = count;
    counts[1] = all;
    counts[2] = any;
  }
}

__global__ void shuffles_kernel(int* out) {
  const int lane = static_cast<int>(threadIdx.x);
  const int v = lane * 10;
  out[0 * 32 + lane] = __shfl_sync(0xffffffffu, v, (7 * lane + 3) % 32);
  out[1 * 32 + lane] = __shfl_up_sync(0xffffffffu, v, 3);
  out[2 * 32 + lane] = __shfl_down_sync(0xffffffffu, v, 5);
  out[3 * 32 + lane] = __shfl_xor_sync(0xffffffffu, v, 9);
  out[4 * 32 + lane] = __shfl_sync(0xffffffffu, v, 2, 8);
  out[5 * 32 + lane] = __shfl_up_sync(0xffffffffu, v, 1, 8);
}

__global__ void votes_kernel(unsigned* out) {
  const unsigned lane = threadIdx.x;
  const unsigned ballot = __ballot_sync(0xffffffffu, lane % 3 == 0);
  const int any = __any_sync(0xffffffffu, lane % 3 == 0);
  const int all = __all_sync(0xffffffffu, lane % 3 == 0);
  const unsigned ballot_all = __ballot_sync(0xffffffffu, lane < 40);
  const int any_none = __any_sync(0xffffffffu, lane > 40);
  const int all_true = __all_sync(0xffffffffu, lane < 40);
  if (lane == 0) {
    out[0] = ballot;
    out[1] = static_cast<unsigned>(any);
    out[2] = static_cast<unsigned>(all);
    out[3] = ballot_all;
    out[4] = static_cast<unsigned>(any_none);
    out[5] = static_cast<unsigned>(all_true);
  }
}

__global__ void atomics_kernel(const int* x, int n, int bins, int* histogram, int* max_out, int* cas_count) {
  const int stride = static_cast<int>(gridDim.x * blockDim.x);
  for (int i = static_cast<int>(blockIdx.x * blockDim.x + threadIdx.x); i < n; i += stride) {
    atomicAdd(&histogram[x[i] % bins], 1);
    atomicMax(max_out, x[i]);
  }
  int seen = *cas_count, assumed;
  do {
    assumed = seen;
    seen = atomicCAS(cas_count, assumed, assumed + 1);
  } while (seen != assumed);
}

__global__ void out_of_bounds_read_kernel(int n, const float* x, float* out) {
  const int i = static_cast<int>(threadIdx.x);
  if (i <= n) out[0] += x[i];  // the bug: i == n is past the end
}

__global__ void half_round_trip_kernel(int n, const float* x, float* out) {
  const int i = static_cast<int>(blockIdx.x * blockDim.x + threadIdx.x);
  if (i < n) {
    const __half h = __float2half(x[i]);
    const __nv_bfloat16 b = __float2bfloat16(x[i]);
    out[i] = __half2float(h);
    out[n + i] = __bfloat162float(b);
  }
}

__global__ void empty_kernel() {}

__global__ void static_shared_overflow_kernel() {
  MINIDL_SHARED(float, big, 16 * 1024);
  big[threadIdx.x] = 0.0f;
}

}  // namespace

void divergent_barrier(int threads) { launch("divergent_barrier", divergent_barrier_kernel, dim3(1), dim3(threads), 0, nullptr); }
void split_barrier_sites(int threads) {
  launch("split_barrier_sites", split_barrier_sites_kernel, dim3(1), dim3(threads), 0, nullptr);
}
void partial_warp_shuffle() { launch("partial_warp_shuffle", partial_warp_shuffle_kernel, dim3(1), dim3(32), 0, nullptr); }
void barrier_warp_deadlock() { launch("barrier_warp_deadlock", barrier_warp_deadlock_kernel, dim3(1), dim3(32), 0, nullptr); }
void shuffle_outside_mask(float* out) {
  launch("shuffle_outside_mask", shuffle_outside_mask_kernel, dim3(1), dim3(32), 0, nullptr, out);
}
void uninitialized_shared(int threads, int written, float* out) {
  launch("uninitialized_shared", uninitialized_shared_kernel, dim3(1), dim3(threads), 0, nullptr, written, out);
}
void block_sum(int blocks, int threads, const float* x, float* out) {
  launch("block_sum", block_sum_kernel, dim3(blocks), dim3(threads), 0, nullptr, x, out);
}
void barrier_predicates(int threads, const float* x, int* counts) {
  launch("barrier_predicates", barrier_predicates_kernel, dim3(1), dim3(threads), 0, nullptr, x, counts);
}
void shuffles(int* out) { launch("shuffles", shuffles_kernel, dim3(1), dim3(32), 0, nullptr, out); }
void votes(unsigned* out) { launch("votes", votes_kernel, dim3(1), dim3(32), 0, nullptr, out); }
void atomics(int blocks, int threads, const int* x, int n, int bins, int* histogram, int* max_out, int* cas_count) {
  launch("atomics", atomics_kernel, dim3(blocks), dim3(threads), 0, nullptr, x, n, bins, histogram, max_out, cas_count);
}
void out_of_bounds_read(int n, const float* x, float* out) {
  launch("out_of_bounds_read", out_of_bounds_read_kernel, dim3(1), dim3(n + 1), 0, nullptr, n, x, out);
}
void half_round_trip(int n, const float* x, float* out) {
  launch("half_round_trip", half_round_trip_kernel, dim3((n + 63) / 64), dim3(64), 0, nullptr, n, x, out);
}
void launch_with(unsigned grid, unsigned block, size_t dynamic_shared) {
  launch("empty", empty_kernel, dim3(grid), dim3(block), dynamic_shared, nullptr);
}
void static_shared_overflow() {
  launch("static_shared_overflow", static_shared_overflow_kernel, dim3(1), dim3(32), 0, nullptr);
}

}  // namespace minidl::MINIDL_CUDA_NS
