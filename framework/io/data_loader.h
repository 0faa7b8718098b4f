// Mini-batches of (input, target) rows for training: a permutation of the samples per epoch,
// drawn from a Generator so the order is reproducible from the seed.
#pragma once

#include <cstdint>
#include <vector>

#include "framework/core/tensor.h"
#include "framework/random/generator.h"

namespace minidl {

class DataLoader {
 public:
  // inputs and targets are CPU tensors of any dtype whose first dim counts the same N samples.
  // The loader keeps a reference to gen, which must outlive it.
  DataLoader(Tensor inputs, Tensor targets, int64_t batch_size, bool shuffle, Generator& gen);

  int64_t size() const { return static_cast<int64_t>(order_.size()); }  // N
  int64_t num_batches() const;  // ceil(N / batch_size)

  // The order of the next epoch: a fresh Fisher-Yates permutation drawn from gen when shuffling,
  // else 0..N-1. Depends only on gen's state, not on earlier epochs.
  void start_epoch();

  struct Batch {
    Tensor inputs, targets;  // contiguous copies of the rows; the last batch may be smaller
  };
  Batch batch(int64_t index) const;

  // Gather batches into pinned host memory (for a model on a GPU: faster copies to the device).
  void set_pin_memory(bool pin) { pin_memory_ = pin; }

 private:
  Tensor inputs_, targets_;
  int64_t batch_size_;
  bool shuffle_;
  Generator* gen_;
  std::vector<int64_t> order_;
  bool pin_memory_ = false;
};

}  // namespace minidl
