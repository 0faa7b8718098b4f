// all-dropped: with p = 1 every unit is dropped. Runs each dropout variant of the layer
// registry (dropout_layers.h, the --dropout names) at p = 1 in training mode, forward and
// backward, and checks that the output is defined (finite, zeros) and that the gradient reaching
// the input is defined and zero: no signal passes; and that the library warns about it
// (core/warning.h), which the experiment captures per variant.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <string>

#include "framework/core/warning.h"
#include "framework/ops/ops.h"
#include "framework/regularize/dropout_layers.h"
#include "lab/experiments/experiments.h"
#include "lab/stats.h"

namespace minidl::lab {

namespace {

double max_abs(const std::vector<double>& v) {
  double m = 0;
  for (double x : v) m = std::isfinite(x) && std::isfinite(m) ? std::max(m, std::abs(x)) : NAN;
  return m;
}

std::string describe(double largest) {
  return std::isnan(largest) ? "not finite" : largest == 0 ? "zeros" : fmt::format("max |.| {:.3g}", largest);
}

Result run(const RunOptions& options) {
  const int64_t side = options.pick<int64_t>(4, 8, 16);
  Generator gen(options.seed, 2), data_gen(options.seed, 0);
  // [N, C, H, W] suits both lists: the activation variants take any shape.
  const Tensor x0 = gaussian_noise(Tensor::zeros({4, 3, side, side}, DType::F32, options.device), 0.0, 1.0, data_gen);
  const Tensor upstream = gaussian_noise(Tensor::zeros(x0.shape(), DType::F32, options.device), 0.0, 1.0, data_gen);

  Result result;
  result.table.columns = {"variant", "forward", "input gradient", "warning", "outcome"};
  int variants = 0, silent = 0, rejected = 0, noise = 0, broken = 0, silent_unwarned = 0;
  std::vector<DropoutVariant> all = activation_dropout_variants();
  for (const DropoutVariant& v : feature_map_dropout_variants()) all.push_back(v);
  for (const DropoutVariant& variant : all) {
    ++variants;
    const WarningCapture warnings;
    try {
      const std::shared_ptr<Module> layer = variant.make(1.0, gen);
      layer->train(true);
      set_observe_keep_rate(*layer, true);  // only mask variants report one: noise layers' p is a noise scale
      const Tensor x = clone(x0).requires_grad_();
      const Tensor out = layer->forward(x);
      const bool draws_mask = observed_keep_rate(*layer).has_value();
      sum(mul(out, upstream)).backward();
      const double out_max = max_abs(host_values(out));
      const double grad_max = x.grad().defined() ? max_abs(host_values(x.grad())) : 0.0;
      const bool no_signal = out_max == 0 && grad_max == 0;
      const bool warned = !warnings.messages().empty();
      std::string outcome = "defined; no signal passes";
      if (no_signal) {
        ++silent;
        silent_unwarned += !warned;
      } else if (!draws_mask && std::isfinite(out_max) && std::isfinite(grad_max)) {
        ++noise;
        outcome = "noise layer: p = 1 is its noise scale, not a drop rate";
      } else {
        ++broken;
        outcome = "signal or non-finite values";
      }
      result.table.rows.push_back({variant.name, describe(out_max), x.grad().defined() ? describe(grad_max) : "none",
                                   warned ? "yes" : "no", outcome});
    } catch (const std::exception& e) {
      ++rejected;
      // The message without its " [file:line]" suffix, which names this build's source tree.
      const std::string message = e.what();
      result.table.rows.push_back({variant.name, "rejected", "-", "-", message.substr(0, message.rfind(" ["))});
    }
  }
  result.numbers = {{"variants", variants},
                    {"zero_output_and_gradient", silent},
                    {"rejected_p_1", rejected},
                    {"noise_layers_not_dropping", noise},
                    {"signal_or_non_finite", broken},
                    {"zero_output_without_warning", silent_unwarned}};
  // The limit p -> 1 is not continuous: inverted dropout's spread p/(1-p) grows without bound, then p = 1 gives zeros.
  Series spread{"measured std of dropout(1)", {}, {}, true}, formula{"sqrt(p/(1-p))", {}, {}, false};
  const Tensor ones =
      Tensor::full({options.pick<int64_t>(4000, 1'000'000, 4'000'000)}, 1.0, DType::F64, options.device);
  for (double p : {0.5, 0.8, 0.9, 0.95, 0.98, 0.99, 0.995, 1.0}) {
    Moments m(1.0);
    m.add(host_values(dropout(ones, p, true, gen)));
    spread.x.push_back(p), spread.y.push_back(std::sqrt(m.variance()));
    if (p < 1) formula.x.push_back(p), formula.y.push_back(std::sqrt(p / (1 - p)));
  }
  result.plots.push_back({"Inverted dropout on h = 1 as p -> 1",
                          "drop probability p",
                          "std of the output",
                          false,
                          false,
                          {formula, spread}});
  result.numbers.push_back({"std_at_p_0.995", spread.y[spread.y.size() - 2]});
  result.numbers.push_back({"std_at_p_1", spread.y.back()});
  result.warnings.push_back(
      fmt::format("p = 1 drops every unit: {} of {} drop variants return zeros and pass a zero gradient, so no "
                  "signal reaches later layers or earlier ones",
                  silent, silent + rejected + broken));
  result.verdict = broken == 0 && silent_unwarned == 0 ? Verdict::Confirmed : Verdict::NotConfirmed;
  result.reason = fmt::format(
      "{} drop variants give finite zero outputs and zero input gradients at p = 1, {} of them without a "
      "warning; {} reject p = 1 with an error; {} pass signal or non-finite values ({} noise layers, whose p is a "
      "noise scale, not counted)",
      silent, silent_unwarned, rejected, broken, noise);
  return result;
}

}  // namespace

Experiment all_dropped_experiment() {
  return {"all-dropped",
          "With p = 1 every unit is dropped: the output is defined (zeros) and training should report that no "
          "signal passes.",
          {"004"},
          "every registered dropout variant at p = 1, training mode: forward output finite and zero, input "
          "gradient defined and zero (or a clear error), and the library warns that no signal passes",
          run};
}

}  // namespace minidl::lab
