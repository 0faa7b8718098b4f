// Training checkpoints (framework/io/checkpoint.h): every optimizer's state, the generators and
// the schedule round-trip exactly; a resumed run equals the straight one bit for bit (losses,
// dropout words and masks, parameters); every inconsistency is one clear error naming the file;
// and a process killed in the middle of writing a checkpoint leaves the previous one intact.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <functional>
#include <memory>
#include <stdexcept>
#include <thread>

#include "framework/io/atomic_file.h"
#include "framework/io/checkpoint.h"
#include "framework/io/data_loader.h"
#include "framework/ops/ops.h"
#include "framework/optim/optimizers.h"
#include "framework/optim/schedule.h"
#include "kernels/common/philox.h"
#include "models/mlp.h"
#include "tests/file_checks.h"

namespace minidl {
namespace {

namespace fs = std::filesystem;
using Bytes = std::vector<uint8_t>;
using Json = nlohmann::json;

// The raw bytes of a tensor, for bit-exact comparisons (NaN and -0 included).
Bytes bytes_of(const Tensor& t) {
  const Tensor c = contiguous(to_device(t.detach(), kCPU));
  const auto* p = static_cast<const uint8_t*>(c.raw_data());
  return Bytes(p, p + static_cast<size_t>(c.numel()) * dtype_size(c.dtype()));
}

// Every optimizer, each with the options that give it the most state (momentum buffers, AMSGrad,
// a centered RMSprop), so each kind of state is saved and restored.
using OptimizerFactory = std::function<std::unique_ptr<Optimizer>(std::vector<Tensor>)>;
std::vector<std::pair<std::string, OptimizerFactory>> all_optimizers() {
  return {
      {"SGD",
       [](auto p) { return std::make_unique<SGD>(p, SgdOptions{.lr = 0.05, .momentum = 0.9, .nesterov = true}); }},
      {"Adam", [](auto p) { return std::make_unique<Adam>(p, AdamOptions{.lr = 0.01, .amsgrad = true}); }},
      {"AdamW", [](auto p) { return std::make_unique<AdamW>(p, AdamWOptions{.lr = 0.01}); }},
      {"Adagrad", [](auto p) { return std::make_unique<Adagrad>(p, AdagradOptions{.lr = 0.05}); }},
      {"Adadelta", [](auto p) { return std::make_unique<Adadelta>(p, AdadeltaOptions{}); }},
      {"RMSprop",
       [](auto p) {
         return std::make_unique<RMSprop>(p, RmspropOptions{.lr = 0.01, .momentum = 0.5, .centered = true});
       }},
      {"Adamax", [](auto p) { return std::make_unique<Adamax>(p, AdamaxOptions{.lr = 0.01}); }},
      {"NAdam", [](auto p) { return std::make_unique<NAdam>(p, NadamOptions{.lr = 0.01}); }},
      {"RAdam", [](auto p) { return std::make_unique<RAdam>(p, RadamOptions{.lr = 0.01}); }},
      {"Lion", [](auto p) { return std::make_unique<Lion>(p, LionOptions{.lr = 0.001, .weight_decay = 0.1}); }},
      {"Lamb", [](auto p) { return std::make_unique<Lamb>(p, LambOptions{.lr = 0.01, .weight_decay = 0.01}); }},
  };
}

// A small dataset: 50 samples of 6 features, 3 classes, from a generator of its own.
struct Data {
  Tensor inputs, labels;
  Data() {
    Generator gen(99, 7);
    std::vector<float> x(50 * 6);
    std::vector<int64_t> y(50);
    for (float& v : x) v = static_cast<float>(gen.next_uniform() * 2 - 1);
    for (int64_t& v : y) v = static_cast<int64_t>(gen.next_below(3));
    inputs = Tensor::from_vector(x, {50, 6});
    labels = Tensor::from_vector(y, {50});
  }
};

// What one step did: its loss, the dropout words it drew and the masks they give.
struct StepRecord {
  double loss;
  std::vector<uint32_t> words;
  Bytes mask;
  bool operator==(const StepRecord&) const = default;
};

constexpr double kDropout = 0.25;

// A training run as tools/minidl/train.cpp runs one: three streams of one seed (init, shuffle,
// dropout), a shuffling loader (batch 8 of 50: 7 batches, the last one short), a schedule, and the
// position (epoch, batch, step) a checkpoint records.
struct TrainingRun {
  Generator init_gen, shuffle_gen, dropout_gen, shuffle_at_epoch_start;
  std::unique_ptr<Mlp> model;
  std::unique_ptr<Optimizer> optimizer;
  std::unique_ptr<DataLoader> loader;
  CosineSchedule schedule{0.01, 40, 3};
  int64_t epoch = 1, batch = 0, step = 0;
  double loss_sum = 0;
  std::vector<StepRecord> records;

  TrainingRun(const Data& data, const OptimizerFactory& make_optimizer, uint64_t seed,
              std::vector<int64_t> hidden = {16, 8})
      : init_gen(seed, 0), shuffle_gen(seed, 1), dropout_gen(seed, 2) {
    MlpConfig config;
    config.inputs = 6;
    config.hidden = std::move(hidden);
    config.classes = 3;
    config.dropout = kDropout;
    model = std::make_unique<Mlp>(config, init_gen, dropout_gen);
    optimizer = make_optimizer(model->parameters());
    loader = std::make_unique<DataLoader>(data.inputs, data.labels, 8, true, shuffle_gen);
  }

  void train(int64_t steps) {
    model->train();
    for (int64_t n = 0; n < steps; ++n) {
      if (batch == 0) {
        shuffle_at_epoch_start = shuffle_gen;
        loader->start_epoch();
        loss_sum = 0;
      }
      const DataLoader::Batch b = loader->batch(batch);
      const GeneratorState before = GeneratorState::of(dropout_gen);
      optimizer->set_lr(schedule.lr_at(step));
      optimizer->zero_grad();
      const Tensor loss = cross_entropy((*model)(b.inputs), b.targets);
      loss.backward();
      optimizer->step();
      StepRecord record{loss.item(), {}, {}};
      for (uint64_t i = 0; i < dropout_gen.offset() - before.offset; ++i) {
        record.words.push_back(philox_word({before.seed, before.stream, before.offset}, i));
        record.mask.push_back(dropout_keep(record.words.back(), dropout_threshold(kDropout)) ? 1 : 0);
      }
      records.push_back(std::move(record));
      loss_sum += loss.item();
      ++step;
      if (++batch == loader->num_batches()) {
        batch = 0;
        ++epoch;
      }
    }
  }

  // Mid-epoch, the shuffle generator is saved as it was when the epoch's permutation was drawn.
  TrainingState state() const {
    TrainingState s;
    s.config = {{"seed", init_gen.seed()}};
    s.epoch = epoch;
    s.batch = batch;
    s.step = step;
    s.epoch_loss_sum = loss_sum;
    s.generators = {{"init", GeneratorState::of(init_gen)},
                    {"shuffle", GeneratorState::of(batch == 0 ? shuffle_gen : shuffle_at_epoch_start)},
                    {"dropout", GeneratorState::of(dropout_gen)}};
    s.schedule = {{"name", "cosine"}};
    return s;
  }

  void save(const std::string& path) const { save_checkpoint(path, *model, *optimizer, state()); }

  void resume(const std::string& path) {
    const Checkpoint ck = load_checkpoint(path);
    restore_checkpoint(ck, *model, *optimizer);
    ck.state.generators.at("init").apply_to(init_gen);
    ck.state.generators.at("shuffle").apply_to(shuffle_gen);
    ck.state.generators.at("dropout").apply_to(dropout_gen);
    epoch = ck.state.epoch;
    batch = ck.state.batch;
    step = ck.state.step;
    loss_sum = ck.state.epoch_loss_sum;
    if (batch > 0) {  // redraw the epoch's permutation, as the epoch start did
      shuffle_at_epoch_start = shuffle_gen;
      loader->start_epoch();
    }
  }

  std::vector<Bytes> parameter_bytes() const {
    std::vector<Bytes> out;
    for (const Tensor& p : model->parameters()) out.push_back(bytes_of(p));
    return out;
  }
};

// ---------------------------------------------------------------------------------------------
// Bit-exact resume

// Train 20 steps straight, versus 10 steps, save, a fresh run (built from another seed, so
// everything must come from the file), resume, 10 steps: the same losses, dropout words and
// masks at every step, and the same parameters and optimizer state at the end, byte for byte.
// Step 10 is inside the second epoch, so the permutation must be redrawn from the saved state.
TEST(Checkpoint, ResumeIsBitExactForEveryOptimizer) {
  const Data data;
  TempDir dir;
  for (const auto& [name, make] : all_optimizers()) {
    SCOPED_TRACE(name);
    TrainingRun straight(data, make, 5);
    straight.train(20);

    TrainingRun first(data, make, 5);
    first.train(10);
    ASSERT_EQ(first.epoch, 2);
    ASSERT_EQ(first.batch, 3);
    const std::string path = dir.file(name + ".safetensors");
    first.save(path);

    TrainingRun resumed(data, make, 1234);
    ASSERT_NE(resumed.parameter_bytes(), first.parameter_bytes());
    resumed.resume(path);
    EXPECT_EQ(resumed.parameter_bytes(), first.parameter_bytes());
    resumed.train(10);

    std::vector<StepRecord> joined = first.records;
    joined.insert(joined.end(), resumed.records.begin(), resumed.records.end());
    ASSERT_EQ(joined.size(), straight.records.size());
    for (size_t i = 0; i < joined.size(); ++i) {
      EXPECT_EQ(std::memcmp(&joined[i].loss, &straight.records[i].loss, sizeof(double)), 0) << "loss of step " << i;
      EXPECT_EQ(joined[i].words, straight.records[i].words) << "dropout words of step " << i;
      EXPECT_EQ(joined[i].mask, straight.records[i].mask) << "dropout mask of step " << i;
      EXPECT_FALSE(straight.records[i].words.empty());
    }
    EXPECT_EQ(resumed.parameter_bytes(), straight.parameter_bytes());
    EXPECT_EQ(resumed.state(), straight.state());
    const Optimizer& a = *straight.optimizer;
    const Optimizer& b = *resumed.optimizer;
    EXPECT_EQ(a.lr(), b.lr());
    for (size_t i = 0; i < a.params().size(); ++i) {
      EXPECT_EQ(a.param_steps(i), b.param_steps(i));
      EXPECT_EQ(a.param_scalars(i), b.param_scalars(i));
      for (int k = 0; k < kMaxOptimizerState; ++k) {
        ASSERT_EQ(a.param_state(i)[k].defined(), b.param_state(i)[k].defined()) << "param " << i << " state " << k;
        if (a.param_state(i)[k].defined()) {
          EXPECT_EQ(bytes_of(a.param_state(i)[k]), bytes_of(b.param_state(i)[k]));
        }
      }
    }
    // Both runs end in the same file.
    straight.save(dir.file("straight.safetensors"));
    resumed.save(dir.file("resumed.safetensors"));
    EXPECT_EQ(read_file(dir.file("straight.safetensors")), read_file(dir.file("resumed.safetensors")));
  }
}

// A parameter that has not stepped yet (no gradient) has no buffers; it restores as such.
TEST(Checkpoint, ParametersWithoutStepsRoundTrip) {
  const Data data;
  TempDir dir;
  TrainingRun run(data, all_optimizers()[1].second, 3);
  const std::string path = dir.file("c.safetensors");
  run.save(path);  // before any step
  const SafetensorsFile file = load_safetensors(path);
  for (const auto& [name, t] : file.tensors) EXPECT_TRUE(name.starts_with("param/") || name.ends_with("/step")) << name;
  TrainingRun other(data, all_optimizers()[1].second, 4);
  other.resume(path);
  EXPECT_EQ(other.parameter_bytes(), run.parameter_bytes());
  for (size_t i = 0; i < other.optimizer->params().size(); ++i) {
    EXPECT_EQ(other.optimizer->param_steps(i), 0);
    EXPECT_FALSE(other.optimizer->param_state(i)[0].defined());
  }
}

// ---------------------------------------------------------------------------------------------
// Metadata round trips

TEST(Checkpoint, StateRoundTripsExactly) {
  const Data data;
  TempDir dir;
  TrainingRun run(data, all_optimizers()[2].second, 8);
  run.train(3);
  TrainingState s;
  s.config = {{"lr", 0.1}, {"nested", {{"list", {1, 2, 3}}, {"name", "x\"y"}}}, {"seed", UINT64_MAX}};
  s.epoch = 7;
  s.batch = 3;
  s.step = 1234567890123;
  s.epoch_loss_sum = 0.1 + 0.2;  // not a short decimal
  // u64 values beyond what a double (or a JSON number in many readers) holds exactly.
  s.generators = {{"a", {UINT64_MAX, UINT64_MAX - 1, UINT64_MAX - 3}},
                  {"b", {(uint64_t{1} << 53) + 1, 0, 0}},
                  {"c", {0, 2, 4}}};
  s.schedule = {{"name", "plateau"}, {"lr", 1e-300}};
  const std::string path = dir.file("s.safetensors");
  save_checkpoint(path, *run.model, *run.optimizer, s);
  const Checkpoint ck = load_checkpoint(path);
  EXPECT_EQ(ck.state, s);
  EXPECT_EQ(ck.optimizer, "AdamW");
  EXPECT_EQ(ck.lr, run.optimizer->lr());

  // Generators restored from it continue their streams.
  Generator g(1, 1), h(UINT64_MAX, UINT64_MAX - 1);
  h.set_state(UINT64_MAX, UINT64_MAX - 1, UINT64_MAX - 3);
  ck.state.generators.at("a").apply_to(g);
  EXPECT_EQ(g.next_word(), h.next_word());

  // Non-finite loss sums survive too (a diverged run still resumes).
  for (double v : {INFINITY, -INFINITY}) {
    s.epoch_loss_sum = v;
    save_checkpoint(path, *run.model, *run.optimizer, s);
    EXPECT_EQ(load_checkpoint(path).state.epoch_loss_sum, v);
  }
  s.epoch_loss_sum = NAN;
  save_checkpoint(path, *run.model, *run.optimizer, s);
  EXPECT_TRUE(std::isnan(load_checkpoint(path).state.epoch_loss_sum));
}

// ReduceOnPlateau is the one schedule with state: through a checkpoint, it continues exactly.
TEST(Checkpoint, PlateauScheduleStateRoundTrips) {
  const Data data;
  TempDir dir;
  TrainingRun run(data, all_optimizers()[0].second, 2);
  ReduceOnPlateau plateau(0.1, 0.5, 1, 1e-4, 1);
  const std::vector<double> metrics = {1.0, 0.9, 0.95, 0.97, 0.96, 0.5, 0.6, 0.7, 0.8, 0.9};
  for (size_t i = 0; i < 5; ++i) plateau.step(metrics[i]);
  TrainingState s = run.state();
  s.schedule = schedule_state_json(plateau);
  save_checkpoint(dir.file("p.safetensors"), *run.model, *run.optimizer, s);

  ReduceOnPlateau restored(0.1, 0.5, 1, 1e-4, 1);
  const Checkpoint ck = load_checkpoint(dir.file("p.safetensors"));
  restore_schedule_state(restored, ck.state.schedule, ck.path);
  EXPECT_EQ(restored.state().lr, plateau.state().lr);
  EXPECT_EQ(restored.state().best, plateau.state().best);
  EXPECT_EQ(restored.state().bad_epochs, plateau.state().bad_epochs);
  EXPECT_EQ(restored.state().cooldown_left, plateau.state().cooldown_left);
  for (size_t i = 5; i < metrics.size(); ++i) EXPECT_EQ(restored.step(metrics[i]), plateau.step(metrics[i]));

  // Before its first step the best metric is +inf, which JSON numbers cannot hold.
  ReduceOnPlateau fresh(0.2), again(0.3);
  restore_schedule_state(again, Json::parse(schedule_state_json(fresh).dump()), "x");
  EXPECT_EQ(again.state().best, INFINITY);
  EXPECT_EQ(again.lr(), 0.2);
  EXPECT_ERROR(restore_schedule_state(again, Json{{"name", "cosine"}}, "f.safetensors"), "f.safetensors",
               "schedule", "plateau");
  EXPECT_ERROR(restore_schedule_state(again, Json{{"name", "plateau"}, {"lr", -1}, {"best", 1}, {"bad_epochs", 0},
                                                  {"cooldown_left", 0}},
                                      "f.safetensors"),
               "f.safetensors", "-1");
}

// ---------------------------------------------------------------------------------------------
// Errors

// The checkpoint file with its metadata replaced by edit(meta) and its tensors by edit_tensors.
void rewrite(const std::string& from, const std::string& to, const std::function<void(Json&)>& edit,
             const std::function<void(std::vector<std::pair<std::string, Tensor>>&)>& edit_tensors = {}) {
  SafetensorsFile file = load_safetensors(from);
  Json meta = Json::parse(file.metadata.at(kCheckpointMetadataKey));
  if (edit) edit(meta);
  if (edit_tensors) edit_tensors(file.tensors);
  save_safetensors(to, file.tensors, {{kCheckpointMetadataKey, meta.dump()}});
}

TEST(Checkpoint, BadMetadataIsRejectedNamingTheFileAndValue) {
  const Data data;
  TempDir dir;
  TrainingRun run(data, all_optimizers()[2].second, 8);
  run.train(2);
  const std::string good = dir.file("good.safetensors"), bad = dir.file("bad.safetensors");
  run.save(good);
  ASSERT_NO_THROW(load_checkpoint(good));

  save_safetensors(bad, {{"x", Tensor::zeros({2})}}, {{"minidl", "{}"}});
  EXPECT_ERROR(load_checkpoint(bad), bad, "no 'minidl_checkpoint' metadata", "not a minidl training checkpoint");
  save_safetensors(bad, {}, {{kCheckpointMetadataKey, "{\"format_version\": 1,"}});
  EXPECT_ERROR(load_checkpoint(bad), bad, "malformed 'minidl_checkpoint' metadata");
  save_safetensors(bad, {}, {{kCheckpointMetadataKey, "[1]"}});
  EXPECT_ERROR(load_checkpoint(bad), bad, "expected an object");
  save_safetensors(bad, {}, {{kCheckpointMetadataKey, std::string(1000000, '[') + std::string(1000000, ']')}});
  EXPECT_ERROR(load_checkpoint(bad), bad, "nests deeper than 64 levels");

  const auto expect_rejected = [&](const std::function<void(Json&)>& edit, std::initializer_list<std::string> phrases) {
    rewrite(good, bad, edit);
    try {
      load_checkpoint(bad);
      ADD_FAILURE() << "accepted: " << load_safetensors(bad).metadata.at(kCheckpointMetadataKey);
    } catch (const Error& e) {
      const std::string message = e.what();
      EXPECT_NE(message.find(bad), std::string::npos) << message;
      for (const std::string& phrase : phrases) EXPECT_NE(message.find(phrase), std::string::npos) << message;
    }
  };
  expect_rejected([](Json& m) { m["format_version"] = 2; },
                  {"format_version 2 is not supported", "reads format_version 1"});
  expect_rejected([](Json& m) { m["format_version"] = "1"; }, {"format_version \"1\""});
  expect_rejected([](Json& m) { m.erase("format_version"); }, {"has no 'format_version'"});
  expect_rejected([](Json& m) { m.erase("step"); }, {"has no 'step'"});
  expect_rejected([](Json& m) { m["epoch"] = 0; }, {"'epoch' is 0", "expected an integer >= 1"});
  expect_rejected([](Json& m) { m["batch"] = -1; }, {"'batch' is -1"});
  expect_rejected([](Json& m) { m["step"] = 1.5; }, {"'step' is 1.5"});
  expect_rejected([](Json& m) { m["step"] = UINT64_MAX; }, {"'step' is 18446744073709551615"});
  expect_rejected([](Json& m) { m["epoch_loss_sum"] = "many"; }, {"'epoch_loss_sum' is \"many\""});
  expect_rejected([](Json& m) { m["config"] = "lr=1"; }, {"'config' is \"lr=1\"", "expected a JSON object"});
  expect_rejected([](Json& m) { m["generators"]["dropout"]["seed"] = "-1"; },
                  {"generator 'dropout'", "'seed' is \"-1\"", "expected a decimal integer in [0, 2^64)"});
  expect_rejected([](Json& m) { m["generators"]["dropout"]["seed"] = "18446744073709551616"; },
                  {"'seed' is \"18446744073709551616\""});
  expect_rejected([](Json& m) { m["generators"]["dropout"]["seed"] = "12abc"; }, {"'seed' is \"12abc\""});
  expect_rejected([](Json& m) { m["generators"]["dropout"]["seed"] = ""; }, {"'seed' is \"\""});
  expect_rejected([](Json& m) { m["generators"]["dropout"]["seed"] = 5; }, {"'seed' is 5", "expected a string"});
  expect_rejected([](Json& m) { m["generators"]["init"]["offset"] = "6"; },
                  {"generator 'init'", "offset 6 is not a multiple of 4"});
  expect_rejected([](Json& m) { m["generators"]["init"].erase("stream"); }, {"generator 'init'", "has no 'stream'"});
  expect_rejected([](Json& m) { m["optimizer"]["name"] = 3; }, {"optimizer", "'name' is 3"});
  expect_rejected([](Json& m) { m["optimizer"]["lr"] = "-inf"; }, {"lr -inf must be finite and >= 0"});
}

TEST(Checkpoint, MismatchesWithTheModelOrOptimizerAreRejectedAndChangeNothing) {
  const Data data;
  TempDir dir;
  const auto& adamw = all_optimizers()[2].second;
  TrainingRun run(data, adamw, 8);
  run.train(2);
  const std::string good = dir.file("good.safetensors"), bad = dir.file("bad.safetensors");
  run.save(good);

  TrainingRun target(data, adamw, 9);
  const std::vector<Bytes> before = target.parameter_bytes();
  const auto expect_restore_error = [&](TrainingRun& into, std::initializer_list<std::string> phrases) {
    const Checkpoint ck = load_checkpoint(bad);
    EXPECT_THROW(throws_mentioning([&] { restore_checkpoint(ck, *into.model, *into.optimizer); }, phrases), Error);
  };

  // Another optimizer.
  TrainingRun sgd(data, all_optimizers()[0].second, 9);
  EXPECT_ERROR(restore_checkpoint(load_checkpoint(good), *sgd.model, *sgd.optimizer), good,
               "holds AdamW state: cannot restore it into SGD");
  // Another model shape: the first mismatching tensor is named with both shapes.
  TrainingRun wider(data, adamw, 9, {17, 8});
  EXPECT_ERROR(restore_checkpoint(load_checkpoint(good), *wider.model, *wider.optimizer), good,
               "tensor 'param/layers.0.weight' is f32[16, 6] on cpu: expected f32[17, 6]");
  TrainingRun deeper(data, adamw, 9, {16, 8, 4});
  EXPECT_ERROR(restore_checkpoint(load_checkpoint(good), *deeper.model, *deeper.optimizer), good,
               "tensor 'param/layers.");

  using Tensors = std::vector<std::pair<std::string, Tensor>>;
  const auto drop = [](const std::string& name) {
    return [name](Tensors& ts) { std::erase_if(ts, [&](const auto& t) { return t.first == name; }); };
  };
  rewrite(good, bad, nullptr, drop("optim/layers.0.weight/exp_avg"));
  expect_restore_error(target, {bad, "missing tensor 'optim/layers.0.weight/exp_avg'", "expected f32[16, 6]"});
  rewrite(good, bad, nullptr, drop("param/layers.3.bias"));
  expect_restore_error(target, {bad, "missing tensor 'param/layers.3.bias'"});
  rewrite(good, bad, nullptr, drop("optim/layers.3.bias/step"));
  expect_restore_error(target, {bad, "missing tensor 'optim/layers.3.bias/step'", "expected i64[]"});
  rewrite(good, bad, nullptr, [](Tensors& ts) { ts.emplace_back("extra", Tensor::zeros({1})); });
  expect_restore_error(target, {bad, "unexpected tensor 'extra'"});
  rewrite(good, bad, nullptr, [](Tensors& ts) {
    for (auto& [name, t] : ts)
      if (name == "optim/layers.0.bias/exp_avg_sq") t = to_dtype(t, DType::F64);
  });
  expect_restore_error(target, {bad, "tensor 'optim/layers.0.bias/exp_avg_sq' is f64[16]", "expected f32[16]"});
  rewrite(good, bad, nullptr, [](Tensors& ts) {
    for (auto& [name, t] : ts)
      if (name == "optim/layers.0.bias/step") t = Tensor::from_vector(std::vector<int64_t>{-3}, {});
  });
  expect_restore_error(target, {bad, "'optim/layers.0.bias/step' is -3", "expected a step count >= 0"});
  rewrite(good, bad, nullptr, [](Tensors& ts) {
    for (auto& [name, t] : ts)
      if (name == "optim/layers.0.bias/step") t = Tensor::from_vector(std::vector<int64_t>{0}, {});
  });
  // Zero steps but buffers present: the buffers are left over.
  expect_restore_error(target, {bad, "unexpected tensor 'optim/layers.0.bias/exp_avg'"});
  // NAdam's scalar state is required, and finite.
  const auto& nadam = all_optimizers()[7].second;
  TrainingRun nadam_run(data, nadam, 8);
  nadam_run.train(1);
  nadam_run.save(good);
  rewrite(good, bad, nullptr, drop("optim/layers.0.weight/mu_product"));
  TrainingRun nadam_target(data, nadam, 9);
  expect_restore_error(nadam_target, {bad, "missing tensor 'optim/layers.0.weight/mu_product'", "expected f64[]"});
  rewrite(good, bad, nullptr, [](Tensors& ts) {
    for (auto& [name, t] : ts)
      if (name == "optim/layers.0.weight/mu_product") t = Tensor::from_vector(std::vector<double>{NAN}, {});
  });
  expect_restore_error(nadam_target, {bad, "'optim/layers.0.weight/mu_product' is nan", "expected a finite value"});

  // None of the failed restores changed the target.
  EXPECT_EQ(target.parameter_bytes(), before);
  for (size_t i = 0; i < target.optimizer->params().size(); ++i) EXPECT_EQ(target.optimizer->param_steps(i), 0);
}

TEST(Checkpoint, SetParamStateValidates) {
  const Data data;
  TrainingRun run(data, all_optimizers()[2].second, 8);
  Optimizer& opt = *run.optimizer;
  const Tensor& p = opt.params()[0];  // f32[16, 6]
  Optimizer::StateBuffers buffers{Tensor::zeros(p.shape()), Tensor::zeros(p.shape()), Tensor()};
  EXPECT_ERROR(opt.set_param_state(99, 1, buffers), "AdamW", "parameter 99 is out of range");
  EXPECT_ERROR(opt.set_param_state(0, -1, buffers), "AdamW", "step count -1 is negative");
  EXPECT_ERROR(opt.set_param_state(0, 0, buffers), "AdamW", "unexpected state buffer 0", "before the first step");
  EXPECT_ERROR(opt.set_param_state(0, 2, {buffers[0], Tensor(), Tensor()}), "state 'exp_avg_sq' is missing");
  EXPECT_ERROR(opt.set_param_state(0, 2, {buffers[0], Tensor::zeros({6, 16}), Tensor()}),
               "state 'exp_avg_sq' is f32[6, 16] on cpu: expected the parameter's shape and dtype");
  EXPECT_ERROR(opt.set_param_state(0, 2, {buffers[0], buffers[1], Tensor::zeros(p.shape())}),
               "unexpected state buffer 2");
  EXPECT_ERROR(opt.set_param_state(0, 2, buffers, {1.0}), "1 scalar states given, expected 0");
  EXPECT_EQ(opt.param_steps(0), 0);
  // The optimizer keeps its own copy: changing the caller's tensor later changes nothing.
  opt.set_param_state(0, 2, buffers);
  EXPECT_EQ(opt.param_steps(0), 2);
  EXPECT_FALSE(opt.param_state(0)[0].storage() == buffers[0].storage());
}

// ---------------------------------------------------------------------------------------------
// Crash safety

// A checkpoint big enough that writing it takes many pipe buffers: MLP 784-512-512-10 with AdamW
// state, about 8 MB.
struct BigRun {
  Generator init{11, 0}, dropout{11, 2};
  Mlp model{MlpConfig{}, init, dropout};
  AdamW optimizer{model.parameters(), AdamWOptions{}};

  void step() {
    optimizer.zero_grad();
    const Tensor x = Tensor::full({4, 784}, 0.5);
    cross_entropy(model(x), Tensor::from_vector(std::vector<int64_t>{1, 2, 3, 4}, {4})).backward();
    optimizer.step();
  }
  TrainingState state() const {
    TrainingState s;
    s.generators = {{"dropout", GeneratorState::of(dropout)}};
    return s;
  }
};

// After a crash, the path holds the previous checkpoint: the same bytes, and it loads and restores
// into a fresh model and optimizer.
void expect_previous_checkpoint(const std::string& path, const Bytes& saved_bytes, const std::vector<Bytes>& params) {
  EXPECT_EQ(read_file(path), saved_bytes);
  const Checkpoint ck = load_checkpoint(path);
  BigRun fresh;
  restore_checkpoint(ck, fresh.model, fresh.optimizer);
  std::vector<Bytes> restored;
  for (const Tensor& p : fresh.model.parameters()) restored.push_back(bytes_of(p));
  EXPECT_EQ(restored, params);
  EXPECT_EQ(fresh.optimizer.param_steps(0), 1);
}

// A checkpoint saved after one step, its bytes and parameters, and the run one step further.
struct PreviousCheckpoint {
  PreviousCheckpoint() {
    run.step();
    save_checkpoint(path, run.model, run.optimizer, run.state());
    saved_bytes = read_file(path);
    for (const Tensor& p : run.model.parameters()) params.push_back(bytes_of(p));
    run.step();
  }
  TempDir dir;
  std::string path = dir.file("checkpoint.safetensors");
  BigRun run;
  Bytes saved_bytes;
  std::vector<Bytes> params;
};

// A child process writes a new checkpoint over a valid one and is SIGKILLed mid-write. To kill it
// at a known point, the temporary file it writes (PATH.tmp.PID) is made a FIFO first: the parent
// reads the first 100 kB of the new checkpoint through it, so the child is blocked in the middle
// of writing the rest when the parent kills it. The rename never happens; the old file survives.
TEST(CheckpointCrash, KilledMidWriteLeavesThePreviousCheckpoint) {
  PreviousCheckpoint previous;
  const std::string& path = previous.path;
  BigRun& run = previous.run;  // one step past the checkpoint: the state the child will try to save

  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    // No gtest macros here: only the exit status (or the kill) speaks.
    const std::string tmp = fmt::format("{}.tmp.{}", path, ::getpid());
    if (::mkfifo(tmp.c_str(), 0600) != 0) ::_exit(10);
    try {
      save_checkpoint(path, run.model, run.optimizer, run.state());
    } catch (...) {
      ::_exit(11);
    }
    ::_exit(12);  // the save finished: the parent never let that happen
  }
  const std::string tmp = fmt::format("{}.tmp.{}", path, child);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  struct stat st {};
  while (::stat(tmp.c_str(), &st) != 0 || !S_ISFIFO(st.st_mode)) {
    ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "the child never created " << tmp;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  const int fd = ::open(tmp.c_str(), O_RDONLY);  // meets the child's open for writing
  ASSERT_GE(fd, 0);
  Bytes head(100000);
  size_t got = 0;
  while (got < head.size()) {
    const ssize_t n = ::read(fd, head.data() + got, head.size() - got);
    ASSERT_GT(n, 0) << "the child stopped writing after " << got << " bytes";
    got += static_cast<size_t>(n);
  }
  ASSERT_EQ(::kill(child, SIGKILL), 0);
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ::close(fd);
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << "status " << status;
  // What it had written was the start of the new checkpoint.
  const std::string text(head.begin(), head.end());
  EXPECT_NE(text.find(kCheckpointMetadataKey), std::string::npos);
  EXPECT_NE(read_file(path).size(), 0u);

  expect_previous_checkpoint(path, previous.saved_bytes, previous.params);
  std::remove(tmp.c_str());  // a crash leaves its temporary file; it is not the checkpoint
}

// The same with a real temporary file on disk: the child may write 1 MiB only (RLIMIT_FSIZE), so
// the kernel kills it with SIGXFSZ in the middle of the write. The torn temporary file is left
// behind and is itself rejected as truncated; the checkpoint at the path is the previous one.
TEST(CheckpointCrash, TornTemporaryFileIsRejectedAndThePreviousCheckpointLoads) {
  PreviousCheckpoint previous;
  const std::string& path = previous.path;
  BigRun& run = previous.run;  // one step past the checkpoint: the state the child will try to save

  constexpr rlim_t kLimit = 1 << 20;
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    const rlimit no_core{0, 0}, file_size{kLimit, kLimit};
    ::setrlimit(RLIMIT_CORE, &no_core);
    ::signal(SIGXFSZ, SIG_DFL);
    if (::setrlimit(RLIMIT_FSIZE, &file_size) != 0) ::_exit(10);
    try {
      save_checkpoint(path, run.model, run.optimizer, run.state());
    } catch (...) {
      ::_exit(11);
    }
    ::_exit(12);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGXFSZ) << "status " << status;
  const std::string tmp = fmt::format("{}.tmp.{}", path, child);
  ASSERT_TRUE(fs::exists(tmp));
  EXPECT_EQ(fs::file_size(tmp), kLimit);
  EXPECT_ERROR(load_checkpoint(tmp), tmp, "truncated");

  expect_previous_checkpoint(path, previous.saved_bytes, previous.params);
}

}  // namespace
}  // namespace minidl
