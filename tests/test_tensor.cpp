// Tensor core: shapes, strides, views sharing storage, contiguity, dtype and shape errors.
#include <gtest/gtest.h>

#include "framework/core/cuda_memory.h"
#include "framework/ops/ops.h"

namespace minidl {
namespace {

std::vector<double> iota(int64_t n) {
  std::vector<double> v(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) v[i] = static_cast<double>(i);
  return v;
}

TEST(Tensor, FactoriesShapesAndStrides) {
  const Tensor t = Tensor::zeros({2, 3, 4});
  EXPECT_EQ(t.numel(), 24);
  EXPECT_EQ(t.strides(), (Shape{12, 4, 1}));
  EXPECT_EQ(t.dtype(), DType::F32);
  EXPECT_TRUE(t.is_contiguous());
  EXPECT_EQ(Tensor::scalar(2.5).item(), 2.5);
  EXPECT_EQ(Tensor::full({2}, 3, DType::I64).to_vector<int64_t>(), (std::vector<int64_t>{3, 3}));
  EXPECT_EQ(Tensor::empty({0, 5}).numel(), 0);
  EXPECT_THROW(Tensor::empty({-1}), Error);
  EXPECT_THROW(Tensor::from_vector(std::vector<float>{1, 2, 3}, {2, 2}), Error);
  for (DType d : {DType::F32, DType::F64, DType::I32, DType::I64, DType::U8, DType::Bool})
    EXPECT_EQ(Tensor::zeros({3}, d).storage()->nbytes(), 3 * dtype_size(d));
}

TEST(Tensor, ViewsShareStorage) {
  const Tensor x = Tensor::from_vector(iota(24), {2, 3, 4});
  const Tensor t = transpose(x, 0, 2);
  EXPECT_EQ(t.shape(), (Shape{4, 3, 2}));
  EXPECT_EQ(t.storage().get(), x.storage().get());
  EXPECT_FALSE(t.is_contiguous());
  // t[i][j][k] = x[k][j][i] = k*12 + j*4 + i
  const std::vector<double> tv = t.to_vector<double>();
  for (int i = 0; i < 4; ++i)
    for (int j = 0; j < 3; ++j)
      for (int k = 0; k < 2; ++k) EXPECT_EQ(tv[i * 6 + j * 2 + k], k * 12 + j * 4 + i);

  const Tensor s = slice(x, 2, 1, 4, 2);  // columns 1 and 3
  EXPECT_EQ(s.shape(), (Shape{2, 3, 2}));
  EXPECT_EQ(s.storage().get(), x.storage().get());
  EXPECT_EQ(s.to_vector<double>()[0], 1);
  EXPECT_EQ(s.to_vector<double>()[1], 3);

  const Tensor r = reshape(x, {6, -1});
  EXPECT_EQ(r.shape(), (Shape{6, 4}));
  EXPECT_EQ(r.storage().get(), x.storage().get());
  // A write through a view is seen by the base and bumps the shared version counter.
  const uint64_t v0 = x.version();
  fill_(slice(r, 0, 0, 1), -1);
  EXPECT_EQ(x.to_vector<double>()[3], -1);
  EXPECT_EQ(x.version(), v0 + 1);

  const Tensor e = expand(Tensor::from_vector(std::vector<double>{1, 2, 3}, {3, 1}), {2, 3, 5});
  EXPECT_EQ(e.strides(), (Shape{0, 1, 0}));
  EXPECT_EQ(e.to_vector<double>()[5 * 2 + 4], 3);

  const Tensor c = contiguous(t);
  EXPECT_TRUE(c.is_contiguous());
  EXPECT_NE(c.storage().get(), x.storage().get());
  EXPECT_EQ(c.to_vector<double>(), t.to_vector<double>());
  EXPECT_TRUE(contiguous(x).same(x));
}

TEST(Tensor, ReshapeOfNonContiguousCopies) {
  const Tensor x = Tensor::from_vector(iota(6), {2, 3});
  const Tensor r = reshape(transpose(x, 0, 1), {6});
  EXPECT_NE(r.storage().get(), x.storage().get());
  EXPECT_EQ(r.to_vector<double>(), (std::vector<double>{0, 3, 1, 4, 2, 5}));
}

TEST(Tensor, CastsBetweenDtypes) {
  const Tensor x = Tensor::from_vector(std::vector<float>{-1.5f, 0.f, 2.7f}, {3});
  EXPECT_EQ(to_dtype(x, DType::I64).to_vector<int64_t>(), (std::vector<int64_t>{-1, 0, 2}));
  EXPECT_EQ(to_dtype(x, DType::Bool).to_vector<uint8_t>(), (std::vector<uint8_t>{1, 0, 1}));
  EXPECT_EQ(to_dtype(x, DType::F64).to_vector<double>()[2], static_cast<double>(2.7f));
}

TEST(Tensor, ClearErrors) {
  const Tensor a = Tensor::zeros({2, 3}), b = Tensor::zeros({4});
  auto message = [](auto&& fn) {
    try {
      fn();
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_NE(message([&] { add(a, b); }).find("do not broadcast"), std::string::npos);
  EXPECT_NE(message([&] { add(a, Tensor::zeros({2, 3}, DType::F64)); }).find("different dtypes"), std::string::npos);
  EXPECT_NE(message([&] { matmul(a, a); }).find("inner sizes differ"), std::string::npos);
  EXPECT_NE(message([&] { reshape(a, {4, 2}); }).find("do not fit"), std::string::npos);
  EXPECT_NE(message([&] { a.data<double>(); }).find("data<f64>() on a f32 tensor"), std::string::npos);
  EXPECT_NE(message([&] { transpose(a, 0, 2); }).find("dim 2 out of range"), std::string::npos);
  EXPECT_NE(message([&] { exp(Tensor::zeros({2}, DType::I64)); }).find("expected a floating tensor"), std::string::npos);
  EXPECT_NE(message([&] { Device::parse("tpu"); }).find("unknown device 'tpu'"), std::string::npos);
  // Without a GPU, cuda:0 names why; with one, cuda:1 is beyond the one GPU minidl drives.
  const Device missing{DeviceType::CUDA, cuda_device_count() == 0 ? 0 : 1};
  EXPECT_NE(message([&] { Tensor::zeros({2}, DType::F32, missing); }).find("device cuda"), std::string::npos);
}

}  // namespace
}  // namespace minidl
