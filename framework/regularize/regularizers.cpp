#include "framework/regularize/regularizers.h"

#include <cmath>
#include <limits>
#include <map>

#include "framework/autograd/grad_mode.h"
#include "framework/core/check.h"
#include "framework/nn/layers.h"
#include "framework/ops/ops.h"
#include "framework/regularize/dropout.h"

namespace minidl {

std::vector<Tensor> weight_matrices(const Module& model) {
  std::vector<Tensor> out;
  for (const Tensor& p : model.parameters())
    if (p.dim() >= 2) out.push_back(p);
  return out;
}

namespace {

void check_non_negative(double v, const char* what) {
  MINIDL_CHECK(v >= 0.0 && std::isfinite(v), "{}: {} must be finite and >= 0", what, v);
}

Tensor abs_value(const Tensor& x) { return add(relu(x), relu(neg(x))); }

// lambda * sum over weight matrices of sum(f(w)): the L2 (f = w^2 / 2) and L1 (f = |w|) penalties.
class WeightPenalty final : public Regularizer {
 public:
  WeightPenalty(const char* name, double lambda, Tensor (*f)(const Tensor&)) : lambda_(lambda), f_(f) {
    check_non_negative(lambda, name);
  }
  Tensor penalty(Module& model) override {
    Tensor total;
    for (const Tensor& w : weight_matrices(model)) {
      const Tensor t = mul(sum(f_(w)), lambda_);
      total = total.defined() ? add(total, t) : t;
    }
    return total;
  }

 private:
  double lambda_;
  Tensor (*f_)(const Tensor&);
};

Tensor half_square(const Tensor& w) { return mul(mul(w, w), 0.5); }

class WeightDecay final : public Regularizer {
 public:
  explicit WeightDecay(double lambda) : lambda_(lambda) { check_non_negative(lambda, "weight-decay"); }
  void after_step(Module& model, double lr) override {
    NoGradGuard no_grad;
    for (const Tensor& w : weight_matrices(model)) copy_(w, mul(w, 1.0 - lr * lambda_));
  }

 private:
  double lambda_;
};

class MaxNorm final : public Regularizer {
 public:
  explicit MaxNorm(double c) : c_(c) {
    MINIDL_CHECK(c > 0.0 && std::isfinite(c), "max-norm: c = {} must be finite and > 0", c);
  }
  void after_step(Module& model, double) override {
    NoGradGuard no_grad;
    for (const Tensor& w : weight_matrices(model)) {
      const Tensor rows = reshape(w, {w.size(0), -1});
      const Tensor norms = sqrt(sum(mul(rows, rows), {1}, true));
      // c / max(norm, c): 1 for rows within the ball, c / norm for the others.
      const Tensor factor = div(Tensor::full({}, c_, w.dtype(), w.device()), add(relu(add(norms, -c_)), c_));
      copy_(w, reshape(mul(rows, factor), w.shape()));
    }
  }

 private:
  double c_;
};

class LabelSmoothing final : public Regularizer {
 public:
  explicit LabelSmoothing(double eps) : eps_(eps) {
    MINIDL_CHECK(eps >= 0.0 && eps <= 1.0, "label-smoothing: eps = {} is outside [0, 1]", eps);
  }
  double label_smoothing() const override { return eps_; }

 private:
  double eps_;
};

class ActivationL1 final : public Regularizer {
 public:
  explicit ActivationL1(double lambda) : lambda_(lambda) { check_non_negative(lambda, "activation-l1"); }
  void attach(Module& model) override {
    int relus = 0;
    model.apply([&](Module& m) {
      if (dynamic_cast<ReLU*>(&m) == nullptr) return;
      ++relus;
      m.add_forward_hook([this](Module& layer, const Tensor& out) {
        if (layer.is_training()) activations_.push_back(out);
      });
    });
    MINIDL_CHECK(relus > 0, "activation-l1: the model has no ReLU layer to regularize");
  }
  Tensor penalty(Module&) override {
    Tensor total;
    for (const Tensor& a : activations_) {
      const Tensor t = mul(mean(abs_value(a)), lambda_);
      total = total.defined() ? add(total, t) : t;
    }
    activations_.clear();
    return total;
  }

 private:
  double lambda_;
  std::vector<Tensor> activations_;
};

class WeightNoise final : public Regularizer {
 public:
  explicit WeightNoise(double sigma) : sigma_(sigma) { check_non_negative(sigma, "weight-noise"); }
  void before_forward(Module& model, Generator& gen) override {
    NoGradGuard no_grad;
    clean_.clear();
    for (const Tensor& w : weight_matrices(model)) {
      clean_.push_back(clone(w));
      copy_(w, additive_gaussian_noise(w, sigma_, true, gen));
    }
  }
  void after_backward(Module& model) override {
    NoGradGuard no_grad;
    const std::vector<Tensor> weights = weight_matrices(model);
    for (size_t i = 0; i < clean_.size() && i < weights.size(); ++i) copy_(weights[i], clean_[i]);
    clean_.clear();
  }

 private:
  double sigma_;
  std::vector<Tensor> clean_;
};

class InputNoise final : public Regularizer {
 public:
  explicit InputNoise(double sigma) : sigma_(sigma) { check_non_negative(sigma, "input-noise"); }
  Tensor transform_input(const Tensor& x, Generator& gen) override {
    return additive_gaussian_noise(x, sigma_, true, gen);
  }

 private:
  double sigma_;
};

class EarlyStopping final : public Regularizer {
 public:
  EarlyStopping(int64_t patience, double min_delta) : patience_(patience), min_delta_(min_delta) {
    MINIDL_CHECK(patience >= 1, "early-stopping: patience = {} must be >= 1", patience);
    check_non_negative(min_delta, "early-stopping min_delta");
  }
  bool after_evaluation(Module& model, double loss) override {
    if (loss < best_ - min_delta_) {
      best_ = loss;
      waited_ = 0;
      best_params_.clear();
      for (const auto& [name, t] : model.named_state()) best_params_[name] = clone(t.detach());
      return false;
    }
    if (++waited_ < patience_) return false;
    model.load_parameters(best_params_, "early stopping's best parameters");
    return true;
  }

 private:
  int64_t patience_;
  double min_delta_;
  double best_ = std::numeric_limits<double>::infinity();
  int64_t waited_ = 0;
  std::map<std::string, Tensor> best_params_;
};

class Tie final : public Regularizer {
 public:
  Tie(std::string a, std::string b) : a_name_(std::move(a)), b_name_(std::move(b)) {
    MINIDL_CHECK(a_name_ != b_name_, "tie: a parameter cannot be tied to itself ('{}')", a_name_);
  }
  void attach(Module& model) override {
    a_ = find(model, a_name_);
    b_ = find(model, b_name_);
    MINIDL_CHECK(a_.shape() == b_.shape() && a_.dtype() == b_.dtype(), "tie: {} is {} but {} is {}", a_name_,
                 a_.describe(), b_name_, b_.describe());
    NoGradGuard no_grad;
    copy_(b_, a_);
  }
  void after_backward(Module&) override {
    const Tensor ga = a_.grad(), gb = b_.grad();
    if (!ga.defined() && !gb.defined()) return;
    NoGradGuard no_grad;
    const Tensor total = !ga.defined() ? clone(gb) : !gb.defined() ? clone(ga) : add(ga, gb);
    a_.set_grad(total);
    b_.set_grad(clone(total));
  }

 private:
  static Tensor find(const Module& model, const std::string& name) {
    std::string names;
    for (const auto& [n, p] : model.named_parameters()) {
      if (n == name) return p;
      names += (names.empty() ? "" : ", ") + n;
    }
    MINIDL_FAIL("tie: no parameter '{}': the model has {}", name, names);
  }

  std::string a_name_, b_name_;
  Tensor a_, b_;
};

double number(const std::string& spec, const std::string& text) {
  size_t used = 0;
  double v = 0;
  try {
    v = std::stod(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  MINIDL_CHECK(!text.empty() && used == text.size(), "--reg {}: '{}' is not a number", spec, text);
  return v;
}

}  // namespace

std::unique_ptr<Regularizer> make_l2_penalty(double lambda) {
  return std::make_unique<WeightPenalty>("l2", lambda, half_square);
}
std::unique_ptr<Regularizer> make_weight_decay(double lambda) { return std::make_unique<WeightDecay>(lambda); }
std::unique_ptr<Regularizer> make_l1_penalty(double lambda) {
  return std::make_unique<WeightPenalty>("l1", lambda, abs_value);
}
std::unique_ptr<Regularizer> make_max_norm(double c) { return std::make_unique<MaxNorm>(c); }
std::unique_ptr<Regularizer> make_label_smoothing(double eps) { return std::make_unique<LabelSmoothing>(eps); }
std::unique_ptr<Regularizer> make_activation_l1(double lambda) { return std::make_unique<ActivationL1>(lambda); }
std::unique_ptr<Regularizer> make_weight_noise(double sigma) { return std::make_unique<WeightNoise>(sigma); }
std::unique_ptr<Regularizer> make_input_noise(double sigma) { return std::make_unique<InputNoise>(sigma); }
std::unique_ptr<Regularizer> make_early_stopping(int64_t patience, double min_delta) {
  return std::make_unique<EarlyStopping>(patience, min_delta);
}
std::unique_ptr<Regularizer> make_tie(std::string a, std::string b) {
  return std::make_unique<Tie>(std::move(a), std::move(b));
}

const std::vector<RegularizerEntry>& regularizer_registry() {
  using Args = std::vector<std::string>;
  // One number; the spec (for errors) is args[0], the value args[1].
  auto one = [](std::unique_ptr<Regularizer> (*make)(double)) {
    return [make](const Args& a) { return make(number(a[0], a[1])); };
  };
  static const std::vector<RegularizerEntry> table = {
      {"l2", "lambda", "L2 penalty lambda/2 |w|^2 in the loss", one(make_l2_penalty)},
      {"weight-decay", "lambda", "decoupled weight decay w -= lr lambda w after each step", one(make_weight_decay)},
      {"l1", "lambda", "L1 penalty lambda |w|_1 in the loss", one(make_l1_penalty)},
      {"max-norm", "c", "rows of each weight matrix projected to norm <= c after each step", one(make_max_norm)},
      {"label-smoothing", "eps", "cross-entropy against (1 - eps) one-hot + eps uniform", one(make_label_smoothing)},
      {"activation-l1", "lambda", "lambda mean |a| of every ReLU output in the loss", one(make_activation_l1)},
      {"weight-noise", "sigma", "forward/backward at w + sigma z, step on w", one(make_weight_noise)},
      {"input-noise", "sigma", "x + sigma z on training inputs", one(make_input_noise)},
      {"early-stopping", "patience[,min_delta]", "stop when the test loss stops improving; restore the best",
       [](const Args& a) {
         const double patience = number(a[0], a[1]);
         MINIDL_CHECK(patience == std::floor(patience), "--reg {}: patience must be a whole number", a[0]);
         return make_early_stopping(static_cast<int64_t>(patience), a.size() > 2 ? number(a[0], a[2]) : 0.0);
       }},
      {"tie", "param_a,param_b", "parameters a and b kept equal, trained with the sum of their gradients",
       [](const Args& a) {
         MINIDL_CHECK(a.size() == 3, "--reg {}: expected tie:param_a,param_b", a[0]);
         return make_tie(a[1], a[2]);
       }},
  };
  return table;
}

std::string regularizer_names() {
  std::string names;
  for (const RegularizerEntry& e : regularizer_registry()) names += (names.empty() ? "" : ", ") + e.name;
  return names;
}

std::unique_ptr<Regularizer> make_regularizer(const std::string& spec) {
  const size_t colon = spec.find(':');
  const std::string name = spec.substr(0, colon);
  for (const RegularizerEntry& e : regularizer_registry()) {
    if (e.name != name) continue;
    MINIDL_CHECK(colon != std::string::npos && colon + 1 < spec.size(), "--reg {}: expected {}:{}", spec, name, e.args);
    std::vector<std::string> args{spec};
    for (size_t start = colon + 1;;) {
      const size_t comma = spec.find(',', start);
      args.push_back(spec.substr(start, comma == std::string::npos ? std::string::npos : comma - start));
      if (comma == std::string::npos) break;
      start = comma + 1;
    }
    const size_t expected = e.args.find(',') == std::string::npos ? 1 : 2;
    const bool optional_second = e.args.find('[') != std::string::npos;
    MINIDL_CHECK(args.size() - 1 == expected || (optional_second && args.size() - 1 == 1),
                 "--reg {}: expected {}:{}", spec, name, e.args);
    return e.make(args);
  }
  MINIDL_FAIL("--reg {}: unknown regularizer '{}': expected one of {}", spec, name, regularizer_names());
}

}  // namespace minidl
