// What host code needs to know about kernel launches, without the CUDA headers: the launch
// policy of elementwise kernels and the error a failed launch throws. One policy serves both
// builds (cuda and emu).
#pragma once

#include <stdexcept>

namespace minidl {

// Block size and grid cap of elementwise launches. Results never depend on them (tests sweep
// them); they are settings for tuning and testing, per host thread.
struct LaunchPolicy {
  unsigned block = 256;
  unsigned max_blocks = 65535;
};

inline LaunchPolicy& launch_policy() {
  thread_local LaunchPolicy policy;
  return policy;
}

// A launch that failed: the message names the kernel, grid, block and call site.
class LaunchError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace minidl
