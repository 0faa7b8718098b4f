// The hand-written convolution on the GPU (im2col + GEMM over kernels/cuda) against cuDNN, the
// reference there: forward and both gradients, f32 and f64, over strides, padding, dilation and
// groups. The CPU side of the same op is covered by tests/test_ops.cpp (gradcheck, GpuMatchesCpu);
// running that suite with MINIDL_CONV=cudnn (tools/gpu-check) checks the cuDNN path itself against
// the CPU.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "framework/core/cuda_memory.h"
#include "framework/ops/cudnn_conv.h"
#include "framework/ops/ops.h"

namespace minidl {
namespace {

struct ConvCase {
  int64_t n, c, h, w, out, kh, kw, stride, pad, dilation, groups;
};

template <typename T>
Tensor random_on_gpu(const Shape& shape, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<T> dist(-1, 1);
  int64_t count = 1;
  for (int64_t s : shape) count *= s;
  std::vector<T> values(static_cast<size_t>(count));
  for (T& v : values) v = dist(rng);
  return to_device(Tensor::from_vector(values, shape), Device{DeviceType::CUDA, 0});
}

template <typename T>
std::vector<T> host_values(const Tensor& t) {
  const Tensor cpu = contiguous(to_device(t, kCPU));
  return {cpu.data<T>(), cpu.data<T>() + cpu.numel()};
}

// |a - b| <= tol * (1 + |b|) element by element.
template <typename T>
void expect_close(const Tensor& got, const Tensor& want, double tol, const std::string& what) {
  ASSERT_EQ(got.shape(), want.shape()) << what;
  const std::vector<T> a = host_values<T>(got), b = host_values<T>(want);
  double worst = 0;
  for (size_t i = 0; i < a.size(); ++i) worst = std::max(worst, std::abs(double(a[i]) - double(b[i])) / (1 + std::abs(double(b[i]))));
  EXPECT_LE(worst, tol) << what;
}

template <typename T>
void check_against_cudnn(const ConvCase& k, double tol) {
  const std::string what = "N" + std::to_string(k.n) + " C" + std::to_string(k.c) + " " + std::to_string(k.h) + "x" +
                           std::to_string(k.w) + " O" + std::to_string(k.out) + " k" + std::to_string(k.kh) + "x" +
                           std::to_string(k.kw) + " s" + std::to_string(k.stride) + " p" + std::to_string(k.pad) +
                           " d" + std::to_string(k.dilation) + " g" + std::to_string(k.groups);
  Tensor x = random_on_gpu<T>({k.n, k.c, k.h, k.w}, 1);
  Tensor weight = random_on_gpu<T>({k.out, k.c / k.groups, k.kh, k.kw}, 2);
  x.requires_grad_(true);
  weight.requires_grad_(true);
  const Tensor y = conv2d(x, weight, Tensor(), {k.stride, k.stride}, {k.pad, k.pad}, {k.dilation, k.dilation}, k.groups);
  const auto axis = [&](int64_t in, int64_t kernel) {
    return WindowAxis{in, window_out_size(in, kernel, k.stride, k.pad, k.dilation), kernel, k.stride, k.pad,
                      k.dilation, false};
  };
  const Window2d g{k.n * k.c, axis(k.h, k.kh), axis(k.w, k.kw)};
  expect_close<T>(y, cudnn_conv2d(x.detach(), weight.detach(), g, k.groups), tol, what + " forward");

  const Tensor gy = random_on_gpu<T>(y.shape(), 3);
  sum(mul(y, gy)).backward();
  const auto [gx, gw] = cudnn_conv2d_backward(gy, x.detach(), weight.detach(), g, k.groups);
  expect_close<T>(x.grad(), gx, tol, what + " gradient of x");
  expect_close<T>(weight.grad(), gw, tol, what + " gradient of the weight");
}

const ConvCase kCases[] = {
    {2, 3, 9, 9, 4, 3, 3, 1, 1, 1, 1},     // "same" 3x3
    {3, 4, 11, 8, 6, 3, 3, 2, 1, 1, 2},    // stride 2, two groups
    {1, 2, 12, 12, 2, 3, 3, 1, 2, 2, 1},   // dilation 2
    {4, 16, 14, 14, 32, 1, 1, 2, 0, 1, 1}, // ResNet's 1x1 downsample
    {2, 6, 7, 7, 6, 5, 5, 1, 2, 1, 6},     // depthwise 5x5
};

TEST(CudnnConv, HandWrittenMatchesCudnnOnGpu) {
  if (cuda_device_count() == 0) GTEST_SKIP() << "needs a GPU: " << cuda_unavailable_reason();
#if !defined(MINIDL_HAS_CUDNN)
  GTEST_SKIP() << "needs cuDNN: this build has none";
#endif
  for (const ConvCase& k : kCases) {
    check_against_cudnn<double>(k, 1e-12);  // f64: only the order of the sums differs
    check_against_cudnn<float>(k, 1e-5);    // f32 sums of at most 150 terms of size <= 1
  }
}

}  // namespace
}  // namespace minidl
