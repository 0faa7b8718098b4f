#include "framework/core/warning.h"

#include <fmt/format.h>

#include <algorithm>
#include <mutex>
#include <set>

namespace minidl {

namespace {

std::mutex& warning_mutex() {
  static std::mutex mutex;
  return mutex;
}

WarningCapture* innermost_capture = nullptr;

}  // namespace

void warn_once(const std::string& message) {
  const std::lock_guard lock(warning_mutex());
  if (innermost_capture) {
    std::vector<std::string>& seen = innermost_capture->messages_;
    if (std::find(seen.begin(), seen.end(), message) == seen.end()) seen.push_back(message);
    return;
  }
  static std::set<std::string> shown;
  if (shown.insert(message).second) fmt::print(stderr, "warning: {}\n", message);
}

WarningCapture::WarningCapture() {
  const std::lock_guard lock(warning_mutex());
  outer_ = innermost_capture;
  innermost_capture = this;
}

WarningCapture::~WarningCapture() {
  const std::lock_guard lock(warning_mutex());
  innermost_capture = outer_;
}

std::vector<std::string> WarningCapture::messages() const {
  const std::lock_guard lock(warning_mutex());
  return messages_;
}

}  // namespace minidl
