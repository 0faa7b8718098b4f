// Regularizers that act on a training step rather than inside a layer: penalties added to the
// loss, constraints applied after the optimizer step, noise on inputs or weights, label
// smoothing, early stopping and parameter tying. Each overrides the hooks it needs; the training
// loop (tools/minidl/train.cpp) calls every hook of every selected regularizer in this order:
//
//   attach (once) -> per step: transform_input, before_forward, forward, loss + penalty, backward,
//   after_backward, optimizer step, after_step -> per evaluation: after_evaluation
//
// regularizer_registry() names them for `minidl train --reg NAME:args` (docs/extending.md).
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "framework/nn/module.h"
#include "framework/random/generator.h"

namespace minidl {

class Regularizer {
 public:
  virtual ~Regularizer() = default;
  virtual void attach(Module& /*model*/) {}
  virtual Tensor transform_input(const Tensor& x, Generator& /*gen*/) { return x; }
  virtual void before_forward(Module& /*model*/, Generator& /*gen*/) {}
  virtual Tensor penalty(Module& /*model*/) { return {}; }  // undefined: none
  virtual void after_backward(Module& /*model*/) {}
  virtual void after_step(Module& /*model*/, double /*lr*/) {}
  virtual double label_smoothing() const { return 0; }
  // After an evaluation with this validation loss; true stops training.
  virtual bool after_evaluation(Module& /*model*/, double /*validation_loss*/) { return false; }
};

// The weights a penalty or constraint applies to: parameters with two or more dims (biases and
// scalars such as a learned dropout rate are left alone, as is customary).
std::vector<Tensor> weight_matrices(const Module& model);

// L2 penalty (coupled): loss += lambda / 2 * sum w^2, so the gradient gains lambda * w.
std::unique_ptr<Regularizer> make_l2_penalty(double lambda);
// Decoupled weight decay (Loshchilov & Hutter 2019): after each step w -= lr * lambda * w.
std::unique_ptr<Regularizer> make_weight_decay(double lambda);
// L1 penalty: loss += lambda * sum |w| (subgradient 0 at 0).
std::unique_ptr<Regularizer> make_l1_penalty(double lambda);
// Max-norm constraint (Srebro et al. 2005; Srivastava et al. 2014): after each step every row of
// every weight matrix (a unit's incoming weights) with norm above c is scaled back to norm c.
std::unique_ptr<Regularizer> make_max_norm(double c);
// Label smoothing eps in the cross-entropy.
std::unique_ptr<Regularizer> make_label_smoothing(double eps);
// Activation L1 (sparse representations): loss += lambda * mean |a| over each ReLU's output.
std::unique_ptr<Regularizer> make_activation_l1(double lambda);
// Weight noise (Graves 2011): the forward and backward passes see w + sigma z; the step applies
// the gradient to the clean weights.
std::unique_ptr<Regularizer> make_weight_noise(double sigma);
// Input noise: x + sigma z on every training input.
std::unique_ptr<Regularizer> make_input_noise(double sigma);
// Early stopping: stop when the validation loss has not improved by more than min_delta for
// `patience` evaluations, and restore the parameters of the best one.
std::unique_ptr<Regularizer> make_early_stopping(int64_t patience, double min_delta);
// Parameter tying: parameters `a` and `b` (same shape) start equal and both receive the sum of
// their gradients, so they stay equal: one parameter used in two places.
std::unique_ptr<Regularizer> make_tie(std::string a, std::string b);

struct RegularizerEntry {
  std::string name;
  std::string args;  // what NAME:args takes
  std::string summary;
  std::function<std::unique_ptr<Regularizer>(const std::vector<std::string>& args)> make;
};
const std::vector<RegularizerEntry>& regularizer_registry();
// "NAME:arg,arg" -> the regularizer; errors name the spec and what was expected.
std::unique_ptr<Regularizer> make_regularizer(const std::string& spec);
std::string regularizer_names();

}  // namespace minidl
