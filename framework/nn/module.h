// Module: a layer or a model. Parameters and children are registered by name, so a model's
// parameters carry PyTorch-style dotted names ("layers.0.weight") and load into the equivalent
// torch.nn model unchanged.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "framework/core/tensor.h"

namespace minidl {

using NamedTensors = std::vector<std::pair<std::string, Tensor>>;

class Module {
 public:
  virtual ~Module() = default;
  virtual Tensor forward(const Tensor& x) = 0;
  // forward(x), then each forward hook on (this module, the output).
  Tensor operator()(const Tensor& x);  // forward, inside a profiling range, then the forward hooks
  // The class's name without the namespace ("Linear", "GptBlock"), for profiles.
  const char* type_name() const;
  using ForwardHook = std::function<void(Module& module, const Tensor& output)>;
  void add_forward_hook(ForwardHook hook) { hooks_.push_back(std::move(hook)); }

  NamedTensors named_parameters() const;  // depth first, in registration order
  std::vector<Tensor> parameters() const;
  // Buffers: state that is saved and moved with the model but not trained (BatchNorm's running
  // statistics).
  NamedTensors named_buffers() const;
  // Parameters then buffers: what a model file or checkpoint holds (torch's state_dict).
  NamedTensors named_state() const;
  // Copies values into the parameters and buffers; every name of named_state() must be present
  // with the same shape and dtype, and no extra names are allowed. `source` names the file in errors.
  void load_parameters(const std::map<std::string, Tensor>& values, const std::string& source);

  // Moves every parameter and buffer to `device` in place (handles held elsewhere follow); grads
  // are cleared.
  void to(Device device);
  // Converts every floating parameter and buffer to `dtype` in place (handles held elsewhere
  // follow; grads are cleared), e.g. to f64 for finite differences. Integer buffers keep theirs.
  void to(DType dtype);
  Device device() const;  // where the parameters are (cpu for a module without any)

  void train(bool on = true);
  void eval() { train(false); }
  bool is_training() const { return training_; }

  // Calls fn on every child, depth first, then on this module (torch.nn.Module.apply).
  void apply(const std::function<void(Module&)>& fn);

 protected:
  Tensor register_parameter(const std::string& name, Tensor value);
  Tensor register_buffer(const std::string& name, Tensor value);
  template <typename M>
  std::shared_ptr<M> register_module(const std::string& name, std::shared_ptr<M> module) {
    children_.emplace_back(name, module);
    return module;
  }

 private:
  void collect(const std::string& prefix, bool buffers, NamedTensors& out) const;

  NamedTensors params_, buffers_;
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> children_;
  mutable const char* type_name_ = nullptr;  // type_name(), once computed
  bool training_ = true;
  std::vector<ForwardHook> hooks_;
};

}  // namespace minidl
