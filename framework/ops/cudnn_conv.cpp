#include "framework/ops/cudnn_conv.h"

#include <cstdlib>
#include <cstring>
#include <string>

#include "framework/core/check.h"

#if defined(MINIDL_HAS_CUDNN)
#include <cudnn.h>

#include <array>
#include <vector>
#endif

namespace minidl {

namespace {

bool cudnn_selected() {
  static const bool selected = [] {
    const char* choice = std::getenv("MINIDL_CONV");
    if (choice == nullptr || std::strcmp(choice, "im2col") == 0) return false;
    MINIDL_CHECK(std::strcmp(choice, "cudnn") == 0, "MINIDL_CONV='{}': expected im2col or cudnn", choice);
#if !defined(MINIDL_HAS_CUDNN)
    MINIDL_FAIL("MINIDL_CONV=cudnn: this build has no cuDNN (configure where cudnn.h and libcudnn are installed)");
#endif
    return true;
  }();
  return selected;
}

}  // namespace

bool use_cudnn_conv(const Tensor& x, const Tensor& weight) {
  return cudnn_selected() && x.device().type == DeviceType::CUDA && x.numel() > 0 && weight.numel() > 0;
}

#if defined(MINIDL_HAS_CUDNN)

namespace {

void check(cudnnStatus_t status, const char* what) {
  MINIDL_CHECK(status == CUDNN_STATUS_SUCCESS, "cuDNN {} failed: {}", what, cudnnGetErrorString(status));
}

cudnnHandle_t handle() {
  static const cudnnHandle_t h = [] {
    cudnnHandle_t created = nullptr;
    check(cudnnCreate(&created), "cudnnCreate");
    return created;
  }();
  return h;
}

// The descriptors of one convolution: x [N, C, H, W], weight [O, C / groups, kh, kw], y.
class Convolution {
 public:
  Convolution(const Tensor& x, const Tensor& weight, const Window2d& g, int64_t groups) : x_(x), weight_(weight) {
    for (const Tensor* t : {&x, &weight})
      MINIDL_CHECK(t->device().type == DeviceType::CUDA && t->is_contiguous() && t->dtype() == x.dtype() &&
                       (t->dtype() == DType::F32 || t->dtype() == DType::F64),
                   "cuDNN convolution: expected contiguous f32 or f64 tensors on cuda, got {}", t->describe());
    const cudnnDataType_t type = x.dtype() == DType::F32 ? CUDNN_DATA_FLOAT : CUDNN_DATA_DOUBLE;
    check(cudnnCreateTensorDescriptor(&x_desc_), "cudnnCreateTensorDescriptor");
    check(cudnnCreateTensorDescriptor(&y_desc_), "cudnnCreateTensorDescriptor");
    check(cudnnCreateFilterDescriptor(&w_desc_), "cudnnCreateFilterDescriptor");
    check(cudnnCreateConvolutionDescriptor(&conv_), "cudnnCreateConvolutionDescriptor");
    const auto i = [](int64_t v) { return static_cast<int>(v); };
    check(cudnnSetTensor4dDescriptor(x_desc_, CUDNN_TENSOR_NCHW, type, i(x.size(0)), i(x.size(1)), i(x.size(2)),
                                     i(x.size(3))),
          "cudnnSetTensor4dDescriptor (x)");
    check(cudnnSetFilter4dDescriptor(w_desc_, type, CUDNN_TENSOR_NCHW, i(weight.size(0)), i(weight.size(1)),
                                     i(weight.size(2)), i(weight.size(3))),
          "cudnnSetFilter4dDescriptor");
    check(cudnnSetConvolution2dDescriptor(conv_, i(g.h.pad), i(g.w.pad), i(g.h.stride), i(g.w.stride), i(g.h.dilation),
                                          i(g.w.dilation), CUDNN_CROSS_CORRELATION, type),
          "cudnnSetConvolution2dDescriptor");
    check(cudnnSetConvolutionGroupCount(conv_, i(groups)), "cudnnSetConvolutionGroupCount");
    check(cudnnSetConvolutionMathType(conv_, CUDNN_FMA_MATH), "cudnnSetConvolutionMathType");  // no TF32
    y_shape_ = {x.size(0), weight.size(0), g.h.out, g.w.out};
    check(cudnnSetTensor4dDescriptor(y_desc_, CUDNN_TENSOR_NCHW, type, i(y_shape_[0]), i(y_shape_[1]), i(y_shape_[2]),
                                     i(y_shape_[3])),
          "cudnnSetTensor4dDescriptor (y)");
  }
  Convolution(const Convolution&) = delete;
  Convolution& operator=(const Convolution&) = delete;
  ~Convolution() {
    cudnnDestroyConvolutionDescriptor(conv_);
    cudnnDestroyFilterDescriptor(w_desc_);
    cudnnDestroyTensorDescriptor(y_desc_);
    cudnnDestroyTensorDescriptor(x_desc_);
  }

  Tensor forward() const {
    Tensor y = Tensor::empty(y_shape_, x_.dtype(), x_.device());
    std::array<cudnnConvolutionFwdAlgoPerf_t, CUDNN_CONVOLUTION_FWD_ALGO_COUNT> perf{};
    int found = 0;
    check(cudnnGetConvolutionForwardAlgorithm_v7(handle(), x_desc_, w_desc_, conv_, y_desc_, perf.size(), &found,
                                                 perf.data()),
          "cudnnGetConvolutionForwardAlgorithm_v7");
    const auto algo = deterministic(perf.data(), found, "forward").algo;
    size_t bytes = 0;
    check(cudnnGetConvolutionForwardWorkspaceSize(handle(), x_desc_, w_desc_, conv_, y_desc_, algo, &bytes),
          "cudnnGetConvolutionForwardWorkspaceSize");
    const Tensor ws = workspace(bytes);
    with_scalars([&](const void* one, const void* zero) {
      check(cudnnConvolutionForward(handle(), one, x_desc_, x_.raw_data(), w_desc_, weight_.raw_data(), conv_, algo,
                                    ws.raw_data(), bytes, zero, y_desc_, y.raw_data()),
            "cudnnConvolutionForward");
    });
    return y;
  }

  Tensor backward_data(const Tensor& gy) const {
    check_output_gradient(gy);
    Tensor gx = Tensor::empty(x_.shape(), x_.dtype(), x_.device());
    std::array<cudnnConvolutionBwdDataAlgoPerf_t, CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT> perf{};
    int found = 0;
    check(cudnnGetConvolutionBackwardDataAlgorithm_v7(handle(), w_desc_, y_desc_, conv_, x_desc_, perf.size(), &found,
                                                      perf.data()),
          "cudnnGetConvolutionBackwardDataAlgorithm_v7");
    const auto algo = deterministic(perf.data(), found, "backward data").algo;
    size_t bytes = 0;
    check(cudnnGetConvolutionBackwardDataWorkspaceSize(handle(), w_desc_, y_desc_, conv_, x_desc_, algo, &bytes),
          "cudnnGetConvolutionBackwardDataWorkspaceSize");
    const Tensor ws = workspace(bytes);
    with_scalars([&](const void* one, const void* zero) {
      check(cudnnConvolutionBackwardData(handle(), one, w_desc_, weight_.raw_data(), y_desc_, gy.raw_data(), conv_, algo,
                                         ws.raw_data(), bytes, zero, x_desc_, gx.raw_data()),
            "cudnnConvolutionBackwardData");
    });
    return gx;
  }

  Tensor backward_filter(const Tensor& gy) const {
    check_output_gradient(gy);
    Tensor gw = Tensor::empty(weight_.shape(), weight_.dtype(), weight_.device());
    std::array<cudnnConvolutionBwdFilterAlgoPerf_t, CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT> perf{};
    int found = 0;
    check(cudnnGetConvolutionBackwardFilterAlgorithm_v7(handle(), x_desc_, y_desc_, conv_, w_desc_, perf.size(), &found,
                                                        perf.data()),
          "cudnnGetConvolutionBackwardFilterAlgorithm_v7");
    const auto algo = deterministic(perf.data(), found, "backward filter").algo;
    size_t bytes = 0;
    check(cudnnGetConvolutionBackwardFilterWorkspaceSize(handle(), x_desc_, y_desc_, conv_, w_desc_, algo, &bytes),
          "cudnnGetConvolutionBackwardFilterWorkspaceSize");
    const Tensor ws = workspace(bytes);
    with_scalars([&](const void* one, const void* zero) {
      check(cudnnConvolutionBackwardFilter(handle(), one, x_desc_, x_.raw_data(), y_desc_, gy.raw_data(), conv_, algo,
                                           ws.raw_data(), bytes, zero, w_desc_, gw.raw_data()),
            "cudnnConvolutionBackwardFilter");
    });
    return gw;
  }

 private:
  void check_output_gradient(const Tensor& gy) const {
    MINIDL_CHECK(gy.shape() == y_shape_ && gy.dtype() == x_.dtype() && gy.device() == x_.device() && gy.is_contiguous(),
                 "cuDNN convolution: the output gradient {} does not match the output [{}, {}, {}, {}]", gy.describe(),
                 y_shape_[0], y_shape_[1], y_shape_[2], y_shape_[3]);
  }

  // The fastest algorithm by cuDNN's heuristics whose results do not depend on scheduling
  // (bit-exact reruns and resumes need that; some backward-filter algorithms use atomics).
  template <typename Perf>
  static const Perf& deterministic(const Perf* perf, int found, const char* pass) {
    for (int k = 0; k < found; ++k)
      if (perf[k].status == CUDNN_STATUS_SUCCESS && perf[k].determinism == CUDNN_DETERMINISTIC) return perf[k];
    MINIDL_FAIL("cuDNN {}: no deterministic algorithm for this convolution", pass);
  }

  Tensor workspace(size_t bytes) const {
    return Tensor::empty({static_cast<int64_t>(bytes > 0 ? bytes : 1)}, DType::U8, x_.device());
  }

  // alpha = 1, beta = 0 in the type cuDNN expects for the data type.
  template <typename Fn>
  void with_scalars(const Fn& fn) const {
    if (x_.dtype() == DType::F32) {
      const float one = 1, zero = 0;
      fn(&one, &zero);
    } else {
      const double one = 1, zero = 0;
      fn(&one, &zero);
    }
  }

  const Tensor& x_;
  const Tensor& weight_;
  Shape y_shape_;
  cudnnTensorDescriptor_t x_desc_ = nullptr, y_desc_ = nullptr;
  cudnnFilterDescriptor_t w_desc_ = nullptr;
  cudnnConvolutionDescriptor_t conv_ = nullptr;
};

}  // namespace

Tensor cudnn_conv2d(const Tensor& x, const Tensor& weight, const Window2d& g, int64_t groups) {
  return Convolution(x, weight, g, groups).forward();
}

std::pair<Tensor, Tensor> cudnn_conv2d_backward(const Tensor& gy, const Tensor& x, const Tensor& weight,
                                                const Window2d& g, int64_t groups) {
  const Convolution conv(x, weight, g, groups);
  return {conv.backward_data(gy), conv.backward_filter(gy)};
}

#else

Tensor cudnn_conv2d(const Tensor&, const Tensor&, const Window2d&, int64_t) {
  MINIDL_FAIL("cuDNN convolution: this build has no cuDNN");
}

std::pair<Tensor, Tensor> cudnn_conv2d_backward(const Tensor&, const Tensor&, const Tensor&, const Window2d&, int64_t) {
  MINIDL_FAIL("cuDNN convolution: this build has no cuDNN");
}

#endif

}  // namespace minidl
