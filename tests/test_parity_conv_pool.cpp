// The emulated convolution and pooling kernels (kernels/cuda/conv.cu, pool.cu) against their CPU
// references (kernels/cpu/conv.h, pool.h), over the launch policies, in f32 and f64. Everything
// compares bit for bit: the kernels do the references' arithmetic in the references' order (the
// backward passes gather, per input element, the terms the references scatter, in the same
// order), so no launch configuration may change a bit. Geometries cover a single pixel, empty
// work, overlapping windows, gaps (stride > kernel), padding, dilation, rectangular kernels and
// adaptive windows that shrink and grow.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "kernels/common/window2d.h"
#include "kernels/cpu/conv.h"
#include "kernels/cpu/pool.h"
#include "kernels/cuda/launchers.h"
#include "tests/launch_policy_test.h"
#include "tests/parity_checks.h"

namespace minidl {
namespace {

using ParityConvPool = LaunchPolicyTest;

// A fixed window: planes of h x w, kernel kh x kw, stride, padding and dilation per axis.
Window2d fixed(int64_t planes, int64_t h, int64_t w, int64_t kh, int64_t kw, int64_t sh = 1, int64_t sw = 1,
               int64_t ph = 0, int64_t pw = 0, int64_t dh = 1, int64_t dw = 1) {
  return {planes,
          {h, window_out_size(h, kh, sh, ph, dh), kh, sh, ph, dh, false},
          {w, window_out_size(w, kw, sw, pw, dw), kw, sw, pw, dw, false}};
}

Window2d adaptive(int64_t planes, int64_t h, int64_t w, int64_t out_h, int64_t out_w) {
  return {planes, {h, out_h, 1, 1, 0, 1, true}, {w, out_w, 1, 1, 0, 1, true}};
}

const Window2d kConvWindows[] = {
    fixed(1, 1, 1, 1, 1),                       // one pixel
    fixed(0, 4, 4, 3, 3),                       // no planes: no work
    fixed(3, 7, 5, 3, 3, 1, 1, 1, 1),           // overlapping 3x3, "same" padding
    fixed(2, 9, 8, 3, 2, 2, 3, 1, 0, 2, 1),     // stride, padding and dilation per axis
    fixed(4, 5, 6, 2, 2, 3, 3),                 // stride > kernel: inputs no window reads
    fixed(5, 33, 17, 5, 3, 1, 2, 2, 1, 1, 2)};  // larger, odd sizes

// Pool windows keep padding <= kernel / 2, as the ops check.
const Window2d kPoolWindows[] = {
    fixed(1, 1, 1, 1, 1),          fixed(0, 4, 4, 2, 2, 2, 2),       fixed(3, 7, 6, 3, 3, 2, 2, 1, 1),
    fixed(2, 5, 5, 2, 2, 2, 2),    fixed(4, 8, 9, 3, 2, 1, 2, 1, 1), fixed(2, 13, 11, 2, 2, 3, 3),
    fixed(6, 32, 32, 3, 3, 2, 2, 1, 1)};

const Window2d kAdaptiveWindows[] = {adaptive(3, 5, 7, 3, 4), adaptive(2, 3, 2, 5, 4), adaptive(4, 7, 7, 1, 1),
                                     adaptive(1, 13, 10, 6, 10)};

std::string describe(const Window2d& g) {
  return std::to_string(g.planes) + " planes " + std::to_string(g.h.in) + "x" + std::to_string(g.w.in) + " -> " +
         std::to_string(g.h.out) + "x" + std::to_string(g.w.out) + " kernel " + std::to_string(g.h.kernel) + "x" +
         std::to_string(g.w.kernel) + " stride " + std::to_string(g.h.stride) + "x" + std::to_string(g.w.stride) +
         " pad " + std::to_string(g.h.pad) + "x" + std::to_string(g.w.pad) + " dilation " +
         std::to_string(g.h.dilation) + "x" + std::to_string(g.w.dilation) + (g.h.adaptive ? " adaptive" : "");
}

int64_t in_size(const Window2d& g) { return g.planes * g.h.in * g.w.in; }
int64_t out_size(const Window2d& g) { return g.planes * g.h.out * g.w.out; }
int64_t cols_size(const Window2d& g) { return out_size(g) * g.h.kernel * g.w.kernel; }

// n values uniform in [-4, 4); with ties_and_nans, rounded to integers (many ties in a window)
// with every 13th a NaN.
template <typename T>
std::vector<T> test_values(int64_t n, uint64_t salt, bool ties_and_nans = false) {
  std::vector<T> v(n);
  for (int64_t i = 0; i < n; ++i) {
    const double u = uniform(i, salt);
    v[i] = static_cast<T>(!ties_and_nans ? u : i % 13 == 5 ? std::numeric_limits<double>::quiet_NaN() : std::round(u));
  }
  return v;
}

template <typename T>
void check_im2col_col2im(const Window2d& g) {
  const std::vector<T> x = test_values<T>(in_size(g), 1), cols = test_values<T>(cols_size(g), 2);
  std::vector<T> cpu_cols(cols_size(g)), emu_cols(cols_size(g), T(-7));
  cpu_in_two(g.planes, [&](int64_t b, int64_t e) { cpu::im2col<T>(b, e, g, cpu_cols.data(), x.data()); });
  emu::im2col<T>(g, emu_cols.data(), x.data(), nullptr);
  EXPECT_TRUE(same_bits(cpu_cols, emu_cols)) << "im2col " << describe(g);
  std::vector<T> cpu_x(in_size(g), T(3)), emu_x(in_size(g), T(-7));
  cpu_in_two(g.planes, [&](int64_t b, int64_t e) { cpu::col2im<T>(b, e, g, cpu_x.data(), cols.data()); });
  emu::col2im<T>(g, emu_x.data(), cols.data(), nullptr);
  EXPECT_TRUE(same_bits(cpu_x, emu_x)) << "col2im " << describe(g);
}

TEST_P(ParityConvPool, Im2colAndCol2imAreBitIdentical) {
  for (const Window2d& g : kConvWindows) {
    check_im2col_col2im<float>(g);
    check_im2col_col2im<double>(g);
  }
}

template <typename T>
void check_max_pool(const Window2d& g) {
  const std::vector<T> x = test_values<T>(in_size(g), 3, true), grad_y = test_values<T>(out_size(g), 4);
  std::vector<T> cpu_y(out_size(g)), emu_y(out_size(g), T(-7));
  std::vector<int64_t> cpu_idx(out_size(g)), emu_idx(out_size(g), -7);
  cpu_in_two(g.planes, [&](int64_t b, int64_t e) {
    cpu::max_pool2d_forward<T>(b, e, g, cpu_y.data(), cpu_idx.data(), x.data());
  });
  emu::max_pool2d_forward<T>(g, emu_y.data(), emu_idx.data(), x.data(), nullptr);
  EXPECT_TRUE(same_bits(cpu_y, emu_y)) << "forward " << describe(g);
  EXPECT_EQ(cpu_idx, emu_idx) << "indices " << describe(g);
  std::vector<T> cpu_gx(in_size(g), T(3)), emu_gx(in_size(g), T(-7));
  cpu_in_two(g.planes, [&](int64_t b, int64_t e) {
    cpu::max_pool2d_backward<T>(b, e, g, cpu_gx.data(), grad_y.data(), cpu_idx.data());
  });
  emu::max_pool2d_backward<T>(g, emu_gx.data(), grad_y.data(), cpu_idx.data(), nullptr);
  EXPECT_TRUE(same_bits(cpu_gx, emu_gx)) << "backward " << describe(g);
}

TEST_P(ParityConvPool, MaxPoolIsBitIdenticalWithTiesAndNaNs) {
  for (const Window2d& g : kPoolWindows) {
    check_max_pool<float>(g);
    check_max_pool<double>(g);
  }
}

template <typename T>
void check_avg_pool(const Window2d& g, bool count_include_pad) {
  const std::string where = describe(g) + (count_include_pad ? " counting padding" : "");
  const std::vector<T> x = test_values<T>(in_size(g), 5), grad_y = test_values<T>(out_size(g), 6);
  std::vector<T> cpu_y(out_size(g)), emu_y(out_size(g), T(-7));
  cpu_in_two(g.planes, [&](int64_t b, int64_t e) {
    cpu::avg_pool2d_forward<T>(b, e, g, count_include_pad, cpu_y.data(), x.data());
  });
  emu::avg_pool2d_forward<T>(g, count_include_pad, emu_y.data(), x.data(), nullptr);
  EXPECT_TRUE(same_bits(cpu_y, emu_y)) << "forward " << where;
  std::vector<T> cpu_gx(in_size(g), T(3)), emu_gx(in_size(g), T(-7));
  cpu_in_two(g.planes, [&](int64_t b, int64_t e) {
    cpu::avg_pool2d_backward<T>(b, e, g, count_include_pad, cpu_gx.data(), grad_y.data());
  });
  emu::avg_pool2d_backward<T>(g, count_include_pad, emu_gx.data(), grad_y.data(), nullptr);
  EXPECT_TRUE(same_bits(cpu_gx, emu_gx)) << "backward " << where;
}

TEST_P(ParityConvPool, AvgPoolIsBitIdentical) {
  for (const Window2d& g : kPoolWindows)
    for (bool count_include_pad : {true, false}) {
      check_avg_pool<float>(g, count_include_pad);
      check_avg_pool<double>(g, count_include_pad);
    }
  for (const Window2d& g : kAdaptiveWindows) {
    check_avg_pool<float>(g, false);
    check_avg_pool<double>(g, false);
  }
}

INSTANTIATE_TEST_SUITE_P(LaunchConfigs, ParityConvPool, ::testing::ValuesIn(kLaunchPolicies), launch_policy_name);

// The CPU references themselves: col2im is im2col's adjoint, <im2col(x), c> = <x, col2im(c)>, on
// every geometry (a wrong tap or a missed overlap breaks the identity).
TEST(ConvReference, Col2imIsTheAdjointOfIm2col) {
  for (const Window2d& g : kConvWindows) {
    const std::vector<double> x = test_values<double>(in_size(g), 7), c = test_values<double>(cols_size(g), 8);
    std::vector<double> cols(cols_size(g)), back(in_size(g));
    cpu::im2col<double>(0, g.planes, g, cols.data(), x.data());
    cpu::col2im<double>(0, g.planes, g, back.data(), c.data());
    double lhs = 0, rhs = 0, scale = 0;
    for (size_t i = 0; i < cols.size(); ++i) {
      lhs += cols[i] * c[i];
      scale += std::abs(cols[i] * c[i]);
    }
    for (size_t i = 0; i < x.size(); ++i) rhs += x[i] * back[i];
    // The same products, grouped and summed in different orders: within 2n u of their absolute sum.
    EXPECT_NEAR(lhs, rhs, 2.0 * static_cast<double>(cols.size()) * 0x1p-53 * scale) << describe(g);
  }
}

}  // namespace
}  // namespace minidl
