#include "tools/minidl/train_graph.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <vector>

#include "framework/io/graph_data.h"
#include "framework/regularize/dropout_layers.h"
#include "models/classifier.h"
#include "models/gnn.h"
#include "tools/minidl/progress.h"

namespace minidl::cli {

namespace {

const char* const kGraphOptionNames[] = {"--graph", "--hidden", "--drop-edge", "--drop-node"};

GnnConfig gnn_config(const TrainOptions& o, const GraphOptions& g, const CLI::App& cmd, const GraphData& data) {
  GnnConfig c;
  c.kind = o.model;
  c.in_features = data.features.size(1);
  c.classes = data.num_classes;
  c.hidden = g.hidden;
  if (cmd.count("--layers") > 0) c.layers = cmd.get_option("--layers")->as<int64_t>();
  if (cmd.count("--heads") > 0) c.heads = cmd.get_option("--heads")->as<int64_t>();
  if (cmd.count("--attention-dropout") > 0) c.attention_dropout = cmd.get_option("--attention-dropout")->as<double>();
  const DropoutSpec spec = parse_dropout_spec(o.dropout);
  MINIDL_CHECK(spec.name == "dropout", "--dropout {}: the graph models take standard feature dropout, --dropout P",
               o.dropout);
  c.dropout = cmd.count("--dropout") > 0 ? spec.p : 0.5;
  c.drop_edge = g.drop_edge;
  c.drop_node = g.drop_node;
  c.validate();
  MINIDL_CHECK(c.kind == "gat" || cmd.count("--heads") + cmd.count("--attention-dropout") == 0,
               "--heads and --attention-dropout apply to gat, not {}", c.kind);
  MINIDL_CHECK(c.kind != "node-mlp" || g.drop_edge == 0, "--drop-edge {}: node-mlp has no edges to drop",
               g.drop_edge);
  return c;
}

void validate_graph_run(const TrainOptions& o) {
  MINIDL_CHECK(o.regs.empty() && o.stochastic_depth == 0 && !o.augment && o.resume.empty() && o.limit_train == 0 &&
                   o.limit_test == 0 && o.checkpoint_every == 0 && o.embedding_dropout == 0 && o.tensorboard.empty(),
               "minidl train {}: --reg, --stochastic-depth, --augment, --resume, --limit-*, --checkpoint-every, "
               "--embedding-dropout and --tensorboard do not apply to graph models",
               o.model);
  validate_optimization(o);
}

}  // namespace

void add_graph_options(CLI::App& cmd, GraphOptions& g) {
  const std::string group = "Graph models (gcn, gat, sage, node-mlp)";
  cmd.add_option("--graph", g.graph,
                 "karate, csbm[:homophily=H,classes=C,nodes=N,degree=D,features=F,signal=S,seed=K,train=T,val=V], "
                 "or files:edges=PATH,labels=PATH[,features=PATH,...]")
      ->capture_default_str()
      ->group(group);
  cmd.add_option("--hidden", g.hidden, "hidden features (per head for gat)")->capture_default_str()->group(group);
  cmd.add_option("--drop-edge", g.drop_edge, "DropEdge rate on each layer's edge weights")
      ->capture_default_str()
      ->group(group);
  cmd.add_option("--drop-node", g.drop_node, "DropNode rate on the input feature rows")
      ->capture_default_str()
      ->group(group);
}

bool graph_options_given(const CLI::App& cmd) {
  for (const char* name : kGraphOptionNames)
    if (cmd.count(name) > 0) return true;
  return false;
}

bool is_graph_model(const std::string& model) { return is_gnn_kind(model); }

const std::vector<std::string>& lm_options_of_graph_models() {
  static const std::vector<std::string> names = {"--layers", "--heads", "--attention-dropout"};
  return names;
}

void run_train_graph(TrainOptions o, const GraphOptions& g, const CLI::App& cmd) {
  if (cmd.count("--epochs") == 0) o.epochs = 200;
  // A step is an epoch here (full batch): --stop-after-steps (minidl profile's --steps) cuts the run short.
  if (o.stop_after_steps > 0) o.epochs = std::min(o.epochs, o.stop_after_steps);
  if (cmd.count("--optimizer") == 0) o.optimizer = "adam";
  if (cmd.count("--lr") == 0) o.lr = 0.01;
  if (cmd.count("--weight-decay") == 0) o.weight_decay = 5e-4;
  if (cmd.count("--schedule") == 0) o.schedule = "constant";
  validate_graph_run(o);
  const Device device = Device::parse(o.device);
  const AutocastGuard autocast(autocast_dtype_of(o));
  const GraphData data = load_graph(g.graph);
  Generator init_gen(o.seed, 0), dropout_gen(o.seed, 2);
  Gnn model(gnn_config(o, g, cmd, data), init_gen, dropout_gen);
  model.to(device);
  const GnnGraph graph = prepare_gnn_graph(data, device);

  auto optimizer = make_optimizer(o, model.parameters());
  const std::shared_ptr<const LrSchedule> schedule = make_schedule(o, o.epochs, 1);
  int64_t parameters = 0;
  for (const Tensor& p : model.parameters()) parameters += p.numel();
  fmt::print("training {} on {} ({} nodes, {} directed edges, {} features, {} classes, edge homophily {:.3f}; "
             "{} train, {} validation, {} test nodes) on {}: {} epochs, {} parameters, {} lr {}, weight decay {}, "
             "dropout {}, drop-edge {}, drop-node {}, {} precision, seed {}\n",
             o.model, data.name, data.num_nodes, data.num_edges(), data.features.size(1), data.num_classes,
             data.num_edges() > 0 ? edge_homophily(data) : 0.0, data.train_nodes.size(), data.val_nodes.size(),
             data.test_nodes.size(), device.str(), o.epochs, parameters, o.optimizer, o.lr, o.weight_decay,
             model.config().dropout, g.drop_edge, g.drop_node, o.precision, o.seed);

  MetricsLog metrics(o.out);
  const auto start = std::chrono::steady_clock::now();
  auto epoch_start = start;
  ProgressBar bar("epochs", o.epochs);
  const GnnFit fit = fit_gnn(model, graph, *optimizer, *schedule, o.epochs, [&](const GnnEpoch& e) {
    const auto now = std::chrono::steady_clock::now();
    const double epoch_seconds = std::chrono::duration<double>(now - epoch_start).count();
    epoch_start = now;
    bar.update(e.epoch, fmt::format("loss {:.4f} val {:.3f}", e.loss, e.accuracy.val));
    const bool report = o.log_every > 0 ? e.epoch % o.log_every == 0 : e.epoch % 50 == 0 || e.epoch == o.epochs;
    if (report)
      metrics.write({{"epoch", e.epoch},
                     {"loss", e.loss},
                     {"train_accuracy", e.accuracy.train},
                     {"val_accuracy", e.accuracy.val},
                     {"test_accuracy", e.accuracy.test},
                     {"seconds", epoch_seconds}});  // this epoch's: training step and evaluation
  });
  bar.finish();
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  fmt::print("final epoch: train accuracy {:.4f}, validation accuracy {:.4f}, test accuracy {:.4f} ({:.1f} s)\n",
             fit.last.train, fit.last.val, fit.last.test, seconds);
  if (data.val_nodes.empty())
    fmt::print("test accuracy {:.4f} (no validation nodes: the last epoch)\n", fit.test_at_best);
  else
    fmt::print("test accuracy {:.4f} (at epoch {}, the best validation accuracy {:.4f})\n", fit.test_at_best,
               fit.best_epoch, fit.best_val);
  if (!o.out.empty()) {
    const std::string path = (std::filesystem::path(o.out) / "model.safetensors").string();
    save_model_file(path, model,
                    {{"format_version", 1}, {"model", o.model}, {"config", model.config().to_json()},
                     {"graph", g.graph}, {"seed", o.seed}, {"epochs", o.epochs}, {"test_accuracy", fit.test_at_best},
                     {"best_epoch", fit.best_epoch}});
    fmt::print("wrote {} and {}/metrics.jsonl\n", path, o.out);
  }
}

}  // namespace minidl::cli
