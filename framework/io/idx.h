// The IDX format of the MNIST family: magic 0x00 0x00 TYPE NDIMS, NDIMS big-endian u32 sizes, then
// the values. Read through zlib, which takes gzip-compressed and plain files alike.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace minidl {

struct IdxArray {
  std::vector<int64_t> dims;
  std::vector<uint8_t> data;  // row-major, product(dims) bytes
};

// Reads an IDX file of unsigned bytes (type 0x08) with 1 to 4 dimensions. Throws naming the file
// when it is missing, not gzip or IDX, corrupt, truncated, or longer than its header says.
IdxArray read_idx_u8(const std::string& path);

}  // namespace minidl
