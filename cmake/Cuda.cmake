# MINIDL_CUDA=AUTO enables CUDA when nvcc is found; configuring never probes for a GPU.
set(MINIDL_WITH_CUDA OFF)
if(MINIDL_CUDA STREQUAL "ON" OR MINIDL_CUDA STREQUAL "AUTO")
  include(CheckLanguage)
  if(NOT CMAKE_CUDA_COMPILER AND EXISTS /usr/local/cuda/bin/nvcc)
    set(CMAKE_CUDA_COMPILER /usr/local/cuda/bin/nvcc)
  endif()
  check_language(CUDA)
  if(CMAKE_CUDA_COMPILER)
    set(MINIDL_WITH_CUDA ON)
  elseif(MINIDL_CUDA STREQUAL "ON")
    message(FATAL_ERROR "MINIDL_CUDA=ON but no nvcc was found: install the CUDA toolkit or use MINIDL_CUDA=AUTO/OFF")
  endif()
elseif(NOT MINIDL_CUDA STREQUAL "OFF")
  message(FATAL_ERROR "MINIDL_CUDA='${MINIDL_CUDA}': expected AUTO, ON or OFF")
endif()

if(MINIDL_WITH_CUDA)
  set(CMAKE_CUDA_ARCHITECTURES ${MINIDL_CUDA_ARCHS})
  enable_language(CUDA)
  # CMake 3.25 does not know nvcc 12+'s C++20 flag; tell it, so CUDA_STANDARD 20 works.
  set(CMAKE_CUDA20_STANDARD_COMPILE_OPTION "-std=c++20")
  set(CMAKE_CUDA20_EXTENSION_COMPILE_OPTION "-std=c++20")
  set(CMAKE_CUDA_STANDARD 20)
  find_package(CUDAToolkit REQUIRED)
  message(STATUS "minidl: CUDA ${CMAKE_CUDA_COMPILER_VERSION} for architectures ${MINIDL_CUDA_ARCHS}")
else()
  message(STATUS "minidl: building without CUDA")
endif()

# curand_kernel.h compiled as host code is the independent reference for the Philox contract;
# it needs only the toolkit's headers.
find_path(MINIDL_CURAND_INCLUDE curand_kernel.h PATHS /usr/local/cuda/include ${CUDAToolkit_INCLUDE_DIRS})

# cuDNN: an optional convolution path on the GPU (MINIDL_CONV=cudnn) and the reference the GPU
# tests compare the hand-written convolution with.
set(MINIDL_WITH_CUDNN OFF)
if(MINIDL_WITH_CUDA)
  find_path(MINIDL_CUDNN_INCLUDE cudnn.h PATHS ${CUDAToolkit_INCLUDE_DIRS} /usr/include)
  find_library(MINIDL_CUDNN_LIB cudnn PATHS ${CUDAToolkit_LIBRARY_DIR} /usr/lib/x86_64-linux-gnu)
  if(MINIDL_CUDNN_INCLUDE AND MINIDL_CUDNN_LIB)
    set(MINIDL_WITH_CUDNN ON)
    message(STATUS "minidl: cuDNN ${MINIDL_CUDNN_LIB}")
  else()
    message(STATUS "minidl: no cuDNN found; MINIDL_CONV=cudnn will be an error")
  endif()
endif()
