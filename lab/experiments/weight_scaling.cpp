// weight-scaling: the test-time network without dropout (weight scaling; with inverted dropout,
// eval mode) is the normalized geometric mean of all 2^d dropout sub-models exactly for softmax
// regression, since sum_m P(m) log softmax(W (m x) / (1 - p) + b) = W x + b - (terms equal for every
// class); for a deep ReLU network it only approximates the MC average E_m[softmax(f_m(x))] (a
// Jensen gap). (a) enumerates every mask of a softmax regression on d projected Fashion-MNIST
// features in f64; (b) compares an MLP's eval-mode accuracy with MC averages of T dropout samples.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cmath>
#include <numbers>

#include "framework/ops/ops.h"
#include "lab/classifier_training.h"
#include "lab/experiments/experiments.h"
#include "lab/stats.h"
#include "models/mlp.h"

namespace minidl::lab {

namespace {

constexpr double kMaxExactDifference = 1e-6;
constexpr double kMaxAccuracyGap = 0.01;
constexpr double kGapOverNoise = 2.0;
constexpr int kSeeds = 3;

struct Sizes {
  int64_t train, test, epochs, features, exact_rows, mc_samples;
  std::vector<int64_t> hidden;
};

// Every binary mask of d units [2^d, d] (row m holds the bits of m) and its probability under
// dropout with rate p, [1, 2^d], in f64.
std::pair<Tensor, Tensor> all_masks(int64_t d, double p) {
  const int64_t count = int64_t{1} << d;
  std::vector<double> bits(static_cast<size_t>(count * d)), probability(static_cast<size_t>(count));
  for (int64_t m = 0; m < count; ++m) {
    double pm = 1;
    for (int64_t j = 0; j < d; ++j) {
      const bool kept = (m >> j) & 1;
      bits[static_cast<size_t>(m * d + j)] = kept;
      pm *= kept ? 1 - p : p;
    }
    probability[static_cast<size_t>(m)] = pm;
  }
  return {Tensor::from_vector(bits, {count, d}), Tensor::from_vector(probability, {1, count})};
}

struct ExactGaps {
  double geometric = 0, arithmetic = 0;  // max |weight-scaled - ensemble| over inputs and classes
};

// Softmax regression (an Mlp without hidden layers) trained with input dropout p on d features
// (a fixed random projection of the pixels); its eval-mode prediction against the normalized
// geometric mean and the arithmetic mean of all 2^d sub-models, in f64.
ExactGaps softmax_regression_gaps(const ClassificationData& data, const Sizes& sizes, double p,
                                  const RunOptions& options) {
  const int64_t d = sizes.features;
  Generator projection_gen(options.seed, 4), init_gen(options.seed, 0), shuffle_gen(options.seed, 2),
      input_gen(options.seed, 3);
  const Tensor projection =
      gaussian_noise(Tensor::zeros({784, d}), 0.0, 1.0 / std::sqrt(784.0), projection_gen);  // unit-scale features
  const Tensor train_x = matmul(data.train_x, projection);
  Mlp model({.inputs = d, .hidden = {}, .classes = 10, .dropout = 0.0}, init_gen);
  model.to(options.device);
  fit_classifier(model, train_x, data.train_y,
                 {.epochs = sizes.epochs,
                  .learning_rate = 1e-2,
                  .transform_inputs = [&](const Tensor& x) { return dropout(x, p, true, input_gen); }},
                 shuffle_gen);
  model.eval();
  const std::vector<Tensor> params = model.parameters();  // layers.0.weight [10, d], layers.0.bias [10]
  const Tensor weight_t = transpose(to_dtype(to_device(params[0], kCPU), DType::F64), 0, 1);
  const Tensor bias = to_dtype(to_device(params[1], kCPU), DType::F64);
  const auto [masks, mask_probability] = all_masks(d, p);
  const Tensor test_x = to_dtype(matmul(slice(data.test_x, 0, 0, sizes.exact_rows), projection), DType::F64);
  ExactGaps gaps;
  for (int64_t i = 0; i < sizes.exact_rows; ++i) {
    const Tensor x = slice(test_x, 0, i, i + 1);  // [1, d]
    const std::vector<double> scaled = host_values(softmax(add(matmul(x, weight_t), bias), 1));
    // Sub-model m sees inverted dropout's input m x / (1 - p).
    const Tensor logits = add(matmul(mul(masks, mul(x, 1.0 / (1 - p))), weight_t), bias);  // [2^d, 10]
    const std::vector<double> geometric = host_values(softmax(matmul(mask_probability, log_softmax(logits, 1)), 1));
    const std::vector<double> arithmetic = host_values(matmul(mask_probability, softmax(logits, 1)));
    for (size_t k = 0; k < scaled.size(); ++k) {
      gaps.geometric = std::max(gaps.geometric, std::abs(scaled[k] - geometric[k]));
      gaps.arithmetic = std::max(gaps.arithmetic, std::abs(scaled[k] - arithmetic[k]));
    }
  }
  return gaps;
}

double mean_abs_difference(const std::vector<double>& a, const std::vector<double>& b) {
  double sum = 0;
  for (size_t i = 0; i < a.size(); ++i) sum += std::abs(a[i] - b[i]);
  return sum / static_cast<double>(a.size());
}

// One seed of (b): accuracy of weight scaling, and per T in `counts` the accuracy of the MC
// average of the first T samples and its mean |p_ws - p_mc| over inputs and classes.
struct McCurve {
  double scaled_accuracy = 0;
  std::vector<double> mc_accuracy, gap;
  double noise = 0;  // the mean |p_ws - p_mc| that MC sampling alone gives at the last T
};

McCurve mlp_curve(const ClassificationData& data, const Sizes& sizes, const std::vector<int64_t>& counts, uint64_t seed,
                  Device device) {
  Generator init_gen(seed, 0), dropout_gen(seed, 1), shuffle_gen(seed, 2);
  Mlp model({.inputs = 784, .hidden = sizes.hidden, .classes = 10, .dropout = 0.5}, init_gen, dropout_gen);
  model.to(device);
  fit_classifier(model, data.train_x, data.train_y, {.epochs = sizes.epochs}, shuffle_gen);
  model.eval();
  McCurve curve;
  const std::vector<double> scaled = predicted_probabilities(model, data.test_x);
  curve.scaled_accuracy = accuracy_of(scaled, data.test_y);
  const McProbabilities mc =
      mc_dropout_probabilities(model, data.test_x, counts.back(), [&](int64_t t, const std::vector<double>& mean) {
        if (std::find(counts.begin(), counts.end(), t) == counts.end()) return;
        curve.mc_accuracy.push_back(accuracy_of(mean, data.test_y));
        curve.gap.push_back(mean_abs_difference(scaled, mean));
      });
  // With no gap, |p_ws - p_mc| would be |N(0, var / T)|, of mean sqrt(2 / pi) sd / sqrt(T).
  for (double v : mc.variance) curve.noise += std::sqrt(2 / std::numbers::pi * v / static_cast<double>(counts.back()));
  curve.noise /= static_cast<double>(mc.variance.size());
  return curve;
}

// Means over seeds at the last T; the table rows and plots of (b) go into result.
struct McSummary {
  MeanStd scaled_accuracy, mc_accuracy, gap, noise;
};

McSummary tabulate(const std::vector<McCurve>& curves, const std::vector<int64_t>& counts,
                   const std::vector<int64_t>& hidden, Result& result) {
  const auto over_seeds = [&](auto field) {
    std::vector<double> values;
    for (const McCurve& c : curves) values.push_back(field(c));
    return mean_std(values);
  };
  McSummary summary;
  summary.scaled_accuracy = over_seeds([](const McCurve& c) { return c.scaled_accuracy; });
  summary.noise = over_seeds([](const McCurve& c) { return c.noise; });
  result.table.columns = {"T", "MC accuracy", "MC accuracy std", "mean |p_ws - p_MC|", "std"};
  Series mc{"MC average of T samples", {}, {}, true}, scaled{"weight scaling (eval mode)", {}, {}, false};
  Series gap{"mean |p_ws - p_MC(T)|", {}, {}, true}, noise{"MC noise alone, sqrt(2/pi) sd/sqrt(T)", {}, {}, false};
  for (size_t i = 0; i < counts.size(); ++i) {
    const double t = static_cast<double>(counts[i]);
    summary.mc_accuracy = over_seeds([&](const McCurve& c) { return c.mc_accuracy[i]; });
    summary.gap = over_seeds([&](const McCurve& c) { return c.gap[i]; });
    result.table.rows.push_back(
        {t, summary.mc_accuracy.mean, summary.mc_accuracy.std, summary.gap.mean, summary.gap.std});
    mc.x.push_back(t), mc.y.push_back(summary.mc_accuracy.mean);
    scaled.x.push_back(t), scaled.y.push_back(summary.scaled_accuracy.mean);
    gap.x.push_back(t), gap.y.push_back(summary.gap.mean);
    noise.x.push_back(t);
    noise.y.push_back(summary.noise.mean * std::sqrt(static_cast<double>(counts.back()) / t));
  }
  result.table.rows.push_back({"weight scaling", summary.scaled_accuracy.mean, summary.scaled_accuracy.std, "", ""});
  result.plots.push_back({fmt::format("MLP {} hidden units, p = 0.5, {} seeds", fmt::join(hidden, "-"), kSeeds),
                          "MC samples T",
                          "test accuracy",
                          true,
                          false,
                          {scaled, mc}});
  result.plots.push_back(
      {"Jensen gap: weight scaling vs MC average", "MC samples T", "mean |p_ws - p_MC|", true, true, {gap, noise}});
  return summary;
}

Result run(const RunOptions& options) {
  const Sizes sizes = options.pick<Sizes>({200, 100, 1, 6, 20, 8, {16, 16}}, {4000, 1000, 5, 12, 200, 256, {256, 256}},
                                          {20000, 10000, 10, 12, 1000, 256, {512, 512}});
  const ClassificationData data = fashion_mnist_subset(sizes.train, sizes.test);
  ExactGaps exact;
  for (double p : {0.2, 0.5}) {
    const ExactGaps gaps = softmax_regression_gaps(data, sizes, p, options);
    exact.geometric = std::max(exact.geometric, gaps.geometric);
    exact.arithmetic = std::max(exact.arithmetic, gaps.arithmetic);
  }
  std::vector<int64_t> counts;  // T = 1, 2, 4, ...
  for (int64_t t = 1; t <= sizes.mc_samples; t *= 2) counts.push_back(t);
  std::vector<McCurve> curves;
  for (int s = 0; s < kSeeds; ++s) curves.push_back(mlp_curve(data, sizes, counts, options.seed + s, options.device));

  Result result;
  const McSummary mlp = tabulate(curves, counts, sizes.hidden, result);
  const double accuracy_gap = std::abs(mlp.scaled_accuracy.mean - mlp.mc_accuracy.mean);
  result.numbers = {{"softmax_regression_max_abs_diff_geometric_mean", exact.geometric},
                    {"softmax_regression_max_abs_diff_arithmetic_mean", exact.arithmetic},
                    {"mlp_weight_scaling_accuracy_mean", mlp.scaled_accuracy.mean},
                    {"mlp_weight_scaling_accuracy_std", mlp.scaled_accuracy.std},
                    {"mlp_mc_accuracy_mean_T_max", mlp.mc_accuracy.mean},
                    {"mlp_mc_accuracy_std_T_max", mlp.mc_accuracy.std},
                    {"mlp_mean_abs_p_gap_T_max", mlp.gap.mean},
                    {"mlp_mc_noise_level_T_max", mlp.noise.mean}};
  const bool exact_ok = exact.geometric < kMaxExactDifference, close = accuracy_gap <= kMaxAccuracyGap;
  const bool gap_real = mlp.gap.mean > kGapOverNoise * mlp.noise.mean;
  result.verdict = exact_ok && close && gap_real ? Verdict::Confirmed : Verdict::NotConfirmed;
  result.reason = fmt::format(
      "softmax regression: weight scaling equals the normalized geometric mean of all 2^{} sub-models to {:.1e} "
      "({} 1e-6; the arithmetic mean differs by up to {:.3f}); MLP: weight-scaling accuracy {:.4f} +- {:.4f} vs MC "
      "average of {} samples {:.4f} +- {:.4f} (difference {:.4f}, {} 0.01), mean |p_ws - p_MC| {:.4f} vs {:.4f} from "
      "MC noise alone ({} 2x: {})",
      sizes.features, exact.geometric, exact_ok ? "<" : ">=", exact.arithmetic, mlp.scaled_accuracy.mean,
      mlp.scaled_accuracy.std, counts.back(), mlp.mc_accuracy.mean, mlp.mc_accuracy.std, accuracy_gap,
      close ? "<=" : ">", mlp.gap.mean, mlp.noise.mean,
      gap_real ? ">" : "<=", gap_real ? "a real Jensen gap" : "no gap resolved");
  return result;
}

}  // namespace

Experiment weight_scaling_experiment() {
  return {"weight-scaling",
          "Weight scaling (the test-time network without dropout) equals the normalized geometric-mean ensemble of "
          "all dropout sub-models exactly for softmax regression; for deep ReLU networks it only approximates the "
          "MC average of the sub-models' predictions (a Jensen gap).",
          {"000", "001"},
          "(a) softmax regression on 12 projected Fashion-MNIST features trained with input dropout p in {0.2, 0.5}: "
          "max |eval-mode prediction - normalized geometric mean over all 2^12 masks| < 1e-6 on 200 test images "
          "(f64); (b) MLP 784-256-256-10 with dropout 0.5, 3 seeds, 1000 test images: |weight-scaling accuracy - "
          "accuracy of the MC average of 256 samples| <= 0.01 (means over seeds), and the mean |p_ws - p_MC| at "
          "T = 256 above twice what MC noise alone gives (the approximation is not exact)",
          run};
}

}  // namespace minidl::lab
