#include "tools/minidl/roofline.h"

#include <algorithm>
#include <chrono>
#include <functional>

#include "framework/autograd/grad_mode.h"
#include "framework/core/cuda_memory.h"
#include "framework/ops/ops.h"

namespace minidl::cli {

namespace {

// The shortest of a few runs of fn, in seconds, after one warm-up run.
double best_seconds(const std::function<void()>& fn, int runs) {
  fn();
  cuda_synchronize();
  double best = 1e30;
  for (int i = 0; i < runs; ++i) {
    const auto start = std::chrono::steady_clock::now();
    fn();
    cuda_synchronize();
    best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }
  return best;
}

}  // namespace

Roof measure_roof(Device device, DType matmul_dtype) {
  if (device.type == DeviceType::CUDAEmu) device = kCPU;
  const bool gpu = device.type == DeviceType::CUDA;
  if (!gpu) matmul_dtype = DType::F32;
  NoGradGuard no_grad;
  const int64_t copy_elements = gpu ? int64_t{1} << 28 : int64_t{1} << 25;  // 1 GiB or 128 MiB of f32
  const Tensor source = Tensor::zeros({copy_elements}, DType::F32, device);
  const Tensor target = Tensor::empty({copy_elements}, DType::F32, device);
  const double copy_s = best_seconds([&] { copy_(target, source); }, 5);
  const int64_t n = gpu ? 8192 : 1024;
  const Tensor a = Tensor::full({n, n}, 1.0, matmul_dtype, device), b = Tensor::full({n, n}, 1.0, matmul_dtype, device);
  const double matmul_s = best_seconds([&] { matmul(a, b); }, 3);
  return {2.0 * 4.0 * static_cast<double>(copy_elements) / copy_s,
          2.0 * static_cast<double>(n) * static_cast<double>(n) * static_cast<double>(n) / matmul_s, device.str(),
          matmul_dtype};
}

double roof_fraction(const Roof& roof, double bytes, double flops, double seconds) {
  if (seconds <= 0) return 0;
  if (flops > 0) {
    const double attainable =
        bytes > 0 ? std::min(roof.flops_per_s, flops / bytes * roof.bytes_per_s) : roof.flops_per_s;
    return flops / seconds / attainable;
  }
  return bytes / seconds / roof.bytes_per_s;
}

}  // namespace minidl::cli
