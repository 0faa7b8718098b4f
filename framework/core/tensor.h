// Tensor: a strided view of reference-counted Storage, with autograd metadata.
// Copying a Tensor copies the handle; views made by the shape ops share storage.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "framework/core/check.h"
#include "framework/core/device.h"
#include "framework/core/dtype.h"
#include "framework/core/shape.h"
#include "framework/core/storage.h"

namespace minidl {

class Node;
struct TensorImpl;

class Tensor {
 public:
  Tensor() = default;
  explicit Tensor(std::shared_ptr<TensorImpl> impl) : impl_(std::move(impl)) {}

  // Factories. Values are given as double and cast to dtype.
  static Tensor empty(const Shape& shape, DType dtype = DType::F32, Device device = kCPU);
  // A cpu tensor in pinned (page-locked) host memory, for fast copies to a GPU.
  static Tensor empty_pinned(const Shape& shape, DType dtype = DType::F32);
  static Tensor zeros(const Shape& shape, DType dtype = DType::F32, Device device = kCPU);
  static Tensor full(const Shape& shape, double value, DType dtype = DType::F32, Device device = kCPU);
  static Tensor scalar(double value, DType dtype = DType::F32, Device device = kCPU);
  template <typename T>
  static Tensor from_vector(const std::vector<T>& values, const Shape& shape);
  // A view of existing storage (used by views and by loaders that own the bytes).
  static Tensor view_of(std::shared_ptr<Storage> storage, int64_t offset, Shape shape, Shape strides, DType dtype);

  bool defined() const { return impl_ != nullptr; }
  const Shape& shape() const;
  const Shape& strides() const;
  int64_t dim() const { return static_cast<int64_t>(shape().size()); }
  int64_t size(int64_t dim) const;
  int64_t numel() const;
  int64_t offset() const;  // in elements, into storage
  DType dtype() const;
  Device device() const;
  bool is_contiguous() const;
  const std::shared_ptr<Storage>& storage() const;
  std::string describe() const;  // "f32[2, 3] on cpu", for error messages

  // Element pointer at the view's offset; T must match the dtype.
  template <typename T>
  T* data() const;
  void* raw_data() const;

  // A contiguous CPU copy of the values, converted to T.
  template <typename T>
  std::vector<T> to_vector() const;
  double item() const;  // the single value of a one-element tensor

  // Autograd.
  bool requires_grad() const;
  Tensor& requires_grad_(bool value = true);  // leaves only
  bool is_leaf() const;
  Tensor grad() const;
  void set_grad(const Tensor& grad) const;
  const std::shared_ptr<Node>& grad_fn() const;
  void set_grad_fn(std::shared_ptr<Node> node) const;
  std::shared_ptr<Node> grad_accumulator() const;  // the leaf's AccumulateGrad node, made on demand
  void backward(const Tensor& grad_output = Tensor()) const;
  Tensor detach() const;  // same storage, no history

  // Version counter, shared by all views of the storage: in-place writes bump it.
  uint64_t version() const;
  void bump_version() const;

  TensorImpl* impl() const { return impl_.get(); }
  bool same(const Tensor& other) const { return impl_ == other.impl_; }

 private:
  const TensorImpl& checked() const;
  std::shared_ptr<TensorImpl> impl_;
};

struct TensorImpl {
  std::shared_ptr<Storage> storage;
  int64_t offset = 0;
  Shape shape;
  Shape strides;
  DType dtype = DType::F32;
  bool requires_grad = false;
  Tensor grad;
  std::shared_ptr<Node> grad_fn;
  std::weak_ptr<Node> grad_accumulator;
};

template <typename T>
T* Tensor::data() const {
  const TensorImpl& t = checked();
  MINIDL_CHECK(dtype_of<T>() == t.dtype || (dtype_of<T>() == DType::U8 && t.dtype == DType::Bool),
               "data<{}>() on a {} tensor", dtype_name(dtype_of<T>()), dtype_name(t.dtype));
  return static_cast<T*>(t.storage->data()) + t.offset;
}

}  // namespace minidl
