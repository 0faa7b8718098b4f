// `minidl bench dropout`: times dropout forward + backward on one tensor, with the mask
// regenerated in backward and with the 1-bit stored mask, next to a copy of the same bytes. Prints
// one JSON object (tools/bench_dropout.py compares it with PyTorch in the same run).
// `minidl bench ranges`: what the profiling ranges (NVTX) cost a training step when no profiler
// is attached: the cost of one range, times the ranges of one MLP step, against the step's time.
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <functional>
#include <nlohmann/json.hpp>
#include <vector>

#include "framework/core/profiler.h"
#include "framework/ops/backend.h"
#include "framework/ops/ops.h"
#include "framework/optim/optimizers.h"
#include "models/model.h"
#include "tools/minidl/commands.h"

namespace minidl::cli {

namespace {

struct BenchOptions {
  std::string what = "dropout";
  int64_t elements = int64_t{1} << 24;
  double p = 0.1;
  int64_t repeats = 10;
  std::string device = "cpu";
};

// Median milliseconds of `repeats` runs after one warm-up. Reading one element of fn's result
// waits for the device (kernels on the default stream run in order).
double median_ms(int64_t repeats, const std::function<Tensor()>& fn) {
  std::vector<double> ms;
  for (int64_t r = 0; r <= repeats; ++r) {
    const auto start = std::chrono::steady_clock::now();
    (void)slice(reshape(fn(), {-1}), 0, 0, 1).item();
    const double t = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    if (r > 0) ms.push_back(t);
  }
  std::nth_element(ms.begin(), ms.begin() + static_cast<std::ptrdiff_t>(ms.size() / 2), ms.end());
  return ms[ms.size() / 2];
}

void run_ranges_bench(const BenchOptions& o) {
  constexpr int kRanges = 1000000;
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < kRanges; ++i) const ProfileRange range("kernel", "bench");
  const double range_ns =
      std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - start).count() / kRanges;

  const Device device = Device::parse(o.device);
  Generator init(1), dropout_gen(2);
  const auto model = make_model("mlp", default_model_config("mlp"), init, dropout_gen);
  model->to(device);
  AdamW optimizer(model->parameters());
  const Tensor x = to_device(Tensor::full({128, 784}, 0.5), device);
  const Tensor y = to_device(Tensor::zeros({128}, DType::I64), device);
  const auto step = [&] {
    optimizer.zero_grad();
    Tensor loss = cross_entropy((*model)(x), y);
    loss.backward();
    optimizer.step();
    return loss;
  };
  const double step_ms = median_ms(o.repeats, step);
  start_recording();
  step();
  const size_t ranges = stop_recording().size();
  const double share = 100 * range_ns * static_cast<double>(ranges) / (step_ms * 1e6);
  nlohmann::json out{{"benchmark", "profiling ranges"}, {"device", device.str()}, {"range_ns", range_ns},
                     {"ranges_per_mlp_step", ranges},   {"mlp_step_ms", step_ms}, {"share_of_step_percent", share}};
  fmt::print("{}\n", out.dump());
}

void run_bench(const BenchOptions& o) {
  MINIDL_CHECK(o.what == "dropout" || o.what == "ranges", "unknown benchmark '{}': expected dropout or ranges", o.what);
  MINIDL_CHECK(o.repeats > 0, "--repeats {} must be positive", o.repeats);
  if (o.what == "ranges") return run_ranges_bench(o);
  MINIDL_CHECK(o.elements > 0, "--elements {} must be positive", o.elements);
  MINIDL_CHECK(o.repeats > 0, "--repeats {} must be positive", o.repeats);
  MINIDL_CHECK(o.p >= 0.0 && o.p <= 1.0, "--p {} is outside [0, 1]", o.p);
  const Device device = Device::parse(o.device);
  backend_for(device);
  Generator gen(0);
  const Tensor x = to_device(Tensor::full({o.elements}, 1.0), device).requires_grad_(true);
  const Tensor grad = to_device(Tensor::full({o.elements}, 0.5), device);
  auto forward_backward = [&](Tensor (*op)(const Tensor&, double, bool, Generator&)) {
    return median_ms(o.repeats, [&] {
      x.set_grad(Tensor());
      op(x, o.p, true, gen).backward(grad);
      return x.grad();
    });
  };
  const double regenerate_ms = forward_backward(dropout);
  const double packed_ms = forward_backward(dropout_packed);
  const Tensor plain = x.detach();
  const double copy_ms = median_ms(o.repeats, [&] { return clone(plain); });
  nlohmann::json out{{"benchmark", "dropout forward+backward"}, {"device", device.str()},
                     {"elements", o.elements},                  {"p", o.p},
                     {"regenerate_ms", regenerate_ms},          {"packed_ms", packed_ms},
                     {"copy_ms", copy_ms},                      {"repeats", o.repeats}};
  fmt::print("{}\n", out.dump());
}

}  // namespace

void add_bench_command(CLI::App& app) {
  auto o = std::make_shared<BenchOptions>();
  CLI::App* cmd = app.add_subcommand("bench", "Time a kernel family (median of repeats) and print JSON");
  cmd->add_option("what", o->what, "what to time: dropout, or ranges (the profiling ranges' cost)")
      ->capture_default_str();
  cmd->add_option("--elements", o->elements, "tensor size")->capture_default_str();
  cmd->add_option("--p", o->p, "drop probability")->capture_default_str();
  cmd->add_option("--repeats", o->repeats, "timed repeats after one warm-up")->capture_default_str();
  cmd->add_option("--device", o->device, "cpu, cuda or cuda-emu")->capture_default_str();
  cmd->callback([o] { run_bench(*o); });
}

}  // namespace minidl::cli
