#include "framework/io/fashion_mnist.h"

#include <array>
#include <filesystem>

#include "framework/io/idx.h"

namespace minidl {

namespace {

constexpr int64_t kSide = 28;

}  // namespace

Dataset load_fashion_mnist(const std::string& dir, bool train) {
  std::error_code ec;
  const std::filesystem::file_status status = std::filesystem::status(dir, ec);
  MINIDL_CHECK(std::filesystem::exists(status),
               "Fashion-MNIST directory {} does not exist: install the Debian package dataset-fashion-mnist "
               "(it provides {}) or give the directory holding the four .gz files",
               dir, kDefaultFashionMnistDir);
  MINIDL_CHECK(std::filesystem::is_directory(status), "Fashion-MNIST directory {} is not a directory", dir);

  const std::string prefix = (std::filesystem::path(dir) / (train ? "train" : "t10k")).string();
  const std::string images_path = prefix + "-images-idx3-ubyte.gz", labels_path = prefix + "-labels-idx1-ubyte.gz";
  const IdxArray images = read_idx_u8(images_path);
  const IdxArray labels = read_idx_u8(labels_path);
  MINIDL_CHECK(images.dims.size() == 3 && images.dims[1] == kSide && images.dims[2] == kSide,
               "{}: images of shape {}: expected [N, {}, {}]", images_path, shape_str(images.dims), kSide, kSide);
  MINIDL_CHECK(labels.dims.size() == 1, "{}: labels of shape {}: expected [N]", labels_path, shape_str(labels.dims));
  const int64_t n = images.dims[0];
  MINIDL_CHECK(labels.dims[0] == n, "{} holds {} images but {} holds {} labels", images_path, n, labels_path,
               labels.dims[0]);

  Dataset out{Tensor::empty({n, kSide * kSide}, DType::F32), Tensor::empty({n}, DType::I64)};
  // 256 possible pixel values: normalize each once, in double, then round to f32.
  std::array<float, 256> normalized;
  for (int v = 0; v < 256; ++v) {
    normalized[v] = static_cast<float>((v / 255.0 - kFashionMnistMean) / kFashionMnistStd);
  }
  float* pixels = out.images.data<float>();
  for (size_t i = 0; i < images.data.size(); ++i) pixels[i] = normalized[images.data[i]];
  int64_t* label_data = out.labels.data<int64_t>();
  for (int64_t i = 0; i < n; ++i) {
    const uint8_t label = labels.data[static_cast<size_t>(i)];
    MINIDL_CHECK(label < kFashionMnistClasses, "{}: label {} at index {}: expected 0 to {}", labels_path, label, i,
                 kFashionMnistClasses - 1);
    label_data[i] = label;
  }
  return out;
}

}  // namespace minidl
