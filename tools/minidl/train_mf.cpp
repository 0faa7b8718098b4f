#include "tools/minidl/train_mf.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>

#include "framework/core/profiler.h"
#include "framework/io/data_loader.h"
#include "framework/io/ratings.h"
#include "models/classifier.h"
#include "models/mf.h"
#include "tools/minidl/progress.h"

namespace minidl::cli {

namespace {

// mf's own defaults of the shared options (unless given): its steps are cheap, so a larger batch
// and rate and fewer epochs than the classifiers' take.
constexpr double kDefaultMfLr = 1e-2;
constexpr int64_t kDefaultMfBatch = 256;
constexpr int64_t kDefaultMfEpochs = 10;
constexpr int64_t kEvalBatch = 4096;

const char* const kMfOptionNames[] = {"--users", "--items", "--rank", "--true-rank", "--density", "--noise",
                                      "--data-seed"};

// The train options mf has no use for: its data is generated, it takes no other regularizer and
// writes no checkpoints.
const char* const kNotForMf[] = {"--dropout",     "--reg",        "--stochastic-depth", "--augment",
                                 "--data-dir",    "--limit-train", "--limit-test",      "--resume",
                                 "--checkpoint-every", "--stop-after-steps",            "--tensorboard"};

RatingsConfig ratings_config(const MfOptions& mf) {
  RatingsConfig c;
  c.users = mf.users;
  c.items = mf.items;
  c.rank = mf.true_rank;
  c.density = mf.density;
  c.noise = mf.noise;
  c.seed = mf.data_seed;
  return c;
}

MfConfig mf_config(const TrainOptions& o, const MfOptions& mf) {
  MfConfig c;
  c.users = mf.users;
  c.items = mf.items;
  c.rank = mf.rank;
  c.embedding_dropout = o.embedding_dropout;
  return c;
}

void validate_mf(const TrainOptions& o, const MfOptions& mf, const CLI::App& cmd) {
  for (const char* flag : kNotForMf) MINIDL_CHECK(cmd.count(flag) == 0, "{} does not apply to mf", flag);
  MINIDL_CHECK(cmd.count("--precision") == 0,
               "--precision does not apply to mf: its model has no matmul, where autocast's bf16 starts");
  MINIDL_CHECK(mf.rank > 0, "--rank {} must be positive", mf.rank);
  MINIDL_CHECK(o.embedding_dropout >= 0 && o.embedding_dropout < 1, "--embedding-dropout {} is outside [0, 1)",
               o.embedding_dropout);
  validate_optimization(o);
}

}  // namespace

void add_mf_options(CLI::App& cmd, MfOptions& mf) {
  const std::string group = "Recommender (mf)";
  cmd.add_option("--users", mf.users, "users (rows of the rating matrix)")->capture_default_str()->group(group);
  cmd.add_option("--items", mf.items, "items (columns of the rating matrix)")->capture_default_str()->group(group);
  cmd.add_option("--rank", mf.rank, "the model's factors per user and per item")->capture_default_str()->group(group);
  cmd.add_option("--true-rank", mf.true_rank, "rank of the generated matrix")->capture_default_str()->group(group);
  cmd.add_option("--density", mf.density, "fraction of the entries observed, in (0, 1]")
      ->capture_default_str()
      ->group(group);
  cmd.add_option("--noise", mf.noise, "standard deviation of the Gaussian noise on each rating")
      ->capture_default_str()
      ->group(group);
  cmd.add_option("--data-seed", mf.data_seed, "seed of the generated ratings (--seed leaves them unchanged)")
      ->capture_default_str()
      ->group(group);
}

bool mf_options_given(const CLI::App& cmd) {
  for (const char* name : kMfOptionNames)
    if (cmd.count(name) > 0) return true;
  return false;
}

bool is_recommender(const std::string& model) { return model == "mf"; }

void run_train_mf(TrainOptions o, const MfOptions& mf, const CLI::App& cmd) {
  if (cmd.count("--lr") == 0) o.lr = kDefaultMfLr;
  if (cmd.count("--batch-size") == 0) o.batch_size = kDefaultMfBatch;
  if (cmd.count("--epochs") == 0) o.epochs = kDefaultMfEpochs;
  validate_mf(o, mf, cmd);
  const Device device = Device::parse(o.device);
  const Ratings data = make_synthetic_ratings(ratings_config(mf));
  const double mean_baseline = mean_baseline_rmse(data), noise_floor = noise_floor_rmse(data);

  // Separate streams of one seed, as for the other models: initialization, order, dropout.
  Generator init_gen(o.seed, 0), shuffle_gen(o.seed, 1), dropout_gen(o.seed, 2);
  Mf model(mf_config(o, mf), mean_rating(data.train), init_gen, dropout_gen);
  model.to(device);
  DataLoader loader(data.train.pairs, data.train.ratings, o.batch_size, true, shuffle_gen);
  loader.set_pin_memory(device.type == DeviceType::CUDA);
  auto optimizer = make_optimizer(o, model.parameters());
  const int64_t batches = loader.num_batches();
  const std::shared_ptr<const LrSchedule> schedule = make_schedule(o, o.epochs * batches, batches);
  // minidl profile cuts the run short with stop_after_steps (as a flag it is refused: mf writes no
  // checkpoints).
  const int64_t last_step =
      o.stop_after_steps > 0 ? std::min(o.stop_after_steps, o.epochs * batches) : o.epochs * batches;
  int64_t parameters = 0;
  for (const Tensor& p : model.parameters()) parameters += p.numel();
  fmt::print("training mf on synthetic ratings ({} users x {} items, true rank {}, density {}, noise {}: {} train, "
             "{} test) on {}: {} epochs, batch {}, rank {} ({} parameters), {} lr {} ({} schedule), "
             "embedding dropout {}, seed {}\n",
             mf.users, mf.items, mf.true_rank, mf.density, mf.noise, data.train.size(), data.test.size(),
             device.str(), o.epochs, o.batch_size, mf.rank, parameters, o.optimizer, o.lr, o.schedule,
             o.embedding_dropout, o.seed);
  fmt::print("baselines on the test ratings: the train mean scores RMSE {:.4f}; the noise-free matrix {:.4f} "
             "(the noise floor, sigma = {})\n",
             mean_baseline, noise_floor, mf.noise);

  MetricsLog metrics(o.out);
  int64_t step = 0;
  double test_rmse = 0;
  for (int64_t epoch = 1; epoch <= o.epochs && step < last_step; ++epoch) {
    const auto start = std::chrono::steady_clock::now();
    model.train();
    loader.start_epoch();
    double loss_sum = 0;
    ProgressBar bar(fmt::format("epoch {}/{}", epoch, o.epochs), batches);
    for (int64_t b = 0; b < batches && step < last_step; ++b) {
      const ProfileRange step_range("step", "train step");
      const DataLoader::Batch batch = loader.batch(b);
      optimizer->set_lr(schedule->lr_at(step));
      const double loss_value = mf_train_step(model, batch.inputs, batch.targets, *optimizer);
      ++step;
      loss_sum += loss_value;
      bar.update(b + 1, fmt::format("loss {:.4f}", loss_sum / static_cast<double>(b + 1)));
      if (o.log_every > 0 && step % o.log_every == 0)
        metrics.write({{"epoch", epoch}, {"step", step}, {"loss", loss_value}, {"lr", optimizer->lr()}});
    }
    bar.finish();
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    // Both in eval mode (no dropout): the train RMSE falling below the noise floor shows overfitting.
    const double train_rmse = evaluate_rmse(model, data.train, kEvalBatch);
    test_rmse = evaluate_rmse(model, data.test, kEvalBatch);
    fmt::print("epoch {:>3}/{}  train RMSE {:.4f}  test RMSE {:.4f}  {:.1f} s\n", epoch, o.epochs, train_rmse,
               test_rmse, seconds);
    std::fflush(stdout);
    metrics.write({{"epoch", epoch},
                   {"step", step},
                   {"train_rmse", train_rmse},
                   {"test_rmse", test_rmse},
                   {"lr", optimizer->lr()},
                   {"seconds", seconds}});
  }
  fmt::print("test RMSE {:.4f} (noise floor {:.4f}, train-mean baseline {:.4f})\n", test_rmse, noise_floor,
             mean_baseline);
  if (!o.out.empty()) {
    const std::string path = (std::filesystem::path(o.out) / "model.safetensors").string();
    save_model_file(path, model,
                    {{"format_version", 1}, {"model", "mf"}, {"config", model.config().to_json()},
                     {"data", data.config.to_json()}, {"seed", o.seed}, {"epochs", o.epochs},
                     {"test_rmse", test_rmse}, {"noise_floor", noise_floor}, {"mean_baseline", mean_baseline}});
    fmt::print("wrote {} and {}/metrics.jsonl\n", path, o.out);
  }
}

}  // namespace minidl::cli
