// Fashion-MNIST (Zalando): 28x28 grayscale clothing images in 10 classes, 60000 for training and
// 10000 for testing, as the four gzipped IDX files of the original release.
#pragma once

#include <string>

#include "framework/core/tensor.h"

namespace minidl {

// Where the Debian package dataset-fashion-mnist installs the files.
inline constexpr const char* kDefaultFashionMnistDir = "/usr/share/datasets/fashion-mnist";

// Mean and standard deviation of the training pixels scaled to [0, 1].
inline constexpr double kFashionMnistMean = 0.2860;
inline constexpr double kFashionMnistStd = 0.3530;

inline constexpr int64_t kFashionMnistClasses = 10;

struct Dataset {
  Tensor images;  // f32 [N, 784], each pixel x as (x / 255 - kFashionMnistMean) / kFashionMnistStd
  Tensor labels;  // i64 [N], class indices in [0, 10)
};

// Reads dir/{train,t10k}-images-idx3-ubyte.gz and dir/{train,t10k}-labels-idx1-ubyte.gz.
Dataset load_fashion_mnist(const std::string& dir, bool train);

}  // namespace minidl
