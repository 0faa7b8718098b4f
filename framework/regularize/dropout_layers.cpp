#include "framework/regularize/dropout_layers.h"

#include <cmath>

#include "framework/autograd/grad_mode.h"
#include "framework/core/check.h"
#include "framework/nn/init.h"
#include "framework/ops/ops.h"
#include "framework/regularize/dropout.h"

namespace minidl {

DropoutLayer::DropoutLayer(std::string variant, Fn fn, double p, Generator& gen, Draws draws)
    : variant_(std::move(variant)), fn_(std::move(fn)), gen_(&gen), draws_(draws) {
  set_p(p);
}

void DropoutLayer::set_p(double p) {
  MINIDL_CHECK(p >= 0.0 && p <= 1.0, "{}: p = {} is outside [0, 1]", variant_, p);
  p_ = p;
}

Tensor DropoutLayer::forward(const Tensor& x) {
  if (observe_keep_rate_ && is_training() && draws_ == Draws::kMask) observed_keep_rate_ = keep_rate_of_next_call(x);
  return fn_(x, p_, active(), *gen_);
}

// fn replayed on zeros and on ones, each with a copy of the generator, draws the mask the real call
// will (element i reads word offset + i, whatever the values) and leaves the stream where it was.
// An element is kept where the two outputs differ: a dropped one is a constant (0, or alpha
// dropout's saturation value) whatever the input.
double DropoutLayer::keep_rate_of_next_call(const Tensor& x) const {
  NoGradGuard no_grad;
  Generator for_zeros = *gen_, for_ones = *gen_;
  const Tensor from_zeros = fn_(Tensor::zeros(x.shape(), x.dtype(), x.device()), p_, true, for_zeros);
  const Tensor from_ones = fn_(Tensor::full(x.shape(), 1.0, x.dtype(), x.device()), p_, true, for_ones);
  return 1.0 - mean(eq(from_zeros, from_ones)).item();
}

ConcreteDropout::ConcreteDropout(double initial_p, Generator& gen, double temperature)
    : temperature_(temperature), gen_(&gen) {
  MINIDL_CHECK(initial_p > 0.0 && initial_p < 1.0, "concrete dropout: initial p = {} is outside (0, 1)", initial_p);
  p_logit_ = register_parameter("p_logit", Tensor::scalar(std::log(initial_p / (1.0 - initial_p))));
}

Tensor ConcreteDropout::forward(const Tensor& x) {
  // The relaxed mask needs f32's precision near 0 and 1: for a bf16 x (autocast) it is f32.
  const DType mask_dtype = x.dtype() == DType::BF16 ? DType::F32 : x.dtype();
  return concrete_dropout(x, to_dtype(p_logit_, mask_dtype), temperature_, active(), *gen_);
}

double ConcreteDropout::p() const { return 1.0 / (1.0 + std::exp(-p_logit_.item())); }

DropConnectLinear::DropConnectLinear(int64_t in_features, int64_t out_features, double p, bool per_sample,
                                     Generator& init_gen, Generator& drop_gen)
    : p_(p), per_sample_(per_sample), gen_(&drop_gen) {
  MINIDL_CHECK(p >= 0.0 && p <= 1.0, "dropconnect: p = {} is outside [0, 1]", p);
  const Linear reference(in_features, out_features, true, init_gen);  // torch.nn.Linear's initialization
  weight_ = register_parameter("weight", clone(reference.weight().detach()));
  bias_ = register_parameter("bias", clone(reference.bias().detach()));
}

Tensor DropConnectLinear::forward(const Tensor& x) {
  return drop_connect_linear(x, weight_, bias_, p_, per_sample_, active(), *gen_);
}

namespace {

std::shared_ptr<Module> layer(const char* name, Tensor (*fn)(const Tensor&, double, bool, Generator&), double p,
                              Generator& gen, DropoutLayer::Draws draws = DropoutLayer::Draws::kMask) {
  return std::make_shared<DropoutLayer>(name, fn, p, gen, draws);
}

}  // namespace

const std::vector<DropoutVariant>& activation_dropout_variants() {
  static const std::vector<DropoutVariant> table = {
      {"dropout", "inverted dropout, mask regenerated in backward",
       [](double p, Generator& g) { return layer("dropout", dropout, p, g); }},
      {"dropout-packed", "inverted dropout, 1-bit mask stored for backward",
       [](double p, Generator& g) { return layer("dropout-packed", dropout_packed, p, g); }},
      {"classic", "no scaling in training, x (1 - p) in eval",
       [](double p, Generator& g) { return layer("classic", classic_dropout, p, g); }},
      {"alpha", "alpha dropout for SELU networks",
       [](double p, Generator& g) { return layer("alpha", alpha_dropout, p, g); }},
      {"gaussian", "multiplicative N(1, p / (1 - p)) noise",
       [](double p, Generator& g) { return layer("gaussian", gaussian_dropout, p, g, DropoutLayer::Draws::kNoise); }},
      {"gaussian-noise", "additive N(0, p^2) noise (p is the standard deviation)",
       [](double p, Generator& g) {
         return layer("gaussian-noise", additive_gaussian_noise, p, g, DropoutLayer::Draws::kNoise);
       }},
      {"concrete", "concrete dropout, p learned (starting at p)",
       [](double p, Generator& g) { return std::make_shared<ConcreteDropout>(p, g); }},
  // Every plug-in rule of kernels/common/random_rules.h, by its name, p its parameter. Rules count
  // as noise: each draws a scale and a shift for every element (uniform-noise).
#define MINIDL_RULE_VARIANT(id, rule)                                                                  \
  {rule::kName, rule::kSummary, [](double p, Generator& g) -> std::shared_ptr<Module> {                \
     return std::make_shared<DropoutLayer>(                                                           \
         rule::kName, [](const Tensor& x, double q, bool t, Generator& gen) { return random_rule(RandomRule::id, x, q, t, gen); }, \
         p, g, DropoutLayer::Draws::kNoise);                                                           \
   }},
      MINIDL_RANDOM_RULES(MINIDL_RULE_VARIANT)
#undef MINIDL_RULE_VARIANT
  };
  return table;
}

const std::vector<DropoutVariant>& feature_map_dropout_variants() {
  static const std::vector<DropoutVariant> table = {
      {"dropout2d", "whole channels dropped (spatial dropout)",
       [](double p, Generator& g) {
         return std::make_shared<DropoutLayer>(
             "dropout2d", [](const Tensor& x, double q, bool t, Generator& gen) { return spatial_dropout(x, q, 2, t, gen); },
             p, g);
       }},
      {"dropblock", "3x3 blocks dropped (DropBlock)",
       [](double p, Generator& g) {
         return std::make_shared<DropoutLayer>(
             "dropblock", [](const Tensor& x, double q, bool t, Generator& gen) { return dropblock(x, q, 3, t, gen); }, p,
             g);
       }},
  };
  return table;
}

std::string dropout_variant_names(const std::vector<DropoutVariant>& variants) {
  std::string names;
  for (const DropoutVariant& v : variants) names += (names.empty() ? "" : ", ") + v.name;
  return names;
}

bool is_feature_map_variant(const std::string& name) {
  for (const DropoutVariant& v : feature_map_dropout_variants())
    if (v.name == name) return true;
  return false;
}

std::shared_ptr<Module> make_dropout_layer(const std::string& name, double p, Generator& gen) {
  for (const auto* table : {&activation_dropout_variants(), &feature_map_dropout_variants()})
    for (const DropoutVariant& v : *table)
      if (v.name == name) return v.make(p, gen);
  MINIDL_FAIL("unknown dropout variant '{}': expected one of {}, {}, or dropconnect", name,
              dropout_variant_names(activation_dropout_variants()), dropout_variant_names(feature_map_dropout_variants()));
}

DropoutSpec parse_dropout_spec(const std::string& spec) {
  DropoutSpec out;
  const size_t colon = spec.find(':');
  const std::string rate = colon == std::string::npos ? spec : spec.substr(colon + 1);
  if (colon != std::string::npos) out.name = spec.substr(0, colon);
  size_t used = 0;
  try {
    out.p = std::stod(rate, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  MINIDL_CHECK(used == rate.size() && !rate.empty(), "dropout spec '{}': expected NAME:p or p, with p a number", spec);
  MINIDL_CHECK(out.p >= 0.0 && out.p <= 1.0, "dropout spec '{}': p = {} is outside [0, 1]", spec, out.p);
  return out;
}

void set_mc_sampling(Module& model, bool on) {
  model.apply([on](Module& m) {
    if (auto* s = dynamic_cast<StochasticModule*>(&m)) s->set_mc_sampling(on);
  });
}

void set_observe_keep_rate(Module& model, bool on) {
  model.apply([on](Module& m) {
    if (auto* layer = dynamic_cast<DropoutLayer*>(&m)) layer->set_observe_keep_rate(on);
  });
}

std::optional<double> observed_keep_rate(Module& model) {
  double sum = 0;
  int layers = 0;
  model.apply([&](Module& m) {
    const auto* layer = dynamic_cast<const DropoutLayer*>(&m);
    if (layer == nullptr || !layer->observed_keep_rate()) return;
    sum += *layer->observed_keep_rate();
    ++layers;
  });
  if (layers == 0) return std::nullopt;
  return sum / layers;
}

}  // namespace minidl
