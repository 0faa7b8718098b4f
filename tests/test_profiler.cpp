// The profiler: ranges recorded only while recording, nested in time, and a Chrome trace that
// follows the trace-event format and holds every op of a training step (the ops on the step's
// autograd tape appear as backward events; their kernels as kernel events).
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "framework/core/cuda_memory.h"
#include "framework/core/device_clock.h"
#include "framework/core/profiler.h"
#include "framework/io/chrome_trace.h"
#include "framework/ops/ops.h"
#include "framework/optim/optimizers.h"
#include "models/model.h"

namespace minidl {
namespace {

TEST(Profiler, RangesRecordOnlyWhileRecording) {
  { const ProfileRange outside("step", "before"); }
  start_recording();
  {
    const ProfileRange outer("step", "outer");
    const ProfileRange inner("kernel", "inner");
  }
  const std::vector<TraceEvent> events = stop_recording();
  { const ProfileRange after("step", "after"); }
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].name, "inner");  // events come in the order they end
  EXPECT_EQ(events[0].depth, 1);
  EXPECT_EQ(events[1].name, "outer");
  EXPECT_EQ(events[1].depth, 0);
  EXPECT_GE(events[0].start_ns, events[1].start_ns);
  EXPECT_LE(events[0].start_ns + events[0].duration_ns, events[1].start_ns + events[1].duration_ns);
  EXPECT_TRUE(stop_recording().empty());
}

// The roofline columns rest on each kernel's stated work: its operands' stored bytes once, and
// 2 m n k flops for a matmul.
TEST(Profiler, KernelEventsCarryTheirOperandBytesAndFlops) {
  Generator gen(3);
  const Tensor a = rand({8, 16}, DType::F32, kCPU, gen), b = rand({16, 4}, DType::F32, kCPU, gen);
  const Tensor v = rand({1000}, DType::F64, kCPU, gen);
  start_recording();
  matmul(a, b);
  add(v, v);
  add(v, Tensor::scalar(2.0, DType::F64, kCPU));  // the scalar broadcast: one stored element
  const std::vector<TraceEvent> events = stop_recording();
  std::vector<TraceEvent> kernels;
  for (const TraceEvent& e : events)
    if (std::string(e.category) == "kernel") kernels.push_back(e);
  ASSERT_EQ(kernels.size(), 3u);
  EXPECT_EQ(kernels[0].name, "matmul");
  EXPECT_EQ(kernels[0].bytes, 4.0 * (8 * 16 + 16 * 4 + 8 * 4));
  EXPECT_EQ(kernels[0].flops, 2.0 * 8 * 4 * 16);
  EXPECT_EQ(kernels[1].name, "binary");
  EXPECT_EQ(kernels[1].bytes, 8.0 * 3000);
  EXPECT_EQ(kernels[1].flops, 0.0);
  EXPECT_EQ(kernels[2].bytes, 8.0 * 2001);
}

// With a device clock, kernel ranges also carry their device time, which lies within the host
// time of the range (the range waits for its kernels); without one they carry none.
void expect_device_times(Device device, bool timed) {
  Generator gen(5);
  const Tensor a = to_device(rand({64, 64}, DType::F32, kCPU, gen), device);
  start_recording(device_clock(device));
  add(matmul(a, a), a);
  const std::vector<TraceEvent> events = stop_recording();
  int kernels = 0;
  for (const TraceEvent& e : events) {
    if (std::string(e.category) != "kernel") continue;
    ++kernels;
    if (!timed) {
      EXPECT_EQ(e.device_ns, -1) << e.name;
      continue;
    }
    EXPECT_GT(e.device_ns, 0) << e.name;
    EXPECT_LE(e.device_ns, e.duration_ns) << e.name;
  }
  EXPECT_EQ(kernels, 2);
}

TEST(Profiler, KernelRangesCarryDeviceTimesWithADeviceClock) {
  expect_device_times(kCPU, false);
#if defined(MINIDL_HAS_EMU)
  expect_device_times(Device{DeviceType::CUDAEmu}, true);
#endif
}

TEST(Profiler, GpuKernelRangesCarryCudaEventTimes) {
  if (cuda_device_count() == 0) GTEST_SKIP() << "needs a GPU: " << cuda_unavailable_reason();
  expect_device_times(Device{DeviceType::CUDA}, true);
}

TEST(Profiler, ChromeTraceHoldsEveryOpOfATrainingStep) {
  Generator init(1), dropout_gen(2);
  const auto model = make_model("mlp", default_model_config("mlp"), init, dropout_gen);
  std::vector<float> pixels(8 * 784);
  for (size_t i = 0; i < pixels.size(); ++i) pixels[i] = static_cast<float>(i % 17) / 17.0f;
  const Tensor x = Tensor::from_vector(pixels, {8, 784});
  const Tensor y = Tensor::from_vector(std::vector<int64_t>{0, 1, 2, 3, 4, 5, 6, 7}, {8});
  AdamW optimizer(model->parameters());
  start_recording();
  {
    const ProfileRange step("step", "train step");
    optimizer.zero_grad();
    Tensor loss = cross_entropy((*model)(x), y);
    loss.backward();
    optimizer.step();
  }
  const std::vector<TraceEvent> events = stop_recording();
  const std::string path = ::testing::TempDir() + "/trace.json";
  write_chrome_trace(events, path);

  std::ifstream in(path);
  const nlohmann::json trace = nlohmann::json::parse(in);
  ASSERT_TRUE(trace.contains("traceEvents") && trace["traceEvents"].is_array());
  ASSERT_EQ(trace["traceEvents"].size(), events.size());
  double step_start = -1, step_end = -1;
  for (const nlohmann::json& e : trace["traceEvents"]) {
    ASSERT_TRUE(e["name"].is_string() && e["cat"].is_string() && e["ph"] == "X") << e.dump();
    ASSERT_TRUE(e["ts"].is_number() && e["dur"].is_number() && e["pid"].is_number_integer() &&
                e["tid"].is_number_integer())
        << e.dump();
    ASSERT_GE(e["ts"].get<double>(), 0.0);
    ASSERT_GE(e["dur"].get<double>(), 0.0);
    if (e["name"] == "train step") {
      step_start = e["ts"].get<double>();
      step_end = step_start + e["dur"].get<double>();
    }
  }
  ASSERT_GE(step_start, 0.0) << "no train step event";
  std::set<std::string> kernels, backward, modules;
  for (const nlohmann::json& e : trace["traceEvents"]) {
    EXPECT_GE(e["ts"].get<double>(), step_start - 1e-3) << e.dump();
    EXPECT_LE(e["ts"].get<double>() + e["dur"].get<double>(), step_end + 1e-3) << e.dump();
    const std::string cat = e["cat"], name = e["name"];
    (cat == "kernel" ? kernels : cat == "backward" ? backward : modules).insert(name);
  }
  // The MLP's step: Linear (matmul + bias add), ReLU, dropout, cross-entropy, then AdamW.
  for (const char* op : {"matmul", "add", "relu", "dropout", "cross_entropy"})
    EXPECT_TRUE(backward.count(op)) << "no backward event for " << op;
  for (const char* kernel : {"matmul", "binary", "unary", "dropout", "cross_entropy", "cross_entropy backward",
                             "unary backward", "optimizer step"})
    EXPECT_TRUE(kernels.count(kernel)) << "no kernel event for " << kernel;
  for (const char* module : {"Mlp", "Linear"})
    EXPECT_TRUE(modules.count(module)) << "no module event for " << module;
}

}  // namespace
}  // namespace minidl
