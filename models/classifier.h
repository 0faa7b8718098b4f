// Helpers shared by the classification models: evaluation, and model files (safetensors with the
// model's name and config in the metadata).
#pragma once

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

// Eval mode, no grad; restores the module's previous mode.
EvalResult evaluate_classifier(Module& model, const Tensor& inputs, const Tensor& labels, int64_t batch_size);

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
