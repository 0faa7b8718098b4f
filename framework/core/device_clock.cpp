#include "framework/core/device_clock.h"

#include <chrono>
#include <vector>

#include "framework/core/check.h"
#include "framework/core/cuda_memory.h"

#if defined(MINIDL_HAS_CUDA)
#include <cuda_runtime.h>
#endif

namespace minidl {

namespace {

class HostClock final : public DeviceClock {
 public:
  size_t mark() override {
    marks_.push_back(std::chrono::steady_clock::now());
    return marks_.size() - 1;
  }
  int64_t elapsed_ns(size_t from, size_t to) override {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(marks_.at(to) - marks_.at(from)).count();
  }

 private:
  std::vector<std::chrono::steady_clock::time_point> marks_;
};

#if defined(MINIDL_HAS_CUDA)
void check_cuda(cudaError_t err, const char* what) {
  MINIDL_CHECK(err == cudaSuccess, "{} failed: {}", what, cudaGetErrorString(err));
}

// Events on the default stream, which every kernel launches on.
class CudaEventClock final : public DeviceClock {
 public:
  ~CudaEventClock() override {
    for (cudaEvent_t e : events_) cudaEventDestroy(e);
  }
  size_t mark() override {
    cudaEvent_t event = nullptr;
    check_cuda(cudaEventCreate(&event), "cudaEventCreate");
    events_.push_back(event);
    check_cuda(cudaEventRecord(event, nullptr), "cudaEventRecord");
    return events_.size() - 1;
  }
  int64_t elapsed_ns(size_t from, size_t to) override {
    check_cuda(cudaEventSynchronize(events_.at(to)), "cudaEventSynchronize");
    float ms = 0;
    check_cuda(cudaEventElapsedTime(&ms, events_.at(from), events_.at(to)), "cudaEventElapsedTime");
    return static_cast<int64_t>(static_cast<double>(ms) * 1e6);
  }

 private:
  std::vector<cudaEvent_t> events_;
};
#endif

}  // namespace

std::unique_ptr<DeviceClock> device_clock(Device device) {
  switch (device.type) {
    case DeviceType::CPU:
      return nullptr;
    case DeviceType::CUDAEmu:
      return std::make_unique<HostClock>();
    case DeviceType::CUDA:
#if defined(MINIDL_HAS_CUDA)
      MINIDL_CHECK(cuda_device_count() > 0, "device clock for {}: {}", device.str(), cuda_unavailable_reason());
      return std::make_unique<CudaEventClock>();
#else
      MINIDL_FAIL("device clock for {}: this build has no CUDA backend", device.str());
#endif
  }
  MINIDL_FAIL("unknown device type");
}

}  // namespace minidl
