// occlusion: DropBlock and spatial dropout are said to make a CNN more robust to occluded inputs
// than standard dropout. Trains models/cnn.h's CNN with element-wise dropout, dropout2d (whole
// channels) and DropBlock (3x3 blocks) at the same rate after each convolutional block, then
// measures test accuracy with a k x k square at a uniformly random position (where it fits) set to
// the background: pixel 0, i.e. -mean/std after normalization, so the square erases part of the
// garment rather than painting a grey patch.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <cmath>
#include <string>

#include "framework/io/fashion_mnist.h"
#include "framework/ops/ops.h"
#include "lab/classifier_training.h"
#include "lab/experiments/experiments.h"
#include "lab/stats.h"
#include "models/classifier.h"
#include "models/cnn.h"

namespace minidl::lab {

namespace {

constexpr double kRate = 0.2;
constexpr int64_t kSeeds = 3, kSide = 28;
const std::vector<std::string> kVariants = {"dropout", "dropout2d", "dropblock"};  // the first is the baseline

// images [N, 784] on the CPU with one size x size square per image at the background value.
Tensor occluded(const Tensor& images, int64_t size, Generator& gen) {
  std::vector<float> pixels = contiguous(images).to_vector<float>();
  const auto background = static_cast<float>(-kFashionMnistMean / kFashionMnistStd);
  const auto positions = static_cast<uint64_t>(kSide - size + 1);
  for (int64_t i = 0; i < images.size(0); ++i) {
    const auto top = static_cast<int64_t>(gen.next_below(positions));
    const auto left = static_cast<int64_t>(gen.next_below(positions));
    for (int64_t r = top; r < top + size; ++r)
      for (int64_t c = left; c < left + size; ++c)
        pixels[static_cast<size_t>((i * kSide + r) * kSide + c)] = background;
  }
  return Tensor::from_vector(pixels, images.shape());
}

// Test accuracy [variant][square] per seed.
using Accuracies = std::vector<std::vector<std::vector<double>>>;

Accuracies train_and_occlude(const RunOptions& options, const ClassificationData& data,
                             const std::vector<int64_t>& squares, const CnnConfig& base, const FitOptions& fit) {
  Accuracies accuracy(kVariants.size(), std::vector<std::vector<double>>(squares.size()));
  for (int64_t k = 0; k < kSeeds; ++k) {
    const uint64_t seed = options.seed + static_cast<uint64_t>(k);
    Generator occlusion_gen(seed, 4);  // the same squares for every variant
    std::vector<Tensor> test_sets;
    for (int64_t size : squares) test_sets.push_back(occluded(data.test_x, size, occlusion_gen));
    for (size_t v = 0; v < kVariants.size(); ++v) {
      CnnConfig config = base;
      config.dropout_variant = kVariants[v];
      Generator init_gen(seed, 0), dropout_gen(seed, 1), shuffle_gen(seed, 2);
      Cnn model(config, init_gen, dropout_gen);
      model.to(options.device);
      fit_classifier(model, data.train_x, data.train_y, fit, shuffle_gen);
      for (size_t s = 0; s < squares.size(); ++s)
        accuracy[v][s].push_back(evaluate_classifier(model, test_sets[s], data.test_y, 500).accuracy);
    }
  }
  return accuracy;
}

// Clean accuracy minus accuracy with square s, per seed.
std::vector<double> drops(const std::vector<std::vector<double>>& by_square, size_t s) {
  std::vector<double> out;
  for (size_t k = 0; k < by_square[0].size(); ++k) out.push_back(by_square[0][k] - by_square[s][k]);
  return out;
}

Result run(const RunOptions& options) {
  const ClassificationData data =
      fashion_mnist_subset(options.pick<int64_t>(128, 2500, 12000), options.pick<int64_t>(100, 2000, 10000));
  const std::vector<int64_t> squares =
      options.scale == Scale::Tiny ? std::vector<int64_t>{0, 12} : std::vector<int64_t>{0, 4, 8, 12, 16};
  CnnConfig base;
  base.channels = options.pick<std::vector<int64_t>>({2, 4}, {8, 16}, {16, 32});
  base.hidden = options.pick<int64_t>(8, 64, 128);
  base.dropout = kRate;
  base.dropout_on_maps = true;
  FitOptions fit;
  fit.epochs = options.pick<int64_t>(1, 4, 10), fit.batch_size = 64;
  const Accuracies accuracy = train_and_occlude(options, data, squares, base, fit);

  Result result;
  result.table.columns = {"variant", "square", "accuracy", "std", "drop from clean", "drop std"};
  Plot plot{fmt::format("Test accuracy under a random background square (p = {}, {} seeds)", kRate, kSeeds),
            "square side (pixels)",
            "test accuracy",
            false,
            false,
            {}};
  std::vector<MeanStd> largest_drop;
  for (size_t v = 0; v < kVariants.size(); ++v) {
    Series series{kVariants[v], {}, {}, true};
    for (size_t s = 0; s < squares.size(); ++s) {
      const MeanStd a = mean_std(accuracy[v][s]), d = mean_std(drops(accuracy[v], s));
      result.table.rows.push_back({kVariants[v], static_cast<double>(squares[s]), a.mean, a.std, d.mean, d.std});
      series.x.push_back(static_cast<double>(squares[s])), series.y.push_back(a.mean);
      if (s + 1 == squares.size()) largest_drop.push_back(d);
    }
    plot.series.push_back(series);
    result.numbers.push_back({kVariants[v] + "_clean_accuracy", mean_std(accuracy[v][0]).mean});
    result.numbers.push_back({kVariants[v] + "_drop_at_largest_square", largest_drop[v].mean});
    result.numbers.push_back({kVariants[v] + "_drop_std", largest_drop[v].std});
  }
  result.plots.push_back(plot);

  // A structured variant is more robust when its drop is smaller than dropout's by more than the
  // combined std.
  std::vector<std::string> robust, not_robust;
  for (size_t v = 1; v < kVariants.size(); ++v) {
    const double margin = largest_drop[0].mean - largest_drop[v].mean;
    const double spread = std::hypot(largest_drop[0].std, largest_drop[v].std);
    result.numbers.push_back({kVariants[v] + "_margin_over_dropout", margin});
    result.numbers.push_back({kVariants[v] + "_combined_spread", spread});
    (margin > spread ? robust : not_robust)
        .push_back(fmt::format("{} (drop {:.4f} ± {:.4f}, margin {:.4f} vs spread {:.4f})", kVariants[v],
                               largest_drop[v].mean, largest_drop[v].std, margin, spread));
  }
  result.verdict = not_robust.empty() ? Verdict::Confirmed
                   : robust.empty()   ? Verdict::NotConfirmed
                                      : Verdict::ConfirmedUnderConditions;
  result.reason = fmt::format(
      "with a {}x{} square, dropout's accuracy drops by {:.4f} ± {:.4f}; more robust than dropout: {}; not: {}",
      squares.back(), squares.back(), largest_drop[0].mean, largest_drop[0].std,
      robust.empty() ? "none" : fmt::format("{}", fmt::join(robust, ", ")),
      not_robust.empty() ? "none" : fmt::format("{}", fmt::join(not_robust, ", ")));
  return result;
}

}  // namespace

Experiment occlusion_experiment() {
  return {"occlusion",
          "Structured dropout (DropBlock, spatial dropout) makes a CNN more robust to occluded inputs than standard "
          "dropout, because it cannot rely on a few local features.",
          {"003"},
          "CNN (3x3 conv 8 and 16 channels, BN, ReLU, 2x2 max-pool; hidden 64) on 2500 Fashion-MNIST images, 4 epochs, "
          "element-wise dropout vs dropout2d vs DropBlock (block 3) at p = 0.2 after each conv block, 3 seeds; test "
          "accuracy (2000 images) with a background-valued square of side 0..16 at a random position: a variant is "
          "more robust when its accuracy drop at side 16 is smaller than dropout's by more than the combined std (sqrt "
          "of the sum of the two variances over seeds); confirmed if both are, under conditions if one is",
          run};
}

}  // namespace minidl::lab
