// `minidl bench dropout`: times dropout forward + backward on one tensor, with the mask
// regenerated in backward and with the 1-bit stored mask, next to a copy of the same bytes. Prints
// one JSON object (tools/bench_dropout.py compares it with PyTorch in the same run).
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <functional>
#include <nlohmann/json.hpp>
#include <vector>

#include "framework/ops/backend.h"
#include "framework/ops/ops.h"
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

void run_bench(const BenchOptions& o) {
  MINIDL_CHECK(o.what == "dropout", "unknown benchmark '{}': expected dropout", o.what);
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
  cmd->add_option("what", o->what, "what to time: dropout")->capture_default_str();
  cmd->add_option("--elements", o->elements, "tensor size")->capture_default_str();
  cmd->add_option("--p", o->p, "drop probability")->capture_default_str();
  cmd->add_option("--repeats", o->repeats, "timed repeats after one warm-up")->capture_default_str();
  cmd->add_option("--device", o->device, "cpu, cuda or cuda-emu")->capture_default_str();
  cmd->callback([o] { run_bench(*o); });
}

}  // namespace minidl::cli
