// Optimizer steps and gradient clipping as multi-tensor kernels (kernels/cuda/multi_tensor.h):
// one launch updates up to a table's worth of parameter tensors, each element by the rule the CPU
// reference uses (kernels/common/optim_rules.h), so a step does not depend on the launch
// configuration. Every elementwise optimizer shares one kernel template, instantiated per rule.
//
// Norms (LAMB's trust ratio, clip_grad_norm_) are deterministic without float atomics: a block
// reduces each chunk to a partial in double (block_allreduce, a fixed order for a block size), a
// second pass combines each tensor's partials in chunk order, as the CPU reference does; only the
// order inside a chunk differs from the reference.
//
// The emulator matches the CPU reference bit for bit except for those sums
// (tests/test_parity_optim.cpp); on a real GPU, the rules' arithmetic is the same IEEE operations
// (sqrt is correctly rounded on both), but nvcc contracts a * b + c into fused multiply-adds, so
// results may differ from the host's in the last ulp.
#include <cstdint>
#include <span>
#include <vector>

#include "kernels/common/optim_rules.h"
#include "kernels/cuda/block_reduce.h"
#include "kernels/cuda/launch.h"
#include "kernels/cuda/multi_tensor.h"

namespace minidl::MINIDL_CUDA_NS {

#include "kernels/cuda/optim.inc"

namespace {

// ---- elementwise passes

template <typename T, typename Params>
__global__ void optimizer_step_kernel(TensorTable<T> table, Params hp) {
  for_each_element(table, [&](const ParamBuffers<T>& b, int64_t, int64_t i) { ::minidl::update_element(hp, b, i); });
}

template <typename T>
__global__ void lamb_moments_kernel(TensorTable<T> table, LambParams hp) {
  for_each_element(table, [&](const ParamBuffers<T>& b, int64_t, int64_t i) {
    ::minidl::lamb_moments_update(hp, b.grad[i], b.state[0][i], b.state[1][i]);
  });
}

// trust[k]: the trust ratio of the call's tensor k (lamb_trust_kernel).
template <typename T>
__global__ void lamb_apply_kernel(TensorTable<T> table, LambParams hp, const double* trust) {
  for_each_element(table, [&](const ParamBuffers<T>& b, int64_t tensor, int64_t i) {
    ::minidl::lamb_param_update(hp, trust[tensor], b.param[i], b.state[0][i], b.state[1][i]);
  });
}

// Entries hold the clipped gradient as `param` (written) and the gradient as `grad` (read).
template <typename T>
__global__ void clip_kernel(TensorTable<T> table, ClipParams hp) {
  for_each_element(table, [&](const ParamBuffers<T>& b, int64_t, int64_t i) {
    b.param[i] = ::minidl::clip_value(hp, b.grad[i]);
  });
}

// ---- norms: per-chunk partials, then each tensor's partials in chunk order

struct NormOp {
  NormKind kind;
  __device__ double operator()(double a, double b) const { return ::minidl::norm_combine(kind, a, b); }
};

// partials[id] = the norm term of chunk id of the entries' `grad` (the input). Chunks are block-uniform.
template <typename T>
__global__ void norm_partials_kernel(TensorTable<T> table, NormKind kind, double* partials) {
  MINIDL_SHARED(double, scratch, 32);
  const NormOp op{kind};
  for (int c = blockIdx.x; c < table.num_chunks; c += gridDim.x) {
    const TableChunk chunk = table_chunk(table, c);
    const T* x = table.tensors[chunk.entry].grad;
    double acc = 0;
    for (int64_t i = chunk.begin + threadIdx.x; i < chunk.end; i += blockDim.x)
      acc = op(acc, ::minidl::norm_term(kind, x[i]));
    acc = block_allreduce(acc, op, scratch);
    if (threadIdx.x == 0) partials[chunk.id] = acc;
  }
}

// out[k] = the call's tensor k's partials combined in chunk order (0 for an empty tensor).
template <typename T>
__global__ void norm_totals_kernel(TensorTable<T> table, NormKind kind, const double* partials, double* out) {
  for (int e = blockIdx.x * blockDim.x + threadIdx.x; e < table.num_tensors; e += gridDim.x * blockDim.x) {
    const int64_t first = table.first_chunk_id[e], chunks = multi_tensor_chunks(table.tensors[e].numel);
    double total = 0;
    for (int64_t c = 0; c < chunks; ++c) total = ::minidl::norm_combine(kind, total, partials[first + c]);
    out[table.tensor_id[e]] = total;
  }
}

// partials[2 id], partials[2 id + 1] = the sums of squares of the parameter and of the LAMB update
// direction over chunk id.
template <typename T>
__global__ void lamb_partials_kernel(TensorTable<T> table, LambParams hp, double* partials) {
  MINIDL_SHARED(double, scratch, 32);
  for (int c = blockIdx.x; c < table.num_chunks; c += gridDim.x) {
    const TableChunk chunk = table_chunk(table, c);
    const ParamBuffers<T> b = table.tensors[chunk.entry];
    double param_sq = 0, direction_sq = 0;
    for (int64_t i = chunk.begin + threadIdx.x; i < chunk.end; i += blockDim.x) {
      const double p = b.param[i], r = ::minidl::lamb_direction(hp, b.param[i], b.state[0][i], b.state[1][i]);
      param_sq += p * p;
      direction_sq += r * r;
    }
    param_sq = block_allreduce(param_sq, SumOp{}, scratch);
    direction_sq = block_allreduce(direction_sq, SumOp{}, scratch);
    if (threadIdx.x == 0) {
      partials[2 * chunk.id] = param_sq;
      partials[2 * chunk.id + 1] = direction_sq;
    }
  }
}

// trust[k] = lamb_trust_ratio of the call's tensor k, its partials summed in chunk order.
template <typename T>
__global__ void lamb_trust_kernel(TensorTable<T> table, const double* partials, double* trust) {
  for (int e = blockIdx.x * blockDim.x + threadIdx.x; e < table.num_tensors; e += gridDim.x * blockDim.x) {
    const int64_t first = table.first_chunk_id[e], chunks = multi_tensor_chunks(table.tensors[e].numel);
    LambSquares sums{0, 0};
    for (int64_t c = first; c < first + chunks; ++c) {
      sums.param += partials[2 * c];
      sums.direction += partials[2 * c + 1];
    }
    trust[table.tensor_id[e]] = ::minidl::lamb_trust_ratio(sums);
  }
}

// ---- launch helpers (host)

template <typename T, typename Params, typename... Args>
void launch_elementwise(KernelName name, void (*kernel)(TensorTable<T>, Params, Args...),
                        std::span<const ParamBuffers<T>> tensors, const Params& hp, Stream stream, Args... args) {
  for_each_chunk_table(tensors, [&](const TensorTable<T>& table) {
    launch(name, kernel, chunk_grid(table, launch_policy().block), dim3(launch_policy().block), 0, stream, table, hp,
           args...);
  });
}

template <typename T, typename... Params, typename... Args>
void launch_partials(KernelName name, void (*kernel)(TensorTable<T>, Params...),
                     std::span<const ParamBuffers<T>> tensors, Stream stream, Args... args) {
  for_each_chunk_table(tensors, [&](const TensorTable<T>& table) {
    launch(name, kernel, chunk_grid(table), dim3(reduction_threads()), 0, stream, table, args...);
  });
}

template <typename T, typename... Params, typename... Args>
void launch_per_tensor(KernelName name, void (*kernel)(TensorTable<T>, Params...),
                       std::span<const ParamBuffers<T>> tensors, Stream stream, Args... args) {
  for_each_tensor_table(tensors, [&](const TensorTable<T>& table) {
    launch(name, kernel, grid_for(table.num_tensors), dim3(launch_policy().block), 0, stream, table, args...);
  });
}

const char* kernel_name(const SgdParams&) { return "sgd_step"; }
const char* kernel_name(const AdamParams&) { return "adam_step"; }
const char* kernel_name(const AdagradParams&) { return "adagrad_step"; }
const char* kernel_name(const AdadeltaParams&) { return "adadelta_step"; }
const char* kernel_name(const RmspropParams&) { return "rmsprop_step"; }
const char* kernel_name(const AdamaxParams&) { return "adamax_step"; }
const char* kernel_name(const NadamParams&) { return "nadam_step"; }
const char* kernel_name(const RadamParams&) { return "radam_step"; }
const char* kernel_name(const LionParams&) { return "lion_step"; }

// The clipping launchers' tensors as table entries: `param` the output (null for norms), `grad`
// the input.
template <typename T>
std::vector<ParamBuffers<T>> clip_entries(std::span<T* const> outs, std::span<const T* const> xs,
                                          std::span<const int64_t> numels) {
  std::vector<ParamBuffers<T>> entries(xs.size());
  for (size_t k = 0; k < xs.size(); ++k) entries[k] = {outs.empty() ? nullptr : outs[k], xs[k], {}, numels[k]};
  return entries;
}

}  // namespace

template <typename T, typename Params>
void optimizer_step(const Params& hp, std::span<const ParamBuffers<T>> tensors, Stream stream) {
  launch_elementwise(kernel_name(hp), optimizer_step_kernel<T, Params>, tensors, hp, stream);
}

template <typename T>
void lamb_step(const LambParams& hp, std::span<const ParamBuffers<T>> tensors, double* scratch, Stream stream) {
  double* const trust = scratch;
  double* const partials = scratch + tensors.size();
  launch_elementwise("lamb_moments", lamb_moments_kernel<T>, tensors, hp, stream);
  launch_partials("lamb_partials", lamb_partials_kernel<T>, tensors, stream, hp, partials);
  launch_per_tensor("lamb_trust", lamb_trust_kernel<T>, tensors, stream, static_cast<const double*>(partials), trust);
  launch_elementwise("lamb_apply", lamb_apply_kernel<T>, tensors, hp, stream, static_cast<const double*>(trust));
}

template <typename T>
int64_t lamb_scratch_size(std::span<const ParamBuffers<T>> tensors) {
  return static_cast<int64_t>(tensors.size()) + 2 * total_chunks(tensors);
}

template <typename T>
void norms(NormKind kind, std::span<const T* const> xs, std::span<const int64_t> numels, double* scratch, double* out,
           Stream stream) {
  const std::vector<ParamBuffers<T>> entries = clip_entries<T>({}, xs, numels);
  const std::span<const ParamBuffers<T>> tensors(entries);
  launch_partials("norm_partials", norm_partials_kernel<T>, tensors, stream, kind, scratch);
  launch_per_tensor("norm_totals", norm_totals_kernel<T>, tensors, stream, kind, static_cast<const double*>(scratch),
                    out);
}

int64_t norms_scratch_size(std::span<const int64_t> numels) {
  int64_t chunks = 0;
  for (int64_t n : numels) chunks += multi_tensor_chunks(n);
  return chunks;
}

template <typename T>
void clip(const ClipParams& hp, std::span<T* const> outs, std::span<const T* const> xs, std::span<const int64_t> numels,
          Stream stream) {
  const std::vector<ParamBuffers<T>> entries = clip_entries<T>(outs, xs, numels);
  launch_elementwise("clip", clip_kernel<T>, std::span<const ParamBuffers<T>>(entries), hp, stream);
}

#define MINIDL_OPTIMIZER_STEP(T, Params) \
  template void optimizer_step<T, Params>(const Params&, std::span<const ParamBuffers<T>>, Stream);
#define MINIDL_OPTIM_LAUNCHERS(T)                                                                            \
  MINIDL_ELEMENTWISE_OPTIM_RULES(MINIDL_OPTIMIZER_STEP, T)                                                   \
  template void lamb_step<T>(const LambParams&, std::span<const ParamBuffers<T>>, double*, Stream);          \
  template int64_t lamb_scratch_size<T>(std::span<const ParamBuffers<T>>);                                   \
  template void norms<T>(NormKind, std::span<const T* const>, std::span<const int64_t>, double*, double*, Stream); \
  template void clip<T>(const ClipParams&, std::span<T* const>, std::span<const T* const>, std::span<const int64_t>, \
                        Stream);
MINIDL_OPTIM_LAUNCHERS(float)
MINIDL_OPTIM_LAUNCHERS(double)

}  // namespace minidl::MINIDL_CUDA_NS
