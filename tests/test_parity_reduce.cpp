// The emulated reduction kernels (kernels/cuda/reduce.cu, softmax.cu, matmul.cu) against their
// CPU references (kernels/cpu/reduce.h, softmax.h, loss.h, matmul.h), over a sweep of launch
// policies and shapes: empty, 1x1, odd (33x65), both the row-per-warp and row-per-block paths,
// inner > 1, every transpose combination, broadcast batch strides and padded leading dimensions.
//
// Tolerances follow from the arithmetic, with u = the unit roundoff of T (2^-24 for float,
// 2^-53 for double):
// - Max, argmax: exact (max is order-independent; argmax uses a total order).
// - Sums: kernel and reference both sum in double, in different orders: each double sum of n
//   terms is within n * 2^-53 * sum|terms| of the exact one, and each side rounds once to T
//   (u * |result|). So |diff| <= 2u|ref| + 2n * 2^-53 * sum|terms| + the smallest normal.
// - Softmax and cross-entropy reuse that bound for their double sums, plus one rounding of T per
//   operation that follows (stated at each check).
// - GEMM accumulates in T in increasing k order: |diff| <= (k + 2) * u * sum_p |a_ip| |b_pj|
//   (the classic gamma_k bound of a length-k dot product, plus the rounding of the reference).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <iomanip>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

#include "kernels/cpu/loss.h"
#include "kernels/cpu/matmul.h"
#include "kernels/cpu/reduce.h"
#include "kernels/cpu/softmax.h"
#include "kernels/cuda/launchers.h"
#include "tests/launch_policy_test.h"

namespace minidl {
namespace {

using ParityReduce = LaunchPolicyTest;

constexpr double kSumUnit = 0x1p-53;  // unit roundoff of the double accumulators

template <typename T>
constexpr double unit() {
  return std::numeric_limits<T>::epsilon() / 2;
}

template <typename T>
constexpr double tiny() {
  return std::numeric_limits<T>::min();
}

// A small deterministic generator (the same numbers on every standard library).
struct Rng {
  uint64_t state;
  double uniform() {  // [0, 1)
    state = state * 6364136223846793005ULL + 1442695040888963407ULL;
    return static_cast<double>(state >> 11) * 0x1p-53;
  }
  double uniform(double lo, double hi) { return lo + (hi - lo) * uniform(); }
  int64_t below(int64_t n) { return static_cast<int64_t>(uniform() * static_cast<double>(n)); }
};

template <typename T>
std::vector<T> random_vector(int64_t n, uint64_t seed, double lo, double hi) {
  Rng rng{seed};
  std::vector<T> v(static_cast<size_t>(n));
  for (T& x : v) x = static_cast<T>(rng.uniform(lo, hi));
  return v;
}

template <typename T>
const char* type_name() {
  return sizeof(T) == 4 ? "f32" : "f64";
}

// got[i] matches want[i] when both are NaN, they are equal (infinities included), or they are
// within tol[i].
template <typename T>
void expect_close(const std::vector<T>& got, const std::vector<T>& want, const std::vector<double>& tol,
                  const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  int bad = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    const double g = got[i], w = want[i];
    const bool ok = (std::isnan(g) && std::isnan(w)) || g == w || std::fabs(g - w) <= tol[i];
    if (!ok && ++bad <= 5) {
      ADD_FAILURE() << what << " [" << i << "]: got " << std::setprecision(17) << g << " want " << w << " (diff "
                    << std::fabs(g - w) << ", tol " << tol[i] << ")";
    }
  }
  EXPECT_EQ(bad, 0) << what << ": " << bad << " of " << got.size() << " differ";
}

std::string describe(std::initializer_list<std::pair<const char*, int64_t>> fields) {
  std::ostringstream s;
  for (const auto& [name, value] : fields) s << name << "=" << value << " ";
  return s.str();
}

// ---------------------------------------------------------------------------------------------
// reduce

struct ReduceShape {
  int64_t outer, extent, inner;
};
// Rows (inner 1) of both paths (extent <= 1024: a row per warp; above: a row per block), column
// tiles (inner > 1) of every width, and column reductions split over the extent: chunks of 128
// rows with a short last one (1 x 3000 x 2, 2 x 4100 x 40), and chunks longer than 128 rows where
// the extent has more than 64 of those (1 x 9001 x 3).
const ReduceShape kReduceShapes[] = {{0, 5, 1},    {3, 0, 1},    {1, 1, 1},    {33, 65, 1},  {65, 33, 1},
                                     {3, 1000, 1}, {2, 7, 3},    {3, 33, 65},  {1, 129, 5},  {0, 3, 4},
                                     {2, 0, 3},    {4, 70, 40},  {1, 3000, 2}, {2, 1024, 1}, {2, 1025, 1},
                                     {1, 257, 33}, {1, 9001, 3}, {2, 4100, 40}};

template <typename T>
void check_reduce(ReduceKind kind, const ReduceShape& s, bool with_nan, uint64_t seed) {
  const int64_t n = s.outer * s.extent * s.inner, outs = s.outer * s.inner;
  std::vector<T> x = random_vector<T>(n, seed, -2.0, 3.0);
  if (with_nan)
    for (int64_t i = 5; i < n; i += 97) x[i] = std::numeric_limits<T>::quiet_NaN();
  std::vector<T> want(outs), got(outs, T(12345));
  cpu::reduce(kind, s.outer, s.extent, s.inner, want.data(), x.data());
  std::vector<double> scratch(static_cast<size_t>(emu::reduce_scratch_size(s.outer, s.extent, s.inner)));
  emu::reduce(kind, s.outer, s.extent, s.inner, got.data(), x.data(), scratch.data(), nullptr);
  std::vector<double> tol(outs, 0.0);  // Max: exact
  if (kind != ReduceKind::Max) {
    for (int64_t o = 0; o < s.outer; ++o)
      for (int64_t i = 0; i < s.inner; ++i) {
        double abs_sum = 0;
        for (int64_t r = 0; r < s.extent; ++r)
          abs_sum += std::fabs(static_cast<double>(x[(o * s.extent + r) * s.inner + i]));
        if (kind == ReduceKind::Mean && s.extent > 0) abs_sum /= static_cast<double>(s.extent);
        const double ref = std::fabs(static_cast<double>(want[o * s.inner + i]));
        tol[o * s.inner + i] =
            2 * unit<T>() * ref + 2.0 * static_cast<double>(s.extent) * kSumUnit * abs_sum + tiny<T>();
      }
  }
  expect_close(got, want, tol,
               std::string("reduce ") + type_name<T>() + " kind " + std::to_string(static_cast<int>(kind)) +
                   (with_nan ? " nan " : " ") +
                   describe({{"outer", s.outer}, {"extent", s.extent}, {"inner", s.inner}}));
}

TEST_P(ParityReduce, Reduce) {
  // The shapes reach both column paths: one pass, and split with scratch.
  EXPECT_EQ(emu::reduce_scratch_size(4, 70, 40), 0);
  EXPECT_EQ(emu::reduce_scratch_size(2, 4100, 40), 2 * 33 * 40);
  uint64_t seed = 1;
  for (const ReduceShape& s : kReduceShapes)
    for (ReduceKind kind : {ReduceKind::Sum, ReduceKind::Mean, ReduceKind::Max})
      for (bool with_nan : {false, true}) {
        check_reduce<float>(kind, s, with_nan, ++seed);
        check_reduce<double>(kind, s, with_nan, ++seed);
      }
}

template <typename T>
void check_argmax(int64_t rows, int64_t cols, int variant, uint64_t seed) {
  Rng rng{seed};
  std::vector<T> x(static_cast<size_t>(rows * cols));
  for (T& v : x) {
    switch (variant) {
      case 0: v = static_cast<T>(rng.uniform(-1, 1)); break;
      case 1: v = static_cast<T>(rng.below(4)); break;  // many ties: the first maximum must win
      case 2: v = rng.uniform() < 0.03 ? std::numeric_limits<T>::quiet_NaN() : static_cast<T>(rng.below(3)); break;
      case 3: v = -std::numeric_limits<T>::infinity(); break;  // all -inf: index 0
      default: v = rng.uniform() < 0.5 ? T(0) : -T(0); break;  // +0 and -0 compare equal
    }
  }
  std::vector<int64_t> want(rows), got(rows, -7);
  cpu::argmax_rows(rows, cols, want.data(), x.data());
  emu::argmax_rows(rows, cols, got.data(), x.data(), nullptr);
  EXPECT_EQ(got, want) << "argmax " << type_name<T>() << " variant " << variant << " "
                       << describe({{"rows", rows}, {"cols", cols}});
}

TEST_P(ParityReduce, ArgmaxRows) {
  const std::pair<int64_t, int64_t> shapes[] = {{0, 5}, {3, 0}, {1, 1}, {33, 65}, {7, 1000}, {5, 3}, {40, 31}};
  uint64_t seed = 100;
  for (const auto& [rows, cols] : shapes)
    for (int variant = 0; variant < 5; ++variant) {
      check_argmax<float>(rows, cols, variant, ++seed);
      check_argmax<double>(rows, cols, variant, ++seed);
    }
}

// ---------------------------------------------------------------------------------------------
// softmax and cross-entropy

// Rows of both paths: up to 1024 columns a row per warp, longer a row per block.
const std::pair<int64_t, int64_t> kRowShapes[] = {{0, 5},    {4, 0},    {1, 1},    {33, 65}, {5, 257},
                                                  {3, 1000}, {2, 1024}, {2, 1500}, {70, 10}};

template <typename T>
void check_softmax(bool log, int64_t rows, int64_t cols, double spread, uint64_t seed) {
  const int64_t n = rows * cols;
  std::vector<T> x = random_vector<T>(n, seed, -spread, spread);
  if (n > 3) x[3] = -std::numeric_limits<T>::infinity();  // a masked entry
  const std::string what = std::string(log ? "log_softmax " : "softmax ") + type_name<T>() + " " +
                           describe({{"rows", rows}, {"cols", cols}, {"spread", static_cast<int64_t>(spread)}});

  // Forward. softmax: p = e / sum in double, rounded once: the sums differ by a relative
  // 2 cols 2^-53, exp in double by an ulp or two: |diff| <= 2u|p| + (2 cols + 4) 2^-52 |p|.
  // log_softmax: (x - max) - T(log sum) in T: T(log sum) is within 2u log(cols) + the sums'
  // 2 cols 2^-53 on either side, plus the final rounding: |diff| <= 2u(|y| + log cols) + ...
  std::vector<T> want(n), got(n, T(12345));
  cpu::softmax_forward(log, rows, cols, want.data(), x.data());
  emu::softmax_forward(log, rows, cols, got.data(), x.data(), nullptr);
  std::vector<double> tol(n);
  const double sum_err = (2.0 * static_cast<double>(cols) + 4) * 2 * kSumUnit;
  for (int64_t i = 0; i < n; ++i) {
    const double y = std::fabs(static_cast<double>(want[i]));
    tol[i] = log ? 2 * unit<T>() * (y + std::log(static_cast<double>(cols))) + 2 * sum_err + tiny<T>()
                 : 2 * unit<T>() * y + sum_err * y + tiny<T>();
  }
  expect_close(got, want, tol, what + " forward");

  // Backward from the reference's y and a random gy. dot = sum(gy * y) (softmax) or sum(gy)
  // (log_softmax) in double, within dd = 2 cols 2^-53 sum|terms| of each other; then
  // softmax: y (gy - dot), off by |y| dd; log_softmax: gy - exp(y) dot, off by e dd plus an
  // ulp or two of exp_T(y) times |dot|; and the final rounding 2u|gx|.
  const std::vector<T> gy = random_vector<T>(n, seed + 7, -1, 1);
  std::vector<T> gwant(n), ggot(n, T(12345));
  cpu::softmax_backward(log, rows, cols, gwant.data(), gy.data(), want.data());
  emu::softmax_backward(log, rows, cols, ggot.data(), gy.data(), want.data(), nullptr);
  for (int64_t r = 0; r < rows; ++r) {
    double dot = 0, abs_terms = 0;
    for (int64_t c = 0; c < cols; ++c) {
      const double term = log ? gy[r * cols + c] : static_cast<double>(gy[r * cols + c]) * want[r * cols + c];
      dot += term;
      abs_terms += std::fabs(term);
    }
    const double dd = 2.0 * static_cast<double>(cols) * kSumUnit * abs_terms;
    for (int64_t c = 0; c < cols; ++c) {
      const int64_t i = r * cols + c;
      const double g = std::fabs(static_cast<double>(gwant[i]));
      const double e = log ? std::exp(static_cast<double>(want[i])) : std::fabs(static_cast<double>(want[i]));
      tol[i] = 2 * unit<T>() * g + e * dd + (log ? 4 * unit<T>() * e * std::fabs(dot) : 0.0) + tiny<T>();
    }
  }
  expect_close(ggot, gwant, tol, what + " backward");
}

TEST_P(ParityReduce, Softmax) {
  uint64_t seed = 1000;
  for (const auto& [rows, cols] : kRowShapes)
    for (bool log : {false, true})
      for (double spread : {4.0, 60.0}) {
        check_softmax<float>(log, rows, cols, spread, ++seed);
        check_softmax<double>(log, rows, cols, spread, ++seed);
      }
}

template <typename T>
void check_cross_entropy(int64_t rows, int64_t classes, double offset, uint64_t seed) {
  const int64_t n = rows * classes;
  const std::vector<T> logits = random_vector<T>(n, seed, offset - 4, offset + 4);
  std::vector<int64_t> target(rows);
  Rng rng{seed + 3};
  for (int64_t& t : target) t = rng.below(classes);
  const std::string what = std::string("cross_entropy ") + type_name<T>() + " " +
                           describe({{"rows", rows}, {"classes", classes}, {"offset", static_cast<int64_t>(offset)}});

  std::vector<T> lse_want(rows), lse_got(rows, T(12345)), loss_want(1), loss_got(1, T(12345));
  cpu::cross_entropy_forward(rows, classes, logits.data(), target.data(), lse_want.data(), loss_want.data());
  emu::cross_entropy_forward(rows, classes, logits.data(), target.data(), lse_got.data(), loss_got.data(), nullptr);
  // row_lse = T(max + log(sum)): the sums differ by a relative 2 classes 2^-53, so log(sum) by
  // that much absolutely, and each side rounds once.
  std::vector<double> tol(rows);
  double mean_tol = 0, mean_abs = 0;
  for (int64_t r = 0; r < rows; ++r) {
    const double lse = std::fabs(static_cast<double>(lse_want[r]));
    tol[r] = 2 * unit<T>() * lse + (2.0 * static_cast<double>(classes) + 4) * 2 * kSumUnit + tiny<T>();
    // The kernel's loss subtracts its stored (rounded) row_lse, the reference the unrounded one.
    mean_tol += (tol[r] + unit<T>() * lse) / static_cast<double>(rows);
    mean_abs += (lse + std::fabs(static_cast<double>(logits[r * classes + target[r]]))) / static_cast<double>(rows);
  }
  expect_close(lse_got, lse_want, tol, what + " row_lse");
  // loss = mean(row_lse - x_t) in double: the per-row errors above, the double sums' order
  // (2 rows 2^-53 mean|terms|), and one rounding on each side.
  const double loss_tol = 2 * unit<T>() * std::fabs(static_cast<double>(loss_want[0])) + mean_tol +
                          2.0 * static_cast<double>(rows) * kSumUnit * mean_abs + tiny<T>();
  expect_close(loss_got, loss_want, {loss_tol}, what + " loss");

  // Backward from the reference's row_lse, grad_loss on the device: p = exp_T(l - lse) is the
  // same argument on both sides (exact in the emulator; an ulp or two of exp on a GPU), then
  // scale * (p - [c == t]) in T: |diff| <= 4u |scale| (p + 1).
  for (T grad_loss : {T(1), T(0.7)}) {
    std::vector<T> gwant(n), ggot(n, T(12345));
    cpu::cross_entropy_backward(rows, classes, logits.data(), target.data(), lse_want.data(), grad_loss, gwant.data());
    emu::cross_entropy_backward(rows, classes, logits.data(), target.data(), lse_want.data(), &grad_loss, ggot.data(),
                                nullptr);
    std::vector<double> gtol(n);
    const double scale = rows > 0 ? std::fabs(static_cast<double>(grad_loss) / static_cast<double>(rows)) : 0.0;
    for (int64_t i = 0; i < n; ++i) {
      const double p = std::exp(static_cast<double>(logits[i]) - static_cast<double>(lse_want[i / classes]));
      gtol[i] = 4 * unit<T>() * scale * (p + 1) + tiny<T>();
    }
    expect_close(ggot, gwant, gtol, what + " backward");
  }
}

TEST_P(ParityReduce, CrossEntropy) {
  // Both row paths, and more rows than the loss kernel's threads times its partial sums.
  const std::pair<int64_t, int64_t> shapes[] = {{0, 10},   {1, 1},    {33, 65},  {16, 1000}, {300, 10},
                                                {3, 257},  {2, 1024}, {2, 1500}, {5000, 3}};
  uint64_t seed = 2000;
  for (const auto& [rows, classes] : shapes)
    for (double offset : {0.0, 50.0}) {
      check_cross_entropy<float>(rows, classes, offset, ++seed);
      check_cross_entropy<double>(rows, classes, offset, ++seed);
    }
}

// ---------------------------------------------------------------------------------------------
// GEMM

struct GemmCase {
  int64_t batch, m, n, k;
  bool broadcast_a, broadcast_b;  // stride 0
};

template <typename T>
void check_gemm(bool trans_a, bool trans_b, const GemmCase& g, uint64_t seed) {
  // Stored shapes, with padded leading dimensions.
  const int64_t a_rows = trans_a ? g.k : g.m, a_cols = trans_a ? g.m : g.k;
  const int64_t b_rows = trans_b ? g.n : g.k, b_cols = trans_b ? g.k : g.n;
  const int64_t lda = a_cols + 3, ldb = b_cols + 2;
  const int64_t stride_a = g.broadcast_a ? 0 : a_rows * lda, stride_b = g.broadcast_b ? 0 : b_rows * ldb;
  const int64_t a_size = g.broadcast_a ? a_rows * lda : g.batch * a_rows * lda;
  const int64_t b_size = g.broadcast_b ? b_rows * ldb : g.batch * b_rows * ldb;
  std::vector<T> a = random_vector<T>(a_size, seed, -1, 1), b = random_vector<T>(b_size, seed + 1, -1, 1);
  // The padding must never be read: poison it.
  for (int64_t i = 0; i < a_size; ++i)
    if (i % lda >= a_cols) a[i] = std::numeric_limits<T>::quiet_NaN();
  for (int64_t i = 0; i < b_size; ++i)
    if (i % ldb >= b_cols) b[i] = std::numeric_limits<T>::quiet_NaN();
  std::vector<T> abs_a(a.size()), abs_b(b.size());
  for (size_t i = 0; i < a.size(); ++i) abs_a[i] = std::fabs(a[i]);
  for (size_t i = 0; i < b.size(); ++i) abs_b[i] = std::fabs(b[i]);

  const int64_t mn = g.m * g.n;
  std::vector<T> want(g.batch * mn), bound(g.batch * mn), got(g.batch * mn, std::numeric_limits<T>::quiet_NaN());
  for (int64_t i = 0; i < g.batch; ++i) {
    cpu::gemm_reference(trans_a, trans_b, g.m, g.n, g.k, T(1), a.data() + i * stride_a, lda, b.data() + i * stride_b,
                        ldb, T(0), want.data() + i * mn, g.n);
    cpu::gemm_reference(trans_a, trans_b, g.m, g.n, g.k, T(1), abs_a.data() + i * stride_a, lda,
                        abs_b.data() + i * stride_b, ldb, T(0), bound.data() + i * mn, g.n);
  }
  emu::gemm(trans_a, trans_b, g.batch, g.m, g.n, g.k, a.data(), lda, stride_a, b.data(), ldb, stride_b, got.data(),
            nullptr);
  std::vector<double> tol(want.size());
  // (1 + 2^-20) covers the rounding of the bound itself to T.
  for (size_t i = 0; i < tol.size(); ++i)
    tol[i] = static_cast<double>(g.k + 2) * unit<T>() * static_cast<double>(bound[i]) * (1 + 0x1p-20) + tiny<T>();
  if (g.k == 0) tol.assign(tol.size(), 0.0);  // exactly zero
  expect_close(got, want, tol,
               std::string("gemm ") + type_name<T>() + " " +
                   describe({{"trans_a", trans_a}, {"trans_b", trans_b}, {"batch", g.batch}, {"m", g.m}, {"n", g.n},
                             {"k", g.k}, {"broadcast_a", g.broadcast_a}, {"broadcast_b", g.broadcast_b}}));
}

const GemmCase kGemmCases[] = {
    {1, 0, 3, 4, false, false},   {1, 3, 0, 4, false, false},   {0, 3, 3, 3, false, false},
    {1, 2, 3, 0, false, false},   {1, 1, 1, 1, false, false},   {1, 33, 65, 17, false, false},
    {1, 65, 33, 70, false, false}, {1, 64, 64, 16, false, false}, {1, 70, 130, 33, false, false},
    {3, 17, 9, 21, true, false},  {3, 9, 17, 21, false, true},  {2, 5, 6, 7, false, false},
};

TEST_P(ParityReduce, Gemm) {
  uint64_t seed = 3000;
  for (const GemmCase& g : kGemmCases)
    for (bool trans_a : {false, true})
      for (bool trans_b : {false, true}) {
        seed += 2;
        check_gemm<float>(trans_a, trans_b, g, seed);
        // The block shape is fixed, so the policy changes nothing: double on the first config only.
        if (GetParam().block == kLaunchPolicies[0].block) check_gemm<double>(trans_a, trans_b, g, seed);
      }
}

INSTANTIATE_TEST_SUITE_P(LaunchConfigs, ParityReduce, ::testing::ValuesIn(kLaunchPolicies), launch_policy_name);

// An MNIST-sized layer (batch 128, 784 inputs, 256 outputs): many full tiles and a k tail
// (784 = 49 * 16 exactly, so the 250-long transposed case below brings the tail). The transposes
// of the backward passes run on a smaller shape; the sweep above already covers every combination.
TEST(ParityReduceLarge, GemmMnistLayer) {
  check_gemm<float>(false, false, {1, 128, 256, 784, false, false}, 42);  // forward: x @ W
  check_gemm<float>(true, true, {1, 100, 130, 250, false, false}, 43);
}

}  // namespace
}  // namespace minidl
