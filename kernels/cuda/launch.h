// Every kernel launch goes through launch(): it checks the configuration, opens an NVTX range
// named after the kernel, runs the kernel (with <<<>>> on a GPU, in the SIMT emulator otherwise),
// and turns a launch error into an exception naming the kernel, grid, block and call site.
#pragma once

#include <nvtx3/nvToolsExt.h>

#include <algorithm>
#include <cstdint>
#include <source_location>
#include <stdexcept>
#include <string>
#include <tuple>
#include <utility>

#include "kernels/cuda/device.h"
#include "kernels/cuda/launch_policy.h"
#include "kernels/cuda/stream.h"

namespace minidl::MINIDL_CUDA_NS {

// A kernel's name and the place it is launched from, for NVTX ranges and error messages.
struct KernelName {
  KernelName(const char* kernel_name, std::source_location site = std::source_location::current())
      : name(kernel_name), where(site) {}
  const char* name;
  std::source_location where;
};

namespace detail {

inline std::string describe(const KernelName& k, dim3 grid, dim3 block) {
  auto d = [](dim3 v) { return "(" + std::to_string(v.x) + "," + std::to_string(v.y) + "," + std::to_string(v.z) + ")"; };
  return std::string(k.name) + " grid " + d(grid) + " block " + d(block) + " launched at " + k.where.file_name() + ":" +
         std::to_string(k.where.line());
}

struct NvtxRange {
  explicit NvtxRange(const char* name) { nvtxRangePushA(name); }
  ~NvtxRange() { nvtxRangePop(); }
  NvtxRange(const NvtxRange&) = delete;
  NvtxRange& operator=(const NvtxRange&) = delete;
};

}  // namespace detail

template <typename... Params, typename... Args>
void launch(KernelName k, void (*kernel)(Params...), dim3 grid, dim3 block, size_t shared_bytes, Stream stream,
            Args&&... args) {
  detail::NvtxRange range(k.name);
#if defined(MINIDL_EMU)
  (void)stream;
  // Arguments are converted to the parameter types once, as a real launch copies them.
  const std::tuple<Params...> params(std::forward<Args>(args)...);
  try {
    emu::run_grid({k.name, grid, block, shared_bytes}, [&] { std::apply(kernel, params); });
  } catch (const emu::Error& e) {
    throw LaunchError(std::string(e.what()) + " (" + detail::describe(k, grid, block) + ")");
  }
#else
  kernel<<<grid, block, shared_bytes, stream>>>(std::forward<Args>(args)...);
  const cudaError_t err = cudaGetLastError();
  if (err != cudaSuccess)
    throw LaunchError(std::string(cudaGetErrorString(err)) + " (" + detail::describe(k, grid, block) + ")");
#endif
}

// Enough blocks of launch_policy().block threads for `items` work items, capped at
// launch_policy().max_blocks (kernels loop grid-stride over the rest).
inline dim3 grid_for(int64_t items) {
  const LaunchPolicy& p = launch_policy();
  return dim3(static_cast<unsigned>(std::clamp<int64_t>((items + p.block - 1) / p.block, 1, p.max_blocks)));
}

// The elementwise form: returns at once for n == 0, otherwise launches grid_for(n) blocks with n
// as the kernel's first argument.
template <typename... Params, typename... Args>
void launch_n(KernelName k, void (*kernel)(int64_t, Params...), int64_t n, Stream stream, Args&&... args) {
  if (n <= 0) return;
  launch(k, kernel, grid_for(n), dim3(launch_policy().block), 0, stream, n, std::forward<Args>(args)...);
}

// launch_n of the kernel that kernel_for(Index{}) returns, with Index uint32_t when n < 2^32 and
// int64_t otherwise: the index type of the kernel's index_div / index_mod (grid_stride.h).
template <typename KernelFor, typename... Args>
void launch_indexed(KernelName k, KernelFor kernel_for, int64_t n, Stream stream, Args&&... args) {
  if (n <= 0xffffffffll) {
    launch_n(k, kernel_for(uint32_t{}), n, stream, std::forward<Args>(args)...);
  } else {
    launch_n(k, kernel_for(int64_t{}), n, stream, std::forward<Args>(args)...);
  }
}

}  // namespace minidl::MINIDL_CUDA_NS
