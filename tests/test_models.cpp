// The convolutional models and their pieces: BatchNorm2d against its closed form (BatchNorm1d as it
// on [N, F, 1, 1]), augmentation's defining properties, stochastic depth's expected number of
// active blocks, where the CNN puts dropout, and model files that reload to the same predictions.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <set>
#include <vector>

#include "framework/autograd/gradcheck.h"
#include "framework/autograd/grad_mode.h"
#include "framework/io/augment.h"
#include "framework/nn/batch_norm.h"
#include "framework/ops/ops.h"
#include "framework/regularize/dropout_layers.h"
#include "models/classifier.h"
#include "models/cnn.h"
#include "models/resnet.h"

namespace minidl {
namespace {

Tensor random_images(const Shape& shape, uint64_t seed, DType dtype = DType::F32) {
  Generator gen(seed, 7);
  return to_dtype(add(mul(rand(shape, DType::F64, kCPU, gen), 4.0), -1.5), dtype);
}

TEST(BatchNorm2d, TrainNormalizesPerChannelAndUpdatesRunningStatistics) {
  BatchNorm2d bn(3, 0.1, 1e-5, DType::F64);
  const Tensor x = random_images({4, 3, 5, 2}, 1, DType::F64);
  const std::vector<double> in = x.to_vector<double>(), out = bn(x).to_vector<double>();
  const auto named = bn.named_buffers();
  const std::vector<double> running_mean = named[0].second.to_vector<double>(), running_var = named[1].second.to_vector<double>();
  const int per = 4 * 5 * 2;
  for (int c = 0; c < 3; ++c) {
    double mean = 0, var = 0, out_mean = 0, out_var = 0;
    std::vector<double> values, outs;
    for (int n = 0; n < 4; ++n)
      for (int k = 0; k < 10; ++k) values.push_back(in[(n * 3 + c) * 10 + k]), outs.push_back(out[(n * 3 + c) * 10 + k]);
    for (int i = 0; i < per; ++i) mean += values[i] / per, out_mean += outs[i] / per;
    for (int i = 0; i < per; ++i) var += (values[i] - mean) * (values[i] - mean) / per, out_var += outs[i] * outs[i] / per;
    EXPECT_NEAR(out_mean, 0.0, 1e-12);
    EXPECT_NEAR(out_var, var / (var + 1e-5), 1e-12);
    EXPECT_NEAR(running_mean[c], 0.1 * mean, 1e-12);
    EXPECT_NEAR(running_var[c], 0.9 + 0.1 * var * per / (per - 1), 1e-12);  // unbiased
  }
  EXPECT_EQ(named[2].second.item(), 1.0);  // num_batches_tracked
  // Eval normalizes with the running statistics.
  bn.eval();
  const std::vector<double> eval_out = bn(x).to_vector<double>();
  for (int i = 0; i < 10; ++i)
    EXPECT_NEAR(eval_out[i], (in[i] - running_mean[0]) / std::sqrt(running_var[0] + 1e-5), 1e-12);
}

TEST(BatchNorm2d, GradcheckInTrainMode) {
  BatchNorm2d bn(2, 0.1, 1e-5, DType::F64);
  const auto fn = [&](const std::vector<Tensor>& in) { return bn(in[0]); };
  const GradcheckResult r = gradcheck(fn, {random_images({3, 2, 2, 2}, 2, DType::F64)});
  EXPECT_TRUE(r.ok) << r.message;
  EXPECT_THROW(bn(Tensor::zeros({3, 5, 2, 2}, DType::F64)), Error);  // wrong channel count
}

TEST(BatchNorm1d, IsBatchNorm2dOverFeaturesAsChannels) {
  BatchNorm1d bn1(3, 0.1, 1e-5, DType::F64);
  BatchNorm2d bn2(3, 0.1, 1e-5, DType::F64);
  const Tensor x = reshape(random_images({6, 3, 1, 1}, 4, DType::F64), {6, 3});
  EXPECT_EQ(bn1(x).to_vector<double>(), bn2(reshape(x, {6, 3, 1, 1})).to_vector<double>());
  EXPECT_EQ(bn1.named_buffers()[1].second.to_vector<double>(), bn2.named_buffers()[1].second.to_vector<double>());
  bn1.eval(), bn2.eval();
  EXPECT_EQ(bn1(x).to_vector<double>(), bn2(reshape(x, {6, 3, 1, 1})).to_vector<double>());
  const auto fn = [&](const std::vector<Tensor>& in) { return bn1(in[0]); };
  bn1.train();
  EXPECT_TRUE(gradcheck(fn, {x}).ok);
  EXPECT_THROW(bn1(reshape(x, {6, 3, 1, 1})), Error);  // [N, F] only
}

TEST(Augmentation, CropsAndFlipsEachImageAsDrawn) {
  const Tensor images = random_images({64, 1, 6, 5}, 3);
  const std::vector<float> in = images.to_vector<float>();
  Generator gen(4);
  // No padding and no flip: the identity.
  EXPECT_EQ(random_crop_flip(images, 0, false, -1.0f, gen).to_vector<float>(), in);
  // Flip only: each image is itself or its mirror image, and both happen.
  const std::vector<float> flipped = random_crop_flip(images, 0, true, -1.0f, gen).to_vector<float>();
  int mirrored = 0;
  for (int i = 0; i < 64; ++i) {
    bool same = true, mirror = true;
    for (int y = 0; y < 6; ++y)
      for (int x = 0; x < 5; ++x) {
        same = same && flipped[i * 30 + y * 5 + x] == in[i * 30 + y * 5 + x];
        mirror = mirror && flipped[i * 30 + y * 5 + x] == in[i * 30 + y * 5 + (4 - x)];
      }
    ASSERT_TRUE(same || mirror) << "image " << i;
    mirrored += mirror && !same;
  }
  EXPECT_GT(mirrored, 10);
  EXPECT_LT(mirrored, 54);
  // Crop only: each image is a shift of the original by at most pad, filled with `fill`.
  const std::vector<float> cropped = random_crop_flip(images, 2, false, -1.0f, gen).to_vector<float>();
  for (int i = 0; i < 64; ++i) {
    bool found = false;
    for (int dy = -2; dy <= 2 && !found; ++dy)
      for (int dx = -2; dx <= 2 && !found; ++dx) {
        bool match = true;
        for (int y = 0; y < 6; ++y)
          for (int x = 0; x < 5; ++x) {
            const int sy = y + dy, sx = x + dx;
            const float want = sy >= 0 && sy < 6 && sx >= 0 && sx < 5 ? in[i * 30 + sy * 5 + sx] : -1.0f;
            match = match && cropped[i * 30 + y * 5 + x] == want;
          }
        found = match;
      }
    ASSERT_TRUE(found) << "image " << i << " is not a shifted copy";
  }
  // A pure function of the generator state.
  Generator a(9), b(9);
  EXPECT_EQ(random_crop_flip(images, 2, true, 0.f, a).to_vector<float>(),
            random_crop_flip(images, 2, true, 0.f, b).to_vector<float>());
}

// Stochastic depth with the linear rule: block l of L is active with probability 1 - p_L l / L, so
// the expected number of active blocks per sample is sum_l (1 - p_l).
TEST(StochasticDepth, ActiveBlocksMatchTheLinearDecayRule) {
  Generator init(1), drop(2);
  ResNet net(ResNetConfig{.depth = "resnet20", .stochastic_depth = 0.5}, init, drop);
  const int64_t blocks = net.blocks(), batch = 32, repeats = 8;
  double active = 0, variance = 0;
  for (int64_t l = 1; l <= blocks; ++l) {
    const double p = 0.5 * static_cast<double>(l) / static_cast<double>(blocks);
    active += 1 - p;
    variance += p * (1 - p);
  }
  int64_t counted = 0, layers = 0;
  net.apply([&](Module& m) {
    auto* layer = dynamic_cast<DropoutLayer*>(&m);
    if (layer == nullptr || layer->variant() != "drop_path") return;
    ++layers;
    m.add_forward_hook([&](Module&, const Tensor& out) {
      const int64_t per = out.numel() / out.size(0);
      const std::vector<float> v = out.to_vector<float>();
      for (int64_t s = 0; s < out.size(0); ++s) {
        bool any = false;
        for (int64_t k = 0; k < per && !any; ++k) any = v[s * per + k] != 0.0f;
        counted += any;
      }
    });
  });
  ASSERT_EQ(layers, blocks);
  NoGradGuard no_grad;
  for (int64_t r = 0; r < repeats; ++r) net(reshape(random_images({batch, 1, 28, 28}, 10 + r), {batch, 784}));
  const double samples = static_cast<double>(batch * repeats);
  EXPECT_NEAR(static_cast<double>(counted) / samples, active, 5 * std::sqrt(variance / samples));
}

// dropout_on_maps moves element-wise dropout from after the hidden layer to after each
// convolutional block, which shifts the layer indices in the parameter names.
TEST(Cnn, DropoutOnMapsMovesDropoutToTheFeatureMaps) {
  const Tensor x = reshape(random_images({2, 1, 28, 28}, 21), {2, 784});
  for (bool on_maps : {false, true}) {
    Generator init(3), drop(4);
    CnnConfig config{.channels = {4, 4}, .hidden = 8, .dropout = 0.5};
    config.dropout_on_maps = on_maps;
    Cnn model(config, init, drop);
    std::set<std::string> names;
    for (const auto& [name, t] : model.named_parameters()) names.insert(name);
    EXPECT_EQ(names.count(on_maps ? "features.5.weight" : "features.4.weight"), 1u) << on_maps;
    EXPECT_EQ(names.count(on_maps ? "classifier.3.weight" : "classifier.4.weight"), 1u) << on_maps;
    EXPECT_EQ(model(x).shape(), (Shape{2, 10}));
    EXPECT_EQ(CnnConfig::from_json(config.to_json()).dropout_on_maps, on_maps);
  }
}

// A saved model (BatchNorm buffers included) reloads to the same eval predictions.
TEST(ModelFiles, ConvolutionalModelsReloadToTheSamePredictions) {
  const Tensor x = reshape(random_images({4, 1, 28, 28}, 20), {4, 784});
  for (const char* name : {"cnn", "resnet20"}) {
    Generator init(3), drop(4);
    auto model = make_model(name, default_model_config(name), init, drop);
    (*model)(x);  // one training-mode pass moves the running statistics away from their start
    model->eval();
    const std::vector<float> want = (*model)(x).to_vector<float>();
    const std::string path = (std::filesystem::temp_directory_path() / (std::string("minidl_") + name + ".safetensors")).string();
    save_model_file(path, *model, {{"model", name}, {"config", model->config_json()}});
    const LoadedModel loaded = load_model_file(path);
    loaded.model->eval();
    EXPECT_EQ((*loaded.model)(x).to_vector<float>(), want) << name;
    std::filesystem::remove(path);
  }
  Generator g;
  EXPECT_THROW(make_model("vgg", nlohmann::json::object(), g, g), Error);
  EXPECT_THROW(make_model("cnn", {{"channels", {32, 32, 32, 32, 32}}}, g, g), Error);
  EXPECT_THROW(make_model("mlp", {{"dropout_variant", "dropblock"}}, g, g), Error);
}

}  // namespace
}  // namespace minidl
