// Generator: the (seed, stream, offset) state of the reproducibility contract
// (docs/reproducibility.md). A random op reserves its words on the host before it runs and
// the offset advances by n rounded up to a multiple of 4, whatever the op does with them.
#pragma once

#include <cstdint>

#include "kernels/common/philox.h"

namespace minidl {

class Generator {
 public:
  explicit Generator(uint64_t seed = 0, uint64_t stream = 0) : seed_(seed), stream_(stream) {}

  // The state for an op over n elements; advances the offset past them.
  PhiloxState reserve(uint64_t n);

  uint64_t seed() const { return seed_; }
  uint64_t stream() const { return stream_; }
  uint64_t offset() const { return offset_; }
  void set_state(uint64_t seed, uint64_t stream, uint64_t offset);

  // Host-side draws for loaders and initializers, from the same stream.
  uint32_t next_word();
  double next_uniform();                  // in [0, 1), 53 random bits
  uint64_t next_below(uint64_t bound);    // uniform in [0, bound), unbiased

 private:
  uint64_t seed_;
  uint64_t stream_;
  uint64_t offset_ = 0;
};

// The process-wide default generator, used when an op is not given one.
Generator& default_generator();
void manual_seed(uint64_t seed);

}  // namespace minidl
