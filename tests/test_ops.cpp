// Every op in the registry (framework/ops/op_id.h) has a record here: samples with an
// independent forward reference (plain loops and <cmath>, or the naive GEMM for matmul), an f64
// gradcheck for differentiable ops, a non-contiguous rerun, and error inputs with the expected
// message. The coverage test fails for an op without a record. To add an op: add its OpId and
// OpSpec, then one record in make_records().
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <algorithm>
#include <map>

#include "framework/autograd/gradcheck.h"
#include "framework/core/cuda_memory.h"
#include "framework/ops/op_id.h"
#include "framework/ops/ops.h"
#include "kernels/cpu/matmul.h"

namespace minidl {
namespace {

using Values = std::vector<double>;

#if defined(MINIDL_HAS_EMU)
const Device kDeviceUnderTest{DeviceType::CUDAEmu, 0};
#else
const Device kDeviceUnderTest = kCPU;
#endif
using Fn = std::function<Tensor(const std::vector<Tensor>&)>;

struct Sample {
  std::string label;
  std::vector<Tensor> inputs;                             // f64 (targets i64)
  std::function<Values(const std::vector<Values>&)> ref;  // the expected forward values
  double tol = 1e-12;                                     // abs + rel; f64 reorders are far below it
  Fn fn = nullptr;  // the op call when it differs per sample (stride, padding), else the record's
};

struct ErrorInput {
  std::function<void()> call;
  std::string expected;  // a phrase of the message
};

struct OpRecord {
  Fn fn;
  std::vector<Sample> samples;
  std::vector<ErrorInput> errors;
  bool gradcheck = true;  // false only for non-differentiable ops
  GradcheckOptions grad_options = {};
};

const Fn& call_of(const OpRecord& rec, const Sample& s) { return s.fn ? s.fn : rec.fn; }

// Deterministic, well-conditioned test values away from kinks (|x| >= 0.1).
Tensor values(const Shape& shape, double scale = 1.0, double shift = 0.0, uint64_t seed = 1) {
  std::vector<double> v(static_cast<size_t>(shape_numel(shape)));
  Generator gen(seed);
  for (double& x : v) {
    const double u = gen.next_uniform() * 2 - 1;
    x = shift + scale * (u < 0 ? u - 0.1 : u + 0.1);
  }
  return Tensor::from_vector(v, shape);
}

Values flat(const Tensor& t) { return t.to_vector<double>(); }

// Numpy broadcasting in the test itself: the index of out element i in an operand of `shape`.
int64_t broadcast_index(int64_t i, const Shape& out, const Shape& shape) {
  int64_t idx = 0, stride = 1;
  for (int64_t d = static_cast<int64_t>(out.size()) - 1, e = static_cast<int64_t>(shape.size()) - 1; d >= 0; --d, --e) {
    const int64_t coord = i % out[d];
    i /= out[d];
    if (e >= 0) {
      if (shape[e] != 1) idx += coord * stride;
      stride *= shape[e];
    }
  }
  return idx;
}

Sample binary_sample(const std::string& label, Tensor a, Tensor b, std::function<double(double, double)> f) {
  const Shape out = broadcast_shapes(a.shape(), b.shape(), "test");
  const Shape sa = a.shape(), sb = b.shape();
  return {label, {a, b}, [=](const std::vector<Values>& in) {
            Values r(static_cast<size_t>(shape_numel(out)));
            for (size_t i = 0; i < r.size(); ++i)
              r[i] = f(in[0][broadcast_index(i, out, sa)], in[1][broadcast_index(i, out, sb)]);
            return r;
          }};
}

OpRecord binary_record(Tensor (*op)(const Tensor&, const Tensor&), std::function<double(double, double)> f,
                       double b_shift = 0.0) {
  OpRecord r;
  r.fn = [op](const std::vector<Tensor>& in) { return op(in[0], in[1]); };
  r.samples = {binary_sample("same shape", values({2, 3}, 1, b_shift ? 1.5 : 0), values({2, 3}, 1, b_shift, 2), f),
               binary_sample("broadcast", values({2, 1, 3}, 1, b_shift ? 1.5 : 0), values({4, 1}, 1, b_shift, 3), f),
               binary_sample("scalar", values({3}, 1, b_shift ? 1.5 : 0), values({}, 1, b_shift, 4), f)};
  r.errors = {{[op] { op(Tensor::zeros({2, 3}), Tensor::zeros({2})); }, "do not broadcast"},
              {[op] { op(Tensor::zeros({2}), Tensor::zeros({2}, DType::F64)); }, "different dtypes"},
              {[op] { op(Tensor::zeros({2}, DType::I64), Tensor::zeros({2}, DType::I64)); }, "floating"}};
  return r;
}

OpRecord unary_record(Tensor (*op)(const Tensor&), std::function<double(double)> f, double shift = 0.0) {
  OpRecord r;
  r.fn = [op](const std::vector<Tensor>& in) { return op(in[0]); };
  auto ref = [f](const std::vector<Values>& in) {
    Values out = in[0];
    for (double& v : out) v = f(v);
    return out;
  };
  r.samples = {{"2x3", {values({2, 3}, 1, shift)}, ref}, {"scalar", {values({}, 1, shift)}, ref},
               {"empty", {Tensor::zeros({0, 3}, DType::F64)}, ref}};
  r.errors = {{[op] { op(Tensor::zeros({2}, DType::I32)); }, "expected a floating tensor"}};
  return r;
}

Values naive_matmul(const Values& a, const Values& b, int64_t batch, int64_t m, int64_t k, int64_t n, bool b_batched) {
  Values c(static_cast<size_t>(batch * m * n));
  for (int64_t i = 0; i < batch; ++i)
    cpu::gemm_reference<double>(false, false, m, n, k, 1.0, a.data() + i * m * k, k,
                                b.data() + (b_batched ? i * k * n : 0), n, 0.0, c.data() + i * m * n, n);
  return c;
}

// Row-wise reference reductions over the last axis of values laid out [rows, cols].
Values rows_reduce(const Values& x, int64_t cols, const std::function<double(const double*, int64_t)>& f) {
  Values out;
  for (size_t r = 0; r < x.size() / cols; ++r) out.push_back(f(x.data() + r * cols, cols));
  return out;
}

double row_sum(const double* p, int64_t n) {
  double s = 0;
  for (int64_t i = 0; i < n; ++i) s += p[i];
  return s;
}

double row_max(const double* p, int64_t n) { return *std::max_element(p, p + n); }

// A conv2d sample: x [N, C, H, W], weight [O, C / groups, kh, kw], bias [O] when `bias`.
struct ConvCase {
  Shape x, w;
  bool bias;
  Size2 stride{1, 1}, padding{0, 0}, dilation{1, 1};
  int64_t groups = 1;
};

Sample conv_sample(const std::string& label, const ConvCase& c) {
  std::vector<Tensor> inputs{values(c.x), values(c.w, 0.5, 0, 2)};
  if (c.bias) inputs.push_back(values({c.w[0]}, 1, 0, 3));
  // Direct convolution, as its definition reads: out[n, o, i, j] = b[o] + sum over the group's
  // channels and the taps inside the input of x[n, c, i s - p + k d, ...] w[o, c, k, ...].
  auto ref = [c](const std::vector<Values>& in) {
    const int64_t n_count = c.x[0], channels = c.x[1], h = c.x[2], w = c.x[3];
    const int64_t out_ch = c.w[0], group_ch = c.w[1], kh = c.w[2], kw = c.w[3];
    const int64_t oh_count = (h + 2 * c.padding[0] - c.dilation[0] * (kh - 1) - 1) / c.stride[0] + 1;
    const int64_t ow_count = (w + 2 * c.padding[1] - c.dilation[1] * (kw - 1) - 1) / c.stride[1] + 1;
    Values out;
    for (int64_t n = 0; n < n_count; ++n)
      for (int64_t o = 0; o < out_ch; ++o)
        for (int64_t i = 0; i < oh_count; ++i)
          for (int64_t j = 0; j < ow_count; ++j) {
            double acc = c.bias ? in[2][o] : 0.0;
            const int64_t first_channel = o / (out_ch / c.groups) * group_ch;
            for (int64_t ci = 0; ci < group_ch; ++ci)
              for (int64_t a = 0; a < kh; ++a)
                for (int64_t b = 0; b < kw; ++b) {
                  const int64_t ih = i * c.stride[0] - c.padding[0] + a * c.dilation[0];
                  const int64_t iw = j * c.stride[1] - c.padding[1] + b * c.dilation[1];
                  if (ih < 0 || ih >= h || iw < 0 || iw >= w) continue;
                  acc += in[0][((n * channels + first_channel + ci) * h + ih) * w + iw] *
                         in[1][((o * group_ch + ci) * kh + a) * kw + b];
                }
            out.push_back(acc);
          }
    return out;
  };
  auto fn = [c](const std::vector<Tensor>& in) {
    return conv2d(in[0], in[1], c.bias ? in[2] : Tensor(), c.stride, c.padding, c.dilation, c.groups);
  };
  return {label, inputs, ref, 1e-12, fn};
}

// A max_pool2d / avg_pool2d sample on x [N, C, H, W].
struct PoolCase {
  Shape x;
  Size2 kernel, stride, padding{0, 0};
  bool count_include_pad = true;
};

// The pools by their definition: each window's positions on the input padded by p, its maximum
// over the positions inside the input, or its mean over all positions (count_include_pad) or
// over those inside.
Sample pool_sample(const std::string& label, bool max_pool, const PoolCase& c) {
  auto ref = [max_pool, c](const std::vector<Values>& in) {
    const int64_t planes = c.x[0] * c.x[1], h = c.x[2], w = c.x[3];
    const int64_t oh_count = (h + 2 * c.padding[0] - c.kernel[0]) / c.stride[0] + 1;
    const int64_t ow_count = (w + 2 * c.padding[1] - c.kernel[1]) / c.stride[1] + 1;
    Values out;
    for (int64_t p = 0; p < planes; ++p)
      for (int64_t i = 0; i < oh_count; ++i)
        for (int64_t j = 0; j < ow_count; ++j) {
          double best = -INFINITY, sum = 0;
          int64_t inside = 0, padded = 0;
          for (int64_t a = 0; a < c.kernel[0]; ++a)
            for (int64_t b = 0; b < c.kernel[1]; ++b) {
              const int64_t ih = i * c.stride[0] - c.padding[0] + a, iw = j * c.stride[1] - c.padding[1] + b;
              padded += ih < h + c.padding[0] && iw < w + c.padding[1];
              if (ih < 0 || ih >= h || iw < 0 || iw >= w) continue;
              const double v = in[0][(p * h + ih) * w + iw];
              best = std::max(best, v);
              sum += v;
              ++inside;
            }
          out.push_back(max_pool ? best : sum / static_cast<double>(c.count_include_pad ? padded : inside));
        }
    return out;
  };
  auto fn = [max_pool, c](const std::vector<Tensor>& in) {
    return max_pool ? max_pool2d(in[0], c.kernel, c.stride, c.padding)
                    : avg_pool2d(in[0], c.kernel, c.stride, c.padding, c.count_include_pad);
  };
  return {label, {values(c.x)}, ref, 1e-12, fn};
}

// adaptive_avg_pool2d of x [N, C, H, W] to out_h x out_w: output (i, j) averages rows
// [floor(i H / out_h), ceil((i + 1) H / out_h)) and likewise columns.
Sample adaptive_pool_sample(const std::string& label, const Shape& x, int64_t out_h, int64_t out_w) {
  auto ref = [x, out_h, out_w](const std::vector<Values>& in) {
    const int64_t h = x[2], w = x[3];
    auto bounds = [](int64_t i, int64_t n, int64_t out) {
      return std::pair<int64_t, int64_t>(static_cast<int64_t>(std::floor(static_cast<double>(i * n) / out)),
                                         static_cast<int64_t>(std::ceil(static_cast<double>((i + 1) * n) / out)));
    };
    Values result;
    for (int64_t p = 0; p < x[0] * x[1]; ++p)
      for (int64_t i = 0; i < out_h; ++i)
        for (int64_t j = 0; j < out_w; ++j) {
          const auto [h0, h1] = bounds(i, h, out_h);
          const auto [w0, w1] = bounds(j, w, out_w);
          double sum = 0;
          for (int64_t a = h0; a < h1; ++a)
            for (int64_t b = w0; b < w1; ++b) sum += in[0][(p * h + a) * w + b];
          result.push_back(sum / static_cast<double>((h1 - h0) * (w1 - w0)));
        }
    return result;
  };
  auto fn = [out_h, out_w](const std::vector<Tensor>& in) { return adaptive_avg_pool2d(in[0], out_h, out_w); };
  return {label, {values(x)}, ref, 1e-12, fn};
}

std::map<OpId, OpRecord> make_records() {
  std::map<OpId, OpRecord> r;
  r[OpId::Add] = binary_record(add, [](double a, double b) { return a + b; });
  r[OpId::Sub] = binary_record(sub, [](double a, double b) { return a - b; });
  r[OpId::Mul] = binary_record(mul, [](double a, double b) { return a * b; });
  r[OpId::Div] = binary_record(div, [](double a, double b) { return a / b; }, 2.0);
  r[OpId::Pow] = binary_record(pow, [](double a, double b) { return std::pow(a, b); }, 0.5);
  r[OpId::Eq] = binary_record(eq, [](double a, double b) { return a == b ? 1.0 : 0.0; });
  r[OpId::Eq].gradcheck = false;
  r[OpId::Eq].samples.push_back(binary_sample("ties", Tensor::from_vector(Values{1, 2, 3}, {3}),
                                              Tensor::from_vector(Values{1, 0, 3}, {3}),
                                              [](double a, double b) { return a == b ? 1.0 : 0.0; }));

  r[OpId::Neg] = unary_record(neg, [](double x) { return -x; });
  r[OpId::Exp] = unary_record(exp, [](double x) { return std::exp(x); });
  r[OpId::Log] = unary_record(log, [](double x) { return std::log(x); }, 2.0);
  r[OpId::Sqrt] = unary_record(sqrt, [](double x) { return std::sqrt(x); }, 2.0);
  r[OpId::Relu] = unary_record(relu, [](double x) { return x > 0 ? x : 0.0; });
  r[OpId::Gelu] = unary_record(gelu, [](double x) { return 0.5 * x * (1 + std::erf(x / std::sqrt(2.0))); });
  r[OpId::Tanh] = unary_record(tanh, [](double x) { return std::tanh(x); });
  r[OpId::Sigmoid] = unary_record(sigmoid, [](double x) { return 1 / (1 + std::exp(-x)); });

  {
    OpRecord& m = r[OpId::Matmul];
    m.fn = [](const std::vector<Tensor>& in) { return matmul(in[0], in[1]); };
    auto ref = [](int64_t batch, int64_t mm, int64_t k, int64_t n, bool bb) {
      return [=](const std::vector<Values>& in) { return naive_matmul(in[0], in[1], batch, mm, k, n, bb); };
    };
    m.samples = {{"2d", {values({3, 4}), values({4, 2}, 1, 0, 2)}, ref(1, 3, 4, 2, false)},
                 {"batched", {values({2, 3, 4}), values({2, 4, 5}, 1, 0, 2)}, ref(2, 3, 4, 5, true)},
                 {"batch @ 2d", {values({2, 2, 3}), values({3, 2}, 1, 0, 2)}, ref(2, 2, 3, 2, false)},
                 {"k = 1", {values({2, 1}), values({1, 3}, 1, 0, 2)}, ref(1, 2, 1, 3, false)}};
    m.errors = {{[] { matmul(Tensor::zeros({2, 3}), Tensor::zeros({2, 3})); }, "inner sizes differ"},
                {[] { matmul(Tensor::zeros({3}), Tensor::zeros({3, 1})); }, "at least 2 dims"}};
  }

  {
    OpRecord& s = r[OpId::Sum];
    s.fn = [](const std::vector<Tensor>& in) { return sum(in[0], {1}); };
    // [2, 3, 2] summed over dim 1: out[i][k] = sum_j x[i][j][k]
    s.samples = {{"dim 1", {values({2, 3, 2})}, [](const std::vector<Values>& in) {
                    Values o(4, 0.0);
                    for (int i = 0; i < 2; ++i)
                      for (int j = 0; j < 3; ++j)
                        for (int k = 0; k < 2; ++k) o[i * 2 + k] += in[0][i * 6 + j * 2 + k];
                    return o;
                  }}};
    s.errors = {{[] { sum(Tensor::zeros({2}), {3}); }, "out of range"}, {[] { sum(Tensor::zeros({2, 2}), {0, 0}); }, "repeated"}};
    OpRecord& all = r[OpId::Mean];
    all.fn = [](const std::vector<Tensor>& in) { return mean(in[0]); };
    all.samples = {{"all", {values({3, 4})}, [](const std::vector<Values>& in) { return Values{row_sum(in[0].data(), 12) / 12}; }}};
    all.errors = {{[] { mean(Tensor::zeros({2}, DType::I64)); }, "floating"}};
  }
  {
    OpRecord& m = r[OpId::Max];
    m.fn = [](const std::vector<Tensor>& in) { return max(in[0], -1); };
    auto ref = [](const std::vector<Values>& in) { return rows_reduce(in[0], 4, row_max); };
    // Ties are a kink (no derivative exists there): test_autograd.cpp checks the split rule.
    m.samples = {{"last dim", {values({3, 4})}, ref}};
    m.errors = {{[] { max(Tensor::zeros({2, 0}), 1); }, "empty"}};
    OpRecord& a = r[OpId::Argmax];
    a.gradcheck = false;
    a.fn = [](const std::vector<Tensor>& in) { return to_dtype(argmax(in[0], 1), DType::F64); };
    a.samples = {{"first maximum", {Tensor::from_vector(Values{1, 5, 5, 0, -1, -2, 7, 7}, {2, 4})},
                  [](const std::vector<Values>&) { return Values{1, 2}; }}};
    a.errors = {{[] { argmax(Tensor::zeros({2}), 1); }, "out of range"}};
  }

  auto index_ref = [](std::function<Values(const Values&)> f) {
    return [f](const std::vector<Values>& in) { return f(in[0]); };
  };
  r[OpId::Reshape] = {[](const std::vector<Tensor>& in) { return reshape(in[0], {3, -1}); },
                      {{"[2,3]->[3,2]", {values({2, 3})}, index_ref([](const Values& x) { return x; })}},
                      {{[] { reshape(Tensor::zeros({6}), {4, -1}); }, "cannot infer"}}};
  r[OpId::Permute] = {[](const std::vector<Tensor>& in) { return permute(in[0], {2, 0, 1}); },
                      {{"[2,3,4]", {values({2, 3, 4})}, index_ref([](const Values& x) {
                          Values o;  // out[k][i][j] = x[i][j][k]
                          for (int k = 0; k < 4; ++k)
                            for (int i = 0; i < 2; ++i)
                              for (int j = 0; j < 3; ++j) o.push_back(x[i * 12 + j * 4 + k]);
                          return o;
                        })}},
                      {{[] { permute(Tensor::zeros({2, 2}), {0, 0}); }, "repeated"}}};
  r[OpId::Slice] = {[](const std::vector<Tensor>& in) { return slice(in[0], 1, 1, 5, 2); },
                    {{"step 2", {values({2, 5})}, index_ref([](const Values& x) { return Values{x[1], x[3], x[6], x[8]}; })}},
                    {{[] { slice(Tensor::zeros({3}), 0, 0, 2, 0); }, "step 0 must be positive"}}};
  r[OpId::Expand] = {[](const std::vector<Tensor>& in) { return expand(in[0], {2, 3, 2}); },
                     {{"[3,1]->[2,3,2]", {values({3, 1})}, index_ref([](const Values& x) {
                         Values o;
                         for (int b = 0; b < 2; ++b)
                           for (int i = 0; i < 3; ++i) o.insert(o.end(), {x[i], x[i]});
                         return o;
                       })}},
                     {{[] { expand(Tensor::zeros({3}), {2, 4}); }, "expected 1 or 4"}}};
  r[OpId::Cat] = {[](const std::vector<Tensor>& in) { return cat({in[0], in[1]}, 1); },
                  {{"dim 1", {values({2, 1}), values({2, 2}, 1, 0, 2)}, [](const std::vector<Values>& in) {
                      return Values{in[0][0], in[1][0], in[1][1], in[0][1], in[1][2], in[1][3]};
                    }}},
                  {{[] { cat({Tensor::zeros({2, 2}), Tensor::zeros({3, 2})}, 1); }, "cat along dim 1"}}};
  r[OpId::Stack] = {[](const std::vector<Tensor>& in) { return stack({in[0], in[1]}, 1); },
                    {{"dim 1", {values({2}), values({2}, 1, 0, 2)}, [](const std::vector<Values>& in) {
                        return Values{in[0][0], in[1][0], in[0][1], in[1][1]};
                      }}},
                    {{[] { stack({Tensor::zeros({2}), Tensor::zeros({3})}, 0); }, "tensor 1 is"}}};
  r[OpId::Contiguous] = {[](const std::vector<Tensor>& in) { return contiguous(transpose(in[0], 0, 1)); },
                         {{"transposed", {values({2, 3})}, index_ref([](const Values& x) {
                             return Values{x[0], x[3], x[1], x[4], x[2], x[5]};
                           })}},
                         {{[] { contiguous(Tensor()); }, "undefined"}}};
  r[OpId::Cast] = {[](const std::vector<Tensor>& in) { return to_dtype(to_dtype(in[0], DType::F32), DType::F64); },
                   {{"f64->f32->f64", {values({4})}, index_ref([](const Values& x) {
                       Values o;
                       for (double v : x) o.push_back(static_cast<float>(v));
                       return o;
                     }), 0}},
                   {{[] { to_dtype(Tensor(), DType::F32); }, "undefined"}}};
  // Round trip through the emulated CUDA device when this build has it, else a no-op copy.
  r[OpId::ToDevice] = {[](const std::vector<Tensor>& in) { return to_device(to_device(in[0], kDeviceUnderTest), kCPU); },
                       {{"there and back", {values({2, 3})}, index_ref([](const Values& x) { return x; })}},
                       {{[] { to_device(Tensor(), kCPU); }, "undefined"}}};
  // The round trip through f32 is linear but quantized to ~6e-8: a larger step keeps the central
  // difference exact up to 6e-8 / 1e-3 relative.
  r[OpId::Cast].grad_options.eps = 1e-3;

  auto softmax_ref = [](bool log_form) {
    return [log_form](const std::vector<Values>& in) {
      Values out;
      for (size_t r0 = 0; r0 < in[0].size(); r0 += 4) {
        double m = row_max(in[0].data() + r0, 4), s = 0;
        for (int c = 0; c < 4; ++c) s += std::exp(in[0][r0 + c] - m);
        for (int c = 0; c < 4; ++c) out.push_back(log_form ? in[0][r0 + c] - m - std::log(s) : std::exp(in[0][r0 + c] - m) / s);
      }
      return out;
    };
  };
  r[OpId::Softmax] = {[](const std::vector<Tensor>& in) { return softmax(in[0], -1); },
                      {{"rows", {values({3, 4}, 3)}, softmax_ref(false), 1e-14}},
                      {{[] { softmax(Tensor::zeros({2}), 1); }, "out of range"}}};
  r[OpId::LogSoftmax] = {[](const std::vector<Tensor>& in) { return log_softmax(in[0], 1); },
                         {{"rows", {values({2, 4}, 3)}, softmax_ref(true), 1e-14}},
                         {{[] { log_softmax(Tensor::zeros({2}, DType::U8), 0); }, "floating"}}};
  r[OpId::CrossEntropy] = {
      [](const std::vector<Tensor>& in) { return cross_entropy(in[0], in[1]); },
      {{"3 rows", {values({3, 4}, 2), Tensor::from_vector(std::vector<int64_t>{2, 0, 3}, {3})},
        [](const std::vector<Values>& in) {
          const int target[] = {2, 0, 3};
          double total = 0;
          for (int row = 0; row < 3; ++row) {
            double s = 0;
            for (int c = 0; c < 4; ++c) s += std::exp(in[0][row * 4 + c]);
            total += std::log(s) - in[0][row * 4 + target[row]];
          }
          return Values{total / 3};
        }}},
      {{[] { cross_entropy(Tensor::zeros({2, 3}), Tensor::from_vector(std::vector<int64_t>{0, 3}, {2})); }, "out of range"},
       {[] { cross_entropy(Tensor::zeros({2, 3}), Tensor::zeros({2})); }, "class indices"},
       {[] { cross_entropy(Tensor::zeros({3}), Tensor::zeros({3}, DType::I64)); }, "must be [N, C]"}}};
  r[OpId::MseLoss] = {[](const std::vector<Tensor>& in) { return mse_loss(in[0], in[1]); },
                      {{"2x3", {values({2, 3}), values({2, 3}, 1, 0, 2)}, [](const std::vector<Values>& in) {
                          double s = 0;
                          for (size_t i = 0; i < 6; ++i) s += (in[0][i] - in[1][i]) * (in[0][i] - in[1][i]);
                          return Values{s / 6};
                        }}},
                      {{[] { mse_loss(Tensor::zeros({2}), Tensor::zeros({3})); }, "differ in shape"}}};
  r[OpId::LayerNorm] = {
      [](const std::vector<Tensor>& in) { return layer_norm(in[0], in[1], in[2], 1e-5); },
      {{"3x5", {values({3, 5}), values({5}, 1, 0, 2), values({5}, 1, 0, 3)}, [](const std::vector<Values>& in) {
          Values out;
          for (size_t r0 = 0; r0 < 15; r0 += 5) {
            double mean = 0, var = 0;
            for (size_t c = 0; c < 5; ++c) mean += in[0][r0 + c] / 5;
            for (size_t c = 0; c < 5; ++c) var += (in[0][r0 + c] - mean) * (in[0][r0 + c] - mean) / 5;
            for (size_t c = 0; c < 5; ++c)
              out.push_back((in[0][r0 + c] - mean) / std::sqrt(var + 1e-5) * in[1][c] + in[2][c]);
          }
          return out;
        }}},
      {{[] { layer_norm(Tensor::zeros({2, 3}), Tensor::zeros({2}), Tensor::zeros({3})); }, "must be [3]"},
       {[] { layer_norm(Tensor::zeros({2, 3}), Tensor::zeros({3}), Tensor::zeros({3}), 0.0); }, "eps = 0"}}};
  r[OpId::LstmCell] = {
      [](const std::vector<Tensor>& in) { return lstm_cell(in[0], in[1]); },
      {{"batch 3, hidden 2", {values({3, 8}, 1.5), values({3, 2}, 1, 0, 2)}, [](const std::vector<Values>& in) {
          auto sigmoid = [](double x) { return 1 / (1 + std::exp(-x)); };
          Values out;
          for (size_t b = 0; b < 3; ++b) {
            Values h, c;
            for (size_t j = 0; j < 2; ++j) {
              const double* g = &in[0][b * 8];
              c.push_back(sigmoid(g[2 + j]) * in[1][b * 2 + j] + sigmoid(g[j]) * std::tanh(g[4 + j]));
              h.push_back(sigmoid(g[6 + j]) * std::tanh(c.back()));
            }
            out.insert(out.end(), h.begin(), h.end());
            out.insert(out.end(), c.begin(), c.end());
          }
          return out;
        }}},
      {{[] { lstm_cell(Tensor::zeros({3, 7}), Tensor::zeros({3, 2})); }, "gates must be [3, 8]"},
       {[] { lstm_cell(Tensor::zeros({3, 8}), Tensor::zeros({6})); }, "c_prev must be [batch, hidden]"}}};
  {
    // Rows 2 and 4 of five are never picked: their gradient must be 0.
    const std::vector<int64_t> index = {1, 3, 1, 0, 3, 1};
    auto gather_ref = [](const std::vector<int64_t>& ids, size_t cols) {
      return [ids, cols](const std::vector<Values>& in) {
        Values out;
        for (int64_t id : ids)
          for (size_t d = 0; d < cols; ++d) out.push_back(in[0][static_cast<size_t>(id) * cols + d]);
        return out;
      };
    };
    r[OpId::GatherRows] = {
        [](const std::vector<Tensor>& in) { return gather_rows(in[0], group_index(in[1], 5)); },
        {{"5x3 rows, 6 picks with repeats", {values({5, 3}), Tensor::from_vector(index, {6})}, gather_ref(index, 3)},
         {"embedding: 4x3 table, 2x3 ids",
          {values({4, 3}), Tensor::from_vector(std::vector<int64_t>{1, 3, 1, 0, 2, 1}, {2, 3})},
          gather_ref({1, 3, 1, 0, 2, 1}, 3), 1e-12,
          [](const std::vector<Tensor>& in) { return embedding(in[0], in[1]); }}},
        {{[] { group_index(Tensor::from_vector(std::vector<int64_t>{0, 5}, {2}), 5); }, "index 5 out of range: expected 0 to 4"},
         {[] { group_index(Tensor::from_vector(std::vector<int64_t>{-1}, {1}), 5); }, "index -1 out of range"},
         {[] { group_index(Tensor::zeros({2}), 5); }, "must be a 1-d i64 tensor"},
         {[] { gather_rows(Tensor::zeros({3, 2}), group_index(Tensor::from_vector(std::vector<int64_t>{0}, {1}), 4)); },
          "x must have 4 rows"},
         {[] { gather_rows(Tensor::zeros({3, 2}), IndexGroups{}); }, "build them with group_index"},
         {[] { embedding(Tensor::zeros({4, 3}), Tensor::from_vector(std::vector<int64_t>{4}, {1})); },
          "embedding: index 4 out of range"},
         {[] { embedding(Tensor::zeros({4, 3}), Tensor::zeros({2})); }, "ids must be i64"}}};
  }
  {
    // Groups 1 and 3 of five are empty (rows of zeros); trailing dims [2, 2] ride along.
    const std::vector<int64_t> index = {2, 0, 2, 2, 4, 0};
    r[OpId::ScatterAddRows] = {
        [](const std::vector<Tensor>& in) { return scatter_add_rows(in[0], group_index(in[1], 5)); },
        {{"6x2x2 into 5 groups", {values({6, 2, 2}), Tensor::from_vector(index, {6})},
          [index](const std::vector<Values>& in) {
            Values out(5 * 4, 0.0);
            for (size_t i = 0; i < index.size(); ++i)
              for (size_t d = 0; d < 4; ++d) out[static_cast<size_t>(index[i]) * 4 + d] += in[0][i * 4 + d];
            return out;
          }}},
        {{[] { scatter_add_rows(Tensor::zeros({3, 2}), group_index(Tensor::from_vector(std::vector<int64_t>{0, 1}, {2}), 4)); },
          "src must have 2 rows"}}};
  }
  {
    // Group 1 is empty, group 3 a single row (probability 1), two columns (heads) apiece.
    const std::vector<int64_t> index = {0, 2, 0, 0, 2, 3, 0};
    r[OpId::SegmentSoftmax] = {
        [](const std::vector<Tensor>& in) { return segment_softmax(in[0], group_index(in[1], 4)); },
        {{"7x2 scores in 4 groups", {values({7, 2}, 2.0), Tensor::from_vector(index, {7})},
          [index](const std::vector<Values>& in) {
            Values out(14);
            for (int64_t v = 0; v < 4; ++v)
              for (size_t c = 0; c < 2; ++c) {
                double total = 0;
                for (size_t i = 0; i < index.size(); ++i)
                  if (index[i] == v) total += std::exp(in[0][i * 2 + c]);
                for (size_t i = 0; i < index.size(); ++i)
                  if (index[i] == v) out[i * 2 + c] = std::exp(in[0][i * 2 + c]) / total;
              }
            return out;
          }}},
        {{[] { segment_softmax(Tensor::zeros({3}), group_index(Tensor::from_vector(std::vector<int64_t>{0, 1}, {2}), 4)); },
          "scores must have 2 rows"}}};
  }
  r[OpId::Conv2d].samples = {
      conv_sample("3x3 pad 1 with bias", {{2, 3, 5, 4}, {4, 3, 3, 3}, true, {1, 1}, {1, 1}}),
      conv_sample("stride, padding, dilation per axis, no bias",
                  {{1, 2, 7, 6}, {3, 2, 2, 3}, false, {2, 1}, {1, 2}, {2, 1}}),
      conv_sample("groups 2, stride 2", {{2, 4, 5, 5}, {6, 2, 3, 3}, true, {2, 2}, {1, 1}, {1, 1}, 2}),
      conv_sample("depthwise, channel multiplier 2", {{1, 3, 4, 4}, {6, 1, 3, 3}, true, {1, 1}, {1, 1}, {1, 1}, 3}),
      conv_sample("empty batch", {{0, 2, 4, 4}, {2, 2, 3, 3}, true})};
  {
    const Tensor x = Tensor::zeros({1, 4, 5, 5}, DType::F64);
    const Tensor w = Tensor::zeros({4, 2, 3, 3}, DType::F64);
    r[OpId::Conv2d].errors = {
        {[] { conv2d(Tensor::zeros({1, 3, 5, 5}), Tensor::zeros({4, 1, 3, 3}), {}, {1, 1}, {0, 0}, {1, 1}, 2); },
         "3 input channels are not divisible by groups = 2"},
        {[x] { conv2d(x, Tensor::zeros({3, 2, 3, 3}, DType::F64), {}, {1, 1}, {0, 0}, {1, 1}, 2); },
         "3 output channels"},
        {[x, w] { conv2d(x, w, {}); }, "takes 2 input channels per group (2 with groups = 1)"},
        {[x, w] { conv2d(x, w, {}, {1, 1}, {0, 0}, {1, 1}, 0); }, "groups must be positive, got 0"},
        {[x] { conv2d(x, Tensor::zeros({1, 4, 6, 3}, DType::F64), {}); }, "larger than the padded input 5x5"},
        {[x] { conv2d(x, Tensor::zeros({1, 4, 3, 3}, DType::F64), {}, {1, 1}, {0, 0}, {3, 1}); },
         "kernel 3x3 (dilation 3x1) is larger than the padded input 5x5"},
        {[x, w] { conv2d(x, w, {}, {0, 1}, {0, 0}, {1, 1}, 2); }, "stride must be positive, got 0x1"},
        {[x, w] { conv2d(x, w, {}, {1, 1}, {0, 0}, {1, 0}, 2); }, "dilation must be positive, got 1x0"},
        {[x, w] { conv2d(x, w, {}, {1, 1}, {0, -1}, {1, 1}, 2); }, "padding must be non-negative, got 0x-1"},
        {[x, w] { conv2d(x, w, Tensor::zeros({3}, DType::F64), {1, 1}, {0, 0}, {1, 1}, 2); }, "bias must be [4]"},
        {[x] { conv2d(x, Tensor::zeros({4, 4, 3, 3}), {}); }, "different dtypes"},
        {[w] { conv2d(Tensor::zeros({4, 5, 5}, DType::F64), w, {}); }, "expected input [N, C, H, W]"},
        {[x] { conv2d(x, Tensor::zeros({4, 4, 3}, DType::F64), {}); }, "expected weight [O, C / groups, kh, kw]"}};
#if defined(MINIDL_HAS_EMU)
    r[OpId::Conv2d].errors.push_back({[x, w] { conv2d(x, to_device(w, kDeviceUnderTest), {}); }, "different devices"});
#endif
  }
  r[OpId::MaxPool2d].samples = {
      pool_sample("3x3 stride 2 pad 1", true, {{2, 3, 7, 6}, {3, 3}, {2, 2}, {1, 1}}),
      pool_sample("2x2 stride 2, odd size", true, {{1, 2, 5, 5}, {2, 2}, {2, 2}}),
      pool_sample("3x2 stride 1x2 pad 1x0", true, {{1, 1, 4, 6}, {3, 2}, {1, 2}, {1, 0}})};
  r[OpId::AvgPool2d].samples = {
      pool_sample("3x3 stride 2 pad 1, padding counted", false, {{2, 2, 7, 6}, {3, 3}, {2, 2}, {1, 1}}),
      pool_sample("3x3 stride 2 pad 1, padding not counted", false, {{2, 2, 7, 6}, {3, 3}, {2, 2}, {1, 1}, false}),
      pool_sample("2x3 stride 1x2 pad 0x1", false, {{1, 3, 4, 5}, {2, 3}, {1, 2}, {0, 1}})};
  // Both fixed-window pools share their checks.
  for (const OpId op : {OpId::MaxPool2d, OpId::AvgPool2d}) {
    const auto pool = [op](const Tensor& x, Size2 kernel, Size2 stride, Size2 padding) {
      return op == OpId::MaxPool2d ? max_pool2d(x, kernel, stride, padding) : avg_pool2d(x, kernel, stride, padding);
    };
    const Tensor x = Tensor::zeros({1, 2, 4, 4});
    r[op].errors = {{[=] { pool(x, {2, 2}, {2, 2}, {2, 0}); }, "padding 2x0 is more than half the kernel 2x2"},
                    {[=] { pool(x, {0, 2}, {2, 2}, {0, 0}); }, "kernel must be positive, got 0x2"},
                    {[=] { pool(x, {2, 2}, {2, -1}, {0, 0}); }, "stride must be positive, got 2x-1"},
                    {[=] { pool(x, {2, 2}, {2, 2}, {-1, 0}); }, "padding must be non-negative"},
                    {[=] { pool(x, {5, 2}, {1, 1}, {0, 0}); },
                     "kernel 5x2 (dilation 1x1) is larger than the padded input 4x4"},
                    {[=] { pool(Tensor::zeros({2, 4, 4}), {2, 2}, {2, 2}, {0, 0}); }, "expected input [N, C, H, W]"},
                    {[=] { pool(Tensor::zeros({1, 1, 4, 4}, DType::I64), {2, 2}, {2, 2}, {0, 0}); }, "floating"}};
  }
  r[OpId::AdaptiveAvgPool2d].samples = {
      adaptive_pool_sample("5x7 to 3x4", {2, 2, 5, 7}, 3, 4),
      adaptive_pool_sample("3x2 to 5x4, overlapping", {1, 2, 3, 2}, 5, 4),
      adaptive_pool_sample("global", {2, 3, 4, 4}, 1, 1),
      // PyTorch's windows of 5 inputs to 3 outputs: [0, 2), [1, 4), [3, 5).
      {"known windows", {Tensor::from_vector(Values{1, 2, 3, 4, 5}, {1, 1, 1, 5})},
       [](const std::vector<Values>&) { return Values{1.5, 3, 4.5}; }, 1e-15,
       [](const std::vector<Tensor>& in) { return adaptive_avg_pool2d(in[0], 1, 3); }}};
  r[OpId::AdaptiveAvgPool2d].errors = {
      {[] { adaptive_avg_pool2d(Tensor::zeros({1, 1, 4, 4}), 0, 2); }, "output size must be positive, got 0x2"},
      {[] { adaptive_avg_pool2d(Tensor::zeros({1, 1, 0, 4}), 2, 2); }, "with H, W >= 1"}};
  // Dropout with a fixed generator state: the mask comes from the Philox words, which
  // test_philox.cpp proves equal to cuRAND's; each call of fn reuses the same state so the mask is
  // fixed during gradcheck.
  // Dropout with a fixed generator state: the mask comes from the Philox words, which
  // test_philox.cpp proves equal to cuRAND's; each call of fn reuses the same state so the mask is
  // fixed during gradcheck. The 1-bit stored mask gives the same values.
  const auto inverted_dropout_record = [](Tensor (*op)(const Tensor&, double, bool, Generator&)) {
    return OpRecord{[op](const std::vector<Tensor>& in) {
                      Generator gen(1234, 5);
                      return op(in[0], 0.3, true, gen);
                    },
                    {{"p 0.3", {values({5, 7})}, [](const std::vector<Values>& in) {
                        Values out;
                        for (size_t i = 0; i < in[0].size(); ++i) {
                          const bool keep = philox_word(PhiloxState{1234, 5, 0}, i) >= dropout_threshold(0.3);
                          out.push_back(keep ? in[0][i] / 0.7 : 0.0);
                        }
                        return out;
                      }}},
                    {{[op] { op(Tensor::zeros({2}), 1.5, true, default_generator()); }, "outside [0, 1]"},
                     {[op] { op(Tensor::zeros({2}), std::nan(""), true, default_generator()); }, "outside [0, 1]"},
                     {[op] { op(Tensor::zeros({2}, DType::I64), 0.5, true, default_generator()); }, "floating"}}};
  };
  r[OpId::Dropout] = inverted_dropout_record(dropout);
  r[OpId::DropoutPacked] = inverted_dropout_record(dropout_packed);
  // Alpha dropout's rule (a kept unit becomes a x + b, a dropped one d) with one draw per row of
  // [5, 7], and with one draw per element.
  const auto bernoulli_ref = [](bool per_row) {
    return [per_row](const std::vector<Values>& in) {
      Values out;
      for (size_t i = 0; i < in[0].size(); ++i) {
        const bool keep = philox_word(PhiloxState{99, 0, 0}, per_row ? i / 7 : i) >= dropout_threshold(0.4);
        out.push_back(keep ? in[0][i] * 1.5 + 0.25 : -0.75);
      }
      return out;
    };
  };
  r[OpId::BernoulliDropout] = {[](const std::vector<Tensor>& in) {
                                 Generator gen(99);
                                 const Shape mask = in[0].size(1) == 1 ? in[0].shape() : Shape{in[0].size(0), 1};
                                 return bernoulli_dropout(in[0], 0.4, DropoutAffine{1.5, 0.25, -0.75}, mask, gen);
                               },
                               {{"per row", {values({5, 7})}, bernoulli_ref(true)},
                                {"per element", {values({9, 1})}, [](const std::vector<Values>& in) {
                                   Values out;
                                   for (size_t i = 0; i < in[0].size(); ++i) {
                                     const bool keep = philox_word(PhiloxState{99, 0, 0}, i) >= dropout_threshold(0.4);
                                     out.push_back(keep ? in[0][i] * 1.5 + 0.25 : -0.75);
                                   }
                                   return out;
                                 }}},
                               {{[] { bernoulli_dropout(Tensor::zeros({2, 3}), 0.5, {}, {2, 2}); }, "does not broadcast"},
                                {[] { bernoulli_dropout(Tensor::zeros({2, 3}), 0.5, {}, {2}); }, "must have x's rank"},
                                {[] { bernoulli_dropout(Tensor::zeros({2}), 2.0, {}, {2}); }, "outside [0, 1]"},
                                {[] { bernoulli_dropout(Tensor::zeros({2}), 0.5, {std::nan(""), 0, 0}, {2}); },
                                 "must be finite"}}};
  // z from cuRAND's Box-Muller of the word pairs (test_curand.cpp checks box_muller against
  // curand_normal2); x (1 + 0.5 z) + 0.1 z.
  r[OpId::GaussianNoise] = {[](const std::vector<Tensor>& in) {
                              Generator gen(7, 2);
                              return gaussian_noise(in[0], 0.5, 0.1, gen);
                            },
                            {{"odd count", {values({5, 3})}, [](const std::vector<Values>& in) {
                                Values out;
                                const PhiloxState st{7, 2, 0};
                                for (size_t i = 0; i < in[0].size(); ++i) {
                                  const size_t j = i / 2;
                                  const NormalPair z = box_muller(philox_word(st, 2 * j), philox_word(st, 2 * j + 1));
                                  const double zi = i % 2 == 0 ? z.first : z.second;
                                  out.push_back(in[0][i] * (1 + 0.5 * zi) + 0.1 * zi);
                                }
                                return out;
                              }}},
                            {{[] { gaussian_noise(Tensor::zeros({2}), -1.0, 0.0); }, "mul_sigma = -1"},
                             {[] { gaussian_noise(Tensor::zeros({2}), 0.0, std::nan("")); }, "add_sigma = nan"}}};
  r[OpId::Rand] = {[](const std::vector<Tensor>& in) {
                     Generator gen(3, 1);
                     return rand(in[0].shape(), in[0].dtype(), in[0].device(), gen);
                   },
                   {{"4x3", {values({4, 3})}, [](const std::vector<Values>& in) {
                       Values out;
                       for (size_t i = 0; i < in[0].size(); ++i)
                         out.push_back((philox_word(PhiloxState{3, 1, 0}, i) + 0.5) / 4294967296.0);
                       return out;
                     }}},
                   {{[] { rand({2}, DType::I64); }, "not floating point"}},
                   false};
  // DropBlock on [2, 2, 6, 5], block 3: blocks centred where a draw at rate gamma falls below
  // the threshold (only where the block fits), the kept values scaled by numel / kept.
  r[OpId::DropBlock] = {[](const std::vector<Tensor>& in) {
                          Generator gen(2024);
                          return dropblock(in[0], 0.35, 3, true, gen);
                        },
                        {{"2x2x6x5 block 3", {values({2, 2, 6, 5})}, [](const std::vector<Values>& in) {
                            const int H = 6, W = 5, planes = 4;
                            const uint64_t thr = dropout_threshold(0.35 / 9 * 30 / (4 * 3));
                            std::vector<int> keep(in[0].size(), 1);
                            for (int p = 0; p < planes; ++p)
                              for (int h = 1; h < H - 1; ++h)
                                for (int w = 1; w < W - 1; ++w)
                                  if (philox_word(PhiloxState{2024, 0, 0}, p * H * W + h * W + w) < thr)
                                    for (int dh = -1; dh <= 1; ++dh)
                                      for (int dw = -1; dw <= 1; ++dw) keep[p * H * W + (h + dh) * W + w + dw] = 0;
                            double kept = 0;
                            for (int k : keep) kept += k;
                            Values out;
                            for (size_t i = 0; i < in[0].size(); ++i)
                              out.push_back(keep[i] ? in[0][i] * (in[0].size() / kept) : 0.0);
                            return out;
                          }}},
                        {{[] { dropblock(Tensor::zeros({1, 1, 4, 4}), 0.1, 2, true); }, "must be odd"},
                         {[] { dropblock(Tensor::zeros({1, 1, 4, 4}), 0.1, 5, true); }, "larger than the 4x4"},
                         {[] { dropblock(Tensor::zeros({4}), 0.1, 1, true); }, "[..., H, W]"},
                         {[] { dropblock(Tensor::zeros({1, 1, 4, 4}), std::nan(""), 3, true); }, "outside [0, 1]"},
                         {[] { dropblock(Tensor::zeros({1, 1, 4, 4}), -0.1, 3, true); }, "outside [0, 1]"}}};
  // The plug-in rule of docs/extending.md: y = x (1 + a (2u - 1)), u = (word + 1/2) / 2^32.
  r[OpId::RandomRule] = {[](const std::vector<Tensor>& in) {
                           Generator gen(5, 5);
                           return random_rule(RandomRule::UniformNoise, in[0], 0.4, true, gen);
                         },
                         {{"3x5", {values({3, 5})}, [](const std::vector<Values>& in) {
                             Values out;
                             for (size_t i = 0; i < in[0].size(); ++i) {
                               const double u = (philox_word(PhiloxState{5, 5, 0}, i) + 0.5) / 4294967296.0;
                               out.push_back(in[0][i] * (1 + 0.4 * (2 * u - 1)));
                             }
                             return out;
                           }}},
                         {{[] { random_rule(RandomRule::UniformNoise, Tensor::zeros({2}), 1.5, true); },
                           "uniform-noise: parameter 1.5 is outside"}}};
  r[OpId::BiasDropoutResidual] = {
      [](const std::vector<Tensor>& in) {
        Generator gen(11, 3);
        return bias_dropout_residual(in[0], in[1], in[2], 0.25, true, gen);
      },
      {{"4x5", {values({4, 5}), values({5}, 1, 0, 2), values({4, 5}, 1, 0, 3)}, [](const std::vector<Values>& in) {
          Values out;
          for (size_t i = 0; i < in[0].size(); ++i) {
            const bool keep = philox_word(PhiloxState{11, 3, 0}, i) >= dropout_threshold(0.25);
            out.push_back(in[2][i] + (keep ? (in[0][i] + in[1][i % 5]) / 0.75 : 0.0));
          }
          return out;
        }}},
      {{[] { bias_dropout_residual(Tensor::zeros({2, 3}), Tensor::zeros({2}), Tensor::zeros({2, 3}), 0.1, true); },
        "bias must be [3]"},
       {[] { bias_dropout_residual(Tensor::zeros({2, 3}), Tensor::zeros({3}), Tensor::zeros({3, 2}), 0.1, true); },
        "residual"},
       {[] { bias_dropout_residual(Tensor::zeros({2, 3}), Tensor::zeros({3}), Tensor::zeros({2, 3}), 1.5, true); },
        "outside [0, 1]"}}};
  // Causal softmax over the first r % 3 + 2 of 4 keys, then dropout p = 0.3 with Philox (7, 2).
  const auto attention_ref = [](bool causal, bool dropout) {
    return [causal, dropout](const std::vector<Values>& in) {
      Values out;
      for (size_t row = 0; row < 6; ++row) {
        const size_t visible = causal ? row % 3 + 2 : 4;
        double m = row_max(in[0].data() + row * 4, static_cast<int>(visible)), sum = 0;
        for (size_t c = 0; c < visible; ++c) sum += std::exp(in[0][row * 4 + c] - m);
        for (size_t c = 0; c < 4; ++c) {
          const double p = c < visible ? std::exp(in[0][row * 4 + c] - m) / sum : 0.0;
          const bool keep = !dropout || philox_word(PhiloxState{7, 2, 0}, row * 4 + c) >= dropout_threshold(0.3);
          out.push_back(keep ? (dropout ? p / 0.7 : p) : 0.0);
        }
      }
      return out;
    };
  };
  r[OpId::SoftmaxDropout] = {
      [](const std::vector<Tensor>& in) {
        Generator gen(7, 2);
        return softmax_dropout(in[0], 0.3, true, true, gen);
      },
      {{"2 heads x 3 queries x 4 keys, causal, p 0.3", {values({2, 3, 4}, 2)}, attention_ref(true, true)},
       {"no mask, eval mode", {values({2, 3, 4}, 2)}, attention_ref(false, false), 1e-12,
        [](const std::vector<Tensor>& in) { return softmax_dropout(in[0], 0.3, false, false); }}},
      {{[] { softmax_dropout(Tensor::zeros({2, 3}), 1.5, true, true); }, "outside [0, 1]"},
       {[] { softmax_dropout(Tensor::zeros({4, 2}), 0.1, true, true); }, "at least as many keys as queries"}}};
  // Attention by its definition: scores q_i . k_c / sqrt(dh) over the visible keys, their softmax,
  // dropout with Philox (5, 1) (score (row, c) uses word row * Tk + c, softmax_dropout's), and the
  // weighted sum of the values.
  const auto flash_ref = [](int64_t groups, int64_t tq, int64_t tk, int64_t dh, bool causal, double p) {
    return [=](const std::vector<Values>& in) {
      Values out;
      for (int64_t row = 0; row < groups * tq; ++row) {
        const int64_t g = row / tq, visible = causal ? row % tq + tk - tq + 1 : tk;
        Values s(static_cast<size_t>(visible));
        for (int64_t c = 0; c < visible; ++c)
          for (int64_t d = 0; d < dh; ++d) s[c] += in[0][row * dh + d] * in[1][(g * tk + c) * dh + d] / std::sqrt(dh);
        const double m = row_max(s.data(), visible);
        double sum = 0;
        for (double x : s) sum += std::exp(x - m);
        for (int64_t d = 0; d < dh; ++d) {
          double acc = 0;
          for (int64_t c = 0; c < visible; ++c) {
            const bool keep = philox_word(PhiloxState{5, 1, 0}, row * tk + c) >= dropout_threshold(p);
            if (keep) acc += std::exp(s[c] - m) / sum / (1 - p) * in[2][(g * tk + c) * dh + d];
          }
          out.push_back(acc);
        }
      }
      return out;
    };
  };
  const auto flash_call = [](double p, bool causal, bool training) {
    return [=](const std::vector<Tensor>& in) {
      Generator gen(5, 1);
      return flash_attention(in[0], in[1], in[2], p, causal, training, gen);
    };
  };
  const auto qkv = [](const Shape& q, const Shape& kv) {
    return std::vector<Tensor>{values(q), values(kv, 1, 0, 2), values(kv, 1, 0, 3)};
  };
  const auto zeros4 = [](int64_t t, int64_t dh) { return Tensor::zeros({1, 1, t, dh}); };
  r[OpId::FlashAttention] = {
      flash_call(0.3, true, true),
      {{"2 heads x 5 queries x dh 4, causal, p 0.3", qkv({1, 2, 5, 4}, {1, 2, 5, 4}), flash_ref(2, 5, 5, 4, true, 0.3)},
       {"3 queries, 5 keys, no mask, eval mode", qkv({2, 1, 3, 4}, {2, 1, 5, 4}), flash_ref(2, 3, 5, 4, false, 0.0),
        1e-12, flash_call(0.3, false, false)},
       {"3 queries, 5 keys, causal, p 0.5", qkv({2, 1, 3, 4}, {2, 1, 5, 4}), flash_ref(2, 3, 5, 4, true, 0.5), 1e-12,
        flash_call(0.5, true, true)}},
      {{[=] { flash_attention(zeros4(2, 129), zeros4(2, 129), zeros4(2, 129), 0.1, true, true); },
        "head dim 129 is outside [1, 128]"},
       {[=] { flash_attention(zeros4(2, 4), zeros4(3, 4), zeros4(2, 4), 0.1, false, true); },
        "expected q [B, H, Tq, dh] and k, v [B, H, Tk, dh]"},
       {[=] { flash_attention(zeros4(3, 4), zeros4(2, 4), zeros4(2, 4), 0.1, true, true); },
        "at least as many keys as queries"},
       {[=] { flash_attention(zeros4(2, 4), zeros4(2, 4), zeros4(2, 4), 1.5, true, true); }, "outside [0, 1]"}}};
  return r;
}

void expect_close(const Values& got, const Values& want, double tol, const std::string& where) {
  ASSERT_EQ(got.size(), want.size()) << where;
  int reported = 0;
  for (size_t i = 0; i < got.size() && reported < 10; ++i) {
    if (!(std::abs(got[i] - want[i]) <= tol * (1 + std::abs(want[i])))) {
      ADD_FAILURE() << where << ": element " << i << " got " << got[i] << " expected " << want[i];
      ++reported;
    }
  }
}

TEST(OpRegistry, EveryOpHasARecord) {
  const auto records = make_records();
  for (size_t i = 0; i < static_cast<size_t>(OpId::Count); ++i) {
    const auto op = static_cast<OpId>(i);
    auto it = records.find(op);
    ASSERT_NE(it, records.end()) << "op '" << op_name(op) << "' has no test record in tests/test_ops.cpp";
    EXPECT_FALSE(it->second.samples.empty()) << op_name(op);
    EXPECT_FALSE(it->second.errors.empty()) << op_name(op) << " has no error inputs";
    EXPECT_EQ(it->second.gradcheck, op_spec(op).differentiable)
        << op_name(op) << ": gradcheck coverage must match the registry's differentiable flag";
  }
}

class OpTest : public ::testing::TestWithParam<size_t> {};

TEST_P(OpTest, ForwardMatchesReference) {
  const auto op = static_cast<OpId>(GetParam());
  const OpRecord rec = make_records().at(op);
  for (const Sample& s : rec.samples) {
    std::vector<Values> in;
    for (const Tensor& t : s.inputs) in.push_back(t.to_vector<double>());
    const Tensor out = call_of(rec, s)(s.inputs);
    expect_close(flat(out), s.ref(in), s.tol, std::string(op_name(op)) + " / " + s.label);
  }
}

TEST_P(OpTest, NonContiguousInputsGiveTheSameResult) {
  const auto op = static_cast<OpId>(GetParam());
  const OpRecord rec = make_records().at(op);
  for (const Sample& s : rec.samples) {
    // Each floating input as a transposed copy transposed back: same values, non-trivial strides.
    std::vector<Tensor> strided;
    for (const Tensor& t : s.inputs) {
      if (!is_floating(t.dtype()) || t.dim() < 2) {
        strided.push_back(t);
        continue;
      }
      const Tensor v = transpose(contiguous(transpose(t, 0, -1)), 0, -1);
      EXPECT_FALSE(v.is_contiguous() && t.size(0) > 1 && t.size(-1) > 1);
      strided.push_back(v);
    }
    expect_close(flat(call_of(rec, s)(strided)), flat(call_of(rec, s)(s.inputs)), s.tol,
                 std::string(op_name(op)) + " / " + s.label);
  }
}

TEST_P(OpTest, GradcheckInF64) {
  const auto op = static_cast<OpId>(GetParam());
  const OpRecord rec = make_records().at(op);
  if (!rec.gradcheck) {
    EXPECT_FALSE(op_spec(op).differentiable);
    return;
  }
  for (const Sample& s : rec.samples) {
    bool empty = false;
    for (const Tensor& t : s.inputs) empty = empty || t.numel() == 0;
    if (empty) continue;  // nothing to differentiate
    const GradcheckResult r = gradcheck(call_of(rec, s), s.inputs, rec.grad_options);
    EXPECT_TRUE(r.ok) << op_name(op) << " / " << s.label << ": " << r.message;
  }
}

TEST_P(OpTest, ErrorInputsGiveClearMessages) {
  const auto op = static_cast<OpId>(GetParam());
  const OpRecord rec = make_records().at(op);
  for (const ErrorInput& e : rec.errors) {
    try {
      e.call();
      ADD_FAILURE() << op_name(op) << ": expected an error containing '" << e.expected << "'";
    } catch (const Error& err) {
      EXPECT_NE(std::string(err.what()).find(e.expected), std::string::npos) << op_name(op) << ": " << err.what();
    }
  }
}

// x + 0.5, x * 1.7 and x ^ 2.5 with numbers are one-input ops on their own kernel (the number
// kept in the compute type) and gradient rules: against the formula, by f64 gradcheck on a strided
// view, and on the device under test against the CPU, forward and gradient.
TEST(ScalarOps, MatchTheFormulaGradcheckAndTheDevice) {
  const Values v = {0.3, 1.1, 2.0, 0.7, 1.9, 0.05};
  const Fn f = [](const std::vector<Tensor>& in) { return pow(mul(add(in[0], 0.5), 1.7), 2.5); };
  const Tensor x = Tensor::from_vector(v, {2, 3});
  const Values got = f({x}).to_vector<double>();
  for (size_t i = 0; i < v.size(); ++i) EXPECT_NEAR(got[i], std::pow((v[i] + 0.5) * 1.7, 2.5), 1e-12) << i;
  EXPECT_TRUE(gradcheck(f, {transpose(x, 0, 1)}).ok);
  std::vector<Values> results;
  for (Device device : {kCPU, kDeviceUnderTest}) {
    Tensor leaf = to_device(x, device).detach();
    leaf.requires_grad_(true);
    const Tensor y = f({leaf});
    sum(y).backward();
    results.push_back(to_device(y, kCPU).to_vector<double>());
    results.push_back(to_device(leaf.grad(), kCPU).to_vector<double>());
  }
  expect_close(results[2], results[0], 1e-12, "forward on the device");
  expect_close(results[3], results[1], 1e-12, "gradient on the device");
}

// Ties and NaNs, which gradcheck cannot reach (max has no derivative there): the maximum's
// gradient goes to the first maximum in row order, or to the first NaN, on every device.
TEST(MaxPool2d, GradientGoesToTheFirstMaximumOrNaN) {
  const double nan = std::nan("");
  struct Case {
    Values x;
    Shape shape;
    Values y, grad;
  };
  // [[5, 5, 1], [5, 2, 5]]: both 2x2 windows (stride 1) hold tied 5s. [[1, nan], [nan, 3]]: two NaNs.
  for (const Case& c : {Case{{5, 5, 1, 5, 2, 5}, {1, 1, 2, 3}, {5, 5}, {1, 1, 0, 0, 0, 0}},
                        Case{{1, nan, nan, 3}, {1, 1, 2, 2}, {nan}, {0, 1, 0, 0}}})
    for (const Device device : {kCPU, kDeviceUnderTest}) {
      Tensor x = to_device(Tensor::from_vector(c.x, c.shape), device);
      x.requires_grad_(true);
      const Tensor y = max_pool2d(x, {2, 2}, {1, 1});
      sum(y).backward();
      const Values got = flat(y);
      ASSERT_EQ(got.size(), c.y.size());
      for (size_t i = 0; i < got.size(); ++i)
        EXPECT_TRUE(std::isnan(c.y[i]) ? std::isnan(got[i]) : got[i] == c.y[i]) << device.str() << " y " << i;
      EXPECT_EQ(flat(x.grad()), c.grad) << device.str();
    }
}

std::vector<Tensor> on_device(const std::vector<Tensor>& xs, Device device) {
  std::vector<Tensor> out;
  for (const Tensor& x : xs) out.push_back(to_device(x, device).detach());
  return out;
}

// Gradients of sum(fn(inputs) * weights) with respect to each floating input, on `device`.
std::vector<Values> weighted_grads(const Fn& fn, const std::vector<Tensor>& inputs, Device device) {
  std::vector<Tensor> leaves = on_device(inputs, device);
  for (Tensor& t : leaves)
    if (is_floating(t.dtype())) t.requires_grad_(true);
  const Tensor out = fn(leaves);
  const Tensor weights = to_device(values(out.shape(), 1.0, 0.0, 99), out.device());
  sum(out * weights).backward();
  std::vector<Values> grads;
  for (const Tensor& t : leaves)
    if (is_floating(t.dtype())) grads.push_back(t.grad().defined() ? flat(t.grad()) : Values(t.numel(), 0.0));
  return grads;
}

// An op on a CUDA device against the CPU: forward values and the gradients of a weighted sum.
// f64 throughout; where the device reorders sums (reductions, GEMM) the difference stays within
// 1e-10 relative, far above f64 rounding of these short sums and far below any real error.
// Random ops (dropout) come out identical: their masks are a pure function of the Philox words.
void check_device_parity(OpId op, Device device) {
  const OpRecord rec = make_records().at(op);
  for (const Sample& s : rec.samples) {
    const std::string where = std::string(op_name(op)) + " / " + s.label + " on " + device.str();
    const Fn& fn = call_of(rec, s);
    const Values cpu = flat(fn(s.inputs));
    expect_close(flat(fn(on_device(s.inputs, device))), cpu, std::max(s.tol, 1e-10), where);
    // The same values as strided views on the device (transposed copies transposed back).
    std::vector<Tensor> strided;
    for (const Tensor& t : on_device(s.inputs, device))
      strided.push_back(is_floating(t.dtype()) && t.dim() >= 2 ? transpose(contiguous(transpose(t, 0, -1)), 0, -1) : t);
    expect_close(flat(fn(strided)), cpu, std::max(s.tol, 1e-10), where + " (strided views)");
    bool empty = false;
    for (const Tensor& t : s.inputs) empty = empty || t.numel() == 0;
    if (!op_spec(op).differentiable || empty) continue;
    const std::vector<Values> device_grads = weighted_grads(fn, s.inputs, device);
    const std::vector<Values> cpu_grads = weighted_grads(fn, s.inputs, kCPU);
    ASSERT_EQ(device_grads.size(), cpu_grads.size());
    for (size_t i = 0; i < cpu_grads.size(); ++i)
      expect_close(device_grads[i], cpu_grads[i], 1e-10, where + " gradient of input " + std::to_string(i));
  }
}

#if defined(MINIDL_HAS_EMU)
// kernels/cuda in the SIMT emulator: runs in every test run.
TEST_P(OpTest, EmulatedCudaMatchesCpu) { check_device_parity(static_cast<OpId>(GetParam()), kDeviceUnderTest); }
#endif

// kernels/cuda on a real GPU: runs where one is present (tools/gpu-check).
TEST_P(OpTest, GpuMatchesCpu) {
  if (cuda_device_count() == 0) GTEST_SKIP() << "needs a GPU: " << cuda_unavailable_reason();
  check_device_parity(static_cast<OpId>(GetParam()), Device{DeviceType::CUDA, 0});
}

INSTANTIATE_TEST_SUITE_P(AllOps, OpTest, ::testing::Range<size_t>(0, static_cast<size_t>(OpId::Count)),
                         [](const auto& param_info) { return std::string(op_name(static_cast<OpId>(param_info.param))); });

}  // namespace
}  // namespace minidl
