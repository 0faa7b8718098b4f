// Training checkpoints: everything a run needs to continue bit for bit, in one safetensors file
// (docs/checkpoints.md). Tensors:
//   param/<name>                 the model's parameters (named as Module::named_parameters)
//   optim/<name>/step            I64 scalar: the steps that parameter has taken
//   optim/<name>/<state>         its optimizer state buffers (torch's names: exp_avg, ...), once
//                                it has taken a step
//   optim/<name>/<scalar>        F64 scalar: per-parameter scalar state (NAdam's mu_product)
// and one metadata entry, "minidl_checkpoint", holding a JSON object: format_version, the run's
// config, the position (epoch, batch, step), the partial epoch's loss sum, the generators'
// states (u64 values as decimal strings), the schedule's state and the optimizer's name and lr.
// Doubles are JSON numbers (which round-trip exactly) or "inf", "-inf", "nan".
//
// Saving is atomic (framework/io/atomic_file.h): a crash during a save leaves the previous
// checkpoint in place. Loading validates everything and names the file and the bad value.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include <nlohmann/json.hpp>

#include "framework/io/safetensors.h"
#include "framework/nn/module.h"
#include "framework/optim/optimizer.h"
#include "framework/optim/schedule.h"
#include "framework/random/generator.h"

namespace minidl {

inline constexpr int kCheckpointFormatVersion = 1;
inline constexpr const char* kCheckpointMetadataKey = "minidl_checkpoint";

struct GeneratorState {
  uint64_t seed = 0, stream = 0, offset = 0;

  static GeneratorState of(const Generator& gen) { return {gen.seed(), gen.stream(), gen.offset()}; }
  void apply_to(Generator& gen) const { gen.set_state(seed, stream, offset); }
  bool operator==(const GeneratorState&) const = default;
};

// Where a run stands and what it needs besides the model and the optimizer.
struct TrainingState {
  nlohmann::json config = nlohmann::json::object();  // the run's configuration, as its trainer writes it
  int64_t epoch = 1;           // the epoch in progress, counting from 1
  int64_t batch = 0;           // batches of that epoch already done
  int64_t step = 0;            // optimizer steps done in all
  double epoch_loss_sum = 0;   // sum of the losses of those batches (for the epoch's mean)
  // By the trainer's names. The CLI keeps "init", "dropout" as they are now and "shuffle" as it
  // was at the start of the epoch, so resuming redraws the same permutation.
  std::map<std::string, GeneratorState> generators;
  nlohmann::json schedule = nlohmann::json::object();  // the schedule's name and any state it keeps

  bool operator==(const TrainingState&) const = default;
};

// Writes model, optimizer and state to `path` atomically. The optimizer's parameters must be
// parameters of the model; every tensor is copied to the CPU for writing.
void save_checkpoint(const std::string& path, const Module& model, const Optimizer& optimizer,
                     const TrainingState& state);

// A checkpoint read and validated as far as it can be without the model: the file parses, the
// metadata has every field with a valid value, the format version is known.
struct Checkpoint {
  std::string path;
  TrainingState state;
  std::string optimizer;  // the optimizer's name ("AdamW")
  double lr = 0;          // its learning rate when saved
  SafetensorsFile file;
};

Checkpoint load_checkpoint(const std::string& path);

// Copies the checkpoint's parameters into the model and its state into the optimizer (built the
// same way as the saved ones). Everything is checked first: the optimizer's name, every expected
// tensor present with the right shape and dtype, no tensor left over; on an error nothing changes.
void restore_checkpoint(const Checkpoint& checkpoint, Module& model, Optimizer& optimizer);

// ReduceOnPlateau's state as TrainingState::schedule holds it ({"name": "plateau", "lr", "best",
// "bad_epochs", "cooldown_left"}), and back; errors name `source`. The other schedules are pure
// functions of the step and need no state.
nlohmann::json schedule_state_json(const ReduceOnPlateau& schedule);
void restore_schedule_state(ReduceOnPlateau& schedule, const nlohmann::json& state, const std::string& source);

}  // namespace minidl
