#include "framework/core/profiler.h"

#include <chrono>
#include <thread>

#include "framework/core/cuda_memory.h"

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

void start_recording() {
  Recorder& r = recorder();
  r = Recorder{};
  r.on = true;
  r.thread = std::this_thread::get_id();
  r.origin = std::chrono::steady_clock::now();
}

std::vector<TraceEvent> stop_recording() {
  Recorder& r = recorder();
  r.on = false;
  return std::move(r.events);
}

bool recording() { return recorder().on; }

ProfileRange::ProfileRange(const char* category, const char* name) : category_(category) {
#if defined(MINIDL_NVTX)
  nvtxRangePushA(name);
#endif
  if (recording_here()) {
    name_ = name;
    ++recorder().depth;
    start_ns_ = now_ns();
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
  cuda_synchronize();  // the kernels this range launched belong to it
  Recorder& r = recorder();
  --r.depth;
  r.events.push_back({std::move(name_), category_, start_ns_, now_ns() - start_ns_, r.depth, bytes_, flops_});
}

}  // namespace minidl
