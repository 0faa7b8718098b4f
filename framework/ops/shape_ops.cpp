// Views (reshape, permute, slice, expand) that share storage, and the copies that don't
// (cat, stack, contiguous, clone, casts).
#include <algorithm>
#include <memory>
#include <vector>

#include "framework/autograd/grad_mode.h"
#include "framework/core/allocator.h"
#include "framework/autograd/node.h"
#include "framework/ops/backend.h"
#include "framework/ops/checks.h"
#include "framework/ops/gradients.h"
#include "framework/ops/ops.h"

namespace minidl {

namespace {

Tensor make_view(const Tensor& x, Shape shape, Shape strides, int64_t offset) {
  return Tensor::view_of(x.storage(), offset, std::move(shape), std::move(strides), x.dtype());
}

Shape infer_reshape(const Tensor& x, Shape shape) {
  int64_t known = 1, infer_at = -1;
  for (size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] == -1) {
      MINIDL_CHECK(infer_at < 0, "reshape {} to {}: only one size may be -1", x.describe(), shape_str(shape));
      infer_at = static_cast<int64_t>(i);
    } else {
      MINIDL_CHECK(shape[i] >= 0, "reshape {} to {}: sizes must be >= 0 or -1", x.describe(), shape_str(shape));
      known *= shape[i];
    }
  }
  if (infer_at >= 0) {
    MINIDL_CHECK(known > 0 && x.numel() % known == 0, "reshape {} to {}: cannot infer the -1 size", x.describe(),
                 shape_str(shape));
    shape[infer_at] = x.numel() / known;
  }
  MINIDL_CHECK(shape_numel(shape) == x.numel(), "reshape {} to {}: {} elements do not fit {}", x.describe(),
               shape_str(shape), x.numel(), shape_numel(shape));
  return shape;
}

}  // namespace

Tensor reshape(const Tensor& x, Shape shape) {
  check_defined(x, "reshape");
  shape = infer_reshape(x, std::move(shape));
  const Tensor source = x.is_contiguous() ? x.detach() : clone(x.detach());
  Tensor out = make_view(source, shape, contiguous_strides(shape), source.offset());
  record_op("reshape", {x}, out, {}, [in = x.shape()](const Tensor& g, const std::vector<Tensor>&) {
    return grad::reshape(g, in);
  });
  return out;
}

Tensor permute(const Tensor& x, std::vector<int64_t> dims) {
  check_defined(x, "permute");
  MINIDL_CHECK(static_cast<int64_t>(dims.size()) == x.dim(), "permute of {}: {} dims given, expected {}",
               x.describe(), dims.size(), x.dim());
  std::vector<bool> seen(dims.size(), false);
  Shape shape, strides;
  for (int64_t& d : dims) {
    d = wrap_dim(d, x.dim(), "permute");
    MINIDL_CHECK(!seen[d], "permute of {}: dim {} is repeated", x.describe(), d);
    seen[d] = true;
    shape.push_back(x.size(d));
    strides.push_back(x.strides()[d]);
  }
  Tensor out = make_view(x, shape, strides, x.offset());
  record_op("permute", {x}, out, {}, [dims](const Tensor& g, const std::vector<Tensor>&) {
    return grad::permute(g, dims);
  });
  return out;
}

Tensor transpose(const Tensor& x, int64_t dim0, int64_t dim1) {
  check_defined(x, "transpose");
  if (x.dim() == 0) return permute(x, {});
  std::vector<int64_t> dims(static_cast<size_t>(x.dim()));
  for (int64_t d = 0; d < x.dim(); ++d) dims[d] = d;
  std::swap(dims[wrap_dim(dim0, x.dim(), "transpose")], dims[wrap_dim(dim1, x.dim(), "transpose")]);
  return permute(x, dims);
}

Tensor slice(const Tensor& x, int64_t dim, int64_t start, int64_t end, int64_t step) {
  check_defined(x, "slice");
  MINIDL_CHECK(x.dim() > 0, "slice of a 0-d tensor");
  dim = wrap_dim(dim, x.dim(), "slice");
  MINIDL_CHECK(step > 0, "slice: step {} must be positive", step);
  const int64_t size = x.size(dim);
  // Python semantics: negative indices count from the end, out-of-range bounds are clamped.
  auto clamp_index = [size](int64_t i) { return std::clamp<int64_t>(i < 0 ? i + size : i, 0, size); };
  start = clamp_index(start);
  end = std::max(start, clamp_index(end));
  Shape shape = x.shape(), strides = x.strides();
  shape[dim] = (end - start + step - 1) / step;
  strides[dim] *= step;
  Tensor out = make_view(x, shape, strides, x.offset() + start * x.strides()[dim]);
  record_op("slice", {x}, out, {}, [in = x.shape(), dim, start, end, step](const Tensor& g, const std::vector<Tensor>&) {
    return grad::slice(g, in, dim, start, end, step);
  });
  return out;
}

Tensor expand(const Tensor& x, const Shape& shape) {
  check_defined(x, "expand");
  MINIDL_CHECK(shape.size() >= static_cast<size_t>(x.dim()), "expand {} to {}: fewer dims than the tensor",
               x.describe(), shape_str(shape));
  const size_t lead = shape.size() - x.dim();
  Shape strides(shape.size(), 0);
  for (size_t d = lead; d < shape.size(); ++d) {
    const int64_t size = x.size(static_cast<int64_t>(d - lead));
    MINIDL_CHECK(size == shape[d] || size == 1, "expand {} to {}: dim {} has size {}, expected 1 or {}",
                 x.describe(), shape_str(shape), d - lead, size, shape[d]);
    strides[d] = size == shape[d] ? x.strides()[d - lead] : 0;
  }
  if (shape == x.shape()) return x;
  Tensor out = make_view(x, shape, strides, x.offset());
  record_op("expand", {x}, out, {}, [in = x.shape()](const Tensor& g, const std::vector<Tensor>&) {
    return grad::expand(g, in);
  });
  return out;
}

Tensor cat(const std::vector<Tensor>& xs, int64_t dim) {
  MINIDL_CHECK(!xs.empty(), "cat: expected at least one tensor");
  const Tensor& first = xs[0];
  check_defined(first, "cat");
  MINIDL_CHECK(first.dim() > 0, "cat: 0-d tensors cannot be concatenated; use stack");
  dim = wrap_dim(dim, first.dim(), "cat");
  Shape shape = first.shape();
  std::vector<int64_t> sizes;
  shape[dim] = 0;
  for (size_t i = 0; i < xs.size(); ++i) {
    check_compatible(first, xs[i], "cat");
    MINIDL_CHECK(xs[i].dim() == first.dim(), "cat: tensor {} is {}, expected {} dims like tensor 0", i,
                 xs[i].describe(), first.dim());
    for (int64_t d = 0; d < first.dim(); ++d) {
      MINIDL_CHECK(d == dim || xs[i].size(d) == first.size(d), "cat along dim {}: tensor {} is {}, tensor 0 is {}",
                   dim, i, xs[i].describe(), first.describe());
    }
    sizes.push_back(xs[i].size(dim));
    shape[dim] += xs[i].size(dim);
  }
  Tensor out = Tensor::empty(shape, first.dtype(), first.device());
  int64_t start = 0;
  for (const Tensor& x : xs) {
    NoGradGuard no_grad;
    backend_for(out.device()).copy(slice(out, dim, start, start + x.size(dim)), x);
    start += x.size(dim);
  }
  record_op("cat", xs, out, {}, [sizes, dim](const Tensor& g, const std::vector<Tensor>&) {
    return grad::cat(g, sizes, dim);
  });
  return out;
}

Tensor stack(const std::vector<Tensor>& xs, int64_t dim) {
  MINIDL_CHECK(!xs.empty(), "stack: expected at least one tensor");
  check_defined(xs[0], "stack");
  dim = wrap_dim(dim, xs[0].dim() + 1, "stack");
  Shape shape = xs[0].shape();
  shape.insert(shape.begin() + dim, static_cast<int64_t>(xs.size()));
  for (size_t i = 0; i < xs.size(); ++i) {
    check_compatible(xs[0], xs[i], "stack");
    MINIDL_CHECK(xs[i].shape() == xs[0].shape(), "stack: tensor {} is {}, tensor 0 is {}", i, xs[i].describe(),
                 xs[0].describe());
  }
  Tensor out = Tensor::empty(shape, xs[0].dtype(), xs[0].device());
  for (size_t i = 0; i < xs.size(); ++i) {
    NoGradGuard no_grad;
    const auto at = static_cast<int64_t>(i);
    const Tensor dst = slice(out, dim, at, at + 1);
    backend_for(out.device()).copy(dst, reshape(xs[i].detach(), dst.shape()));
  }
  record_op("stack", xs, out, {}, [count = xs.size(), dim](const Tensor& g, const std::vector<Tensor>&) {
    return grad::stack(g, count, dim);
  });
  return out;
}

Tensor clone(const Tensor& x) {
  check_defined(x, "clone");
  Tensor out = Tensor::empty(x.shape(), x.dtype(), x.device());
  backend_for(x.device()).copy(out, x);
  record_op("contiguous", {x}, out, {}, [](const Tensor& g, const std::vector<Tensor>&) { return grad::Grads{g}; });
  return out;
}

Tensor contiguous(const Tensor& x) {
  check_defined(x, "contiguous");
  return x.is_contiguous() ? x : clone(x);
}

Tensor to_dtype(const Tensor& x, DType dtype) {
  check_defined(x, "cast");
  if (x.dtype() == dtype) return x;
  // A transposed view of a contiguous matrix (W^T in Linear) casts to the same layout, so the
  // GEMM still reads it with a transpose flag and its gradient still lands in W's layout.
  if (x.dim() >= 2 && !x.is_contiguous() && transpose(x, -1, -2).is_contiguous())
    return transpose(to_dtype(transpose(x, -1, -2), dtype), -1, -2);
  Tensor out = Tensor::empty(x.shape(), dtype, x.device());
  backend_for(x.device()).copy(out, x);
  if (is_floating(dtype) && is_floating(x.dtype())) {
    record_op("cast", {x}, out, {}, [in = x.dtype()](const Tensor& g, const std::vector<Tensor>&) {
      return grad::cast(g, in);
    });
  }
  return out;
}

namespace {

// Copies the bytes of contiguous `src` into new contiguous storage on `device`, through host
// memory when neither side is the host.
std::shared_ptr<Storage> transfer(const Tensor& src, Device device) {
  const size_t nbytes = static_cast<size_t>(src.numel()) * dtype_size(src.dtype());
  auto storage = std::make_shared<Storage>(nbytes, device);
  const Device from = src.device();
  if (from.type == DeviceType::CPU) {
    allocator_for(device).copy_from_host(storage->data(), src.raw_data(), nbytes);
  } else if (device.type == DeviceType::CPU) {
    allocator_for(from).copy_to_host(storage->data(), src.raw_data(), nbytes);
  } else {
    std::vector<unsigned char> staging(nbytes);
    allocator_for(from).copy_to_host(staging.data(), src.raw_data(), nbytes);
    allocator_for(device).copy_from_host(storage->data(), staging.data(), nbytes);
  }
  return storage;
}

}  // namespace

Tensor to_device(const Tensor& x, Device device) {
  check_defined(x, "to_device");
  if (x.device() == device) return x;
  const Tensor src = contiguous(x.detach());
  Tensor out = Tensor::view_of(transfer(src, device), 0, x.shape(), contiguous_strides(x.shape()), x.dtype());
  record_op("to_device", {x}, out, {}, [from = x.device()](const Tensor& g, const std::vector<Tensor>&) {
    return grad::to_device(g, from);
  });
  return out;
}

void move_to_device(const Tensor& leaf, Device device) {
  check_defined(leaf, "move_to_device");
  MINIDL_CHECK(leaf.is_leaf(), "move_to_device: {} is not a leaf", leaf.describe());
  if (leaf.device() == device) return;
  NoGradGuard no_grad;
  TensorImpl& impl = *leaf.impl();
  impl.storage = transfer(contiguous(leaf.detach()), device);
  impl.offset = 0;
  impl.strides = contiguous_strides(impl.shape);
  impl.grad = Tensor();
}

void copy_(const Tensor& dst, const Tensor& src) {
  check_defined(dst, "copy_");
  check_defined(src, "copy_");
  MINIDL_CHECK(dst.device() == src.device(), "copy_: {} into {}: devices differ", src.describe(), dst.describe());
  MINIDL_CHECK(!(grad_enabled() && dst.requires_grad() && dst.is_leaf()),
               "copy_ into {}, a leaf that requires grad: wrap the write in NoGradGuard", dst.describe());
  NoGradGuard no_grad;
  backend_for(dst.device()).copy(dst, expand(src, dst.shape()));
  dst.bump_version();
}

void fill_(const Tensor& dst, double value) {
  check_defined(dst, "fill_");
  MINIDL_CHECK(!(grad_enabled() && dst.requires_grad() && dst.is_leaf()),
               "fill_ of {}, a leaf that requires grad: wrap the write in NoGradGuard", dst.describe());
  if (dst.is_contiguous()) {
    backend_for(dst.device()).fill(dst, value);
  } else {
    NoGradGuard no_grad;
    backend_for(dst.device()).copy(dst, expand(Tensor::scalar(value, dst.dtype(), dst.device()), dst.shape()));
  }
  dst.bump_version();
}

}  // namespace minidl
