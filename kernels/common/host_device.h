// FW_HOST_DEVICE marks scalar math that CPU reference kernels and CUDA kernels share.
#pragma once

#if defined(__CUDACC__)
#define FW_HOST_DEVICE __host__ __device__
#else
#define FW_HOST_DEVICE
#endif

#if defined(__CUDACC__)
#define FW_INLINE __forceinline__
#else
#define FW_INLINE inline
#endif
