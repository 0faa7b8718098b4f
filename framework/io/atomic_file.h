// Whole-file writes that never leave a half-written file behind, and whole-file reads with
// errors that name the file.
#pragma once

#include <cstdint>
#include <cstdio>
#include <functional>
#include <string>
#include <vector>

namespace minidl {

// Calls write() on a temporary file next to `path` (path + ".tmp.<pid>"), syncs it to disk and
// renames it over `path`, then syncs the directory so the rename survives a crash. When write()
// or any step fails, the temporary file is removed, `path` keeps its previous content, and the
// error is rethrown (write()'s own exception) or thrown naming the path and the system's reason.
// Failed fwrite calls inside write() need no checking: the stream's error flag is checked after.
void write_file_atomically(const std::string& path, const std::function<void(std::FILE*)>& write);

// The whole content of a file; throws "cannot open PATH: reason" or "cannot read PATH: reason".
std::vector<uint8_t> read_file(const std::string& path);

}  // namespace minidl
