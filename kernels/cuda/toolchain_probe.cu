// Proves the nvcc toolchain: one kernel that uses the shared Philox header on the device.
#include "kernels/common/philox.h"

namespace minidl::cuda_probe {

__global__ void philox_words_kernel(minidl::PhiloxState state, unsigned n, unsigned* out) {
  const unsigned i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) out[i] = minidl::philox_word(state, i);
}

}  // namespace minidl::cuda_probe
