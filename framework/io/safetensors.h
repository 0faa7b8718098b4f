// The safetensors format: an 8-byte little-endian header length N, N bytes of JSON naming each
// tensor's dtype, shape and byte range in the data section that follows, and an optional
// "__metadata__" object of strings. Everything read is validated; errors name the file.
#pragma once

#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "framework/core/tensor.h"

namespace minidl {

struct SafetensorsFile {
  std::vector<std::pair<std::string, Tensor>> tensors;  // in header order; each owns its memory
  std::map<std::string, std::string> metadata;
  std::string source;  // the file, for errors

  // Throws naming the missing tensor and the file.
  const Tensor& at(const std::string& name) const;
};

// Writes the CPU tensors (any strides) in order, atomically: a failure leaves `path` as it was.
// Names must be unique, and "__metadata__" is reserved.
void save_safetensors(const std::string& path, const std::vector<std::pair<std::string, Tensor>>& tensors,
                      const std::map<std::string, std::string>& metadata = {});

SafetensorsFile load_safetensors(const std::string& path);
// Parses a whole file held in memory; source_name names it in errors.
SafetensorsFile parse_safetensors(std::span<const uint8_t> bytes, const std::string& source_name);

}  // namespace minidl
