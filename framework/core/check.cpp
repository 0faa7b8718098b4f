#include "framework/core/check.h"

namespace minidl {

void throw_error(const char* file, int line, const std::string& message) {
  // The message leads; the source location follows for whoever debugs it.
  throw Error(fmt::format("{} [{}:{}]", message, file, line));
}

}  // namespace minidl
