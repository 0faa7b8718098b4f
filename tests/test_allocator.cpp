// The device caching allocator: size classes, reuse of freed blocks, statistics, and the direct
// (bypass) mode; and tensors on the emulated device moving to and from the host.
#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <set>
#include <vector>

#include "framework/core/caching_allocator.h"
#include "framework/ops/ops.h"

namespace minidl {
namespace {

// Host memory that records what the allocator asked of the device.
class CountingMemory final : public RawDeviceMemory {
 public:
  void* allocate(size_t nbytes) override {
    ++allocations;
    return std::malloc(nbytes);
  }
  void free(void* ptr) noexcept override {
    ++frees;
    std::free(ptr);
  }
  void copy_to_host(void* dst, const void* src, size_t nbytes) override { std::memcpy(dst, src, nbytes); }
  void copy_from_host(void* dst, const void* src, size_t nbytes) override { std::memcpy(dst, src, nbytes); }
  int allocations = 0, frees = 0;
};

TEST(CachingAllocator, SizeClassesArePowersOfTwoFrom512) {
  EXPECT_EQ(CachingAllocator::size_class(1), 512u);
  EXPECT_EQ(CachingAllocator::size_class(512), 512u);
  EXPECT_EQ(CachingAllocator::size_class(513), 1024u);
  EXPECT_EQ(CachingAllocator::size_class(3000), 4096u);
}

TEST(CachingAllocator, ReusesFreedBlocksAndKeepsStatistics) {
  CountingMemory memory;
  CachingAllocator alloc(memory, false);
  void* a = alloc.allocate(1000);  // class 1024
  void* b = alloc.allocate(3000);  // class 4096
  EXPECT_EQ(alloc.stats().allocated, 1024u + 4096u);
  alloc.deallocate(a, 1000);
  void* c = alloc.allocate(700);  // same class as a: the cached block comes back
  EXPECT_EQ(c, a);
  EXPECT_EQ(memory.allocations, 2);
  alloc.deallocate(b, 3000);
  alloc.deallocate(c, 700);
  const AllocatorStats s = alloc.stats();
  EXPECT_EQ(s.allocated, 0u);
  EXPECT_EQ(s.reserved, 1024u + 4096u);
  EXPECT_EQ(s.peak, 1024u + 4096u);
  alloc.empty_cache();
  EXPECT_EQ(memory.frees, 2);
  EXPECT_EQ(alloc.stats().reserved, 0u);
}

TEST(CachingAllocator, DirectModeAllocatesExactSizesAndFreesAtOnce) {
  CountingMemory memory;
  CachingAllocator alloc(memory, true);
  void* a = alloc.allocate(1000);
  EXPECT_EQ(alloc.stats().allocated, 1000u);
  alloc.deallocate(a, 1000);
  EXPECT_EQ(memory.frees, 1);
  EXPECT_EQ(alloc.stats().reserved, 0u);
  void* b = alloc.allocate(1000);
  EXPECT_EQ(memory.allocations, 2);
  alloc.deallocate(b, 1000);
}

TEST(PinnedHostMemory, HoldsHostTensorsThatMoveLikeAnyOther) {
  Tensor t = Tensor::empty_pinned({4}, DType::F32);
  EXPECT_EQ(t.device(), kCPU);
  float* p = t.data<float>();
  for (int i = 0; i < 4; ++i) p[i] = static_cast<float>(i) * 1.5f;
  EXPECT_EQ(to_dtype(t, DType::F64).to_vector<double>(), (std::vector<double>{0, 1.5, 3, 4.5}));
}

#if defined(MINIDL_HAS_EMU)
TEST(EmulatedDevice, TensorsMoveToTheDeviceAndBack) {
  const Device emu{DeviceType::CUDAEmu, 0};
  const Tensor x = Tensor::from_vector(std::vector<float>{1, 2, 3, 4, 5, 6}, {2, 3});
  const Tensor d = to_device(transpose(x, 0, 1), emu);
  EXPECT_EQ(d.device(), emu);
  EXPECT_EQ(d.shape(), (Shape{3, 2}));
  EXPECT_EQ(d.to_vector<float>(), (std::vector<float>{1, 4, 2, 5, 3, 6}));
  EXPECT_THROW(add(d, x), Error);  // operands on different devices
  const AllocatorStats before = allocator_for(emu).stats();
  { const Tensor big = Tensor::zeros({1000}, DType::F32, emu); }
  EXPECT_EQ(allocator_for(emu).stats().allocated, before.allocated);
}
#endif

}  // namespace
}  // namespace minidl
