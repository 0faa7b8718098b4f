// Row ops over an index and its groups: gather_rows, scatter_add_rows, segment_softmax, and the
// embedding lookup composed from them (framework/ops/ops.h). Grouping the index once on the host
// gives each output row of a scatter a fixed list of inputs, so every device sums them in the
// same order with no atomics.
#include <algorithm>

#include "framework/autograd/node.h"
#include "framework/ops/autocast.h"
#include "framework/ops/backend.h"
#include "framework/ops/checks.h"
#include "framework/ops/gradients.h"
#include "framework/ops/ops.h"

namespace minidl {

namespace {

void check_rows_of(const Tensor& t, int64_t expected, const char* what, const char* op) {
  MINIDL_CHECK(t.dim() >= 1 && t.size(0) == expected, "{}: {} must have {} rows (dim 0), got {}", op, what, expected,
               t.describe());
}

void check_groups_device(const Tensor& t, const IndexGroups& groups, const char* op) {
  MINIDL_CHECK(groups.index.defined(), "{}: the index groups are empty: build them with group_index", op);
  MINIDL_CHECK(t.device() == groups.index.device(), "{}: operand on {}, index groups on {}", op, t.device().str(),
               groups.index.device().str());
}

}  // namespace

IndexGroups group_index(const Tensor& index, int64_t rows, const char* op) {
  check_defined(index, op);
  MINIDL_CHECK(index.dtype() == DType::I64 && index.dim() == 1, "{}: the index must be a 1-d i64 tensor, got {}", op,
               index.describe());
  MINIDL_CHECK(rows >= 0, "{}: rows = {} must be >= 0", op, rows);
  const std::vector<int64_t> ids = index.to_vector<int64_t>();
  std::vector<int64_t> ptr(static_cast<size_t>(rows) + 1, 0), order(ids.size());
  for (int64_t v : ids) {
    MINIDL_CHECK(v >= 0 && v < rows, "{}: index {} out of range: expected 0 to {}", op, v, rows - 1);
    ++ptr[static_cast<size_t>(v) + 1];
  }
  for (size_t v = 0; v < static_cast<size_t>(rows); ++v) ptr[v + 1] += ptr[v];
  // A stable counting sort: each group lists its positions in increasing order.
  std::vector<int64_t> next(ptr.begin(), ptr.end() - 1);
  for (size_t i = 0; i < ids.size(); ++i) order[static_cast<size_t>(next[static_cast<size_t>(ids[i])]++)] = static_cast<int64_t>(i);
  const Device device = index.device();
  return {contiguous(index.detach()), to_device(Tensor::from_vector(ptr, {rows + 1}), device),
          to_device(Tensor::from_vector(order, {index.numel()}), device), rows};
}

Tensor gather_rows(const Tensor& x, const IndexGroups& groups) {
  if (autocast_widens(x)) return gather_rows(autocast_to_f32(x), groups);
  check_floating(x, "gather_rows");
  check_groups_device(x, groups, "gather_rows");
  check_rows_of(x, groups.rows, "x", "gather_rows");
  Shape shape = x.shape();
  shape[0] = groups.index.numel();
  Tensor y = Tensor::empty(shape, x.dtype(), x.device());
  backend_for(x.device()).gather_rows(y, contiguous(x.detach()), groups.index);
  record_op("gather_rows", {x}, y, {}, [groups](const Tensor& g, const std::vector<Tensor>&) {
    return grad::gather_rows(g, groups);
  });
  return y;
}

Tensor scatter_add_rows(const Tensor& src, const IndexGroups& groups) {
  if (autocast_widens(src)) return scatter_add_rows(autocast_to_f32(src), groups);
  check_floating(src, "scatter_add_rows");
  check_groups_device(src, groups, "scatter_add_rows");
  check_rows_of(src, groups.index.numel(), "src", "scatter_add_rows");
  Shape shape = src.shape();
  shape[0] = groups.rows;
  Tensor y = Tensor::empty(shape, src.dtype(), src.device());
  backend_for(src.device()).scatter_add_rows(y, contiguous(src.detach()), groups.ptr, groups.order);
  record_op("scatter_add_rows", {src}, y, {}, [groups](const Tensor& g, const std::vector<Tensor>&) {
    return grad::scatter_add_rows(g, groups);
  });
  return y;
}

Tensor segment_softmax(const Tensor& scores, const IndexGroups& groups) {
  if (autocast_widens(scores)) return segment_softmax(autocast_to_f32(scores), groups);
  check_floating(scores, "segment_softmax");
  check_groups_device(scores, groups, "segment_softmax");
  check_rows_of(scores, groups.index.numel(), "scores", "segment_softmax");
  Tensor y = Tensor::empty(scores.shape(), scores.dtype(), scores.device());
  backend_for(scores.device()).segment_softmax(y, contiguous(scores.detach()), groups.ptr, groups.order);
  record_op("segment_softmax", {scores}, y, {y}, [groups](const Tensor& g, const std::vector<Tensor>& s) {
    return grad::segment_softmax(g, s[0], groups);
  });
  return y;
}

Tensor embedding(const Tensor& weight, const Tensor& ids) {
  check_floating(weight, "embedding");
  check_defined(ids, "embedding");
  MINIDL_CHECK(weight.dim() == 2, "embedding: the table must be [vocab, dim], got {}", weight.describe());
  MINIDL_CHECK(ids.dtype() == DType::I64, "embedding: ids must be i64, got {}", ids.describe());
  MINIDL_CHECK(ids.device() == weight.device(), "embedding: table on {}, ids on {}", weight.device().str(),
               ids.device().str());
  Shape shape = ids.shape();
  shape.push_back(weight.size(1));
  return reshape(gather_rows(weight, group_index(reshape(ids, {-1}), weight.size(0), "embedding")), shape);
}

}  // namespace minidl
