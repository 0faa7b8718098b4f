// libFuzzer target for the safetensors loader: parse_safetensors on arbitrary bytes must return a
// file or throw minidl::Error. Any other exception, a crash, a leak or a sanitizer report (the
// target is built with AddressSanitizer and UBSan) is a failure. tools/fuzz.sh builds and runs it
// over the seed corpus in fuzz/corpus/safetensors.
#include <cstddef>
#include <cstdint>
#include <span>

#include "framework/core/check.h"
#include "framework/io/safetensors.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    const minidl::SafetensorsFile file = minidl::parse_safetensors(std::span<const uint8_t>(data, size), "input");
    // Read every byte of every tensor, so that AddressSanitizer checks each one is in bounds.
    uint8_t sum = 0;
    for (const auto& [name, tensor] : file.tensors) {
      const auto* bytes = static_cast<const uint8_t*>(tensor.raw_data());
      const size_t n = static_cast<size_t>(tensor.numel()) * minidl::dtype_size(tensor.dtype());
      for (size_t i = 0; i < n; ++i) sum = static_cast<uint8_t>(sum + bytes[i]);
    }
    volatile uint8_t sink = sum;
    (void)sink;
  } catch (const minidl::Error&) {
    // A clear error is the expected outcome for most inputs.
  }
  return 0;
}
