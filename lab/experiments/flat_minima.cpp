// flat-minima: training with dropout is said to end in flatter minima of the original (no-dropout)
// loss, while the expected dropout loss, the objective dropout actually minimizes, can itself be
// sharper. Trains models/mlp.h's MLP with and without dropout until its eval-mode training loss
// reaches the same target, then estimates the top Hessian eigenvalue by power iteration on
// finite-difference Hessian-vector products in f64, H v = (g(theta + eps v) - g(theta - eps v)) /
// (2 eps), the gradients g from minidl's autograd over the whole training set. The expected dropout
// loss is averaged over a fixed set of masks (the training set repeated, one mask per copy, the
// dropout generator reset before each evaluation), so its Hessian is that of one fixed function.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <tuple>

#include "framework/autograd/grad_mode.h"
#include "framework/ops/ops.h"
#include "lab/classifier_training.h"
#include "lab/experiments/experiments.h"
#include "lab/stats.h"
#include "models/classifier.h"
#include "models/mlp.h"

namespace minidl::lab {

namespace {

constexpr double kDropP = 0.5;
constexpr double kTargetLoss = 0.2;
// The gradient of a ReLU net jumps where a pre-activation crosses zero; a difference quotient that
// straddles such a kink is off by ~|jump| / eps. eps = 1e-6 makes a crossing among the n x hidden
// pre-activations rare (at 1e-4 they made power iteration wander by a few percent), while in f64
// the rounding error, ~1e-16 |g| / eps, stays far below the eigenvalues.
constexpr double kEpsilon = 1e-6;
constexpr int64_t kSeeds = 3, kMaxEpochs = 200;
// Power iteration stops when the Rayleigh quotient changes by less than this fraction.
constexpr double kTolerance = 1e-4;
constexpr uint64_t kMaskStream = 5;

using Params = std::vector<Tensor>;

double dot(const Params& a, const Params& b) {
  double total = 0;
  for (size_t i = 0; i < a.size(); ++i) total += sum(mul(a[i], b[i])).item();
  return total;
}

Params scaled(const Params& a, double factor) {
  Params out;
  for (const Tensor& t : a) out.push_back(mul(t, factor));
  return out;
}

// Products with the Hessian of loss() at the model's parameters theta, by central differences of
// autograd gradients: H v = (g(theta + eps v) - g(theta - eps v)) / (2 eps). Restores theta at the end.
class FiniteDifferenceHessian {
 public:
  FiniteDifferenceHessian(Module& model, std::function<Tensor()> loss)
      : params_(model.parameters()), loss_(std::move(loss)) {
    for (const Tensor& p : params_) theta_.push_back(clone(p.detach()));
  }
  FiniteDifferenceHessian(const FiniteDifferenceHessian&) = delete;
  FiniteDifferenceHessian& operator=(const FiniteDifferenceHessian&) = delete;
  ~FiniteDifferenceHessian() { move_to(0.0, theta_); }

  Params operator()(const Params& v) const {
    const Params plus = gradient_at(kEpsilon, v), minus = gradient_at(-kEpsilon, v);
    Params hv;
    for (size_t i = 0; i < plus.size(); ++i) hv.push_back(mul(sub(plus[i], minus[i]), 1 / (2 * kEpsilon)));
    return hv;
  }

  // A unit vector of independent normal entries, shaped like the parameters.
  Params random_direction(Generator& gen) const {
    Params v;
    for (const Tensor& t : theta_)
      v.push_back(gaussian_noise(Tensor::zeros(t.shape(), t.dtype(), t.device()), 0, 1, gen));
    return scaled(v, 1 / std::sqrt(dot(v, v)));
  }

 private:
  void move_to(double t, const Params& v) const {
    NoGradGuard no_grad;
    for (size_t i = 0; i < params_.size(); ++i) copy_(params_[i], add(theta_[i], mul(v[i], t)));
  }
  Params gradient_at(double t, const Params& v) const {
    move_to(t, v);
    for (const Tensor& p : params_) p.set_grad(Tensor());
    loss_().backward();
    Params grads;
    for (const Tensor& p : params_) grads.push_back(p.grad().detach());
    return grads;
  }

  Params params_, theta_;
  std::function<Tensor()> loss_;
};

struct PowerIteration {
  double rayleigh = 0;         // v^T H v at the last unit vector v
  double norm = 0;             // |(H + shift I) v|: the estimate of its largest |eigenvalue|
  double relative_change = 0;  // of the Rayleigh quotient over the last step: how far it has converged
  int64_t iterations = 0;
};

// Power iteration on H + shift I from a random start, until the Rayleigh quotient of H changes by
// less than kTolerance or after max_iterations products.
PowerIteration power_iteration(const FiniteDifferenceHessian& hessian, double shift, int64_t max_iterations,
                               Generator& gen) {
  Params v = hessian.random_direction(gen);
  PowerIteration out;
  for (out.iterations = 1;; ++out.iterations) {
    Params hv = hessian(v);
    const double rayleigh = dot(v, hv);
    out.relative_change = std::abs(rayleigh - out.rayleigh) / std::abs(rayleigh);
    out.rayleigh = rayleigh;
    for (size_t i = 0; i < hv.size(); ++i) hv[i] = add(hv[i], mul(v[i], shift));
    out.norm = std::sqrt(dot(hv, hv));
    v = scaled(hv, 1 / out.norm);
    if (out.relative_change < kTolerance || out.iterations >= max_iterations) return out;
  }
}

struct Eigen {
  double top = 0;                // the largest eigenvalue
  double largest_magnitude = 0;  // the largest |eigenvalue|
  double relative_change = 0;    // of the last power iteration's last step
  int64_t iterations = 0;        // Hessian-vector products, both runs together
};

// Power iteration finds the eigenvalue of largest magnitude. When it does not settle on a positive
// one (a negative eigenvalue dominates, or a +/- pair of close magnitude makes it oscillate), it is
// repeated on H + |lambda|max I: the same eigenvectors, a spectrum >= 0, the top one H's largest.
Eigen top_eigenvalue(const FiniteDifferenceHessian& hessian, int64_t max_iterations, Generator& gen) {
  const PowerIteration first = power_iteration(hessian, 0.0, max_iterations, gen);
  Eigen eigen{first.rayleigh, first.norm, first.relative_change, first.iterations};
  if (first.relative_change < kTolerance && first.rayleigh > 0) return eigen;
  const PowerIteration shifted = power_iteration(hessian, first.norm, max_iterations, gen);
  eigen.top = shifted.rayleigh;
  eigen.relative_change = shifted.relative_change;
  eigen.iterations += shifted.iterations;
  return eigen;
}

struct Sizes {
  int64_t train, hidden, max_iterations, masks;
};

// One trained model's measurements.
struct Trained {
  double train_loss = 0, test_accuracy = 0, epochs = 0;
  bool reached_target = false;
  Eigen original;
  Eigen expected_dropout;  // the dropout model's only
};

Trained train_and_measure(double p, uint64_t seed, const Sizes& sizes, const ClassificationData& data,
                          const RunOptions& options) {
  Generator init_gen(seed, 0), dropout_gen(seed, 1), shuffle_gen(seed, 2), power_gen(seed, 3);
  Mlp model({.inputs = 784, .hidden = {sizes.hidden}, .classes = 10, .dropout = p}, init_gen, dropout_gen);
  model.to(options.device);
  Trained out;
  FitOptions fit;
  fit.epochs = kMaxEpochs, fit.batch_size = 64;
  fit.stop_after_epoch = [&](Module& m) {
    ++out.epochs;
    out.train_loss = evaluate_classifier(m, data.train_x, data.train_y, 1000).loss;
    return out.train_loss <= kTargetLoss;
  };
  fit_classifier(model, data.train_x, data.train_y, fit, shuffle_gen);
  out.reached_target = out.train_loss <= kTargetLoss;
  out.test_accuracy = evaluate_classifier(model, data.test_x, data.test_y, 1000).accuracy;

  model.to(DType::F64);
  const Tensor x = to_dtype(to_device(data.train_x, options.device), DType::F64);
  const Tensor y = to_device(data.train_y, options.device);
  model.eval();
  out.original = top_eigenvalue(FiniteDifferenceHessian(model, [&] { return cross_entropy(model(x), y); }),
                                sizes.max_iterations, power_gen);
  if (p > 0) {
    const Tensor x_masked = cat(std::vector<Tensor>(static_cast<size_t>(sizes.masks), x), 0);
    const Tensor y_masked = cat(std::vector<Tensor>(static_cast<size_t>(sizes.masks), y), 0);
    model.train();
    const auto expected_loss = [&] {
      // The same masks at every evaluation.
      dropout_gen.set_state(seed, kMaskStream, 0);
      return cross_entropy(model(x_masked), y_masked);
    };
    out.expected_dropout =
        top_eigenvalue(FiniteDifferenceHessian(model, expected_loss), sizes.max_iterations, power_gen);
  }
  return out;
}

void add_row(const std::string& model, uint64_t seed, const Trained& t, const char* loss, const Eigen& eigen,
             Result& result) {
  result.table.rows.push_back({model, static_cast<double>(seed), t.epochs, t.train_loss, t.test_accuracy, loss,
                               eigen.top, eigen.largest_magnitude, static_cast<double>(eigen.iterations),
                               eigen.relative_change});
}

MeanStd over_seeds(const std::vector<Trained>& runs, Eigen Trained::*which) {
  std::vector<double> tops;
  for (const Trained& t : runs) tops.push_back((t.*which).top);
  return mean_std(tops);
}

Result run(const RunOptions& options) {
  const Sizes sizes{options.pick<int64_t>(128, 1024, 4096), options.pick<int64_t>(16, 128, 256),
                    options.pick<int64_t>(3, 50, 100), options.pick<int64_t>(2, 4, 16)};
  const ClassificationData data = fashion_mnist_subset(sizes.train, options.pick<int64_t>(128, 2000, 10000));
  std::vector<Trained> plain, dropped;
  for (int64_t k = 0; k < kSeeds; ++k) {
    const uint64_t seed = options.seed + static_cast<uint64_t>(k);
    plain.push_back(train_and_measure(0.0, seed, sizes, data, options));
    dropped.push_back(train_and_measure(kDropP, seed, sizes, data, options));
  }
  Result result;
  result.table.columns = {"model", "seed",           "epochs",        "eval train loss", "test accuracy",
                          "loss",  "top eigenvalue", "largest |eig|", "iterations",      "last change"};
  for (size_t k = 0; k < plain.size(); ++k)
    add_row("no dropout", options.seed + k, plain[k], "original", plain[k].original, result);
  for (size_t k = 0; k < dropped.size(); ++k) {
    const std::string name = fmt::format("dropout p = {}", kDropP);
    add_row(name, options.seed + k, dropped[k], "original", dropped[k].original, result);
    add_row(name, options.seed + k, dropped[k], "expected dropout", dropped[k].expected_dropout, result);
  }
  const MeanStd plain_sharpness = over_seeds(plain, &Trained::original);
  const MeanStd dropout_sharpness = over_seeds(dropped, &Trained::original);
  const MeanStd expected_sharpness = over_seeds(dropped, &Trained::expected_dropout);
  const double flatter_margin = plain_sharpness.mean - dropout_sharpness.mean;
  const double flatter_spread = std::hypot(plain_sharpness.std, dropout_sharpness.std);
  const double sharper_margin = expected_sharpness.mean - dropout_sharpness.mean;
  const double sharper_spread = std::hypot(expected_sharpness.std, dropout_sharpness.std);
  // Per seed, at the same parameters; reported, not the criterion (fixed above).
  std::vector<double> differences;
  for (const Trained& t : dropped) differences.push_back(t.expected_dropout.top - t.original.top);
  const MeanStd paired = mean_std(differences);
  bool all_reached = true;
  for (const auto* runs : {&plain, &dropped})
    for (const Trained& t : *runs) all_reached = all_reached && t.reached_target;

  Plot plot{fmt::format("Top Hessian eigenvalue at eval train loss <= {}", kTargetLoss),
            "seed",
            "top eigenvalue",
            false,
            false,
            {}};
  for (const auto& [label, runs, which] :
       {std::tuple{"no dropout: original loss", &plain, &Trained::original},
        std::tuple{"dropout: original loss", &dropped, &Trained::original},
        std::tuple{"dropout: expected dropout loss", &dropped, &Trained::expected_dropout}}) {
    Series series{label, {}, {}, true};
    for (size_t k = 0; k < runs->size(); ++k)
      series.x.push_back(static_cast<double>(options.seed + k)), series.y.push_back(((*runs)[k].*which).top);
    plot.series.push_back(series);
  }
  result.plots.push_back(plot);
  result.numbers = {{"top_eig_original_no_dropout_mean", plain_sharpness.mean},
                    {"top_eig_original_no_dropout_std", plain_sharpness.std},
                    {"top_eig_original_dropout_mean", dropout_sharpness.mean},
                    {"top_eig_original_dropout_std", dropout_sharpness.std},
                    {"top_eig_expected_dropout_loss_mean", expected_sharpness.mean},
                    {"top_eig_expected_dropout_loss_std", expected_sharpness.std},
                    {"flatter_margin", flatter_margin},
                    {"flatter_spread", flatter_spread},
                    {"sharper_margin", sharper_margin},
                    {"sharper_spread", sharper_spread},
                    {"expected_minus_original_at_dropout_model_mean", paired.mean},
                    {"expected_minus_original_at_dropout_model_std", paired.std},
                    {"all_reached_target", all_reached ? 1.0 : 0.0}};
  const bool flatter = all_reached && flatter_margin > flatter_spread, sharper = sharper_margin > sharper_spread;
  result.verdict = !flatter ? Verdict::NotConfirmed : sharper ? Verdict::Confirmed : Verdict::ConfirmedUnderConditions;
  result.reason = fmt::format(
      "{}top eigenvalue of the original loss: no dropout {:.3f} ± {:.3f}, dropout {:.3f} ± {:.3f} (dropout {} by "
      "{:.3f}, combined spread {:.3f}); expected dropout loss at the dropout model {:.3f} ± {:.3f}, {} than its "
      "original loss by more than the spread {:.3f} (paired difference per seed {:.3f} ± {:.3f})",
      all_reached ? ""
                  : fmt::format("not every model reached the target loss {} in {} epochs; ", kTargetLoss, kMaxEpochs),
      plain_sharpness.mean, plain_sharpness.std, dropout_sharpness.mean, dropout_sharpness.std,
      flatter_margin > 0 ? "flatter" : "sharper", std::abs(flatter_margin), flatter_spread, expected_sharpness.mean,
      expected_sharpness.std, sharper ? "sharper" : "not sharper", sharper_spread, paired.mean, paired.std);
  return result;
}

}  // namespace

Experiment flat_minima_experiment() {
  return {
      "flat-minima",
      "Training with dropout ends in flatter minima of the original (no-dropout) loss, even though the expected "
      "dropout loss itself can be sharper.",
      {"000", "003"},
      "MLP 784-128-10 on 1024 Fashion-MNIST images (Adam, batch 64), without dropout and with dropout p = 0.5 on the "
      "hidden layer, each trained until its eval-mode training loss is <= 0.2 (checked after each epoch), 3 seeds; top "
      "Hessian eigenvalue by power iteration (until the Rayleigh quotient changes by < 1e-4, at most 50 steps; "
      "repeated on H + |lambda|max I if it does not settle on a positive eigenvalue) on f64 "
      "central-difference Hessian-vector products (eps 1e-6) over the whole training set. Flatter: the dropout model's "
      "eigenvalue of the original loss is below the no-dropout model's by more than the combined std over seeds. "
      "Sharper: at the dropout model, the eigenvalue of the expected dropout loss (4 fixed masks per image) exceeds "
      "that of the original loss by more than the combined std. Confirmed if both, under conditions if only flatter",
      run};
}

}  // namespace minidl::lab
