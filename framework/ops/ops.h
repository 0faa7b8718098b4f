// The functional API: every op validates its operands, runs the backend kernel of their device,
// and records its gradient rule (framework/ops/gradients.cpp) when autograd needs it.
#pragma once

#include <vector>

#include "framework/core/tensor.h"
#include "framework/random/generator.h"

namespace minidl {

// Elementwise binary ops broadcast their operands (numpy rules); both must be floating tensors
// of one dtype on one device.
Tensor add(const Tensor& a, const Tensor& b);
Tensor sub(const Tensor& a, const Tensor& b);
Tensor mul(const Tensor& a, const Tensor& b);
Tensor div(const Tensor& a, const Tensor& b);
Tensor pow(const Tensor& a, const Tensor& b);
Tensor eq(const Tensor& a, const Tensor& b);  // 1 where equal, else 0, in a's dtype; no gradient

// A scalar operand becomes a 0-d tensor of the other operand's dtype.
Tensor add(const Tensor& a, double b);
Tensor mul(const Tensor& a, double b);
Tensor pow(const Tensor& a, double b);
Tensor operator+(const Tensor& a, const Tensor& b);
Tensor operator-(const Tensor& a, const Tensor& b);
Tensor operator*(const Tensor& a, const Tensor& b);
Tensor operator/(const Tensor& a, const Tensor& b);
Tensor operator-(const Tensor& a);
Tensor operator*(const Tensor& a, double b);
Tensor operator+(const Tensor& a, double b);

Tensor neg(const Tensor& x);
Tensor exp(const Tensor& x);
Tensor log(const Tensor& x);
Tensor sqrt(const Tensor& x);
Tensor relu(const Tensor& x);
Tensor gelu(const Tensor& x);  // exact (erf) form
Tensor tanh(const Tensor& x);
Tensor sigmoid(const Tensor& x);

// [..., m, k] @ [..., k, n] with broadcast batch dims; 1-d operands are not promoted.
Tensor matmul(const Tensor& a, const Tensor& b);

// Reductions over `dims` (all dims when empty).
Tensor sum(const Tensor& x, std::vector<int64_t> dims = {}, bool keepdim = false);
Tensor mean(const Tensor& x, std::vector<int64_t> dims = {}, bool keepdim = false);
// Max over one dim; the gradient is split evenly among tied maxima.
Tensor max(const Tensor& x, int64_t dim, bool keepdim = false);
Tensor argmax(const Tensor& x, int64_t dim, bool keepdim = false);  // i64, first maximum
// Sums a broadcast gradient back to `shape`.
Tensor sum_to(const Tensor& x, const Shape& shape);

// Shape ops. reshape, permute, transpose, slice and expand return views sharing storage
// (reshape copies only when the strides make a view impossible).
Tensor reshape(const Tensor& x, Shape shape);  // one size may be -1
Tensor permute(const Tensor& x, std::vector<int64_t> dims);
Tensor transpose(const Tensor& x, int64_t dim0, int64_t dim1);
Tensor slice(const Tensor& x, int64_t dim, int64_t start, int64_t end, int64_t step = 1);
Tensor expand(const Tensor& x, const Shape& shape);
Tensor cat(const std::vector<Tensor>& xs, int64_t dim);
Tensor stack(const std::vector<Tensor>& xs, int64_t dim);
Tensor contiguous(const Tensor& x);  // x itself when already contiguous
Tensor clone(const Tensor& x);       // always a fresh contiguous copy
Tensor to_dtype(const Tensor& x, DType dtype);
// A contiguous copy on `device` (x itself when already there); gradients flow back.
Tensor to_device(const Tensor& x, Device device);
// Moves a leaf's storage to `device` in place, so every handle to it (a module's parameters)
// follows. No autograd history is recorded.
void move_to_device(const Tensor& leaf, Device device);

Tensor softmax(const Tensor& x, int64_t dim);
Tensor log_softmax(const Tensor& x, int64_t dim);
// Mean cross-entropy of logits [N, C] against class indices target (i64 [N], values in [0, C)).
Tensor cross_entropy(const Tensor& logits, const Tensor& target);
Tensor mse_loss(const Tensor& input, const Tensor& target);  // mean squared error

// Inverted dropout: in training, keeps element i iff word (offset + i) of gen's stream clears
// the threshold of p, and scales kept values by 1 / (1 - p). Identity when !training or p == 0.
Tensor dropout(const Tensor& x, double p, bool training, Generator& gen = default_generator());

// In-place writes (they bump the version counter of the storage).
void copy_(const Tensor& dst, const Tensor& src);
void fill_(const Tensor& dst, double value);

}  // namespace minidl
