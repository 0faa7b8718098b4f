// Chrome trace-event JSON for the profiler's events: complete events ("ph": "X", microseconds),
// which Perfetto and chrome://tracing open.
#pragma once

#include <string>
#include <vector>

#include "framework/core/profiler.h"

namespace minidl {

// Written atomically (a temporary file renamed into place).
void write_chrome_trace(const std::vector<TraceEvent>& events, const std::string& path);

}  // namespace minidl
