// Error checks that throw minidl::Error with the failing condition and file:line. Library code
// never exits: only the CLI's main turns an error into one line and a non-zero exit code.
#pragma once

#include <fmt/format.h>

#include <stdexcept>
#include <string>

namespace minidl {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

[[noreturn]] void throw_error(const char* file, int line, const std::string& message);

}  // namespace minidl

// MINIDL_CHECK(cond, "fmt", args...): throws with the formatted message when cond is false.
#define MINIDL_CHECK(cond, ...)                                                   \
  do {                                                                            \
    if (!(cond)) ::minidl::throw_error(__FILE__, __LINE__, fmt::format(__VA_ARGS__)); \
  } while (0)

#define MINIDL_FAIL(...) ::minidl::throw_error(__FILE__, __LINE__, fmt::format(__VA_ARGS__))
