// Profiling ranges. Every ProfileRange opens an NVTX range named after what it covers (kernels,
// modules, backward ops, training steps, data loading), so Nsight Systems shows the structure of
// a run; with no profiler attached a range costs a few nanoseconds. While minidl's own recorder is
// on (`minidl profile`), ranges also become events for a chrome trace and a per-name table; then
// each range ends by waiting for the GPU, so host times include the kernels a range launched.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace minidl {

class DeviceClock;

struct TraceEvent {
  std::string name;
  const char* category;  // "kernel", "module", "backward", "step", "data"
  int64_t start_ns;      // since the recording started
  int64_t duration_ns;
  int depth;             // ranges open around it on its thread
  // What a kernel range moved and computed at the least (ops/dispatch.h): 0 for other ranges.
  double bytes = 0, flops = 0;
  // A kernel range's time on the device's stream (recording with a DeviceClock); -1 otherwise.
  int64_t device_ns = -1;
};

// Starts recording (clearing earlier events); the host thread that calls it is the one traced.
// With a clock (core/device_clock.h), kernel ranges are also timed on the device.
void start_recording(std::shared_ptr<DeviceClock> clock = nullptr);
// Stops recording and returns the events in the order they ended.
std::vector<TraceEvent> stop_recording();
bool recording();

class ProfileRange {
 public:
  ProfileRange(const char* category, const char* name);
  ProfileRange(const char* category, const std::string& name) : ProfileRange(category, name.c_str()) {}
  ~ProfileRange();
  ProfileRange(const ProfileRange&) = delete;
  ProfileRange& operator=(const ProfileRange&) = delete;
  // The bytes and floating-point operations of the work inside the range (kernels), recorded with it.
  void set_work(double bytes, double flops);

 private:
  const char* category_;
  std::string name_;  // kept only while recording
  int64_t start_ns_ = -1;
  double bytes_ = 0, flops_ = 0;
  int64_t device_start_ = -1;  // the clock's mark at the start of a kernel range
};

}  // namespace minidl
