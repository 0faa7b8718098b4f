// The host launchers of every kernels/cuda source, for both builds: minidl::cuda (nvcc, real GPU)
// and minidl::emu (host compiler, SIMT emulator). Framework code calls these; it never includes
// the .cu files or the CUDA runtime.
#pragma once

#include <cstdint>
#include <span>

#include "kernels/common/attention_rules.h"
#include "kernels/common/bfloat16.h"
#include "kernels/common/dropout_rules.h"
#include "kernels/common/optim_rules.h"
#include "kernels/common/philox.h"
#include "kernels/common/random_rules.h"
#include "kernels/common/reduce_kind.h"
#include "kernels/common/strided.h"
#include "kernels/common/unary.h"
#include "kernels/common/window2d.h"
#include "kernels/cuda/launch_policy.h"
#include "kernels/cuda/stream.h"

namespace minidl::emu {
#include "kernels/cuda/attention.inc"
#include "kernels/cuda/conv.inc"
#include "kernels/cuda/dropout.inc"
#include "kernels/cuda/elementwise.inc"
#include "kernels/cuda/flash_attention.inc"
#include "kernels/cuda/index_rows.inc"
#include "kernels/cuda/lstm.inc"
#include "kernels/cuda/layer_norm.inc"
#include "kernels/cuda/matmul.inc"
#include "kernels/cuda/optim.inc"
#include "kernels/cuda/pool.inc"
#include "kernels/cuda/reduce.inc"
#include "kernels/cuda/softmax.inc"
}  // namespace minidl::emu

namespace minidl::cuda {
#include "kernels/cuda/attention.inc"
#include "kernels/cuda/conv.inc"
#include "kernels/cuda/dropout.inc"
#include "kernels/cuda/elementwise.inc"
#include "kernels/cuda/flash_attention.inc"
#include "kernels/cuda/index_rows.inc"
#include "kernels/cuda/lstm.inc"
#include "kernels/cuda/layer_norm.inc"
#include "kernels/cuda/matmul.inc"
#include "kernels/cuda/optim.inc"
#include "kernels/cuda/pool.inc"
#include "kernels/cuda/reduce.inc"
#include "kernels/cuda/softmax.inc"
}  // namespace minidl::cuda
