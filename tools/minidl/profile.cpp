// `minidl profile MODEL`: a few training steps of MODEL (the train command's options) with minidl's
// recorder on, after one warm-up step that the trace shows and the tables leave out. Prints the
// kernels, modules and backward ops by total time, the kernels' device times (CUDA events on a
// GPU), achieved bandwidth and flop rate against the device's measured roof, the device
// allocator's peak, and writes a Chrome trace (Perfetto, chrome://tracing). Host times are
// steady-clock times; on a GPU each range waits for its kernels, so they include the device time
// and the launch overhead. Nsight: docs/profiling.md.
#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "framework/core/allocator.h"
#include "framework/core/device.h"
#include "framework/core/device_clock.h"
#include "framework/core/profiler.h"
#include "framework/io/chrome_trace.h"
#include "tools/minidl/commands.h"
#include "tools/minidl/roofline.h"
#include "tools/minidl/train_lm.h"

namespace minidl::cli {

namespace {

struct ProfileOptions {
  std::string trace = "profile.json";
  int64_t top = 15;
};

struct Row {
  std::string name;
  int64_t calls = 0;
  double total_ms = 0;
  double bytes = 0, flops = 0;  // kernels: the work the calls stated (ops/dispatch.h)
  double device_ms = -1;        // kernels on a device: their time on its stream; -1 on the CPU
};

// The categories' rows by total time, longest first.
std::map<std::string, std::vector<Row>> summarize(const std::vector<TraceEvent>& events) {
  std::map<std::string, std::map<std::string, Row>> by_name;
  for (const TraceEvent& e : events) {
    Row& r = by_name[e.category][e.name];
    r.name = e.name;
    ++r.calls;
    r.total_ms += static_cast<double>(e.duration_ns) / 1e6;
    r.bytes += e.bytes;
    r.flops += e.flops;
    if (e.device_ns >= 0) r.device_ms = std::max(r.device_ms, 0.0) + static_cast<double>(e.device_ns) / 1e6;
  }
  std::map<std::string, std::vector<Row>> rows;
  for (auto& [category, names] : by_name) {
    for (auto& [name, row] : names) rows[category].push_back(row);
    std::sort(rows[category].begin(), rows[category].end(),
              [](const Row& a, const Row& b) { return a.total_ms > b.total_ms; });
  }
  return rows;
}

// The events of the profiled steps: from the end of the first training step (the warm-up) to the end
// of the last, so neither one-time set-up (a GPU's library handles and module loading, the
// allocator's first blocks: 158 ms against 13 ms steady steps for the GPT on an H100) nor the
// closing evaluation skews the tables. warmup_ms: the first step's time. The trace keeps every event.
std::vector<TraceEvent> profiled_steps(const std::vector<TraceEvent>& events, double& warmup_ms) {
  std::vector<const TraceEvent*> steps;
  for (const TraceEvent& e : events)
    if (std::string_view(e.category) == "step") steps.push_back(&e);
  std::sort(steps.begin(), steps.end(),
            [](const TraceEvent* a, const TraceEvent* b) { return a->start_ns < b->start_ns; });
  MINIDL_CHECK(steps.size() >= 2, "profile: the run recorded {} training steps, expected a warm-up step and more",
               steps.size());
  const int64_t from = steps.front()->start_ns + steps.front()->duration_ns;
  const int64_t to = steps.back()->start_ns + steps.back()->duration_ns;
  warmup_ms = static_cast<double>(steps.front()->duration_ns) / 1e6;
  std::vector<TraceEvent> kept;
  for (const TraceEvent& e : events)
    if (e.start_ns >= from && e.start_ns + e.duration_ns <= to) kept.push_back(e);
  return kept;
}

double share(double part_ms, double whole_ms) { return whole_ms > 0 ? 100 * part_ms / whole_ms : 0.0; }

// A category's rows, longest first; with a roof (kernels), also the time on the device's stream
// when it was measured, and the achieved bandwidth (each operand once: a lower bound), flop rate
// and share of the roof, from the device time when there is one, else the host time.
void print_rows(const char* category, const std::vector<Row>& rows, double step_ms, int64_t top, const Roof* roof) {
  const bool device_times = roof && !rows.empty() && rows.front().device_ms >= 0;
  std::string header =
      fmt::format("{:<36} {:>8} {:>11} {:>11} {:>8}", category, "calls", "total ms", "mean us", "% steps");
  if (device_times) header += fmt::format(" {:>10}", "device ms");
  if (roof) header += fmt::format(" {:>9} {:>9} {:>7}", "GB/s", "GFLOP/s", "% roof");
  fmt::print("\n{}\n", header);
  for (size_t i = 0; i < rows.size() && static_cast<int64_t>(i) < top; ++i) {
    const Row& r = rows[i];
    std::string line = fmt::format("{:<36} {:>8} {:>11.3f} {:>11.1f} {:>7.1f}%", r.name, r.calls, r.total_ms,
                                   1e3 * r.total_ms / static_cast<double>(r.calls), share(r.total_ms, step_ms));
    if (device_times) line += fmt::format(" {:>10.3f}", r.device_ms);
    const double seconds = (device_times ? r.device_ms : r.total_ms) / 1e3;
    if (roof && seconds > 0)
      line += fmt::format(" {:>9.2f} {:>9.2f} {:>6.1f}%", r.bytes / seconds / 1e9, r.flops / seconds / 1e9,
                          100 * roof_fraction(*roof, r.bytes, r.flops, seconds));
    fmt::print("{}\n", line);
  }
}

void run_profile(TrainOptions o, LmOptions lm, const MfOptions& mf, const GraphOptions& graph, const ProfileOptions& p,
                 const CLI::App& cmd) {
  if (cmd.count("--steps") == 0) lm.steps = 10;
  MINIDL_CHECK(lm.steps > 0, "--steps {} must be positive", lm.steps);
  ++lm.steps;  // a warm-up step first, left out of the tables
  if (is_language_model(o.model)) {
    lm.eval_every = lm.steps;
    lm.eval_windows = std::min<int64_t>(lm.eval_windows, 8);
  } else if (is_graph_model(o.model)) {
    o.stop_after_steps = lm.steps;  // full-batch: a step is an epoch
  } else if (is_recommender(o.model)) {
    o.stop_after_steps = lm.steps;
  } else {
    o.epochs = 1;
    o.limit_train = lm.steps * o.batch_size;
    o.limit_test = o.batch_size;
  }
  o.out.clear();
  const Device device = Device::parse(o.device);
  start_recording(device_clock(device));
  run_train_command(o, lm, mf, graph, cmd);
  const std::vector<TraceEvent> events = stop_recording();
  write_chrome_trace(events, p.trace);
  // The run's memory, before the roof's probes allocate theirs.
  const AllocatorStats memory = allocator_for(device).stats();
  const Roof roof = measure_roof(device, autocast_dtype_of(o).value_or(DType::F32));

  double warmup_ms = 0;
  const auto rows = summarize(profiled_steps(events, warmup_ms));
  double step_ms = 0;
  int64_t steps = 0;
  if (rows.count("step")) {
    step_ms = rows.at("step").front().total_ms;
    steps = rows.at("step").front().calls;
  }
  fmt::print(
      "\nprofile of {} training steps of {} on {}: {:.2f} ms per step (after a warm-up step of {:.2f} ms, in the "
      "trace but not in these tables)\n",
      steps, o.model, device.str(), step_ms / static_cast<double>(steps), warmup_ms);
  fmt::print("\nroof of {}, measured with minidl's kernels: {:.1f} GB/s copy, {:.1f} GFLOP/s {} matmul\n",
             roof.measured_on, roof.bytes_per_s / 1e9, roof.flops_per_s / 1e9, dtype_name(roof.matmul_dtype));
  for (const char* category : {"kernel", "backward", "module", "data"})
    if (rows.count(category))
      print_rows(category, rows.at(category), step_ms, p.top, std::string(category) == "kernel" ? &roof : nullptr);
  if (device.type != DeviceType::CPU)
    fmt::print("\n{} allocator: peak {:.1f} MiB allocated, {:.1f} MiB reserved\n", device.str(),
               static_cast<double>(memory.peak) / (1 << 20), static_cast<double>(memory.reserved) / (1 << 20));
  fmt::print("wrote {} ({} events): open it in https://ui.perfetto.dev or chrome://tracing\n", p.trace,
             events.size());
}

}  // namespace

void add_profile_command(CLI::App& app) {
  auto o = std::make_shared<TrainOptions>();
  auto lm = std::make_shared<LmOptions>();
  auto mf = std::make_shared<MfOptions>();
  auto graph = std::make_shared<GraphOptions>();
  auto p = std::make_shared<ProfileOptions>();
  CLI::App* cmd = app.add_subcommand("profile", "Profile a few training steps of a model (train's options; --steps)");
  add_train_options(cmd, o.get(), lm.get(), mf.get(), graph.get());
  cmd->add_option("--trace", p->trace, "where to write the Chrome trace JSON")->capture_default_str();
  cmd->add_option("--top", p->top, "rows per table")->capture_default_str();
  cmd->callback([o, lm, mf, graph, p, cmd] { run_profile(*o, *lm, *mf, *graph, *p, *cmd); });
}

}  // namespace minidl::cli
