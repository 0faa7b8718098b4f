#include "framework/io/chrome_trace.h"

#include <nlohmann/json.hpp>

#include "framework/io/atomic_file.h"

namespace minidl {

void write_chrome_trace(const std::vector<TraceEvent>& events, const std::string& path) {
  nlohmann::json trace_events = nlohmann::json::array();
  for (const TraceEvent& e : events) {
    nlohmann::json event = {{"name", e.name},
                            {"cat", e.category},
                            {"ph", "X"},
                            {"ts", static_cast<double>(e.start_ns) / 1e3},
                            {"dur", static_cast<double>(e.duration_ns) / 1e3},
                            {"pid", 1},
                            {"tid", 1}};
    // A kernel's stated work and device time show in the viewer's details of the event.
    if (e.bytes > 0 || e.flops > 0) event["args"] = {{"bytes", e.bytes}, {"flops", e.flops}};
    if (e.device_ns >= 0) event["args"]["device_us"] = static_cast<double>(e.device_ns) / 1e3;
    trace_events.push_back(std::move(event));
  }
  const std::string text = nlohmann::json{{"traceEvents", trace_events}, {"displayTimeUnit", "ms"}}.dump();
  write_file_atomically(path, [&](std::FILE* f) { std::fwrite(text.data(), 1, text.size(), f); });
}

}  // namespace minidl
