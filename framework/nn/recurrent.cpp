#include "framework/nn/recurrent.h"

#include <cmath>
#include <string>

#include "framework/core/check.h"
#include "framework/nn/init.h"
#include "framework/ops/ops.h"
#include "framework/regularize/dropout.h"

namespace minidl {

void LstmRegularization::validate() const {
  for (auto [name, p] : {std::pair{"input_dropout", input_dropout}, std::pair{"recurrent_dropout", recurrent_dropout},
                         std::pair{"output_dropout", output_dropout}})
    MINIDL_CHECK(p >= 0 && p < 1, "LSTM: {} = {} is outside [0, 1)", name, p);
  MINIDL_CHECK(zoneout >= 0 && zoneout <= 1, "LSTM: zoneout = {} is outside [0, 1]", zoneout);
}

namespace {

// x [T, ...] -> its T steps [...], taken by halving rather than as T slices of x: a slice's
// gradient is a zero tensor of its input's shape, so T slices of x would cost O(T * numel) in
// backward, halving O(log T * numel).
void split_steps(const Tensor& x, std::vector<Tensor>& steps) {
  const int64_t t = x.size(0);
  if (t == 1) {
    const Shape step_shape(x.shape().begin() + 1, x.shape().end());
    steps.push_back(reshape(x, step_shape));
    return;
  }
  split_steps(slice(x, 0, 0, t / 2), steps);
  split_steps(slice(x, 0, t / 2, t), steps);
}

// Layer `layer` of a [layers, N, H] state, or zeros when the state is undefined.
Tensor layer_state(const Tensor& state, int64_t layer, int64_t batch, int64_t hidden, const Tensor& like) {
  if (!state.defined()) return Tensor::zeros({batch, hidden}, like.dtype(), like.device());
  return reshape(slice(state, 0, layer, layer + 1), {batch, hidden});
}

void check_state(const Tensor& state, const char* name, int64_t layers, int64_t batch, int64_t hidden,
                 const Tensor& x) {
  if (!state.defined()) return;
  MINIDL_CHECK(state.dim() == 3 && state.size(0) == layers && state.size(1) == batch && state.size(2) == hidden,
               "LSTM: initial {} must be [{}, {}, {}] (layers, batch, hidden), got {}", name, layers, batch, hidden,
               state.describe());
  MINIDL_CHECK(state.dtype() == x.dtype() && state.device() == x.device(),
               "LSTM: initial {} is {}, the input {}: they must share dtype and device", name, state.describe(),
               x.describe());
}

}  // namespace

LstmOutput lstm(const Tensor& x, const std::vector<LstmLayerWeights>& layers, const LstmState& initial,
                const LstmRegularization& reg, bool training, Generator& gen) {
  reg.validate();
  MINIDL_CHECK(!layers.empty(), "LSTM: no layers");
  const int64_t input_size = layers[0].weight_ih.size(1), hidden = layers[0].weight_hh.size(1);
  MINIDL_CHECK(x.defined() && x.dim() == 3 && x.size(0) >= 1 && x.size(2) == input_size,
               "LSTM: expected x [T, N, {}] (time, batch, features) with T >= 1, got {}", input_size,
               x.defined() ? x.describe() : "an undefined tensor");
  const int64_t steps = x.size(0), batch = x.size(1), num_layers = static_cast<int64_t>(layers.size());
  check_state(initial.h, "h", num_layers, batch, hidden, x);
  check_state(initial.c, "c", num_layers, batch, hidden, x);

  Tensor sequence = x;
  std::vector<Tensor> final_h, final_c;
  for (int64_t l = 0; l < num_layers; ++l) {
    const LstmLayerWeights& w = layers[static_cast<size_t>(l)];
    const Tensor input = locked_dropout(sequence, reg.input_dropout, training, gen);
    std::vector<Tensor> input_gates;  // x_t W_ih^T + b_ih + b_hh, [N, 4H] per step
    split_steps(add(matmul(input, transpose(w.weight_ih, 0, 1)), add(w.bias_ih, w.bias_hh)), input_gates);
    // Gal & Ghahramani's recurrent mask: drawn once, applied to h at every step.
    Tensor recurrent_mask;
    if (training && reg.recurrent_dropout > 0) {
      const Tensor ones = Tensor::full({1, batch, hidden}, 1.0, x.dtype(), x.device());
      recurrent_mask = reshape(locked_dropout(ones, reg.recurrent_dropout, true, gen), {batch, hidden});
    }
    const Tensor weight_hh_t = transpose(w.weight_hh, 0, 1);
    Tensor h = layer_state(initial.h, l, batch, hidden, x), c = layer_state(initial.c, l, batch, hidden, x);
    std::vector<Tensor> outputs;
    for (int64_t t = 0; t < steps; ++t) {
      const Tensor h_in = recurrent_mask.defined() ? mul(h, recurrent_mask) : h;
      const Tensor cell = lstm_cell(add(input_gates[static_cast<size_t>(t)], matmul(h_in, weight_hh_t)), c);
      Tensor h_new = slice(cell, 1, 0, hidden), c_new = slice(cell, 1, hidden, 2 * hidden);
      if (reg.zoneout > 0) {
        h_new = zoneout(h, h_new, reg.zoneout, training, gen);
        c_new = zoneout(c, c_new, reg.zoneout, training, gen);
      }
      h = h_new;
      c = c_new;
      outputs.push_back(h);
    }
    final_h.push_back(h);
    final_c.push_back(c);
    sequence = stack(outputs, 0);
  }
  return {locked_dropout(sequence, reg.output_dropout, training, gen), {stack(final_h, 0), stack(final_c, 0)}};
}

Lstm::Lstm(int64_t input_size, int64_t hidden, int64_t layers, const LstmRegularization& reg, Generator& init_gen,
           Generator& dropout_gen, DType dtype)
    : reg_(reg), dropout_gen_(dropout_gen) {
  MINIDL_CHECK(input_size > 0 && hidden > 0 && layers > 0,
               "Lstm({}, {}, {}): input size, hidden size and layers must be positive", input_size, hidden, layers);
  reg_.validate();
  const double bound = 1.0 / std::sqrt(static_cast<double>(hidden));
  const auto draw = [&](const std::string& name, const Shape& shape) {
    return register_parameter(name, uniform(shape, -bound, bound, init_gen, dtype));
  };
  for (int64_t l = 0; l < layers; ++l) {
    const std::string k = std::to_string(l);
    LstmLayerWeights w;
    w.weight_ih = draw("weight_ih_l" + k, {4 * hidden, l == 0 ? input_size : hidden});
    w.weight_hh = draw("weight_hh_l" + k, {4 * hidden, hidden});
    w.bias_ih = draw("bias_ih_l" + k, {4 * hidden});
    w.bias_hh = draw("bias_hh_l" + k, {4 * hidden});
    weights_.push_back(w);
  }
}

Tensor Lstm::forward(const Tensor& x) { return forward(x, {}).outputs; }

LstmOutput Lstm::forward(const Tensor& x, const LstmState& initial) {
  return lstm(x, weights_, initial, reg_, is_training(), dropout_gen_);
}

}  // namespace minidl
