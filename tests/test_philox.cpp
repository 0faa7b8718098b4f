// The Philox contract: Random123's known-answer vectors, the keep rule, and the Generator's
// offset bookkeeping. test_curand.cpp proves the words equal cuRAND's.
#include <gtest/gtest.h>

#include <cmath>

#include "framework/core/check.h"
#include "framework/random/generator.h"
#include "kernels/common/philox.h"
#include "kernels/cpu/dropout.h"

namespace minidl {
namespace {

TEST(Philox, Random123KnownAnswers) {
  struct Kat {
    PhiloxBlock ctr;
    uint32_t key_lo, key_hi;
    PhiloxBlock expected;
  };
  const Kat kats[] = {
      {{{0, 0, 0, 0}}, 0, 0, {{0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8}}},
      {{{0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff}}, 0xffffffff, 0xffffffff,
       {{0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd}}},
      {{{0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344}}, 0xa4093822, 0x299f31d0,
       {{0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1}}},
  };
  for (const Kat& k : kats) {
    const PhiloxBlock got = philox4x32_10(k.ctr, k.key_lo, k.key_hi);
    for (int w = 0; w < 4; ++w) EXPECT_EQ(got.w[w], k.expected.w[w]) << "word " << w;
  }
}

TEST(Philox, DesignDocumentFirstWords) {
  std::vector<uint32_t> w(4);
  cpu::philox_words(0, 4, PhiloxState{42, 0, 0}, w.data());
  EXPECT_EQ(w, (std::vector<uint32_t>{2632642643u, 2012563771u, 314527917u, 1463989207u}));
}

TEST(Philox, KeepRuleEdgesAndRate) {
  EXPECT_EQ(dropout_threshold(0.0), 0u);
  EXPECT_EQ(dropout_threshold(1.0), 1ull << 32);
  EXPECT_TRUE(dropout_keep(0, dropout_threshold(0.0)));
  EXPECT_FALSE(dropout_keep(0xffffffffu, dropout_threshold(1.0)));
  EXPECT_TRUE(dropout_keep(0x80000000u, dropout_threshold(0.5)));
  EXPECT_FALSE(dropout_keep(0x7fffffffu, dropout_threshold(0.5)));
  // The kept fraction is Binomial(n, 1 - p)/n: within 5 standard deviations.
  const int64_t n = 1 << 20;
  std::vector<uint8_t> mask(n);
  for (double p : {0.1, 0.5, 0.9}) {
    cpu::dropout_mask(0, n, PhiloxState{7, 0, 0}, dropout_threshold(p), mask.data());
    double kept = 0;
    for (uint8_t m : mask) kept += m;
    const double sd = std::sqrt(p * (1 - p) / n);
    EXPECT_NEAR(kept / n, 1 - p, 5 * sd) << "p " << p;
  }
}

TEST(Generator, ReservesRoundedUpOffsets) {
  Generator g(5, 3);
  const PhiloxState a = g.reserve(5), b = g.reserve(1), c = g.reserve(0);
  EXPECT_EQ(a.offset, 0u);
  EXPECT_EQ(b.offset, 8u);
  EXPECT_EQ(c.offset, 12u);
  EXPECT_EQ(g.offset(), 12u);
  EXPECT_EQ(a.seed, 5u);
  EXPECT_EQ(a.stream, 3u);
  EXPECT_THROW(g.set_state(1, 0, 6), Error);
}

TEST(Generator, NextBelowIsUniform) {
  Generator g(11);
  std::vector<int> counts(6, 0);
  const int n = 60000;
  for (int i = 0; i < n; ++i) ++counts[g.next_below(6)];
  // Chi-square with 5 degrees of freedom: 20.5 is its 0.999 quantile.
  double chi2 = 0;
  for (int c : counts) chi2 += (c - n / 6.0) * (c - n / 6.0) / (n / 6.0);
  EXPECT_LT(chi2, 20.5);
}

}  // namespace
}  // namespace minidl
