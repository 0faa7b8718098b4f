// Multi-tensor apply, the scheme of PyTorch's multi_tensor_apply: one launch serves many tensors.
// The host cuts every tensor into chunks of kMultiTensorChunk elements and packs up to
// kTableTensors tensors and kTableChunks chunks into a TensorTable, which the kernel receives by
// value as a parameter (nothing to upload, nothing to free). The grid covers the table's chunks:
// block b serves chunks b, b + gridDim.x, ..., its threads striding over a chunk's elements. More
// tensors or chunks take more launches; a tensor's chunks may span two tables.
//
// Per-chunk results (partial norms) go to a call-wide array indexed by chunk id: tensor k's chunks
// have ids first_chunk_ids()[k] onwards, whatever table they land in, so a later pass can combine
// each tensor's partials in chunk order.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "kernels/common/optim_rules.h"
#include "kernels/cuda/launch.h"

namespace minidl::MINIDL_CUDA_NS {

inline constexpr int kTableTensors = 32;
inline constexpr int kTableChunks = 256;

template <typename T>
struct TensorTable {
  ParamBuffers<T> tensors[kTableTensors];
  int64_t tensor_id[kTableTensors];       // the tensor's index in the call: where per-tensor results go
  int64_t first_chunk_id[kTableTensors];  // the call-wide id of the tensor's chunk 0
  int32_t chunk_index[kTableChunks];      // chunk c is chunk chunk_index[c] of entry chunk_entry[c]
  uint8_t chunk_entry[kTableChunks];
  int32_t num_tensors, num_chunks;
};
// Kernel parameters are limited to 4 KiB, and a rule's params struct travels beside the table.
static_assert(sizeof(TensorTable<double>) <= 3584, "a TensorTable must fit the 4 KiB of kernel parameters");

// Chunk c of a table: elements [begin, end) of entry `entry`, the call's tensor `tensor`; `id` is
// the chunk's call-wide id.
struct TableChunk {
  int entry;
  int64_t tensor, id, begin, end;
};

template <typename T>
__device__ FW_INLINE TableChunk table_chunk(const TensorTable<T>& table, int c) {
  const int entry = table.chunk_entry[c];
  const int64_t begin = int64_t{table.chunk_index[c]} * kMultiTensorChunk;
  const int64_t numel = table.tensors[entry].numel;
  return {entry, table.tensor_id[entry], table.first_chunk_id[entry] + table.chunk_index[c], begin,
          numel - begin < kMultiTensorChunk ? numel : begin + kMultiTensorChunk};
}

// Elementwise passes cut each chunk into slices of kSliceElementsPerThread elements per thread,
// a block per slice: a table's few hundred chunks alone would leave most of a large GPU idle.
inline constexpr int64_t kSliceElementsPerThread = 4;

__host__ __device__ FW_INLINE int64_t slices_per_chunk(unsigned block) {
  const int64_t per_slice = int64_t{block} * kSliceElementsPerThread;
  return (kMultiTensorChunk + per_slice - 1) / per_slice;
}

// Calls fn(b, tensor, i) for every element i of every slice this block serves, b being the
// chunk's tensor and `tensor` its index in the call. No barriers: for elementwise passes.
template <typename T, typename Fn>
__device__ FW_INLINE void for_each_element(const TensorTable<T>& table, Fn fn) {
  const int64_t slices = slices_per_chunk(blockDim.x);
  for (int64_t w = blockIdx.x; w < table.num_chunks * slices; w += gridDim.x) {
    const TableChunk chunk = table_chunk(table, static_cast<int>(w / slices));
    const ParamBuffers<T> b = table.tensors[chunk.entry];
    const int64_t stride = int64_t{blockDim.x} * slices;
    for (int64_t i = chunk.begin + (w % slices) * blockDim.x + threadIdx.x; i < chunk.end; i += stride)
      fn(b, chunk.tensor, i);
  }
}

// Chunks of all the tensors together: the length of a call's per-chunk partials.
template <typename T>
int64_t total_chunks(std::span<const ParamBuffers<T>> tensors) {
  int64_t chunks = 0;
  for (const ParamBuffers<T>& t : tensors) chunks += multi_tensor_chunks(t.numel);
  return chunks;
}

// Calls launch_table(table) for tables that together hold every chunk of every tensor, in order.
template <typename T, typename Fn>
void for_each_chunk_table(std::span<const ParamBuffers<T>> tensors, Fn&& launch_table) {
  TensorTable<T> table{};
  int64_t first_chunk_id = 0;
  for (size_t k = 0; k < tensors.size(); ++k) {
    const int64_t chunks = multi_tensor_chunks(tensors[k].numel);
    for (int64_t c = 0; c < chunks; ++c) {
      if (c == 0 || table.num_tensors == 0) {  // the tensor's first chunk, or its rest in a fresh table
        const int entry = table.num_tensors++;
        table.tensors[entry] = tensors[k];
        table.tensor_id[entry] = static_cast<int64_t>(k);
        table.first_chunk_id[entry] = first_chunk_id;
      }
      table.chunk_entry[table.num_chunks] = static_cast<uint8_t>(table.num_tensors - 1);
      table.chunk_index[table.num_chunks] = static_cast<int32_t>(c);
      ++table.num_chunks;
      if (table.num_chunks == kTableChunks || (c == chunks - 1 && table.num_tensors == kTableTensors)) {
        launch_table(table);
        table.num_tensors = table.num_chunks = 0;
      }
    }
    first_chunk_id += chunks;
  }
  if (table.num_chunks > 0) launch_table(table);
}

// Calls launch_table(table) for tables that together hold every tensor (empty ones too) and no
// chunks: for per-tensor passes that combine partials.
template <typename T, typename Fn>
void for_each_tensor_table(std::span<const ParamBuffers<T>> tensors, Fn&& launch_table) {
  TensorTable<T> table{};
  int64_t first_chunk_id = 0;
  for (size_t k = 0; k < tensors.size(); ++k) {
    const int entry = table.num_tensors++;
    table.tensors[entry] = tensors[k];
    table.tensor_id[entry] = static_cast<int64_t>(k);
    table.first_chunk_id[entry] = first_chunk_id;
    first_chunk_id += multi_tensor_chunks(tensors[k].numel);
    if (table.num_tensors == kTableTensors) {
      launch_table(table);
      table.num_tensors = 0;
    }
  }
  if (table.num_tensors > 0) launch_table(table);
}

// The grid of a chunk pass: a block per chunk (per slice of a chunk for elementwise passes, with
// `block` threads), at most launch_policy().max_blocks (blocks then loop).
template <typename T>
dim3 chunk_grid(const TensorTable<T>& table, unsigned block = 0) {
  const int64_t items = block == 0 ? table.num_chunks : table.num_chunks * slices_per_chunk(block);
  return dim3(static_cast<unsigned>(std::min<int64_t>(items, std::max(1u, launch_policy().max_blocks))));
}

}  // namespace minidl::MINIDL_CUDA_NS
