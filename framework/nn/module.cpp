#include "framework/nn/module.h"

#include <cxxabi.h>

#include <cstdlib>
#include <mutex>
#include <set>
#include <typeindex>
#include <unordered_map>

#include "framework/autograd/grad_mode.h"
#include "framework/core/profiler.h"
#include "framework/ops/ops.h"

namespace minidl {

Tensor Module::register_parameter(const std::string& name, Tensor value) {
  value.requires_grad_(true);
  params_.emplace_back(name, value);
  return value;
}

Tensor Module::register_buffer(const std::string& name, Tensor value) {
  buffers_.emplace_back(name, value);
  return value;
}

void Module::collect(const std::string& prefix, bool buffers, NamedTensors& out) const {
  for (const auto& [name, t] : buffers ? buffers_ : params_) out.emplace_back(prefix + name, t);
  for (const auto& [name, child] : children_) child->collect(prefix + name + ".", buffers, out);
}

NamedTensors Module::named_parameters() const {
  NamedTensors out;
  collect("", false, out);
  return out;
}

NamedTensors Module::named_buffers() const {
  NamedTensors out;
  collect("", true, out);
  return out;
}

NamedTensors Module::named_state() const {
  NamedTensors out = named_parameters();
  collect("", true, out);
  return out;
}

std::vector<Tensor> Module::parameters() const {
  std::vector<Tensor> out;
  for (auto& [name, t] : named_parameters()) out.push_back(t);
  return out;
}

void Module::load_parameters(const std::map<std::string, Tensor>& values, const std::string& source) {
  std::set<std::string> expected;
  const NamedTensors state = named_state();
  for (const auto& [name, param] : state) {
    expected.insert(name);
    auto it = values.find(name);
    MINIDL_CHECK(it != values.end(), "{}: missing parameter '{}' ({})", source, name, param.describe());
    MINIDL_CHECK(it->second.shape() == param.shape() && it->second.dtype() == param.dtype(),
                 "{}: parameter '{}' is {}, expected {}", source, name, it->second.describe(), param.describe());
  }
  for (const auto& [name, value] : values) {
    MINIDL_CHECK(expected.count(name) == 1, "{}: unexpected tensor '{}' ({}) for this model", source, name,
                 value.describe());
  }
  NoGradGuard no_grad;
  for (const auto& [name, param] : state) copy_(param, values.at(name));
}

void Module::to(Device device) {
  for (const auto& [name, t] : named_state()) move_to_device(t, device);
}

void Module::to(DType dtype) {
  NoGradGuard no_grad;
  for (const auto& [name, t] : named_state()) {
    if (!is_floating(t.dtype()) || t.dtype() == dtype) continue;
    const Tensor converted = contiguous(to_dtype(t.detach(), dtype));
    TensorImpl& impl = *t.impl();
    impl.storage = converted.storage();
    impl.offset = converted.offset();
    impl.strides = converted.strides();
    impl.dtype = dtype;
    impl.grad = Tensor();
  }
}

Device Module::device() const {
  const NamedTensors params = named_parameters();
  return params.empty() ? kCPU : params.front().second.device();
}

void Module::train(bool on) {
  training_ = on;
  for (auto& [name, child] : children_) child->train(on);
}

const char* Module::type_name() const {
  if (type_name_ != nullptr) return type_name_;
  // Demangled once per module type, then remembered by the module: ranges name it on every call.
  static std::mutex mutex;
  static std::unordered_map<std::type_index, std::string> names;
  const std::lock_guard lock(mutex);
  auto [it, inserted] = names.try_emplace(typeid(*this));
  if (inserted) {
    int status = 0;
    char* demangled = abi::__cxa_demangle(typeid(*this).name(), nullptr, nullptr, &status);
    std::string name = status == 0 ? demangled : typeid(*this).name();
    std::free(demangled);
    it->second = name.rfind("minidl::", 0) == 0 ? name.substr(8) : name;
  }
  type_name_ = it->second.c_str();
  return type_name_;
}

Tensor Module::operator()(const Tensor& x) {
  const ProfileRange range("module", type_name());
  Tensor y = forward(x);
  for (const ForwardHook& hook : hooks_) hook(*this, y);
  return y;
}

void Module::apply(const std::function<void(Module&)>& fn) {
  for (auto& [name, child] : children_) child->apply(fn);
  fn(*this);
}

}  // namespace minidl
