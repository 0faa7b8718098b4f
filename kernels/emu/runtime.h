// The SIMT emulator's runtime: runs a grid one block at a time, each block's threads as
// cooperative fibers (Boost.Context), and implements the block- and warp-level meeting points.
// Misuse that CUDA leaves undefined is reported as minidl::emu::Error: a barrier reached by only
// part of a block, a warp operation whose named lanes never arrive, launch configurations or shared
// memory beyond the device limits. Kernel code reaches this through kernels/emu/emu.h.
#pragma once

#include <vector_types.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <source_location>
#include <stdexcept>
#include <string>

namespace minidl::emu {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The limits of the emulated device (those of sm_80/sm_90 without opt-in shared memory).
struct DeviceLimits {
  static constexpr unsigned kMaxThreadsPerBlock = 1024;
  static constexpr unsigned kMaxBlock[3] = {1024, 1024, 64};
  static constexpr unsigned kMaxGrid[3] = {2147483647u, 65535, 65535};
  static constexpr size_t kMaxSharedBytes = 48 * 1024;
  static constexpr int kWarpSize = 32;
};

// What the running fiber sees as threadIdx, blockIdx, blockDim and gridDim.
struct ThreadContext {
  uint3 thread_idx;
  uint3 block_idx;
  dim3 block_dim;
  dim3 grid_dim;
  unsigned linear;  // x + y * bx + z * bx * by
};

// The fiber running now; an Error outside a kernel.
const ThreadContext& current_thread();

struct LaunchConfig {
  const char* kernel;
  dim3 grid;
  dim3 block;
  size_t dynamic_shared_bytes;
};

// Runs body once per thread of the grid. Throws Error for a bad configuration, for misuse found
// while running, and rethrows an exception thrown by any thread, naming its block and thread.
void run_grid(const LaunchConfig& config, const std::function<void()>& body);

// Block barrier: returns, for __syncthreads_count/_and/_or, the number of threads whose
// predicate was non-zero.
int block_barrier(int predicate, std::source_location where);

// Warp meeting point: every lane of `mask` (which must include the caller) deposits `value`
// and waits for the others; returns the 32 deposited values, indexed by lane, valid until the
// caller's next warp operation.
const uint64_t* warp_exchange(unsigned mask, uint64_t value, const char* op, std::source_location where);

// Lanes of the caller's warp that have not exited.
unsigned active_lanes();

// Shared memory of the running block: static arrays keyed by declaration site, and the dynamic
// buffer sized at launch. Both are filled with 0xff bytes (a NaN in f32 and f64) when a block starts.
void* static_shared(const void* site, size_t bytes, size_t align);
void* dynamic_shared();

// The emulator visits ready fibers round-robin; MINIDL_EMU_SCHEDULE=shuffle:SEED visits them in a
// seeded random order instead, so order-dependent bugs show up and reproduce.
}  // namespace minidl::emu
