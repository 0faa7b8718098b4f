// Neural-network ops with fused kernels: softmax, log-softmax, cross-entropy, MSE, LayerNorm, the
// LSTM cell.
#include <cmath>

#include "framework/autograd/node.h"
#include "framework/ops/autocast.h"
#include "framework/ops/backend.h"
#include "framework/ops/checks.h"
#include "framework/ops/gradients.h"
#include "framework/ops/ops.h"

namespace minidl {

namespace {

Tensor softmax_op(bool log, const Tensor& x, int64_t dim) {
  if (autocast_widens(x)) return softmax_op(log, autocast_to_f32(x), dim);
  const char* name = log ? "log_softmax" : "softmax";
  check_floating(x, name);
  dim = wrap_dim(dim, x.dim(), name);
  // The kernel works on rows: move dim last, run it, and move it back (a view).
  const Tensor rows = contiguous(transpose(x.detach(), dim, -1));
  Tensor y = Tensor::empty(rows.shape(), x.dtype(), x.device());
  backend_for(x.device()).softmax(log, y, rows, x.dim() == 0 ? 1 : rows.size(-1));
  Tensor out = transpose(y, dim, -1);
  record_op(name, {x}, out, {out}, [log, dim](const Tensor& g, const std::vector<Tensor>& s) {
    return grad::softmax(log, g, s[0], dim);
  });
  return out;
}

}  // namespace

Tensor softmax(const Tensor& x, int64_t dim) { return softmax_op(false, x, dim); }
Tensor log_softmax(const Tensor& x, int64_t dim) { return softmax_op(true, x, dim); }

Tensor cross_entropy(const Tensor& logits, const Tensor& target) {
  if (autocast_widens(logits)) return cross_entropy(autocast_to_f32(logits), target);
  check_floating(logits, "cross_entropy");
  check_defined(target, "cross_entropy");
  MINIDL_CHECK(logits.dim() == 2, "cross_entropy: logits must be [N, C], got {}", logits.describe());
  MINIDL_CHECK(target.dtype() == DType::I64 && target.dim() == 1 && target.size(0) == logits.size(0),
               "cross_entropy: target must be i64[{}] class indices, got {}", logits.size(0), target.describe());
  MINIDL_CHECK(target.device() == logits.device(), "cross_entropy: logits on {}, target on {}",
               logits.device().str(), target.device().str());
  MINIDL_CHECK(logits.size(0) > 0, "cross_entropy: empty batch {}", logits.describe());
  const Tensor x = contiguous(logits.detach());
  const Tensor t = contiguous(target);
  const int64_t classes = x.size(1);
  for (int64_t v : t.to_vector<int64_t>()) {
    MINIDL_CHECK(v >= 0 && v < classes, "cross_entropy: target class {} out of range: expected 0 to {}", v,
                 classes - 1);
  }
  Tensor loss = Tensor::empty({}, x.dtype(), x.device());
  Tensor row_lse = Tensor::empty({x.size(0)}, x.dtype(), x.device());
  backend_for(x.device()).cross_entropy(loss, row_lse, x, t);
  record_op("cross_entropy", {logits, target}, loss, {x, t, row_lse},
            [](const Tensor& g, const std::vector<Tensor>& s) { return grad::cross_entropy(g, s[0], s[1], s[2]); });
  return loss;
}

Tensor cross_entropy(const Tensor& logits, const Tensor& target, double label_smoothing) {
  MINIDL_CHECK(label_smoothing >= 0.0 && label_smoothing <= 1.0, "cross_entropy: label_smoothing = {} is outside [0, 1]",
               label_smoothing);
  if (autocast_widens(logits)) return cross_entropy(autocast_to_f32(logits), target, label_smoothing);
  const Tensor ce = cross_entropy(logits, target);
  if (label_smoothing == 0.0) return ce;
  const Tensor uniform_term = neg(mean(log_softmax(logits, 1)));  // mean over rows and classes
  return add(mul(ce, 1.0 - label_smoothing), mul(uniform_term, label_smoothing));
}

Tensor mse_loss(const Tensor& input, const Tensor& target) {
  if (autocast_widens(input) || autocast_widens(target))
    return mse_loss(autocast_to_f32(input), autocast_to_f32(target));
  check_compatible(input, target, "mse_loss");
  check_floating(input, "mse_loss");
  MINIDL_CHECK(input.shape() == target.shape(), "mse_loss: input {} and target {} differ in shape", input.describe(),
               target.describe());
  Tensor loss;
  {
    const Tensor diff = sub(input.detach(), target.detach());
    loss = mean(mul(diff, diff));
  }
  record_op("mse_loss", {input, target}, loss, {input, target},
            [](const Tensor& g, const std::vector<Tensor>& s) { return grad::mse_loss(g, s[0], s[1]); });
  return loss;
}

Tensor layer_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, double eps) {
  if (autocast_widens(x)) return layer_norm(autocast_to_f32(x), weight, bias, eps);
  check_floating(x, "layer_norm");
  check_compatible(x, weight, "layer_norm");
  check_compatible(x, bias, "layer_norm");
  MINIDL_CHECK(x.dim() >= 1 && x.size(-1) > 0, "layer_norm: expected an input with a non-empty last dim, got {}",
               x.describe());
  const int64_t cols = x.size(-1);
  MINIDL_CHECK(weight.dim() == 1 && weight.size(0) == cols && bias.dim() == 1 && bias.size(0) == cols,
               "layer_norm: weight and bias must be [{}] (the input's last dim), got {} and {}", cols,
               weight.describe(), bias.describe());
  MINIDL_CHECK(eps > 0 && std::isfinite(eps), "layer_norm: eps = {} must be finite and > 0", eps);
  const Tensor xc = contiguous(x.detach()), wc = contiguous(weight.detach()), bc = contiguous(bias.detach());
  const int64_t rows = x.numel() / cols;
  Tensor y = Tensor::empty(x.shape(), x.dtype(), x.device());
  Tensor mean = Tensor::empty({rows}, x.dtype(), x.device()), rstd = Tensor::empty({rows}, x.dtype(), x.device());
  backend_for(x.device()).layer_norm(y, mean, rstd, xc, wc, bc, eps);
  record_op("layer_norm", {x, weight, bias}, y, {xc, wc, mean, rstd}, [](const Tensor& g, const std::vector<Tensor>& s) {
    return grad::layer_norm(g, s[0], s[1], s[2], s[3]);
  });
  return y;
}

Tensor lstm_cell(const Tensor& gates, const Tensor& c_prev) {
  if (autocast_widens(gates) || autocast_widens(c_prev))
    return lstm_cell(autocast_to_f32(gates), autocast_to_f32(c_prev));
  check_floating(gates, "lstm_cell");
  check_compatible(gates, c_prev, "lstm_cell");
  MINIDL_CHECK(c_prev.dim() == 2, "lstm_cell: c_prev must be [batch, hidden], got {}", c_prev.describe());
  const int64_t batch = c_prev.size(0), hidden = c_prev.size(1);
  MINIDL_CHECK(gates.dim() == 2 && gates.size(0) == batch && gates.size(1) == 4 * hidden,
               "lstm_cell: gates must be [{}, {}] (batch, 4 x hidden), got {}", batch, 4 * hidden, gates.describe());
  const Tensor gc = contiguous(gates.detach()), cc = contiguous(c_prev.detach());
  Tensor y = Tensor::empty({batch, 2 * hidden}, gates.dtype(), gates.device());
  backend_for(gates.device()).lstm_cell(y, gc, cc);
  record_op("lstm_cell", {gates, c_prev}, y, {gc, cc, y}, [](const Tensor& g, const std::vector<Tensor>& s) {
    return grad::lstm_cell(g, s[0], s[1], s[2]);
  });
  return y;
}

}  // namespace minidl
