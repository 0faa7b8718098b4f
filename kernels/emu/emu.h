// The CUDA device API for the host compiler: a kernels/cuda source compiled with MINIDL_EMU
// defined sees threadIdx, barriers, warp operations, atomics and intrinsics implemented on top of
// kernels/emu/runtime.h, and runs on the CPU unchanged. See docs/kernels.md for the subset.
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <math.h>
#include <vector_functions.h>
#include <vector_types.h>

#include <cstdint>
#include <cstring>
#include <source_location>
#include <type_traits>

#include "kernels/emu/runtime.h"

// Plain __shared__ would give every emulated thread its own copy: use MINIDL_SHARED instead.
#undef __shared__
#define __shared__ MINIDL_EMU_use_MINIDL_SHARED_for_shared_memory

#define threadIdx (::minidl::emu::current_thread().thread_idx)
#define blockIdx (::minidl::emu::current_thread().block_idx)
#define blockDim (::minidl::emu::current_thread().block_dim)
#define gridDim (::minidl::emu::current_thread().grid_dim)
inline constexpr int warpSize = ::minidl::emu::DeviceLimits::kWarpSize;

namespace minidl::emu {

template <typename T>
uint64_t to_bits(T value) {
  static_assert(sizeof(T) <= 8 && std::is_trivially_copyable_v<T>, "warp operations move values of at most 8 bytes");
  uint64_t bits = 0;
  std::memcpy(&bits, &value, sizeof(T));
  return bits;
}

template <typename T>
T from_bits(uint64_t bits) {
  T value;
  std::memcpy(&value, &bits, sizeof(T));
  return value;
}

inline unsigned lane_id() { return current_thread().linear % 32; }

// The value of lane `src`, or the caller's own when src is outside the caller's width segment.
template <typename T>
T shuffle(unsigned mask, T var, int src, bool in_range, const char* op, std::source_location where) {
  const uint64_t* values = warp_exchange(mask, to_bits(var), op, where);
  if (!in_range) return var;
  if (!(mask >> src & 1u)) {
    throw Error(std::string(op) + " at " + where.file_name() + ":" + std::to_string(where.line()) + ": lane " +
                std::to_string(lane_id()) + " reads lane " + std::to_string(src) + ", which is not in the mask");
  }
  return from_bits<T>(values[src]);
}

inline unsigned ballot(unsigned mask, int predicate, const char* op, std::source_location where) {
  const uint64_t* values = warp_exchange(mask, predicate != 0, op, where);
  unsigned bits = 0;
  for (unsigned l = 0; l < 32; ++l)
    if ((mask >> l & 1u) && values[l] != 0) bits |= 1u << l;
  return bits;
}

}  // namespace minidl::emu

// Barriers. A barrier must be reached by every thread of the block, at one site.
inline void __syncthreads(std::source_location w = std::source_location::current()) {
  ::minidl::emu::block_barrier(0, w);
}
inline int __syncthreads_count(int p, std::source_location w = std::source_location::current()) {
  return ::minidl::emu::block_barrier(p, w);
}
inline int __syncthreads_and(int p, std::source_location w = std::source_location::current()) {
  const dim3 b = blockDim;
  return ::minidl::emu::block_barrier(p, w) == static_cast<int>(b.x * b.y * b.z);
}
inline int __syncthreads_or(int p, std::source_location w = std::source_location::current()) {
  return ::minidl::emu::block_barrier(p, w) > 0;
}
inline void __syncwarp(unsigned mask = 0xffffffffu, std::source_location w = std::source_location::current()) {
  ::minidl::emu::warp_exchange(mask, 0, "__syncwarp", w);
}

// Warp shuffles: width is a power of two up to 32 that splits the warp into segments.
template <typename T>
T __shfl_sync(unsigned mask, T var, int src_lane, int width = warpSize,
              std::source_location w = std::source_location::current()) {
  const unsigned lane = ::minidl::emu::lane_id(), base = lane & ~(width - 1u);
  return ::minidl::emu::shuffle(mask, var, static_cast<int>(base + (src_lane & (width - 1))), true, "__shfl_sync", w);
}
template <typename T>
T __shfl_up_sync(unsigned mask, T var, unsigned delta, int width = warpSize,
                 std::source_location w = std::source_location::current()) {
  const unsigned lane = ::minidl::emu::lane_id();
  return ::minidl::emu::shuffle(mask, var, static_cast<int>(lane - delta), (lane & (width - 1u)) >= delta,
                                "__shfl_up_sync", w);
}
template <typename T>
T __shfl_down_sync(unsigned mask, T var, unsigned delta, int width = warpSize,
                   std::source_location w = std::source_location::current()) {
  const unsigned lane = ::minidl::emu::lane_id();
  return ::minidl::emu::shuffle(mask, var, static_cast<int>(lane + delta), (lane & (width - 1u)) + delta < unsigned(width),
                                "__shfl_down_sync", w);
}
template <typename T>
T __shfl_xor_sync(unsigned mask, T var, int lane_mask, int width = warpSize,
                  std::source_location w = std::source_location::current()) {
  const unsigned lane = ::minidl::emu::lane_id(), src = lane ^ static_cast<unsigned>(lane_mask);
  const unsigned base = lane & ~(width - 1u);
  return ::minidl::emu::shuffle(mask, var, static_cast<int>(src), src >= base && src < base + width, "__shfl_xor_sync", w);
}

// Votes.
inline unsigned __ballot_sync(unsigned mask, int p, std::source_location w = std::source_location::current()) {
  return ::minidl::emu::ballot(mask, p, "__ballot_sync", w);
}
inline int __any_sync(unsigned mask, int p, std::source_location w = std::source_location::current()) {
  return ::minidl::emu::ballot(mask, p, "__any_sync", w) != 0;
}
inline int __all_sync(unsigned mask, int p, std::source_location w = std::source_location::current()) {
  return ::minidl::emu::ballot(mask, p, "__all_sync", w) == mask;
}
inline unsigned __activemask() { return ::minidl::emu::active_lanes(); }

// Atomics: fibers never switch inside one, so a plain read-modify-write is atomic. Each returns
// the old value, as CUDA's do.
template <typename T>
T atomicAdd(T* address, T value) {
  const T old = *address;
  *address = old + value;
  return old;
}
template <typename T>
T atomicSub(T* address, T value) {
  const T old = *address;
  *address = old - value;
  return old;
}
template <typename T>
T atomicExch(T* address, T value) {
  const T old = *address;
  *address = value;
  return old;
}
template <typename T>
T atomicMax(T* address, T value) {
  const T old = *address;
  *address = old < value ? value : old;
  return old;
}
template <typename T>
T atomicMin(T* address, T value) {
  const T old = *address;
  *address = value < old ? value : old;
  return old;
}
template <typename T>
T atomicCAS(T* address, T compare, T value) {
  const T old = *address;
  if (old == compare) *address = value;
  return old;
}
template <typename T>
T atomicAnd(T* address, T value) {
  const T old = *address;
  *address = old & value;
  return old;
}
template <typename T>
T atomicOr(T* address, T value) {
  const T old = *address;
  *address = old | value;
  return old;
}
template <typename T>
T atomicXor(T* address, T value) {
  const T old = *address;
  *address = old ^ value;
  return old;
}

// Memory: one thread runs at a time, so fences order nothing further.
inline void __threadfence() {}
inline void __threadfence_block() {}
template <typename T>
T __ldg(const T* address) {
  return *address;
}

// CUDA's mixed-type min/max: the usual arithmetic conversions, fmin/fmax for floating types.
template <typename A, typename B, typename = std::enable_if_t<std::is_arithmetic_v<A> && std::is_arithmetic_v<B>>>
std::common_type_t<A, B> max(A a, B b) {
  using C = std::common_type_t<A, B>;
  if constexpr (std::is_floating_point_v<C>) return fmax(static_cast<C>(a), static_cast<C>(b));
  else return static_cast<C>(a) < static_cast<C>(b) ? static_cast<C>(b) : static_cast<C>(a);
}
template <typename A, typename B, typename = std::enable_if_t<std::is_arithmetic_v<A> && std::is_arithmetic_v<B>>>
std::common_type_t<A, B> min(A a, B b) {
  using C = std::common_type_t<A, B>;
  if constexpr (std::is_floating_point_v<C>) return fmin(static_cast<C>(a), static_cast<C>(b));
  else return static_cast<C>(b) < static_cast<C>(a) ? static_cast<C>(b) : static_cast<C>(a);
}

// Intrinsics kernels use, with the accurate function standing in for the fast approximation.
inline float __expf(float x) { return expf(x); }
inline float __logf(float x) { return logf(x); }
inline float __fdividef(float a, float b) { return a / b; }
inline float rsqrtf(float x) { return 1.0f / sqrtf(x); }
inline double rsqrt(double x) { return 1.0 / sqrt(x); }
inline float __fmaf_rn(float a, float b, float c) { return fmaf(a, b, c); }
inline float __saturatef(float x) { return x < 0.0f ? 0.0f : (x > 1.0f ? 1.0f : x); }
inline float __int_as_float(int x) { return ::minidl::emu::from_bits<float>(static_cast<uint32_t>(x)); }
inline int __float_as_int(float x) { return static_cast<int>(static_cast<uint32_t>(::minidl::emu::to_bits(x))); }
inline float __uint_as_float(unsigned x) { return ::minidl::emu::from_bits<float>(x); }
inline unsigned __float_as_uint(float x) { return static_cast<unsigned>(::minidl::emu::to_bits(x)); }
inline int __popc(unsigned x) { return __builtin_popcount(x); }
inline int __popcll(unsigned long long x) { return __builtin_popcountll(x); }
inline int __clz(unsigned x) { return x == 0 ? 32 : __builtin_clz(x); }
inline int __ffs(unsigned x) { return __builtin_ffs(static_cast<int>(x)); }
