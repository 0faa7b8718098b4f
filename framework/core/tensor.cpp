#include "framework/core/tensor.h"

#include <cstring>

#include "framework/autograd/node.h"
#include "framework/autograd/engine.h"
#include "framework/core/allocator.h"
#include "framework/core/indexer.h"
#include "framework/ops/backend.h"
#include "framework/ops/ops.h"
#include "kernels/cpu/elementwise.h"

namespace minidl {

namespace {

void check_shape(const Shape& shape) {
  for (int64_t s : shape) MINIDL_CHECK(s >= 0, "invalid shape {}: sizes must be >= 0", shape_str(shape));
}

}  // namespace

Tensor Tensor::view_of(std::shared_ptr<Storage> storage, int64_t offset, Shape shape, Shape strides, DType dtype) {
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = std::move(storage);
  impl->offset = offset;
  impl->shape = std::move(shape);
  impl->strides = std::move(strides);
  impl->dtype = dtype;
  return Tensor(std::move(impl));
}

Tensor Tensor::empty(const Shape& shape, DType dtype, Device device) {
  check_shape(shape);
  auto storage = std::make_shared<Storage>(static_cast<size_t>(shape_numel(shape)) * dtype_size(dtype), device);
  return view_of(std::move(storage), 0, shape, contiguous_strides(shape), dtype);
}

Tensor Tensor::empty_pinned(const Shape& shape, DType dtype) {
  check_shape(shape);
  auto storage = std::make_shared<Storage>(static_cast<size_t>(shape_numel(shape)) * dtype_size(dtype), kCPU,
                                           &pinned_host_allocator());
  return view_of(std::move(storage), 0, shape, contiguous_strides(shape), dtype);
}

Tensor Tensor::full(const Shape& shape, double value, DType dtype, Device device) {
  Tensor t = empty(shape, dtype, device);
  backend_for(device).fill(t, value);
  return t;
}

Tensor Tensor::zeros(const Shape& shape, DType dtype, Device device) { return full(shape, 0.0, dtype, device); }

Tensor Tensor::scalar(double value, DType dtype, Device device) { return full({}, value, dtype, device); }

template <typename T>
Tensor Tensor::from_vector(const std::vector<T>& values, const Shape& shape) {
  check_shape(shape);
  MINIDL_CHECK(static_cast<int64_t>(values.size()) == shape_numel(shape),
               "from_vector: {} values do not fill shape {} ({} elements)", values.size(), shape_str(shape),
               shape_numel(shape));
  Tensor t = empty(shape, dtype_of<T>());
  if (!values.empty()) std::memcpy(t.raw_data(), values.data(), values.size() * sizeof(T));
  return t;
}

const TensorImpl& Tensor::checked() const {
  MINIDL_CHECK(impl_ != nullptr, "use of an undefined tensor");
  return *impl_;
}

const Shape& Tensor::shape() const { return checked().shape; }
const Shape& Tensor::strides() const { return checked().strides; }
int64_t Tensor::size(int64_t d) const { return shape()[wrap_dim(d, dim(), "size")]; }
int64_t Tensor::numel() const { return shape_numel(shape()); }
int64_t Tensor::offset() const { return checked().offset; }
DType Tensor::dtype() const { return checked().dtype; }
Device Tensor::device() const { return checked().storage->device(); }
const std::shared_ptr<Storage>& Tensor::storage() const { return checked().storage; }

bool Tensor::is_contiguous() const {
  const TensorImpl& t = checked();
  if (shape_numel(t.shape) == 0) return true;  // no element to misplace
  int64_t expected = 1;
  for (size_t d = t.shape.size(); d-- > 0;) {
    if (t.shape[d] == 1) continue;
    if (t.strides[d] != expected) return false;
    expected *= t.shape[d];
  }
  return true;
}

std::string Tensor::describe() const {
  if (!defined()) return "undefined tensor";
  return fmt::format("{}{} on {}", dtype_name(dtype()), shape_str(shape()), device().str());
}

void* Tensor::raw_data() const {
  const TensorImpl& t = checked();
  return static_cast<char*>(t.storage->data()) + t.offset * static_cast<int64_t>(dtype_size(t.dtype));
}

template <typename T>
std::vector<T> Tensor::to_vector() const {
  if (device().type != DeviceType::CPU) return to_device(*this, kCPU).to_vector<T>();
  std::vector<T> out(static_cast<size_t>(numel()));
  const StridedIndexer dst_ix{}, src_ix = make_indexer(*this);
  visit_dtype(dtype(), [&](auto tag) {
    using S = decltype(tag);
    cpu::copy_cast<T, S>(0, numel(), out.data(), dst_ix, data<S>(), src_ix);
  });
  return out;
}

double Tensor::item() const {
  MINIDL_CHECK(numel() == 1, "item() needs a one-element tensor, got {}", describe());
  return to_vector<double>()[0];
}

bool Tensor::requires_grad() const { return checked().requires_grad; }

Tensor& Tensor::requires_grad_(bool value) {
  MINIDL_CHECK(is_leaf(), "requires_grad_ on a non-leaf tensor ({}): detach() it first", describe());
  MINIDL_CHECK(!value || is_floating(dtype()), "requires_grad on a {} tensor: only floating tensors have gradients",
               dtype_name(dtype()));
  impl_->requires_grad = value;
  return *this;
}

bool Tensor::is_leaf() const { return checked().grad_fn == nullptr; }
Tensor Tensor::grad() const { return checked().grad; }
void Tensor::set_grad(const Tensor& grad) const {
  checked();
  impl_->grad = grad;
}
const std::shared_ptr<Node>& Tensor::grad_fn() const { return checked().grad_fn; }
void Tensor::set_grad_fn(std::shared_ptr<Node> node) const {
  checked();
  impl_->requires_grad = node != nullptr;
  impl_->grad_fn = std::move(node);
}

std::shared_ptr<Node> Tensor::grad_accumulator() const {
  checked();
  std::shared_ptr<Node> node = impl_->grad_accumulator.lock();
  if (!node) {
    node = std::make_shared<AccumulateGrad>(impl_);
    impl_->grad_accumulator = node;
  }
  return node;
}

void Tensor::backward(const Tensor& grad_output) const { run_backward(*this, grad_output); }

Tensor Tensor::detach() const {
  const TensorImpl& t = checked();
  return view_of(t.storage, t.offset, t.shape, t.strides, t.dtype);
}

uint64_t Tensor::version() const { return checked().storage->version(); }
void Tensor::bump_version() const { checked().storage->bump_version(); }

#define MINIDL_TENSOR_TYPED(T)                                                        \
  template Tensor Tensor::from_vector<T>(const std::vector<T>&, const Shape&);      \
  template std::vector<T> Tensor::to_vector<T>() const;
MINIDL_TENSOR_TYPED(float)
MINIDL_TENSOR_TYPED(double)
MINIDL_TENSOR_TYPED(int32_t)
MINIDL_TENSOR_TYPED(int64_t)
MINIDL_TENSOR_TYPED(uint8_t)
MINIDL_TENSOR_TYPED(bf16)

}  // namespace minidl
