#include "framework/core/caching_allocator.h"

#include <algorithm>
#include <bit>

namespace minidl {

CachingAllocator::CachingAllocator(RawDeviceMemory& raw, bool direct) : raw_(raw), direct_(direct) {}

CachingAllocator::~CachingAllocator() { empty_cache(); }

size_t CachingAllocator::size_class(size_t nbytes) { return std::bit_ceil(std::max<size_t>(nbytes, 512)); }

void* CachingAllocator::allocate(size_t nbytes) {
  if (nbytes == 0) return nullptr;
  std::lock_guard<std::mutex> lock(mutex_);
  const size_t bytes = direct_ ? nbytes : size_class(nbytes);
  void* ptr = nullptr;
  auto it = free_.find(bytes);
  if (it != free_.end() && !it->second.empty()) {
    ptr = it->second.back();
    it->second.pop_back();
  } else {
    ptr = raw_.allocate(bytes);
    stats_.reserved += bytes;
  }
  stats_.allocated += bytes;
  stats_.peak = std::max(stats_.peak, stats_.allocated);
  return ptr;
}

void CachingAllocator::deallocate(void* ptr, size_t nbytes) noexcept {
  if (ptr == nullptr) return;
  std::lock_guard<std::mutex> lock(mutex_);
  const size_t bytes = direct_ ? nbytes : size_class(nbytes);
  stats_.allocated -= bytes;
  if (direct_) {
    raw_.free(ptr);
    stats_.reserved -= bytes;
  } else {
    free_[bytes].push_back(ptr);
  }
}

void CachingAllocator::copy_to_host(void* host_dst, const void* device_src, size_t nbytes) {
  if (nbytes > 0) raw_.copy_to_host(host_dst, device_src, nbytes);
}

void CachingAllocator::copy_from_host(void* device_dst, const void* host_src, size_t nbytes) {
  if (nbytes > 0) raw_.copy_from_host(device_dst, host_src, nbytes);
}

AllocatorStats CachingAllocator::stats() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return stats_;
}

void CachingAllocator::empty_cache() {
  std::lock_guard<std::mutex> lock(mutex_);
  for (auto& [bytes, blocks] : free_) {
    for (void* ptr : blocks) raw_.free(ptr);
    stats_.reserved -= bytes * blocks.size();
    blocks.clear();
  }
}

}  // namespace minidl
