// The elementwise kernels (kernels/cuda/elementwise.cu) in the SIMT emulator against the CPU
// references (kernels/cpu/elementwise.h), over a sweep of launch configurations, odd sizes,
// misaligned pointers (the kernels' scalar path instead of 16-byte packs) and hand-built strided
// views: transposed, sliced, permuted 3-D, broadcast (stride 0). The optimizer kernels have their
// own suite, tests/test_parity_optim.cpp.
//
// Both sides evaluate every element with the same scalar functions (kernels/common) and the same
// host libm, so results must match bit for bit (NaNs included, compared by their bits). On a real
// GPU, CUDA's exp/log/erf/tanh/pow may differ from the host's in the last ulp and nvcc contracts
// into fused multiply-adds, so exact equality holds only for this emulator build, which is all this
// test runs.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

#include "kernels/cpu/elementwise.h"
#include "kernels/cuda/launchers.h"
#include "tests/launch_policy_test.h"
#include "tests/parity_checks.h"

namespace minidl {
namespace {

using ElementwiseParity = LaunchPolicyTest;

constexpr emu::Stream kStream = nullptr;
const UnaryKind kUnaryKinds[] = {UnaryKind::Neg,  UnaryKind::Exp,  UnaryKind::Log,  UnaryKind::Sqrt,
                                 UnaryKind::Relu, UnaryKind::Gelu, UnaryKind::Tanh, UnaryKind::Sigmoid};
const BinaryKind kBinaryKinds[] = {BinaryKind::Add, BinaryKind::Sub,     BinaryKind::Mul, BinaryKind::Div,
                                   BinaryKind::Pow, BinaryKind::Maximum, BinaryKind::Eq};
// Contiguous sizes: empty, shorter than one pack, pack-sized, with tails, 33 x 65, larger.
const int64_t kSizes[] = {0, 1, 3, 4, 5, 33 * 65, 4099};

// Multiples of 1/4 in [-3, 3]: binary ops then meet equal operands (Eq, Maximum ties) and zeros.
double quarter(int64_t i, uint64_t salt) {
  return static_cast<double>(static_cast<int64_t>(mix(static_cast<uint64_t>(i), salt) % 25) - 12) * 0.25;
}

// ---- hand-built views of a logical [p, q] shape (or 3-D), and the storage they need

struct View {
  std::string name;
  StridedIndexer ix;
  int64_t storage;  // elements of the array the view reads or writes
};

StridedIndexer strided2(int64_t p, int64_t q, int64_t sp, int64_t sq, int64_t base = 0) {
  StridedIndexer ix;
  ix.ndim = 2;
  ix.sizes[0] = p;
  ix.sizes[1] = q;
  ix.strides[0] = sp;
  ix.strides[1] = sq;
  ix.base = base;
  ix.contiguous = false;
  return ix;
}

View contiguous(int64_t p, int64_t q, int64_t base = 0) {
  StridedIndexer ix;
  ix.base = base;
  return {"contiguous" + std::string(base ? "+base" : ""), ix, p * q + base};
}
// The transpose of a row-major [q, p] array.
View transposed(int64_t p, int64_t q) { return {"transposed", strided2(p, q, 1, p), p * q}; }
// Every other column of a row-major [p, 2q] array, from element 1 on.
View sliced(int64_t p, int64_t q) { return {"sliced", strided2(p, q, 2 * q, 2, 1), 2 * p * q + 1}; }
// A [q] row broadcast over p rows, a [p] column broadcast over q columns, one scalar everywhere.
View row_broadcast(int64_t p, int64_t q) { return {"row_broadcast", strided2(p, q, 0, 1), q}; }
View column_broadcast(int64_t p, int64_t q) { return {"column_broadcast", strided2(p, q, 1, 0), p}; }
View scalar_broadcast(int64_t p, int64_t q) { return {"scalar_broadcast", strided2(p, q, 0, 0), p * q > 0 ? 1 : 0}; }
// A row-major [a, b, c] array (after `base` elements) seen as [c, a, b] (a permute(2, 0, 1)).
View permuted3(int64_t a, int64_t b, int64_t c, int64_t base) {
  StridedIndexer ix;
  ix.ndim = 3;
  const int64_t sizes[3] = {c, a, b}, strides[3] = {1, b * c, c};
  for (int d = 0; d < 3; ++d) {
    ix.sizes[d] = sizes[d];
    ix.strides[d] = strides[d];
  }
  ix.base = base;
  ix.contiguous = false;
  return {"permuted3", ix, a * b * c + base};
}

struct Shape2 {
  int64_t p, q;
};
const Shape2 kShapes[] = {{33, 65}, {1, 1}, {0, 5}, {7, 4}, {1, 9}, {65, 3}};

template <typename T>
std::vector<T> values(int64_t n, uint64_t salt, bool positive = false) {
  std::vector<T> v(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    const double u = uniform(i, salt);
    v[i] = static_cast<T>(positive ? std::fabs(u) : u);
  }
  // A few exact values where the functions have edges (0, -0, +-1), when there is room.
  const double edges[] = {0.0, -0.0, 1.0, -1.0};
  for (int64_t i = 0; i < 4 && i < n; ++i) v[i] = static_cast<T>(positive ? std::fabs(edges[i]) : edges[i]);
  return v;
}

bool needs_positive(UnaryKind k) { return k == UnaryKind::Log || k == UnaryKind::Sqrt; }

// ---- unary

template <typename T>
void check_unary_forward_contiguous() {
  for (UnaryKind kind : kUnaryKinds)
    for (int64_t n : kSizes)
      for (int64_t shift : {0, 1}) {  // shift 1: misaligned, the scalar path
        std::vector<T> x = values<T>(n + shift, 1, needs_positive(kind));
        std::vector<T> want(n + shift, T(-7)), got(n + shift, T(-7));
        const StridedIndexer ix{};
        cpu::unary_forward<T>(kind, 0, n, want.data() + shift, x.data() + shift, ix);
        emu::unary_forward<T>(kind, n, got.data() + shift, x.data() + shift, ix, kStream);
        EXPECT_TRUE(same_bits(want, got)) << "kind " << int(kind) << " n " << n << " shift " << shift;
      }
}

template <typename T>
void check_unary_forward_strided(UnaryKind kind, const View& v, int64_t n, const std::string& what) {
  const std::vector<T> x = values<T>(v.storage, 2, needs_positive(kind));
  std::vector<T> want(n, T(-7)), got(n, T(-7));
  cpu::unary_forward<T>(kind, 0, n, want.data(), x.data(), v.ix);
  emu::unary_forward<T>(kind, n, got.data(), x.data(), v.ix, kStream);
  EXPECT_TRUE(same_bits(want, got)) << "kind " << int(kind) << " " << v.name << " " << what;
}

template <typename T>
void check_unary_forward_strided() {
  for (UnaryKind kind : kUnaryKinds) {
    for (const Shape2& s : kShapes) {
      const std::string what = std::to_string(s.p) + "x" + std::to_string(s.q);
      const int64_t p = s.p, q = s.q;
      const View views[] = {transposed(p, q), sliced(p, q), row_broadcast(p, q), column_broadcast(p, q)};
      for (const View& v : views) check_unary_forward_strided<T>(kind, v, p * q, what);
    }
    check_unary_forward_strided<T>(kind, permuted3(3, 5, 7, 2), 105, "3-D");
  }
}

template <typename T>
void check_unary_backward() {
  for (UnaryKind kind : kUnaryKinds)
    for (int64_t n : kSizes)
      for (int misaligned = 0; misaligned < 3; ++misaligned) {  // none, all operands, grad_x alone
        const int64_t sx = misaligned == 1 ? 1 : 0, sg = misaligned >= 1 ? 1 : 0;
        std::vector<T> x = values<T>(n + 1, 3, needs_positive(kind)), y(n + 1), gy = values<T>(n + 1, 4);
        cpu::unary_forward<T>(kind, 0, n + 1, y.data(), x.data(), StridedIndexer{});
        std::vector<T> want(n + 1, T(-7)), got(n + 1, T(-7));
        cpu::unary_backward<T>(kind, 0, n, want.data() + sg, gy.data() + sx, x.data() + sx, y.data() + sx);
        emu::unary_backward<T>(kind, n, got.data() + sg, gy.data() + sx, x.data() + sx, y.data() + sx, kStream);
        EXPECT_TRUE(same_bits(want, got)) << "kind " << int(kind) << " n " << n << " misaligned " << misaligned;
      }
}

TEST_P(ElementwiseParity, UnaryForwardContiguous) {
  check_unary_forward_contiguous<float>();
  check_unary_forward_contiguous<double>();
}

TEST_P(ElementwiseParity, UnaryForwardStrided) {
  check_unary_forward_strided<float>();
  check_unary_forward_strided<double>();
}

TEST_P(ElementwiseParity, UnaryBackward) {
  check_unary_backward<float>();
  check_unary_backward<double>();
}

// ---- binary

// Operands suited to the kind: a positive base for Pow, a non-zero divisor for Div.
template <typename T>
std::vector<T> operand(BinaryKind kind, bool is_b, int64_t n, uint64_t salt) {
  std::vector<T> v(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    double q = quarter(i, salt);
    if (kind == BinaryKind::Pow && !is_b) q = std::fabs(q) + 0.125;
    if (kind == BinaryKind::Pow && is_b) q = uniform(i, salt) * 0.75;  // fractional exponents too
    if (kind == BinaryKind::Div && is_b && q == 0) q = 0.5;
    v[i] = static_cast<T>(q);
  }
  return v;
}

template <typename T>
void check_binary(const View& va, const View& vb, int64_t n, int64_t out_shift, const std::string& what) {
  for (BinaryKind kind : kBinaryKinds) {
    const std::vector<T> a = operand<T>(kind, false, va.storage, 5), b = operand<T>(kind, true, vb.storage, 6);
    std::vector<T> want(n + out_shift, T(-7)), got(n + out_shift, T(-7));
    cpu::binary_forward<T>(kind, 0, n, want.data() + out_shift, a.data(), va.ix, b.data(), vb.ix);
    emu::binary_forward<T>(kind, n, got.data() + out_shift, a.data(), va.ix, b.data(), vb.ix, kStream);
    EXPECT_TRUE(same_bits(want, got)) << "kind " << int(kind) << " " << va.name << " op " << vb.name << " " << what;
  }
}

template <typename T>
void check_binary_all() {
  for (int64_t n : kSizes) {
    const std::string what = "n " + std::to_string(n);
    check_binary<T>(contiguous(n, 1), contiguous(n, 1), n, 0, what);  // packs
    check_binary<T>(contiguous(n, 1), contiguous(n, 1), n, 1, what);  // out misaligned
    check_binary<T>(contiguous(n, 1, 1), contiguous(n, 1), n, 0, what);  // a misaligned (base 1)
  }
  for (const Shape2& s : kShapes) {
    const int64_t p = s.p, q = s.q, n = p * q;
    const std::string what = std::to_string(p) + "x" + std::to_string(q);
    check_binary<T>(contiguous(p, q), row_broadcast(p, q), n, 0, what);     // x + bias
    check_binary<T>(column_broadcast(p, q), contiguous(p, q), n, 0, what);
    check_binary<T>(transposed(p, q), scalar_broadcast(p, q), n, 0, what);
    check_binary<T>(sliced(p, q), transposed(p, q), n, 0, what);
    check_binary<T>(contiguous(p, q), transposed(p, q), n, 1, what);
  }
  check_binary<T>(permuted3(3, 5, 7, 2), contiguous(7, 15, 3), 105, 0, "3-D");
}

TEST_P(ElementwiseParity, BinaryForward) {
  check_binary_all<float>();
  check_binary_all<double>();
}

// ---- copies, casts, fills

// Source values every destination type represents without undefined behaviour: floats in
// [0, 127.75] (and -0); integers in [-300, 300] with some beyond 2^32 (wrapping when narrowed is
// defined); all bytes. With special = true, floats also hold NaN and infinities (copy_to_bool).
template <typename S>
std::vector<S> source(int64_t n, uint64_t salt, bool special) {
  std::vector<S> v(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    const uint64_t r = mix(static_cast<uint64_t>(i), salt);
    if constexpr (std::is_floating_point_v<S>) {
      v[i] = r % 7 == 0 ? S(0) : static_cast<S>(static_cast<double>(r % 512) * 0.25);
      if (r % 11 == 0) v[i] = S(-0.0);
      if (special && r % 13 == 0) v[i] = std::numeric_limits<S>::quiet_NaN();
      if (special && r % 17 == 0) v[i] = -std::numeric_limits<S>::infinity();
    } else if constexpr (std::is_same_v<S, uint8_t>) {
      v[i] = static_cast<uint8_t>(r % 4 == 0 ? 0 : r >> 8);
    } else {
      v[i] = r % 5 == 0 ? S(0) : static_cast<S>(static_cast<int64_t>(r % 601) - 300);
      if constexpr (sizeof(S) == 8)
        if (r % 9 == 0) v[i] = static_cast<S>((int64_t{1} << 40) + static_cast<int64_t>(r % 1000) - 500);
    }
  }
  return v;
}

struct CopyCase {
  View dst, src;
  int64_t n;
};

std::vector<CopyCase> copy_cases() {
  std::vector<CopyCase> cases;
  for (const Shape2& s : kShapes) {
    const int64_t p = s.p, q = s.q, n = p * q;
    cases.push_back({contiguous(p, q), contiguous(p, q), n});
    cases.push_back({contiguous(p, q, 1), contiguous(p, q, 3), n});  // bases
    cases.push_back({contiguous(p, q), transposed(p, q), n});        // .contiguous() of a transpose
    cases.push_back({transposed(p, q), contiguous(p, q, 2), n});     // a strided destination
    cases.push_back({contiguous(p, q), row_broadcast(p, q), n});     // expand
    cases.push_back({sliced(p, q), scalar_broadcast(p, q), n});
  }
  cases.push_back({permuted3(3, 5, 7, 2), contiguous(7, 15), 105});
  cases.push_back({contiguous(7, 15), permuted3(3, 5, 7, 1), 105});
  return cases;
}

template <typename D, typename S>
void check_copy_cast() {
  for (const CopyCase& c : copy_cases()) {
    const std::vector<S> src = source<S>(c.src.storage, 7, false);
    std::vector<D> want(c.dst.storage, D(42)), got(c.dst.storage, D(42));  // untouched elements stay 42
    cpu::copy_cast<D, S>(0, c.n, want.data(), c.dst.ix, src.data(), c.src.ix);
    emu::copy_cast<D, S>(c.n, got.data(), c.dst.ix, src.data(), c.src.ix, kStream);
    EXPECT_TRUE(same_bits(want, got)) << "copy_cast " << sizeof(D) << "<-" << sizeof(S) << " dst " << c.dst.name
                                      << " src " << c.src.name << " n " << c.n;
  }
}

template <typename S>
void check_copy_from() {
  check_copy_cast<float, S>();
  check_copy_cast<double, S>();
  check_copy_cast<int32_t, S>();
  check_copy_cast<int64_t, S>();
  check_copy_cast<uint8_t, S>();
  for (const CopyCase& c : copy_cases()) {
    const std::vector<S> src = source<S>(c.src.storage, 8, true);
    std::vector<uint8_t> want(c.dst.storage, 42), got(c.dst.storage, 42);
    cpu::copy_to_bool<S>(0, c.n, want.data(), c.dst.ix, src.data(), c.src.ix);
    emu::copy_to_bool<S>(c.n, got.data(), c.dst.ix, src.data(), c.src.ix, kStream);
    EXPECT_TRUE(same_bits(want, got)) << "copy_to_bool from " << sizeof(S) << " dst " << c.dst.name << " src "
                                      << c.src.name << " n " << c.n;
  }
}

TEST_P(ElementwiseParity, CopyCastAndToBool) {
  check_copy_from<float>();
  check_copy_from<double>();
  check_copy_from<int32_t>();
  check_copy_from<int64_t>();
  check_copy_from<uint8_t>();
}

template <typename T>
void check_fill(T value) {
  for (int64_t n : kSizes)
    for (int64_t shift : {0, 1}) {
      std::vector<T> want(n + shift + 3, T(42)), got(n + shift + 3, T(42));  // elements past n stay 42
      cpu::fill<T>(n, want.data() + shift, value);
      emu::fill<T>(n, got.data() + shift, value, kStream);
      EXPECT_TRUE(same_bits(want, got)) << "fill " << sizeof(T) << " n " << n << " shift " << shift;
    }
}

TEST_P(ElementwiseParity, Fill) {
  check_fill<float>(-1.5f);
  check_fill<double>(std::numeric_limits<double>::quiet_NaN());
  check_fill<int32_t>(-123456);
  check_fill<int64_t>(int64_t{1} << 50);
  check_fill<uint8_t>(1);
}

// ---- bf16: the emulated kernels against the CPU's f32 reference on the same (rounded) values,
// rounded once, bit for bit: contiguous (packs of eight bf16 and their tails, misaligned), strided,
// backward, binary with a broadcast row, and the binary-with-a-number kernel (also in f32).

std::vector<float> rounded_values(int64_t n, uint64_t salt, bool positive) {
  return rounded_to_bf16(values<float>(n, salt, positive));
}

TEST_P(ElementwiseParity, Bf16UnaryRoundsTheF32Reference) {
  for (UnaryKind kind : kUnaryKinds) {
    for (int64_t n : kSizes)
      for (int64_t shift : {0, 1}) {
        const std::vector<float> x = rounded_values(n + shift, 1, needs_positive(kind));
        const std::vector<bf16> xh = to_bf16(x);
        std::vector<float> want(n + shift, -7.0f);
        std::vector<bf16> got(n + shift, bf16(-7.0f));
        cpu::unary_forward<float>(kind, 0, n, want.data() + shift, x.data() + shift, StridedIndexer{});
        emu::unary_forward<bf16>(kind, n, got.data() + shift, xh.data() + shift, StridedIndexer{}, kStream);
        EXPECT_TRUE(same_bits(to_bf16(want), got)) << "kind " << int(kind) << " n " << n << " shift " << shift;

        // Backward from the stored (rounded) forward output.
        const std::vector<bf16> yh = to_bf16(want);
        const std::vector<float> y = widened(yh), gy = rounded_values(n + shift, 2, false);
        const std::vector<bf16> gyh = to_bf16(gy);
        std::vector<float> want_gx(n + shift, -7.0f);
        std::vector<bf16> got_gx(n + shift, bf16(-7.0f));
        cpu::unary_backward<float>(kind, 0, n, want_gx.data() + shift, gy.data() + shift, x.data() + shift,
                                   y.data() + shift);
        emu::unary_backward<bf16>(kind, n, got_gx.data() + shift, gyh.data() + shift, xh.data() + shift,
                                  yh.data() + shift, kStream);
        EXPECT_TRUE(same_bits(to_bf16(want_gx), got_gx)) << "backward kind " << int(kind) << " n " << n;
      }
    const View v = transposed(33, 65);
    const std::vector<float> x = rounded_values(v.storage, 3, needs_positive(kind));
    const std::vector<bf16> xh = to_bf16(x);
    std::vector<float> want(33 * 65);
    std::vector<bf16> got(33 * 65);
    cpu::unary_forward<float>(kind, 0, 33 * 65, want.data(), x.data(), v.ix);
    emu::unary_forward<bf16>(kind, 33 * 65, got.data(), xh.data(), v.ix, kStream);
    EXPECT_TRUE(same_bits(to_bf16(want), got)) << "kind " << int(kind) << " transposed";
  }
}

TEST_P(ElementwiseParity, Bf16BinaryRoundsTheF32Reference) {
  const int64_t p = 33, q = 65;
  const View va = contiguous(p, q), vb = row_broadcast(p, q);
  for (BinaryKind kind : kBinaryKinds) {
    const std::vector<float> a = widened(to_bf16(operand<float>(kind, false, va.storage, 7))),
                             b = widened(to_bf16(operand<float>(kind, true, vb.storage, 8)));
    const std::vector<bf16> ah = to_bf16(a), bh = to_bf16(b);
    std::vector<float> want(p * q);
    std::vector<bf16> got(p * q);
    cpu::binary_forward<float>(kind, 0, p * q, want.data(), a.data(), va.ix, b.data(), vb.ix);
    emu::binary_forward<bf16>(kind, p * q, got.data(), ah.data(), va.ix, bh.data(), vb.ix, kStream);
    EXPECT_TRUE(same_bits(to_bf16(want), got)) << "kind " << int(kind);
  }
}

// a op b for a number b: the CPU reference with b broadcast from one element of a's compute type.
template <typename T>
void check_binary_scalar(const View& va, int64_t n, const std::string& what) {
  using C = compute_t<T>;
  for (BinaryKind kind : kBinaryKinds) {
    const std::vector<T> a = [&] {
      std::vector<T> v;
      for (float f : operand<float>(kind, false, va.storage, 9)) v.push_back(T(f));
      return v;
    }();
    const std::vector<C> a_wide(a.begin(), a.end());
    const C b = kind == BinaryKind::Pow ? C(0.625) : C(0.1767767);  // not a bf16 value: it must stay C
    std::vector<C> want(n);
    std::vector<T> got(n, T(-7.0f));
    cpu::binary_forward<C>(kind, 0, n, want.data(), a_wide.data(), va.ix, &b, scalar_broadcast(n, 1).ix);
    emu::binary_scalar_forward<T>(kind, n, got.data(), a.data(), va.ix, b, kStream);
    std::vector<T> want_stored;
    for (C w : want) want_stored.push_back(T(w));
    EXPECT_TRUE(same_bits(want_stored, got)) << "kind " << int(kind) << " " << what;
  }
}

TEST_P(ElementwiseParity, BinaryWithANumber) {
  for (int64_t n : kSizes) {
    check_binary_scalar<float>(contiguous(n, 1), n, "contiguous f32 n " + std::to_string(n));
    check_binary_scalar<bf16>(contiguous(n, 1), n, "contiguous bf16 n " + std::to_string(n));
  }
  check_binary_scalar<float>(transposed(33, 65), 33 * 65, "transposed f32");
  check_binary_scalar<bf16>(transposed(33, 65), 33 * 65, "transposed bf16");
  check_binary_scalar<double>(sliced(7, 4), 28, "sliced f64");
}

INSTANTIATE_TEST_SUITE_P(LaunchConfigs, ElementwiseParity, ::testing::ValuesIn(kLaunchPolicies), launch_policy_name);

}  // namespace
}  // namespace minidl
