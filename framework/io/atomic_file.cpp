#include "framework/io/atomic_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "framework/core/check.h"

namespace minidl {

namespace {

// Makes a completed rename durable. Filesystems that cannot sync a directory say EINVAL; the
// file itself is already synced there, so that is not an error.
void sync_directory(const std::string& path) {
  const std::filesystem::path parent = std::filesystem::path(path).parent_path();
  const std::string dir = parent.empty() ? std::string(".") : parent.string();
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY);
  MINIDL_CHECK(fd >= 0, "wrote {} but cannot open its directory {} to sync it: {}", path, dir, std::strerror(errno));
  const int rc = ::fsync(fd);
  const int err = errno;
  ::close(fd);
  MINIDL_CHECK(rc == 0 || err == EINVAL, "wrote {} but syncing its directory {} failed: {}", path, dir,
               std::strerror(err));
}

}  // namespace

void write_file_atomically(const std::string& path, const std::function<void(std::FILE*)>& write) {
  const std::string tmp = fmt::format("{}.tmp.{}", path, ::getpid());
  std::FILE* f = std::fopen(tmp.c_str(), "wb");
  MINIDL_CHECK(f != nullptr, "cannot write {}: cannot create {}: {}", path, tmp, std::strerror(errno));
  // Before the rename every failure ends here: `path` is untouched and the temporary file goes.
  auto abandon = [&](const char* step, int err) {
    if (f != nullptr) std::fclose(f);
    std::remove(tmp.c_str());
    MINIDL_FAIL("cannot write {}: {} failed: {}", path, step, std::strerror(err));
  };
  try {
    write(f);
  } catch (...) {
    std::fclose(f);
    std::remove(tmp.c_str());
    throw;
  }
  if (std::ferror(f)) abandon("write", errno);
  if (std::fflush(f) != 0) abandon("write", errno);
  if (::fsync(::fileno(f)) != 0) abandon("fsync", errno);
  const int closed = std::fclose(f);
  f = nullptr;
  if (closed != 0) abandon("close", errno);
  if (std::rename(tmp.c_str(), path.c_str()) != 0) abandon("rename", errno);
  sync_directory(path);
}

std::vector<uint8_t> read_file(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  MINIDL_CHECK(f != nullptr, "cannot open {}: {}", path, std::strerror(errno));
  std::vector<uint8_t> bytes;
  uint8_t chunk[1 << 16];
  size_t n;
  while ((n = std::fread(chunk, 1, sizeof(chunk), f)) > 0) bytes.insert(bytes.end(), chunk, chunk + n);
  const bool failed = std::ferror(f) != 0;
  const int err = errno;
  std::fclose(f);
  MINIDL_CHECK(!failed, "cannot read {}: {}", path, std::strerror(err));
  return bytes;
}

}  // namespace minidl
