// Warnings: what the library allows but a user almost surely did not mean (dropout with p = 1 in
// training passes no signal). Each distinct message is reported once: to stderr, or, while a
// WarningCapture lives, to the innermost one (tests and the lab read them), which sees each
// message once itself whatever stderr has already shown.
#pragma once

#include <string>
#include <vector>

namespace minidl {

void warn_once(const std::string& message);

class WarningCapture {
 public:
  WarningCapture();
  ~WarningCapture();
  WarningCapture(const WarningCapture&) = delete;
  WarningCapture& operator=(const WarningCapture&) = delete;

  std::vector<std::string> messages() const;  // in the order they were first reported

 private:
  friend void warn_once(const std::string& message);
  std::vector<std::string> messages_;
  WarningCapture* outer_;
};

}  // namespace minidl
