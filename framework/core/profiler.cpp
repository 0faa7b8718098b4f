#include "framework/core/profiler.h"

#include <chrono>
#include <cstring>
#include <thread>

#include "framework/core/cuda_memory.h"
#include "framework/core/device_clock.h"

#if __has_include(<nvtx3/nvToolsExt.h>)
#include <nvtx3/nvToolsExt.h>
#define MINIDL_NVTX 1
#endif

namespace minidl {

namespace {

struct Recorder {
  bool on = false;
  std::thread::id thread;
  std::chrono::steady_clock::time_point origin;
  int depth = 0;
  std::vector<TraceEvent> events;
  std::shared_ptr<DeviceClock> clock;
};

Recorder& recorder() {
  static Recorder r;
  return r;
}

bool recording_here() {
  const Recorder& r = recorder();
  return r.on && r.thread == std::this_thread::get_id();
}

int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - recorder().origin)
      .count();
}

}  // namespace

void start_recording(std::shared_ptr<DeviceClock> clock) {
  Recorder& r = recorder();
  r = Recorder{};
  r.clock = std::move(clock);
  r.on = true;
  r.thread = std::this_thread::get_id();
  r.origin = std::chrono::steady_clock::now();
}

std::vector<TraceEvent> stop_recording() {
  Recorder& r = recorder();
  r.on = false;
  r.clock.reset();
  return std::move(r.events);
}

bool recording() { return recorder().on; }

ProfileRange::ProfileRange(const char* category, const char* name) : category_(category) {
#if defined(MINIDL_NVTX)
  nvtxRangePushA(name);
#endif
  if (recording_here()) {
    Recorder& r = recorder();
    name_ = name;
    ++r.depth;
    start_ns_ = now_ns();  // before the device mark, so the device time lies within the host time
    if (r.clock && std::strcmp(category, "kernel") == 0) device_start_ = static_cast<int64_t>(r.clock->mark());
  }
}

void ProfileRange::set_work(double bytes, double flops) {
  bytes_ = bytes;
  flops_ = flops;
}

ProfileRange::~ProfileRange() {
#if defined(MINIDL_NVTX)
  nvtxRangePop();
#endif
  if (start_ns_ < 0 || !recording_here()) return;
  Recorder& r = recorder();
  const int64_t device_stop = device_start_ >= 0 ? static_cast<int64_t>(r.clock->mark()) : -1;
  cuda_synchronize();  // the kernels this range launched belong to it
  const int64_t duration_ns = now_ns() - start_ns_;
  const int64_t device_ns = device_stop >= 0 ? r.clock->elapsed_ns(static_cast<size_t>(device_start_),
                                                                    static_cast<size_t>(device_stop))
                                             : -1;
  --r.depth;
  r.events.push_back({std::move(name_), category_, start_ns_, duration_ns, r.depth, bytes_, flops_, device_ns});
}

}  // namespace minidl
