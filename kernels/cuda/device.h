// The one header a kernels/cuda source includes to reach the device: the CUDA runtime under
// nvcc, the SIMT emulator (kernels/emu) under the host compiler with MINIDL_EMU. It also names
// the namespace the file's host-side symbols go in (minidl::cuda or minidl::emu), so one binary
// can hold both builds of a kernel, and the shared-memory macros both builds understand.
#pragma once

#if defined(MINIDL_EMU)

#include "kernels/emu/emu.h"
#define MINIDL_CUDA_NS emu
// A static shared array, one per declaration site and block. (In the emulator `name` is a
// pointer, so kernels never take sizeof of a shared array.)
#define MINIDL_SHARED(T, name, count)                                                                   \
  T* const name = static_cast<T*>(::minidl::emu::static_shared([] { static const char site = 0; return &site; }(), \
                                                               sizeof(T) * (count), alignof(T)))
// The dynamic shared memory of the launch, viewed as T.
#define MINIDL_DYNAMIC_SHARED(T, name) T* const name = static_cast<T*>(::minidl::emu::dynamic_shared())

#else

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>
#define MINIDL_CUDA_NS cuda
#define MINIDL_SHARED(T, name, count) __shared__ T name[count]
#define MINIDL_DYNAMIC_SHARED(T, name)                              \
  extern __shared__ __align__(16) unsigned char minidl_dynamic_shared_[]; \
  T* const name = reinterpret_cast<T*>(minidl_dynamic_shared_)

#endif
