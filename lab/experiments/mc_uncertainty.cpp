// mc-uncertainty: with dropout kept on at test time (MC dropout, Gal & Ghahramani 2016) the
// spread of a network's predictions is larger on inputs unlike its training data. An MLP learns
// Fashion-MNIST classes 0-4 (T-shirt, trouser, pullover, dress, coat); its MC predictive entropy
// and MC variance on test images of those classes are compared with the held-out classes 5-9
// (sandal, shirt, sneaker, bag, ankle boot) and with uniform-noise images, by AUROC.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "framework/io/fashion_mnist.h"
#include "framework/ops/ops.h"
#include "lab/classifier_training.h"
#include "lab/experiments/experiments.h"
#include "lab/stats.h"
#include "models/mlp.h"

namespace minidl::lab {

namespace {

constexpr int kSeeds = 3;
constexpr int64_t kKnownClasses = 5;
constexpr double kMinAuroc = 0.7, kDropout = 0.5;

struct Sizes {
  int64_t train_pool, test_pool, epochs, samples;
  std::vector<int64_t> hidden;
};

// Per-input uncertainty scores of one set of inputs.
struct Scores {
  std::vector<double> mc_entropy, mc_variance, eval_entropy;
};

std::vector<double> row_entropies(const std::vector<double>& probabilities, int64_t classes) {
  std::vector<double> entropies;
  for (size_t row = 0; row < probabilities.size(); row += static_cast<size_t>(classes)) {
    entropies.push_back(entropy(probabilities.data() + row, classes));
  }
  return entropies;
}

// Per row of [N, classes] values, their mean over the classes.
std::vector<double> row_means(const std::vector<double>& values, int64_t classes) {
  std::vector<double> means;
  for (size_t row = 0; row < values.size(); row += static_cast<size_t>(classes)) {
    double sum = 0;
    for (int64_t k = 0; k < classes; ++k) sum += values[row + static_cast<size_t>(k)];
    means.push_back(sum / static_cast<double>(classes));
  }
  return means;
}

Scores scores_of(Mlp& model, const Tensor& inputs, int64_t samples) {
  const McProbabilities mc = mc_dropout_probabilities(model, inputs, samples);
  return {row_entropies(mc.mean, kKnownClasses), row_means(mc.variance, kKnownClasses),
          row_entropies(predicted_probabilities(model, inputs), kKnownClasses)};
}

// Uniform pixel values in [0, 1], normalized like the dataset.
Tensor noise_images(int64_t n, Generator& gen) {
  return mul(add(rand({n, 784}, DType::F32, kCPU, gen), -kFashionMnistMean), 1.0 / kFashionMnistStd);
}

// The ROC curve of a score (false-positive rate, true-positive rate), thresholds from high to low,
// thinned to about `points` points for the plot.
std::pair<std::vector<double>, std::vector<double>> roc_curve(std::vector<double> negatives,
                                                              std::vector<double> positives, size_t points) {
  std::sort(negatives.rbegin(), negatives.rend());
  std::sort(positives.rbegin(), positives.rend());
  std::vector<double> fpr{0}, tpr{0};
  const size_t total = negatives.size() + positives.size(), stride = std::max<size_t>(1, total / points);
  size_t i = 0, j = 0;
  while (i < negatives.size() || j < positives.size()) {
    const bool take_positive = j < positives.size() && (i == negatives.size() || positives[j] >= negatives[i]);
    take_positive ? ++j : ++i;
    if ((i + j) % stride == 0 || i + j == total) {
      fpr.push_back(static_cast<double>(i) / static_cast<double>(negatives.size()));
      tpr.push_back(static_cast<double>(j) / static_cast<double>(positives.size()));
    }
  }
  return {fpr, tpr};
}

struct SeedResult {
  Scores in, held_out, noise;
};

SeedResult run_seed(const LabeledRows& train, const LabeledRows& test_in, const LabeledRows& test_out,
                    const Sizes& sizes, uint64_t seed, Device device) {
  Generator init_gen(seed, 0), dropout_gen(seed, 1), shuffle_gen(seed, 2), noise_gen(seed, 5);
  Mlp model({.inputs = 784, .hidden = sizes.hidden, .classes = kKnownClasses, .dropout = kDropout}, init_gen,
            dropout_gen);
  model.to(device);
  fit_classifier(model, train.x, train.y, {.epochs = sizes.epochs}, shuffle_gen);
  model.eval();  // the eval-mode entropy is the weight-scaled prediction's; MC sampling turns dropout on itself
  return {scores_of(model, test_in.x, sizes.samples), scores_of(model, test_out.x, sizes.samples),
          scores_of(model, noise_images(test_in.x.size(0), noise_gen), sizes.samples)};
}

struct ScoreKind {
  const char* label;
  const char* key;  // in the result's numbers
  std::vector<double> Scores::*field;
};
const ScoreKind kScoreKinds[] = {{"MC predictive entropy", "mc_entropy", &Scores::mc_entropy},
                                 {"MC variance", "mc_variance", &Scores::mc_variance},
                                 {"eval-mode entropy", "eval_entropy", &Scores::eval_entropy}};

// The table, numbers and ROC plot of all seeds; returns the mean AUROC of the MC predictive entropy
// against the held-out classes and against noise.
std::pair<double, double> tabulate(const std::vector<SeedResult>& seeds, const RunOptions& options, int64_t samples,
                                   Result& result) {
  result.table.columns = {"OOD set", "score", "AUROC", "AUROC std", "mean score in-dist", "mean score OOD"};
  Plot roc{fmt::format("ROC of MC predictive entropy (seed {}, T = {})", options.seed, samples),
           "false-positive rate (in-distribution)",
           "true-positive rate (OOD)",
           false,
           false,
           {{"chance", {0, 1}, {0, 1}, false}}};
  std::vector<double> entropy_auroc;
  for (const bool noise : {false, true}) {
    const char* set = noise ? "uniform noise" : "held-out classes 5-9";
    for (const ScoreKind& kind : kScoreKinds) {
      std::vector<double> aurocs, in_means, out_means;
      for (const SeedResult& r : seeds) {
        const std::vector<double>& in = r.in.*kind.field;
        const std::vector<double>& out = (noise ? r.noise : r.held_out).*kind.field;
        aurocs.push_back(auroc(in, out));
        in_means.push_back(mean_std(in).mean), out_means.push_back(mean_std(out).mean);
      }
      const MeanStd a = mean_std(aurocs);
      result.table.rows.push_back({set, kind.label, a.mean, a.std, mean_std(in_means).mean, mean_std(out_means).mean});
      result.numbers.emplace_back(fmt::format("auroc_{}_{}", noise ? "noise" : "held_out", kind.key), a.mean);
      if (kind.field == &Scores::mc_entropy) entropy_auroc.push_back(a.mean);
    }
    const Scores& out = noise ? seeds[0].noise : seeds[0].held_out;
    const auto [fpr, tpr] = roc_curve(seeds[0].in.mc_entropy, out.mc_entropy, 200);
    roc.series.push_back({set, fpr, tpr, false});
  }
  result.plots.push_back(roc);
  return {entropy_auroc[0], entropy_auroc[1]};
}

Result run(const RunOptions& options) {
  const Sizes sizes = options.pick<Sizes>({400, 200, 1, 4, {16, 16}}, {8000, 2000, 10, 50, {256, 256}},
                                          {60000, 10000, 20, 100, {512, 512}});
  const ClassificationData data = fashion_mnist_subset(sizes.train_pool, sizes.test_pool);
  const auto known = [](int64_t label) { return label < kKnownClasses; };
  const LabeledRows train = rows_with_labels(data.train_x, data.train_y, known);
  const LabeledRows test_in = rows_with_labels(data.test_x, data.test_y, known);
  const LabeledRows test_out = rows_with_labels(data.test_x, data.test_y, [&](int64_t label) { return !known(label); });
  std::vector<SeedResult> seeds;
  for (int s = 0; s < kSeeds; ++s)
    seeds.push_back(run_seed(train, test_in, test_out, sizes, options.seed + s, options.device));

  Result result;
  const auto [held_out_auroc, noise_auroc] = tabulate(seeds, options, sizes.samples, result);
  const bool held_out_ok = held_out_auroc > kMinAuroc, noise_ok = noise_auroc > kMinAuroc;
  result.verdict = held_out_ok && noise_ok   ? Verdict::Confirmed
                   : held_out_ok || noise_ok ? Verdict::ConfirmedUnderConditions
                                             : Verdict::NotConfirmed;
  result.reason = fmt::format(
      "AUROC of the MC predictive entropy, in-distribution test images vs held-out classes {:.3f} ({} 0.7) and vs "
      "uniform-noise images {:.3f} ({} 0.7), means over {} seeds",
      held_out_auroc, held_out_ok ? ">" : "<=", noise_auroc, noise_ok ? ">" : "<=", kSeeds);
  return result;
}

}  // namespace

Experiment mc_uncertainty_experiment() {
  return {"mc-uncertainty",
          "MC dropout's predictive uncertainty (entropy of the mean of dropout samples, and their variance) is "
          "higher on out-of-distribution inputs than on inputs like the training data.",
          {"000", "004"},
          "MLP 784-256-256-5 with dropout 0.5 trained on Fashion-MNIST classes 0-4, 50 MC samples, 3 seeds: AUROC "
          "of the MC predictive entropy, in-distribution test images (negatives) vs each OOD set (held-out classes "
          "5-9; uniform-noise images), mean over seeds > 0.7; confirmed if for both sets, confirmed under conditions "
          "if for one",
          run};
}

}  // namespace minidl::lab
