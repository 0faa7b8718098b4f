#include "models/resnet.h"

#include <vector>

#include "framework/core/check.h"
#include "framework/nn/batch_norm.h"
#include "framework/nn/conv_layers.h"
#include "framework/ops/ops.h"
#include "framework/regularize/dropout.h"
#include "framework/regularize/dropout_layers.h"

namespace minidl {

nlohmann::json ResNetConfig::to_json() const {
  return {{"depth", depth},     {"classes", classes}, {"stochastic_depth", stochastic_depth},
          {"dropout", dropout}, {"dropout_variant", dropout_variant}};
}

ResNetConfig ResNetConfig::from_json(const nlohmann::json& j) {
  ResNetConfig c;
  read_config(j, "ResNet", [&] {
    c.depth = j.value("depth", c.depth);
    c.classes = j.value("classes", c.classes);
    c.stochastic_depth = j.value("stochastic_depth", c.stochastic_depth);
    c.dropout = j.value("dropout", c.dropout);
    c.dropout_variant = j.value("dropout_variant", c.dropout_variant);
  });
  return c;
}

namespace {

Conv2dOptions conv3x3(int64_t stride) { return {.kernel = {3, 3}, .stride = {stride, stride}, .padding = {1, 1}, .bias = false}; }

// relu(branch(x) + shortcut(x)), branch = conv-bn-relu-conv-bn [-feature dropout] -drop path.
class BasicBlock : public Module {
 public:
  BasicBlock(int64_t in, int64_t out, int64_t stride, double drop_path_p, std::shared_ptr<Module> feature_dropout,
             Generator& init_gen, Generator& dropout_gen) {
    conv1_ = register_module("conv1", std::make_shared<Conv2d>(in, out, conv3x3(stride), init_gen));
    bn1_ = register_module("bn1", std::make_shared<BatchNorm2d>(out));
    conv2_ = register_module("conv2", std::make_shared<Conv2d>(out, out, conv3x3(1), init_gen));
    bn2_ = register_module("bn2", std::make_shared<BatchNorm2d>(out));
    if (stride != 1 || in != out) {
      downsample_ = register_module("downsample", std::make_shared<Sequential>());
      downsample_->add(std::make_shared<Conv2d>(
          in, out, Conv2dOptions{.kernel = {1, 1}, .stride = {stride, stride}, .bias = false}, init_gen));
      downsample_->add(std::make_shared<BatchNorm2d>(out));
    }
    if (feature_dropout) feature_dropout_ = register_module("feature_dropout", feature_dropout);
    drop_path_ = register_module(
        "drop_path", std::make_shared<DropoutLayer>(
                         "drop_path",
                         [](const Tensor& x, double p, bool t, Generator& g) { return drop_path(x, p, true, t, g); },
                         drop_path_p, dropout_gen));
  }

  Tensor forward(const Tensor& x) override {
    Tensor branch = (*bn2_)((*conv2_)(relu((*bn1_)((*conv1_)(x)))));
    if (feature_dropout_) branch = (*feature_dropout_)(branch);
    branch = (*drop_path_)(branch);
    return relu(add(branch, downsample_ ? (*downsample_)(x) : x));
  }

 private:
  std::shared_ptr<Conv2d> conv1_, conv2_;
  std::shared_ptr<BatchNorm2d> bn1_, bn2_;
  std::shared_ptr<Sequential> downsample_;
  std::shared_ptr<Module> feature_dropout_, drop_path_;
};

struct Architecture {
  int64_t stem;
  std::vector<int64_t> widths, blocks;
};

Architecture architecture(const std::string& depth) {
  if (depth == "resnet20") return {16, {16, 32, 64}, {3, 3, 3}};
  if (depth == "resnet18") return {64, {64, 128, 256, 512}, {2, 2, 2, 2}};
  MINIDL_FAIL("ResNet: unknown depth '{}': expected resnet20 or resnet18", depth);
}

}  // namespace

ResNet::ResNet(const ResNetConfig& config, Generator& init_gen, Generator& dropout_gen) : config_(config) {
  const Architecture arch = architecture(config.depth);
  MINIDL_CHECK(config.classes > 0, "ResNet: classes ({}) must be positive", config.classes);
  MINIDL_CHECK(config.stochastic_depth >= 0 && config.stochastic_depth < 1,
               "ResNet: stochastic_depth = {} is outside [0, 1)", config.stochastic_depth);
  MINIDL_CHECK(config.dropout_variant != "dropconnect", "ResNet: dropconnect applies to the MLP only");
  const bool on_maps = is_feature_map_variant(config.dropout_variant);
  for (int64_t b : arch.blocks) blocks_ += b;

  body_ = register_module("body", std::make_shared<Sequential>());
  body_->add(std::make_shared<Conv2d>(1, arch.stem, conv3x3(1), init_gen));
  body_->add(std::make_shared<BatchNorm2d>(arch.stem));
  body_->add(std::make_shared<ReLU>());
  int64_t channels = arch.stem, block = 0;
  const size_t stages = arch.widths.size();
  for (size_t s = 0; s < stages; ++s) {
    auto stage = std::make_shared<Sequential>();
    for (int64_t b = 0; b < arch.blocks[s]; ++b) {
      ++block;
      const int64_t stride = s > 0 && b == 0 ? 2 : 1;
      std::shared_ptr<Module> feature_dropout;
      if (on_maps && s + 2 >= stages) feature_dropout = make_dropout_layer(config.dropout_variant, config.dropout, dropout_gen);
      stage->add(std::make_shared<BasicBlock>(channels, arch.widths[s], stride,
                                              stochastic_depth_rate(config.stochastic_depth, block, blocks_),
                                              feature_dropout, init_gen, dropout_gen));
      channels = arch.widths[s];
    }
    body_->add(stage);
  }
  head_ = register_module("head", std::make_shared<Sequential>());
  head_->add(std::make_shared<AdaptiveAvgPool2d>(Size2{1, 1}));
  head_->add(std::make_shared<Flatten>());
  if (!on_maps && config.dropout > 0) head_->add(make_dropout_layer(config.dropout_variant, config.dropout, dropout_gen));
  head_->add(std::make_shared<Linear>(channels, config.classes, true, init_gen));
}

Tensor ResNet::forward(const Tensor& x) {
  MINIDL_CHECK(x.dim() == 2 && x.size(1) == 28 * 28, "ResNet: input must be [N, 784] images, got {}", x.describe());
  return (*head_)((*body_)(reshape(x, {x.size(0), 1, 28, 28})));
}

}  // namespace minidl
