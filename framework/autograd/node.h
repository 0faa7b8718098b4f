// Autograd graph nodes. Every op output that requires grad points at the Node that made it; the
// Node's edges point at the nodes of its inputs (an AccumulateGrad node for a leaf).
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "framework/core/tensor.h"

namespace minidl {

struct Edge {
  std::shared_ptr<Node> node;  // null when that input needs no gradient
};

// A tensor saved for backward, with the version it had when saved: unpacking it after an
// in-place write is an error, because backward would silently use the new values.
class SavedTensor {
 public:
  SavedTensor() = default;
  explicit SavedTensor(const Tensor& t) : tensor_(t), version_(t.defined() ? t.version() : 0) {}
  const Tensor& unpack(std::string_view op) const;

 private:
  Tensor tensor_;
  uint64_t version_ = 0;
};

class Node {
 public:
  virtual ~Node() = default;
  virtual std::string name() const = 0;
  // Gradients with respect to each input, given the gradient of the single output.
  // An undefined tensor means "no gradient for this input".
  virtual std::vector<Tensor> apply(const Tensor& grad_output) = 0;

  std::vector<Edge> next_edges;          // one per input
  std::vector<Shape> input_shapes;       // the engine sums broadcast gradients back to these
  std::vector<DType> input_dtypes;
};

// The node of a leaf that requires grad: adds the incoming gradient to leaf.grad().
class AccumulateGrad final : public Node {
 public:
  explicit AccumulateGrad(const std::shared_ptr<TensorImpl>& leaf) : leaf_(leaf) {}
  std::string name() const override { return "AccumulateGrad"; }
  std::vector<Tensor> apply(const Tensor& grad_output) override;

 private:
  std::weak_ptr<TensorImpl> leaf_;
};

// The node of an op: its gradient rule (framework/ops/gradients.h) as a closure over saved tensors.
class FunctionNode final : public Node {
 public:
  using Rule = std::function<std::vector<Tensor>(const Tensor& grad_output, const std::vector<Tensor>& saved)>;
  FunctionNode(std::string name, std::vector<SavedTensor> saved, Rule rule)
      : name_(std::move(name)), saved_(std::move(saved)), rule_(std::move(rule)) {}
  std::string name() const override { return name_; }
  std::vector<Tensor> apply(const Tensor& grad_output) override;

 private:
  std::string name_;
  std::vector<SavedTensor> saved_;
  Rule rule_;
};

// Records an op's node on `output` when grad mode is on and any input requires grad.
// `saved` are checked for in-place modification when backward unpacks them.
void record_op(const std::string& name, const std::vector<Tensor>& inputs, const Tensor& output,
               std::vector<Tensor> saved, FunctionNode::Rule rule);

}  // namespace minidl
