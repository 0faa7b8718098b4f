// The options of `minidl train`: the run's config (saved in its checkpoints and restored by
// --resume), their checks, and what they build: the optimizer, the learning-rate schedule and the
// model's config.
#pragma once

#include <CLI/CLI.hpp>

#include <cstdint>
#include <fstream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "framework/io/checkpoint.h"
#include "framework/io/fashion_mnist.h"
#include "framework/optim/optimizer.h"
#include "framework/ops/autocast.h"
#include "framework/optim/schedule.h"

namespace minidl::cli {

struct TrainOptions {
  std::string model = "mlp";
  int64_t epochs = 10;
  uint64_t seed = 0;
  std::string out;
  std::string device = "auto";  // the GPU when one is present, else the CPU
  std::string data_dir = kDefaultFashionMnistDir;
  std::string optimizer = "adamw";
  double lr = 1e-3;
  double weight_decay = 0.05;
  double momentum = 0.9;
  std::string dropout = "0.2";    // "NAME:p" or "p" (standard dropout)
  std::vector<std::string> regs;  // --reg NAME:args, in order
  double stochastic_depth = 0;    // resnet: p_L of the linear decay rule
  bool augment = false;           // random crop (pad 2) and horizontal flip
  int64_t batch_size = 128;
  std::string precision = "f32";  // or bf16: autocast on a CUDA device (framework/ops/autocast.h)
  std::string schedule = "cosine";
  int64_t warmup_steps = 0;
  int64_t lr_step_size = 0;  // 0: one epoch
  double lr_gamma = 0.1;
  int64_t limit_train = 0;  // 0: the whole training set
  int64_t limit_test = 0;   // 0: the whole test set
  int64_t checkpoint_every = 0;
  int64_t log_every = 0;
  // Per invocation, not part of the run's config.
  std::string resume;
  int64_t stop_after_steps = 0;
  // Where this invocation writes its TensorBoard events (none when empty). Outside the saved
  // config, so checkpoints written before the option existed still resume, and a resumed run
  // logs where its own command line says.
  std::string tensorboard;
  // gpt, lstm and mf: whole rows of their embedding tables dropped in training. None of them
  // resumes from a checkpoint, so it is outside the saved config.
  double embedding_dropout = 0;
};

using Json = nlohmann::json;

// OUT/metrics.jsonl of a run with --out OUT: one JSON record per line, flushed as written, so a
// crashed run keeps what it logged. Without --out it drops the records.
class MetricsLog {
 public:
  // Creates out and starts its metrics.jsonl afresh, or appends to it (a resumed run).
  explicit MetricsLog(const std::string& out, bool append = false);
  void write(const Json& record);
  static std::string path(const std::string& out);  // out/metrics.jsonl

 private:
  std::ofstream file_;
};

// Each check of the options, one clear error per bad value; also fails when the device is missing.
void validate(const TrainOptions& o);
// The checks of the options every trainer shares (optimizer, schedule, epochs, batch, device):
// part of validate(), and all of it for the models that take no classifier options.
void validate_optimization(const TrainOptions& o);
// The options that define the run, as saved in its checkpoints.
Json config_to_json(const TrainOptions& o);
// --resume: the run's config comes from the checkpoint. A config flag given on the command line
// must agree with it, except --epochs, which may extend the run, and --checkpoint-every and
// --log-every, which may change; the other options (--device, --data-dir, --stop-after-steps,
// --tensorboard) belong to this invocation.
void apply_saved_config(TrainOptions& o, const CLI::App& cmd, const Checkpoint& ck);

// The model's config: its defaults with the run's dropout variant (and stochastic depth).
Json model_config(const TrainOptions& o);
std::unique_ptr<Optimizer> make_optimizer(const TrainOptions& o, std::vector<Tensor> params);
std::shared_ptr<const LrSchedule> make_schedule(const TrainOptions& o, int64_t total_steps, int64_t steps_per_epoch);
// The autocast dtype of --precision: bf16, or none for f32.
std::optional<DType> autocast_dtype_of(const TrainOptions& o);
// The same for any command's --precision, checked: f32, or bf16 on a CUDA device (device_flag is
// what --device said).
std::optional<DType> checked_autocast_dtype(const std::string& precision, Device device, const std::string& device_flag);
// --precision's help, shared by train, profile, eval and sample.
extern const char* const kPrecisionHelp;
std::string optimizer_names();  // for --help
std::string schedule_names();

}  // namespace minidl::cli
