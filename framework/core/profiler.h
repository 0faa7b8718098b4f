// Profiling ranges. Every ProfileRange opens an NVTX range named after what it covers (kernels,
// modules, backward ops, training steps, data loading), so Nsight Systems shows the structure of
// a run; with no profiler attached a range costs a few nanoseconds. While minidl's own recorder is
// on (`minidl profile`), ranges also become events for a chrome trace and a per-name table; then
// each range ends by waiting for the GPU, so host times include the kernels a range launched.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace minidl {

struct TraceEvent {
  std::string name;
  const char* category;  // "kernel", "module", "backward", "step", "data"
  int64_t start_ns;      // since the recording started
  int64_t duration_ns;
  int depth;             // ranges open around it on its thread
  // What a kernel range moved and computed at the least (ops/dispatch.h): 0 for other ranges.
  double bytes = 0, flops = 0;
};

// Starts recording (clearing earlier events); the host thread that calls it is the one traced.
void start_recording();
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
};

}  // namespace minidl
