// The dropout family as layers, and the registry that builds one from a name ("--dropout NAME:p").
// A layer draws from the Generator it is given (a model passes its dropout stream). Every layer
// is active in training mode; set_mc_sampling keeps them active in eval mode too, for MC dropout.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "framework/nn/layers.h"
#include "framework/nn/module.h"
#include "framework/random/generator.h"

namespace minidl {

// A layer whose forward is random: active in training mode, and in eval mode too while MC
// sampling is on (set_mc_sampling below).
class StochasticModule : public Module {
 public:
  void set_mc_sampling(bool on) { mc_sampling_ = on; }

 protected:
  bool active() const { return is_training() || mc_sampling_; }

 private:
  bool mc_sampling_ = false;
};

// One functional form of framework/regularize/dropout.h with its rate: forward(x) = fn(x, p, active, gen).
class DropoutLayer : public StochasticModule {
 public:
  using Fn = std::function<Tensor(const Tensor& x, double p, bool training, Generator& gen)>;
  // What fn draws: a mask that keeps or drops each element, or noise on every element (gaussian,
  // gaussian-noise, the plug-in rules), for which "kept" means nothing: no keep rate is observed.
  enum class Draws { kMask, kNoise };
  DropoutLayer(std::string variant, Fn fn, double p, Generator& gen, Draws draws = Draws::kMask);
  Tensor forward(const Tensor& x) override;
  const std::string& variant() const { return variant_; }
  double p() const { return p_; }
  void set_p(double p);  // for rate schedules (DropBlock's linear ramp)

  // While on, each training forward of a mask variant also records the fraction of elements it
  // kept (for monitoring, e.g. minidl train --tensorboard). Off by default: that costs two more
  // calls of fn and a reduction.
  void set_observe_keep_rate(bool on) { observe_keep_rate_ = on; }
  // The fraction recorded by the last observed training forward; none before one.
  std::optional<double> observed_keep_rate() const { return observed_keep_rate_; }

 private:
  double keep_rate_of_next_call(const Tensor& x) const;

  std::string variant_;
  Fn fn_;
  double p_;
  Generator* gen_;
  Draws draws_;
  bool observe_keep_rate_ = false;
  std::optional<double> observed_keep_rate_;
};

// Concrete dropout with a learned rate: the parameter p_logit (p = sigmoid(p_logit)), initialised
// at logit(p); penalty() is the regularizer to add to the loss for the layer that follows.
class ConcreteDropout : public StochasticModule {
 public:
  ConcreteDropout(double initial_p, Generator& gen, double temperature = 0.1);
  Tensor forward(const Tensor& x) override;
  double p() const;
  const Tensor& p_logit() const { return p_logit_; }

 private:
  Tensor p_logit_;
  double temperature_;
  Generator* gen_;
};

// A Linear layer with DropConnect on its weights (framework/regularize/dropout.h
// drop_connect_linear); parameters named like Linear's.
class DropConnectLinear : public StochasticModule {
 public:
  DropConnectLinear(int64_t in_features, int64_t out_features, double p, bool per_sample, Generator& init_gen,
                    Generator& drop_gen);
  Tensor forward(const Tensor& x) override;

 private:
  Tensor weight_, bias_;
  double p_;
  bool per_sample_;
  Generator* gen_;
};

// Where a model puts a dropout layer, the layer a variant name builds; p is its rate (for
// gaussian-noise, the noise's standard deviation).
struct DropoutVariant {
  std::string name;
  std::string summary;
  std::function<std::shared_ptr<Module>(double p, Generator& gen)> make;
};
// The variants that act on activations of any shape ([N, F] included), in the order help lists them.
const std::vector<DropoutVariant>& activation_dropout_variants();
// The variants for convolutional feature maps [N, C, H, W]: dropout2d and dropblock (block 3).
const std::vector<DropoutVariant>& feature_map_dropout_variants();
std::string dropout_variant_names(const std::vector<DropoutVariant>& variants);
bool is_feature_map_variant(const std::string& name);
// The layer for `name` (of either list), or an error listing the names.
std::shared_ptr<Module> make_dropout_layer(const std::string& name, double p, Generator& gen);

// "NAME:p" (or just "p", meaning standard dropout) -> {name, p}; errors name the spec.
struct DropoutSpec {
  std::string name = "dropout";
  double p = 0;
};
DropoutSpec parse_dropout_spec(const std::string& spec);

// Keeps every StochasticModule of model stochastic in eval mode (on) or not (off): MC dropout.
void set_mc_sampling(Module& model, bool on);

// Turns keep-rate observation on or off in every DropoutLayer of model.
void set_observe_keep_rate(Module& model, bool on);
// The mean over model's DropoutLayers of their observed keep rates; none when no layer has one.
// ConcreteDropout (a relaxed, continuous mask) and DropConnectLinear (a mask on weights) have none.
std::optional<double> observed_keep_rate(Module& model);

}  // namespace minidl
