// Classifiers for the lab's trained experiments: a Fashion-MNIST subset, loaded once per process,
// and a plain mini-batch loop with the hooks experiments vary (a perturbation of the inputs, a
// constraint after each step). `minidl train` has the full loop (schedules, checkpoints, logs);
// an experiment needs only this much, and keeps its runs short enough for `minidl lab all`.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "framework/core/tensor.h"
#include "framework/nn/module.h"
#include "framework/random/generator.h"

namespace minidl::lab {

struct ClassificationData {
  Tensor train_x, train_y, test_x, test_y;  // CPU: f32 rows [N, 784], i64 labels [N]
};

// The first train_size training and test_size test images of Fashion-MNIST from the Debian
// package's directory (kDefaultFashionMnistDir), normalized as `minidl train` does.
ClassificationData fashion_mnist_subset(int64_t train_size, int64_t test_size);

struct LabeledRows {
  Tensor x, y;  // CPU: f32 rows [N, features], i64 labels [N]
};
// The rows of (x, y) whose label passes `keep`, in their order, e.g. some classes held out.
LabeledRows rows_with_labels(const Tensor& x, const Tensor& y, const std::function<bool(int64_t label)>& keep);

struct FitOptions {
  int64_t epochs = 5;
  int64_t batch_size = 128;
  double learning_rate = 1e-3;  // Adam
  // Applied to each training batch on the model's device before the forward pass; none if empty.
  std::function<Tensor(const Tensor&)> transform_inputs = {};
  // Called after each optimizer step, e.g. a max-norm projection; none if empty.
  std::function<void(Module&)> after_step = {};
  // Called after each epoch (leaving the model's mode as it found it, as evaluate_classifier does);
  // training ends early once it returns true, e.g. at a target loss. None if empty.
  std::function<bool(Module&)> stop_after_epoch = {};
};

// Trains the model (in train mode) with Adam on cross-entropy over mini-batches shuffled by
// shuffle_gen for options.epochs epochs, fewer if stop_after_epoch says so; returns the mean
// training loss of the last epoch.
double fit_classifier(Module& model, const Tensor& inputs, const Tensor& labels, const FitOptions& options,
                      Generator& shuffle_gen);

// Softmax probabilities [N, classes] on the CPU as doubles, row-major, from batches of the
// model's forward pass in its current mode (eval: deterministic; train: one dropout sample).
std::vector<double> predicted_probabilities(Module& model, const Tensor& inputs, int64_t batch_size = 1000);

// MC dropout: the model in eval mode with its dropout layers kept active (set_mc_sampling),
// `samples` forward passes; per input and class the mean and the variance (over the samples, 1/T)
// of the softmax output, [N, classes] row-major. after_sample(t, mean of the first t samples), if
// given, runs after each pass: the means for every t come from one sequence of draws.
struct McProbabilities {
  std::vector<double> mean, variance;
};
McProbabilities mc_dropout_probabilities(
    Module& model, const Tensor& inputs, int64_t samples,
    const std::function<void(int64_t t, const std::vector<double>& running_mean)>& after_sample = nullptr);

// The fraction of rows of probabilities [N, classes] whose argmax equals the label.
double accuracy_of(const std::vector<double>& probabilities, const Tensor& labels);

}  // namespace minidl::lab
