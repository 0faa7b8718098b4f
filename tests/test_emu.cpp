// The SIMT emulator's self-tests: misuse is reported (divergent barriers, partial-warp shuffles,
// deadlocks, bad launch configurations), uninitialized shared memory reads as NaN, and barriers,
// shuffles, votes and atomics agree with closed-form references.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <numeric>
#include <string>
#include <vector>

#include "kernels/cuda/launch_policy.h"
#include "tests/emu_kernels.h"

namespace minidl {
namespace {

// Runs fn, which must throw a LaunchError whose message contains every phrase.
template <typename Fn>
void expect_launch_error(Fn&& fn, std::initializer_list<const char*> phrases) {
  try {
    fn();
    ADD_FAILURE() << "expected a launch error";
  } catch (const LaunchError& e) {
    for (const char* p : phrases) EXPECT_NE(std::string(e.what()).find(p), std::string::npos) << e.what();
  }
}

TEST(Emulator, DivergentBarrierIsReported) {
  expect_launch_error([] { emu::divergent_barrier(64); },
                      {"__syncthreads() at", "emu_kernels.cu", "reached by 32 of 64 threads", "divergent_barrier"});
}

TEST(Emulator, BarriersAtDifferentSitesAreReported) {
  expect_launch_error([] { emu::split_barrier_sites(8); }, {"different barriers", "emu_kernels.cu"});
}

TEST(Emulator, PartialWarpShuffleIsReported) {
  expect_launch_error([] { emu::partial_warp_shuffle(); },
                      {"__shfl_down_sync", "names lane 16", "has exited", "part of a warp"});
}

TEST(Emulator, BarrierAndWarpDeadlockIsReported) {
  expect_launch_error([] { emu::barrier_warp_deadlock(); }, {"deadlock", "__shfl_sync", "__syncthreads()"});
}

TEST(Emulator, ReadingALaneOutsideTheMaskIsReportedWithThreadAndBlock) {
  float out = 0;
  expect_launch_error([&] { emu::shuffle_outside_mask(&out); },
                      {"reads lane 1, which is not in the mask", "block (0,0,0)", "thread (0,0,0)"});
}

TEST(Emulator, UninitializedSharedMemoryReadsAsNaN) {
  std::vector<float> out(96, 0.0f);
  emu::uninitialized_shared(96, 40, out.data());
  for (int t = 0; t < 96; ++t) {
    if (t < 40) EXPECT_EQ(out[t], 1.0f) << t;
    else EXPECT_TRUE(std::isnan(out[t])) << "thread " << t << " read " << out[t];
  }
}

TEST(Emulator, BlockReductionMatchesTheSum) {
  for (int threads : {32, 64, 256, 1024}) {
    const int blocks = 3;
    std::vector<float> x(static_cast<size_t>(blocks * threads));
    for (size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>((i * 37) % 101) - 50.0f;
    std::vector<float> out(blocks);
    emu::block_sum(blocks, threads, x.data(), out.data());
    for (int b = 0; b < blocks; ++b) {
      // Small integers: every partial sum is exact in f32, whatever the order.
      const double expected = std::accumulate(x.begin() + b * threads, x.begin() + (b + 1) * threads, 0.0);
      EXPECT_EQ(out[b], expected) << threads << " threads, block " << b;
    }
  }
}

TEST(Emulator, ShuffledScheduleGivesTheSameResults) {
  setenv("MINIDL_EMU_SCHEDULE", "shuffle:7", 1);
  std::vector<float> x(512, 0.0f), out(2);
  for (size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>(i % 13);
  emu::block_sum(2, 256, x.data(), out.data());
  unsetenv("MINIDL_EMU_SCHEDULE");
  EXPECT_EQ(out[0], std::accumulate(x.begin(), x.begin() + 256, 0.0));
  EXPECT_EQ(out[1], std::accumulate(x.begin() + 256, x.end(), 0.0));
}

TEST(Emulator, BarrierPredicates) {
  std::vector<float> x(128, 1.0f);
  for (int t = 0; t < 128; t += 5) x[t] = -1.0f;  // 26 negatives
  int counts[3] = {};
  emu::barrier_predicates(128, x.data(), counts);
  EXPECT_EQ(counts[0], 128 - 26);
  EXPECT_EQ(counts[1], 0);
  EXPECT_EQ(counts[2], 1);
  std::fill(x.begin(), x.end(), 1.0f);
  emu::barrier_predicates(128, x.data(), counts);
  EXPECT_EQ(counts[1], 1);
}

TEST(Emulator, ShufflesFollowCudaSemantics) {
  std::vector<int> out(6 * 32);
  emu::shuffles(out.data());
  for (int lane = 0; lane < 32; ++lane) {
    const int own = lane * 10;
    EXPECT_EQ(out[0 * 32 + lane], ((7 * lane + 3) % 32) * 10);
    EXPECT_EQ(out[1 * 32 + lane], lane >= 3 ? (lane - 3) * 10 : own);
    EXPECT_EQ(out[2 * 32 + lane], lane + 5 < 32 ? (lane + 5) * 10 : own);
    EXPECT_EQ(out[3 * 32 + lane], (lane ^ 9) * 10);
    EXPECT_EQ(out[4 * 32 + lane], ((lane / 8) * 8 + 2) * 10);
    EXPECT_EQ(out[5 * 32 + lane], lane % 8 >= 1 ? (lane - 1) * 10 : own);
  }
}

TEST(Emulator, VotesFollowCudaSemantics) {
  unsigned out[6] = {};
  emu::votes(out);
  unsigned expected = 0;
  for (unsigned l = 0; l < 32; l += 3) expected |= 1u << l;
  EXPECT_EQ(out[0], expected);
  EXPECT_EQ(out[1], 1u);
  EXPECT_EQ(out[2], 0u);
  EXPECT_EQ(out[3], 0xffffffffu);
  EXPECT_EQ(out[4], 0u);
  EXPECT_EQ(out[5], 1u);
}

TEST(Emulator, AtomicsMatchSequentialCounts) {
  const int n = 10000, bins = 7, blocks = 5, threads = 64;
  std::vector<int> x(n);
  for (int i = 0; i < n; ++i) x[i] = (i * 7919) % 1000;
  std::vector<int> histogram(bins, 0), expected(bins, 0);
  for (int v : x) ++expected[v % bins];
  int max_out = -1, cas_count = 0;
  emu::atomics(blocks, threads, x.data(), n, bins, histogram.data(), &max_out, &cas_count);
  EXPECT_EQ(histogram, expected);
  EXPECT_EQ(max_out, 999);
  EXPECT_EQ(cas_count, blocks * threads);
}

TEST(Emulator, HalfAndBfloat16FromTheCudaHeaders) {
  // 1 + 2^-11 is a tie between half's neighbours 1 and 1 + 2^-10: round-to-nearest-even gives 1.
  // 1 + 2^-8 is a bfloat16 tie between 1 and 1 + 2^-7: it also rounds to 1. 65504 is half's max and
  // rounds up to 2^16 in bfloat16 (spacing 256 there); 3 + 2^-9 is exact in half, not in bfloat16.
  const std::vector<float> x = {1.5f, -2.25f, 1.0f + 0x1p-11f, 1.0f + 0x1p-8f, 65504.0f, 3.0f + 0x1p-9f};
  const int n = static_cast<int>(x.size());
  std::vector<float> out(2 * x.size());
  emu::half_round_trip(n, x.data(), out.data());
  const std::vector<float> half_expected = {1.5f, -2.25f, 1.0f, 1.0f + 0x1p-8f, 65504.0f, 3.0f + 0x1p-9f};
  const std::vector<float> bf16_expected = {1.5f, -2.25f, 1.0f, 1.0f, 65536.0f, 3.0f};
  for (int i = 0; i < n; ++i) {
    EXPECT_EQ(out[i], half_expected[i]) << "half of " << x[i];
    EXPECT_EQ(out[n + i], bf16_expected[i]) << "bfloat16 of " << x[i];
  }
}

TEST(Emulator, LaunchConfigurationIsChecked) {
  expect_launch_error([] { emu::launch_with(1, 2048, 0); }, {"block dim 0 exceeds 1024", "empty"});
  expect_launch_error([] { emu::launch_with(0, 32, 0); }, {"at least 1"});
  expect_launch_error([] { emu::launch_with(1, 32, 64 * 1024); }, {"dynamic shared memory exceed"});
  expect_launch_error([] { emu::static_shared_overflow(); }, {"exceed the 49152-byte limit"});
  EXPECT_NO_THROW(emu::launch_with(3, 1024, 48 * 1024));
}

#if defined(__SANITIZE_ADDRESS__)
// Only in the AddressSanitizer build (tools/test.sh's second job): an out-of-bounds read inside an
// emulated kernel is caught with the kernel's source line.
TEST(EmulatorDeathTest, OutOfBoundsReadIsCaughtByAddressSanitizer) {
  EXPECT_DEATH(
      {
        std::vector<float> x(37, 1.0f);
        float out = 0;
        emu::out_of_bounds_read(37, x.data(), &out);
      },
      "heap-buffer-overflow(.|\n)*emu_kernels.cu");
}
#endif

}  // namespace
}  // namespace minidl
