// The roof under `minidl profile`'s kernel table: the device's copy bandwidth and matmul
// throughput, measured on it with minidl's own kernels just before the profiled steps (a
// practical roof, not the data sheet's), and where a kernel sits under it.
#pragma once

#include <string>

#include "framework/core/device.h"
#include "framework/core/dtype.h"

namespace minidl::cli {

struct Roof {
  double bytes_per_s = 0;  // a large device-to-device copy: bytes read plus bytes written
  double flops_per_s = 0;  // a large matmul in matmul_dtype
  std::string measured_on;
  DType matmul_dtype = DType::F32;
};

// The emulator runs its kernels on this CPU, so its roof is the CPU's. matmul_dtype: the GEMMs'
// dtype in the profiled run (bf16 under --precision bf16, measured in bf16 on a GPU; the CPU's
// roof is f32).
Roof measure_roof(Device device, DType matmul_dtype = DType::F32);

// The share of the roof a kernel reached in `seconds`: its flop rate over min(peak flops,
// intensity x bandwidth) when it states flops, else its bandwidth over the copy bandwidth.
double roof_fraction(const Roof& roof, double bytes, double flops, double seconds);

}  // namespace minidl::cli
