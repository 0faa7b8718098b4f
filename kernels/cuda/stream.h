// The stream type of each build, without the CUDA headers: cudaStream_t is CUstream_st*.
#pragma once

struct CUstream_st;

namespace minidl {
namespace emu {
using Stream = void*;  // the emulator runs every launch to completion, in order
}
namespace cuda {
using Stream = CUstream_st*;
}
}  // namespace minidl
