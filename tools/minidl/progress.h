// A terminal progress bar (items, rate, ETA) on stderr, drawn only when stderr is a terminal so
// logs and pipes stay clean.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace minidl::cli {

class ProgressBar {
 public:
  ProgressBar(std::string label, int64_t total);
  void update(int64_t done, const std::string& status = "");
  void finish();  // clears the bar's line

 private:
  std::string label_;
  int64_t total_;
  bool enabled_;
  std::chrono::steady_clock::time_point start_, last_draw_;
};

}  // namespace minidl::cli
