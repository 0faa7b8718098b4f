#include "framework/autograd/engine.h"

#include <unordered_map>
#include <vector>

#include "framework/autograd/grad_mode.h"
#include "framework/autograd/node.h"
#include "framework/core/profiler.h"
#include "framework/ops/ops.h"

namespace minidl {

namespace {

// Nodes reachable from root, each listed after every node that feeds it a gradient.
std::vector<Node*> topological_order(Node* root, std::unordered_map<Node*, int>& pending) {
  std::vector<Node*> order, stack{root};
  pending[root] = 0;
  std::unordered_map<Node*, bool> seen{{root, true}};
  while (!stack.empty()) {
    Node* node = stack.back();
    stack.pop_back();
    order.push_back(node);
    for (const Edge& e : node->next_edges) {
      if (!e.node) continue;
      ++pending[e.node.get()];
      if (!seen[e.node.get()]) {
        seen[e.node.get()] = true;
        stack.push_back(e.node.get());
      }
    }
  }
  return order;
}

}  // namespace

void run_backward(const Tensor& root, const Tensor& grad_output) {
  MINIDL_CHECK(root.requires_grad(), "backward on {}, which does not require grad and has no grad_fn",
               root.describe());
  Tensor seed = grad_output;
  if (!seed.defined()) {
    MINIDL_CHECK(root.numel() == 1, "backward without a gradient needs a one-element output, got {}",
                 root.describe());
    seed = Tensor::full(root.shape(), 1.0, root.dtype(), root.device());
  }
  MINIDL_CHECK(seed.shape() == root.shape() && seed.dtype() == root.dtype(),
               "backward: gradient {} does not match output {}", seed.describe(), root.describe());

  NoGradGuard no_grad;
  const std::shared_ptr<Node> root_node = root.is_leaf() ? root.grad_accumulator() : root.grad_fn();
  std::unordered_map<Node*, int> pending;
  std::unordered_map<Node*, Tensor> grads{{root_node.get(), seed}};
  std::vector<Node*> ready{root_node.get()};
  topological_order(root_node.get(), pending);

  while (!ready.empty()) {
    Node* node = ready.back();
    ready.pop_back();
    Tensor grad = std::move(grads[node]);
    grads.erase(node);
    std::vector<Tensor> input_grads;
    {
      const ProfileRange range("backward", node->name());
      input_grads = node->apply(grad);
    }
    if (node->next_edges.empty()) continue;
    MINIDL_CHECK(input_grads.size() == node->next_edges.size(),
                 "gradient rule of {} returned {} gradients for {} inputs", node->name(), input_grads.size(),
                 node->next_edges.size());
    for (size_t i = 0; i < input_grads.size(); ++i) {
      Node* next = node->next_edges[i].node.get();
      if (!next) continue;
      Tensor g = input_grads[i];
      if (g.defined()) {
        // Only the engine undoes broadcasting: rules return gradients in the broadcast shape.
        if (g.shape() != node->input_shapes[i]) g = sum_to(g, node->input_shapes[i]);
        MINIDL_CHECK(g.dtype() == node->input_dtypes[i], "gradient rule of {} returned {} for a {} input",
                     node->name(), dtype_name(g.dtype()), dtype_name(node->input_dtypes[i]));
        Tensor& slot = grads[next];
        slot = slot.defined() ? add(slot, g) : g;
      }
      if (--pending[next] == 0) {
        // An input whose gradient is undefined on every path still runs, with zeros.
        Tensor& slot = grads[next];
        if (!slot.defined()) slot = Tensor::zeros(node->input_shapes[i], node->input_dtypes[i]);
        ready.push_back(next);
      }
    }
  }
}

}  // namespace minidl
