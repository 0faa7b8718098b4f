#include "framework/io/idx.h"

#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string_view>

#include "framework/core/check.h"
#include "framework/core/shape.h"

namespace minidl {

namespace {

class GzReader {
 public:
  explicit GzReader(const std::string& path) : path_(path) {
    errno = 0;  // gzopen leaves it 0 when zlib itself failed
    file_ = gzopen(path.c_str(), "rb");
    MINIDL_CHECK(file_ != nullptr, "cannot open {}: {}", path,
                 errno != 0 ? std::strerror(errno) : "out of memory in zlib");
  }
  ~GzReader() { gzclose(file_); }
  GzReader(const GzReader&) = delete;
  GzReader& operator=(const GzReader&) = delete;

  // Reads up to n bytes; fewer only at the end of the data. Corrupt or cut-off gzip data throws.
  size_t read(uint8_t* out, size_t n) {
    size_t got = 0;
    while (got < n) {
      const unsigned chunk = static_cast<unsigned>(std::min<size_t>(n - got, 1u << 30));
      const int r = gzread(file_, out + got, chunk);
      if (r < 0 || static_cast<unsigned>(r) < chunk) check_stream();
      if (r <= 0) break;
      got += static_cast<size_t>(r);
    }
    return got;
  }

  // Exactly n bytes, or an error naming what was being read.
  void read_exact(uint8_t* out, size_t n, const char* what) {
    const size_t got = read(out, n);
    MINIDL_CHECK(got == n, "{}: truncated {}: expected {} bytes, got {}", path_, what, n, got);
  }

 private:
  // A short read is the end of the data only when zlib reports no error; Z_BUF_ERROR is a gzip
  // stream that stops before its end.
  void check_stream() {
    int errnum = Z_OK;
    const char* message = gzerror(file_, &errnum);
    MINIDL_CHECK(errnum != Z_ERRNO, "cannot read {}: {}", path_, std::strerror(errno));
    if (errnum == Z_OK || errnum == Z_STREAM_END) return;
    // zlib prefixes its message with the path, which ours already leads with.
    std::string_view reason = message;
    if (reason.starts_with(path_ + ": ")) reason.remove_prefix(path_.size() + 2);
    MINIDL_FAIL("{}: corrupt gzip data: {}", path_, reason);
  }

  std::string path_;
  gzFile file_ = nullptr;
};

}  // namespace

IdxArray read_idx_u8(const std::string& path) {
  GzReader in(path);
  uint8_t magic[4];
  in.read_exact(magic, sizeof(magic), "header");
  const uint32_t magic_word = static_cast<uint32_t>(magic[0]) << 24 | static_cast<uint32_t>(magic[1]) << 16 |
                              static_cast<uint32_t>(magic[2]) << 8 | magic[3];
  MINIDL_CHECK(magic[0] == 0 && magic[1] == 0 && magic[2] == 0x08,
               "{}: bad magic 0x{:08x}: expected 0x0000080N (unsigned bytes)", path, magic_word);
  const int ndims = magic[3];
  MINIDL_CHECK(ndims >= 1 && ndims <= 4, "{}: bad magic 0x{:08x}: {} dimensions, expected 1 to 4", path, magic_word,
               ndims);

  // Far above any real file; a header claiming more is corrupt.
  constexpr uint64_t kMaxValues = uint64_t{1} << 40;
  IdxArray array;
  uint64_t total = 1;
  for (int d = 0; d < ndims; ++d) {
    uint8_t be[4];
    in.read_exact(be, sizeof(be), "header");
    const uint32_t size = static_cast<uint32_t>(be[0]) << 24 | static_cast<uint32_t>(be[1]) << 16 |
                          static_cast<uint32_t>(be[2]) << 8 | be[3];
    array.dims.push_back(size);
    MINIDL_CHECK(size == 0 || total <= kMaxValues / size,
                 "{}: dimensions {} hold more than 2^40 values: corrupt header", path, shape_str(array.dims));
    total *= size;
  }

  // Grown as the data arrives, so a corrupt header cannot make us allocate what the file lacks.
  constexpr size_t kChunk = size_t{1} << 24;
  while (array.data.size() < total) {
    const size_t before = array.data.size();
    const size_t want = std::min<size_t>(kChunk, total - before);
    array.data.resize(before + want);
    const size_t got = in.read(array.data.data() + before, want);
    MINIDL_CHECK(got == want, "{}: truncated data: dimensions {} need {} bytes, got {}", path, shape_str(array.dims),
                 total, before + got);
  }
  uint8_t extra;
  MINIDL_CHECK(in.read(&extra, 1) == 0, "{}: trailing bytes after the {} bytes of data for dimensions {}", path, total,
               shape_str(array.dims));
  return array;
}

}  // namespace minidl
