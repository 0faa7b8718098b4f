#include "framework/autograd/node.h"

#include "framework/autograd/grad_mode.h"
#include "framework/ops/ops.h"

namespace minidl {

const Tensor& SavedTensor::unpack(std::string_view op) const {
  MINIDL_CHECK(!tensor_.defined() || tensor_.version() == version_,
               "backward of {}: a tensor it saved ({}) was modified in place (version {} now, {} when saved); "
               "use an out-of-place op or clone() before modifying it",
               op, tensor_.describe(), tensor_.version(), version_);
  return tensor_;
}

std::vector<Tensor> AccumulateGrad::apply(const Tensor& grad_output) {
  std::shared_ptr<TensorImpl> leaf = leaf_.lock();
  if (!leaf) return {};
  Tensor leaf_tensor(leaf);
  const Tensor previous = leaf_tensor.grad();
  // Out of place: a gradient someone still holds is never changed behind their back.
  leaf_tensor.set_grad(previous.defined() ? add(previous, grad_output) : grad_output.detach());
  return {};
}

std::vector<Tensor> FunctionNode::apply(const Tensor& grad_output) {
  std::vector<Tensor> saved;
  saved.reserve(saved_.size());
  for (const SavedTensor& s : saved_) saved.push_back(s.unpack(name_));
  return rule_(grad_output, saved);
}

void record_op(const std::string& name, const std::vector<Tensor>& inputs, const Tensor& output,
               std::vector<Tensor> saved, FunctionNode::Rule rule) {
  if (!grad_enabled()) return;
  bool any = false;
  for (const Tensor& t : inputs) any = any || (t.defined() && t.requires_grad());
  if (!any) return;
  // Saved tensors are detached: saving an op's own output must not make the node own itself.
  std::vector<SavedTensor> saved_tensors;
  for (const Tensor& t : saved) saved_tensors.emplace_back(t.defined() ? t.detach() : t);
  auto node = std::make_shared<FunctionNode>(name, std::move(saved_tensors), std::move(rule));
  for (const Tensor& t : inputs) {
    Edge edge;
    if (t.defined() && t.requires_grad()) edge.node = t.is_leaf() ? t.grad_accumulator() : t.grad_fn();
    node->next_edges.push_back(edge);
    node->input_shapes.push_back(t.defined() ? t.shape() : Shape{});
    node->input_dtypes.push_back(t.defined() ? t.dtype() : DType::F32);
  }
  output.set_grad_fn(std::move(node));
}

}  // namespace minidl
