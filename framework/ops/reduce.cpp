// Reductions: sum, mean, max and argmax over dims. A contiguous input whose reduced dims form
// one run is reduced in place as [outer, extent, inner]; otherwise the reduced dims are moved last
// and made contiguous first.
#include <algorithm>

#include "framework/autograd/node.h"
#include "framework/ops/autocast.h"
#include "framework/ops/backend.h"
#include "framework/ops/checks.h"
#include "framework/ops/gradients.h"
#include "framework/ops/ops.h"

namespace minidl {

namespace {

// Wrapped, sorted, distinct dims; all dims when none are given.
std::vector<int64_t> normalize_dims(std::vector<int64_t> dims, int64_t ndim, const char* op) {
  if (dims.empty()) {
    for (int64_t d = 0; d < ndim; ++d) dims.push_back(d);
    return dims;
  }
  for (int64_t& d : dims) d = wrap_dim(d, ndim, op);
  std::sort(dims.begin(), dims.end());
  MINIDL_CHECK(std::adjacent_find(dims.begin(), dims.end()) == dims.end(), "{}: a dim is repeated", op);
  return dims;
}

struct RowView {
  Tensor rows;       // contiguous, reduced dims last
  int64_t cols;      // product of the reduced sizes
  Shape out_shape;   // the result's shape
};

RowView to_rows(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim) {
  std::vector<int64_t> order;
  Shape out_shape;
  int64_t cols = 1;
  for (int64_t d = 0; d < x.dim(); ++d) {
    const bool reduced = std::binary_search(dims.begin(), dims.end(), d);
    if (!reduced) {
      order.push_back(d);
      out_shape.push_back(x.size(d));
    } else if (keepdim) {
      out_shape.push_back(1);
    }
  }
  for (int64_t d : dims) {
    order.push_back(d);
    cols *= x.size(d);
  }
  return {contiguous(permute(x.detach(), order)), cols, out_shape};
}

Tensor reduce(ReduceKind kind, const Tensor& x, const std::vector<int64_t>& dims, bool keepdim) {
  const bool one_run = dims.empty() || dims.back() - dims.front() + 1 == static_cast<int64_t>(dims.size());
  if (!x.is_contiguous() || !one_run) {
    const RowView v = to_rows(x, dims, keepdim);
    Tensor out = Tensor::empty(v.out_shape, x.dtype(), x.device());
    backend_for(x.device()).reduce(kind, out, v.rows, out.numel(), v.cols, 1);
    return out;
  }
  int64_t outer = 1, extent = 1, inner = 1;
  Shape out_shape;
  for (int64_t d = 0; d < x.dim(); ++d) {
    const bool reduced = !dims.empty() && d >= dims.front() && d <= dims.back();
    if (reduced) {
      extent *= x.size(d);
      if (keepdim) out_shape.push_back(1);
    } else {
      (dims.empty() || d < dims.front() ? outer : inner) *= x.size(d);
      out_shape.push_back(x.size(d));
    }
  }
  Tensor out = Tensor::empty(out_shape, x.dtype(), x.device());
  backend_for(x.device()).reduce(kind, out, x, outer, extent, inner);
  return out;
}

// sum and mean differ only in the kernel's scaling and the gradient's 1/count.
Tensor sum_or_mean(ReduceKind kind, const Tensor& x, std::vector<int64_t> dims, bool keepdim) {
  const char* name = kind == ReduceKind::Sum ? "sum" : "mean";
  check_floating(x, name);
  dims = normalize_dims(std::move(dims), x.dim(), name);
  Tensor out = reduce(kind, x, dims, keepdim);
  record_op(name, {x}, out, {}, [kind, shape = x.shape(), dims, keepdim](const Tensor& g, const std::vector<Tensor>&) {
    return kind == ReduceKind::Sum ? grad::sum(g, shape, dims, keepdim) : grad::mean(g, shape, dims, keepdim);
  });
  return out;
}

}  // namespace

// Under autocast, sum and mean of bf16 return f32 (autocast.h); sum_to, a gradient's reduction,
// keeps its input's dtype (the bf16 kernel accumulates in f64 all the same).
Tensor sum(const Tensor& x, std::vector<int64_t> dims, bool keepdim) {
  if (autocast_widens(x)) return sum(autocast_to_f32(x), std::move(dims), keepdim);
  return sum_or_mean(ReduceKind::Sum, x, std::move(dims), keepdim);
}

Tensor mean(const Tensor& x, std::vector<int64_t> dims, bool keepdim) {
  if (autocast_widens(x)) return mean(autocast_to_f32(x), std::move(dims), keepdim);
  return sum_or_mean(ReduceKind::Mean, x, std::move(dims), keepdim);
}

Tensor max(const Tensor& x, int64_t dim, bool keepdim) {
  if (autocast_widens(x)) return max(autocast_to_f32(x), dim, keepdim);
  check_floating(x, "max");
  dim = wrap_dim(dim, x.dim(), "max");
  MINIDL_CHECK(x.dim() == 0 || x.size(dim) > 0, "max: dim {} of {} is empty", dim, x.describe());
  Tensor out = reduce(ReduceKind::Max, x, {dim}, keepdim);
  record_op("max", {x}, out, {x, out}, [dim, keepdim](const Tensor& g, const std::vector<Tensor>& s) {
    return grad::max(g, s[0], s[1], dim, keepdim);
  });
  return out;
}

Tensor argmax(const Tensor& x, int64_t dim, bool keepdim) {
  check_floating(x, "argmax");
  dim = wrap_dim(dim, x.dim(), "argmax");
  MINIDL_CHECK(x.dim() == 0 || x.size(dim) > 0, "argmax: dim {} of {} is empty", dim, x.describe());
  const RowView v = to_rows(x, {dim}, keepdim);
  Tensor out = Tensor::empty(v.out_shape, DType::I64, x.device());
  backend_for(x.device()).argmax_rows(out, v.rows, v.cols);
  return out;
}

Tensor sum_to(const Tensor& x, const Shape& shape) {
  if (x.shape() == shape) return x;
  const int64_t lead = x.dim() - static_cast<int64_t>(shape.size());
  MINIDL_CHECK(lead >= 0, "sum_to: cannot reduce {} to the larger shape {}", x.describe(), shape_str(shape));
  std::vector<int64_t> dims;
  for (int64_t d = 0; d < x.dim(); ++d) {
    const bool leading = d < lead;
    if (leading || (shape[d - lead] == 1 && x.size(d) != 1)) {
      dims.push_back(d);
    } else {
      MINIDL_CHECK(shape[d - lead] == x.size(d), "sum_to: {} does not broadcast to {}", shape_str(shape),
                   x.describe());
    }
  }
  return reshape(dims.empty() ? x : sum_or_mean(ReduceKind::Sum, x, dims, true), shape);
}

}  // namespace minidl
