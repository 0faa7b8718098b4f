// Helpers shared by the classification models: evaluation, and model files (safetensors with the
// model's name and config in the metadata).
#pragma once

#include <functional>

#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "framework/io/fashion_mnist.h"
#include "framework/nn/module.h"

namespace minidl {

struct EvalResult {
  double loss = 0;      // mean cross-entropy
  double accuracy = 0;  // fraction of argmax predictions equal to the label
};

// Called after each batch with the inputs done so far and the total (a progress bar).
using EvalProgress = std::function<void(int64_t done, int64_t total)>;

// Eval mode, no grad; restores the module's previous mode.
EvalResult evaluate_classifier(Module& model, const Tensor& inputs, const Tensor& labels, int64_t batch_size,
                               const EvalProgress& progress = nullptr);

// MC dropout (Gal & Ghahramani 2016): dropout kept active at test time, `samples` forward passes
// per input; the prediction is the mean of their softmax outputs.
struct McDropoutResult {
  double accuracy = 0;             // of the mean prediction
  double nll = 0;                  // mean -log(mean probability of the label)
  double predictive_entropy = 0;   // mean over inputs of H[mean prediction], in nats
  double predictive_variance = 0;  // mean over inputs and classes of the variance across samples
};
McDropoutResult evaluate_mc_dropout(Module& model, const Tensor& inputs, const Tensor& labels, int64_t batch_size,
                                    int64_t samples, const EvalProgress& progress = nullptr);

// Metadata key holding {"format_version", "model", "config", ...} as a JSON string.
inline constexpr const char* kModelMetadataKey = "minidl";

void save_model_file(const std::string& path, const Module& model, const nlohmann::json& info);

struct LoadedModel {
  std::shared_ptr<Module> model;
  nlohmann::json info;
};

// Rebuilds the model named in the file's metadata and loads its parameters.
LoadedModel load_model_file(const std::string& path);

}  // namespace minidl
