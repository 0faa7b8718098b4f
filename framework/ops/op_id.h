// The op list. Every op has one entry here; the name table is sized by OpId::Count and checked
// at compile time, and tests/test_ops.cpp fails for any op without a test record.
#pragma once

#include <array>
#include <cstddef>
#include <string_view>

namespace minidl {

enum class OpId {
  Add, Sub, Mul, Div, Pow, Neg, Exp, Log, Sqrt, Relu, Gelu, Tanh, Sigmoid,
  Eq,
  Matmul,
  Sum, Mean, Max, Argmax,
  Reshape, Permute, Slice, Expand, Cat, Stack, Contiguous, Cast, ToDevice,
  Softmax, LogSoftmax, CrossEntropy, MseLoss, LayerNorm,
  LstmCell, GatherRows, ScatterAddRows, SegmentSoftmax,
  Conv2d, MaxPool2d, AvgPool2d, AdaptiveAvgPool2d,
  Dropout, DropoutPacked, BernoulliDropout, GaussianNoise, Rand, DropBlock, BiasDropoutResidual, RandomRule,
  SoftmaxDropout, FlashAttention,
  Count
};

struct OpSpec {
  std::string_view name;
  bool differentiable;
  bool random;  // results are a pure function of (seed, stream, offset): compared bit for bit
};

inline constexpr std::array<OpSpec, static_cast<size_t>(OpId::Count)> kOpSpecs{{
    {"add", true, false},        {"sub", true, false},       {"mul", true, false},
    {"div", true, false},        {"pow", true, false},       {"neg", true, false},
    {"exp", true, false},        {"log", true, false},       {"sqrt", true, false},
    {"relu", true, false},       {"gelu", true, false},      {"tanh", true, false},
    {"sigmoid", true, false},    {"eq", false, false},       {"matmul", true, false},
    {"sum", true, false},        {"mean", true, false},      {"max", true, false},
    {"argmax", false, false},    {"reshape", true, false},   {"permute", true, false},
    {"slice", true, false},      {"expand", true, false},    {"cat", true, false},
    {"stack", true, false},      {"contiguous", true, false}, {"cast", true, false},
    {"to_device", true, false},
    {"softmax", true, false},    {"log_softmax", true, false}, {"cross_entropy", true, false},
    {"mse_loss", true, false},   {"layer_norm", true, false},
    {"lstm_cell", true, false},  {"gather_rows", true, false}, {"scatter_add_rows", true, false}, {"segment_softmax", true, false},
    {"conv2d", true, false},     {"max_pool2d", true, false}, {"avg_pool2d", true, false},
    {"adaptive_avg_pool2d", true, false},
    {"dropout", true, true},
    {"dropout_packed", true, true}, {"bernoulli_dropout", true, true}, {"gaussian_noise", true, true},
    {"rand", false, true},          {"dropblock", true, true},         {"bias_dropout_residual", true, true},
    {"random_rule", true, true},    {"softmax_dropout", true, true},   {"flash_attention", true, true},
}};
static_assert(kOpSpecs.size() == static_cast<size_t>(OpId::Count), "every OpId needs an OpSpec");

constexpr const OpSpec& op_spec(OpId op) { return kOpSpecs[static_cast<size_t>(op)]; }
constexpr std::string_view op_name(OpId op) { return op_spec(op).name; }

}  // namespace minidl
