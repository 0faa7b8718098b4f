#include "framework/core/allocator.h"

#include <cstdlib>
#include <new>

#include "framework/core/check.h"

namespace minidl {

namespace {

// 64-byte alignment: a cache line, and enough for any vector load.
class CpuAllocator final : public Allocator {
 public:
  void* allocate(size_t nbytes) override {
    if (nbytes == 0) return nullptr;
    const size_t rounded = (nbytes + 63) / 64 * 64;
    void* ptr = std::aligned_alloc(64, rounded);
    MINIDL_CHECK(ptr != nullptr, "out of host memory allocating {} bytes", nbytes);
    return ptr;
  }
  void deallocate(void* ptr, size_t) noexcept override { std::free(ptr); }
};

}  // namespace

Allocator& allocator_for(Device device) {
  static CpuAllocator cpu;
  MINIDL_CHECK(device.type == DeviceType::CPU, "device {} is not available in this build: expected cpu",
               device.str());
  return cpu;
}

}  // namespace minidl
