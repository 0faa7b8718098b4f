// Pieces the kernel parity suites share: deterministic test values, a bitwise comparison that
// names the first difference, and running a CPU reference in pieces.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <sstream>
#include <string>
#include <vector>

#include "kernels/common/bfloat16.h"

namespace minidl {

// A deterministic pseudo-random 64-bit word for (i, salt).
inline uint64_t mix(uint64_t i, uint64_t salt) {
  uint64_t z = i * 0x9e3779b97f4a7c15ull + salt * 0xbf58476d1ce4e5b9ull + 0x94d049bb133111ebull;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

// Uniform in [-4, 4).
inline double uniform(int64_t i, uint64_t salt) {
  return static_cast<double>(mix(static_cast<uint64_t>(i), salt) >> 11) * 0x1p-53 * 8.0 - 4.0;
}

template <typename T>
std::string show(T v) {
  std::ostringstream os;
  os.precision(17);
  os << +v;
  return os.str();
}

// Bitwise equality of two arrays (so NaNs compare by their bits), naming the first difference.
template <typename T>
::testing::AssertionResult same_bits(const std::vector<T>& want, const std::vector<T>& got) {
  if (want.size() != got.size())
    return ::testing::AssertionFailure() << "sizes " << want.size() << " vs " << got.size();
  for (size_t i = 0; i < want.size(); ++i)
    if (std::memcmp(&want[i], &got[i], sizeof(T)) != 0)
      return ::testing::AssertionFailure() << "element " << i << ": cpu " << show(want[i]) << ", emu " << show(got[i]);
  return ::testing::AssertionSuccess();
}

// bf16 test data: values rounded to bf16, and the f32 values they hold (the reference's input).
inline std::vector<bf16> to_bf16(const std::vector<float>& v) {
  std::vector<bf16> out;
  for (float x : v) out.push_back(bf16(x));
  return out;
}
inline std::vector<float> widened(const std::vector<bf16>& v) { return std::vector<float>(v.begin(), v.end()); }
inline std::vector<float> rounded_to_bf16(const std::vector<float>& v) { return widened(to_bf16(v)); }

// Runs a CPU reference kernel over [0, items) in two uneven pieces, as two threads would.
template <typename Fn>
void cpu_in_two(int64_t items, Fn&& fn) {
  fn(int64_t{0}, items / 3);
  fn(items / 3, items);
}

}  // namespace minidl
