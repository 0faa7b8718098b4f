#include "framework/io/data_loader.h"

#include <algorithm>
#include <cstring>
#include <numeric>
#include <utility>

#include "framework/core/profiler.h"
#include "framework/ops/ops.h"

namespace minidl {

namespace {

// Rows order[begin, end) of x, copied into a new contiguous tensor.
Tensor gather_rows(const Tensor& x, const std::vector<int64_t>& order, int64_t begin, int64_t end, bool pinned) {
  Shape shape = x.shape();
  shape[0] = end - begin;
  Tensor out = pinned ? Tensor::empty_pinned(shape, x.dtype()) : Tensor::empty(shape, x.dtype());
  const size_t row_bytes =
      static_cast<size_t>(shape_numel(Shape(shape.begin() + 1, shape.end()))) * dtype_size(x.dtype());
  if (row_bytes == 0) return out;
  const auto* src = static_cast<const uint8_t*>(x.raw_data());
  auto* dst = static_cast<uint8_t*>(out.raw_data());
  for (int64_t i = begin; i < end; ++i, dst += row_bytes) {
    std::memcpy(dst, src + static_cast<size_t>(order[static_cast<size_t>(i)]) * row_bytes, row_bytes);
  }
  return out;
}

}  // namespace

DataLoader::DataLoader(Tensor inputs, Tensor targets, int64_t batch_size, bool shuffle, Generator& gen)
    : batch_size_(batch_size), shuffle_(shuffle), gen_(&gen) {
  MINIDL_CHECK(batch_size > 0, "DataLoader: batch size {} must be positive", batch_size);
  MINIDL_CHECK(inputs.dim() >= 1 && targets.dim() >= 1,
               "DataLoader: inputs ({}) and targets ({}) need a first dim counting the samples", inputs.describe(),
               targets.describe());
  MINIDL_CHECK(inputs.size(0) == targets.size(0), "DataLoader: {} inputs ({}) but {} targets ({})", inputs.size(0),
               inputs.describe(), targets.size(0), targets.describe());
  MINIDL_CHECK(inputs.device().type == DeviceType::CPU && targets.device().type == DeviceType::CPU,
               "DataLoader: inputs ({}) and targets ({}) must be on cpu", inputs.describe(), targets.describe());
  // Rows are copied with memcpy, which needs row-major storage (a slice of the data already is).
  inputs_ = contiguous(inputs.detach());
  targets_ = contiguous(targets.detach());
  order_.resize(static_cast<size_t>(inputs.size(0)));
  std::iota(order_.begin(), order_.end(), int64_t{0});
}

int64_t DataLoader::num_batches() const { return (size() + batch_size_ - 1) / batch_size_; }

void DataLoader::start_epoch() {
  std::iota(order_.begin(), order_.end(), int64_t{0});
  if (!shuffle_) return;
  for (size_t i = order_.size(); i > 1; --i) {
    const size_t j = static_cast<size_t>(gen_->next_below(i));
    std::swap(order_[i - 1], order_[j]);
  }
}

DataLoader::Batch DataLoader::batch(int64_t index) const {
  const ProfileRange range("data", "load batch");
  MINIDL_CHECK(index >= 0 && index < num_batches(), "DataLoader: batch {} is out of range: there are {} batches", index,
               num_batches());
  const int64_t begin = index * batch_size_, end = std::min(size(), begin + batch_size_);
  return {gather_rows(inputs_, order_, begin, end, pin_memory_), gather_rows(targets_, order_, begin, end, pin_memory_)};
}

}  // namespace minidl
