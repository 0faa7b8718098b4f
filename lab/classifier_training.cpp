#include "lab/classifier_training.h"

#include <algorithm>
#include <mutex>

#include "framework/autograd/grad_mode.h"
#include "framework/core/check.h"
#include "framework/io/data_loader.h"
#include "framework/io/fashion_mnist.h"
#include "framework/ops/ops.h"
#include "framework/optim/optimizers.h"
#include "framework/regularize/dropout_layers.h"

namespace minidl::lab {

namespace {

// Decompressing the 70000 images takes a while; every experiment of a `lab all` run shares them.
const Dataset& cached_fashion_mnist(bool train) {
  static std::mutex mutex;
  static Dataset train_set, test_set;
  const std::lock_guard lock(mutex);
  Dataset& set = train ? train_set : test_set;
  if (!set.images.defined()) set = load_fashion_mnist(kDefaultFashionMnistDir, train);
  return set;
}

std::pair<Tensor, Tensor> first_rows(const Dataset& set, int64_t n) {
  MINIDL_CHECK(n > 0 && n <= set.images.size(0), "lab: asked for {} Fashion-MNIST rows of {}", n, set.images.size(0));
  return {slice(set.images, 0, 0, n), slice(set.labels, 0, 0, n)};
}

}  // namespace

ClassificationData fashion_mnist_subset(int64_t train_size, int64_t test_size) {
  const auto [train_x, train_y] = first_rows(cached_fashion_mnist(true), train_size);
  const auto [test_x, test_y] = first_rows(cached_fashion_mnist(false), test_size);
  return {train_x, train_y, test_x, test_y};
}

LabeledRows rows_with_labels(const Tensor& x, const Tensor& y, const std::function<bool(int64_t label)>& keep) {
  const std::vector<float> values = contiguous(to_device(x, kCPU)).to_vector<float>();
  const std::vector<int64_t> labels = contiguous(to_device(y, kCPU)).to_vector<int64_t>();
  const size_t features = labels.empty() ? 0 : values.size() / labels.size();
  std::vector<float> kept_values;
  std::vector<int64_t> kept_labels;
  for (size_t i = 0; i < labels.size(); ++i) {
    if (!keep(labels[i])) continue;
    kept_labels.push_back(labels[i]);
    kept_values.insert(kept_values.end(), values.begin() + static_cast<std::ptrdiff_t>(i * features),
                       values.begin() + static_cast<std::ptrdiff_t>((i + 1) * features));
  }
  const auto n = static_cast<int64_t>(kept_labels.size());
  MINIDL_CHECK(n > 0, "lab: no row of {} has a label to keep", labels.size());
  return {Tensor::from_vector(kept_values, {n, static_cast<int64_t>(features)}), Tensor::from_vector(kept_labels, {n})};
}

double fit_classifier(Module& model, const Tensor& inputs, const Tensor& labels, const FitOptions& options,
                      Generator& shuffle_gen) {
  MINIDL_CHECK(options.epochs > 0, "lab: {} epochs, expected at least 1", options.epochs);
  const Device device = model.device();
  DataLoader loader(inputs, labels, options.batch_size, true, shuffle_gen);
  Adam optimizer(model.parameters(), {.lr = options.learning_rate});
  model.train();
  double loss_sum = 0;
  for (int64_t epoch = 0; epoch < options.epochs; ++epoch) {
    loader.start_epoch();
    loss_sum = 0;
    for (int64_t b = 0; b < loader.num_batches(); ++b) {
      const DataLoader::Batch batch = loader.batch(b);
      Tensor x = to_device(batch.inputs, device);
      if (options.transform_inputs) x = options.transform_inputs(x);
      optimizer.zero_grad();
      Tensor loss = cross_entropy(model(x), to_device(batch.targets, device));
      loss.backward();
      optimizer.step();
      if (options.after_step) options.after_step(model);
      loss_sum += loss.item();
    }
    if (options.stop_after_epoch && options.stop_after_epoch(model)) break;
  }
  return loss_sum / static_cast<double>(loader.num_batches());
}

std::vector<double> predicted_probabilities(Module& model, const Tensor& inputs, int64_t batch_size) {
  NoGradGuard no_grad;
  std::vector<double> probabilities;
  for (int64_t start = 0; start < inputs.size(0); start += batch_size) {
    const Tensor x = to_device(slice(inputs, 0, start, std::min(inputs.size(0), start + batch_size)), model.device());
    const Tensor p = to_dtype(to_device(softmax(model(x), 1), kCPU), DType::F64);
    const std::vector<double> values = contiguous(p).to_vector<double>();
    probabilities.insert(probabilities.end(), values.begin(), values.end());
  }
  return probabilities;
}

McProbabilities mc_dropout_probabilities(
    Module& model, const Tensor& inputs, int64_t samples,
    const std::function<void(int64_t t, const std::vector<double>& running_mean)>& after_sample) {
  MINIDL_CHECK(samples >= 1, "lab: {} MC dropout samples, expected at least 1", samples);
  const bool was_training = model.is_training();
  model.eval();
  set_mc_sampling(model, true);
  std::vector<double> sum, sum_squares, running_mean;
  for (int64_t t = 1; t <= samples; ++t) {
    const std::vector<double> p = predicted_probabilities(model, inputs);
    if (sum.empty()) sum.assign(p.size(), 0.0), sum_squares.assign(p.size(), 0.0), running_mean.resize(p.size());
    for (size_t i = 0; i < p.size(); ++i) {
      sum[i] += p[i];
      sum_squares[i] += p[i] * p[i];
      running_mean[i] = sum[i] / static_cast<double>(t);
    }
    if (after_sample) after_sample(t, running_mean);
  }
  set_mc_sampling(model, false);
  model.train(was_training);
  McProbabilities result{running_mean, std::vector<double>(sum.size())};
  for (size_t i = 0; i < sum.size(); ++i)
    result.variance[i] =
        std::max(0.0, sum_squares[i] / static_cast<double>(samples) - running_mean[i] * running_mean[i]);
  return result;
}

double accuracy_of(const std::vector<double>& probabilities, const Tensor& labels) {
  const std::vector<int64_t> truth = to_device(labels, kCPU).to_vector<int64_t>();
  const size_t n = truth.size();
  MINIDL_CHECK(n > 0 && probabilities.size() % n == 0, "lab: {} probabilities for {} labels", probabilities.size(), n);
  const size_t classes = probabilities.size() / n;
  int64_t correct = 0;
  for (size_t i = 0; i < n; ++i) {
    const auto row = probabilities.begin() + static_cast<std::ptrdiff_t>(i * classes);
    correct += std::max_element(row, row + static_cast<std::ptrdiff_t>(classes)) - row == truth[i];
  }
  return static_cast<double>(correct) / static_cast<double>(n);
}

}  // namespace minidl::lab
