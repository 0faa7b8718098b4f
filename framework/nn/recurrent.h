// The LSTM layer (Hochreiter & Schmidhuber 1997, with the forget gate of Gers et al. 2000) over
// time-major sequences, with torch.nn.LSTM's parameters, names and initialization, and the
// recurrent regularizers: variational dropout (Gal & Ghahramani 2016), one mask per sequence on
// each layer's input, on the recurrent state and on the output, and zoneout (Krueger et al. 2017)
// on the hidden and cell state. Every mask comes from the Generator it is given, on the Philox
// contract, so a forward pass draws the same masks on every device.
#pragma once

#include <cstdint>
#include <vector>

#include "framework/nn/module.h"
#include "framework/random/generator.h"

namespace minidl {

// The regularizers of an LSTM and where each acts. The dropout rates are in [0, 1), the zoneout
// rate in [0, 1] (1 freezes the state).
struct LstmRegularization {
  double input_dropout = 0;      // each layer's input sequence [T, N, F]: one mask per (sample, feature)
  double recurrent_dropout = 0;  // the h fed to W_hh: one mask per (sample, unit) and layer, for all steps
  double output_dropout = 0;     // the last layer's outputs: one mask per (sample, unit)
  double zoneout = 0;            // each unit of h and of c keeps its previous value with this probability
  void validate() const;
};

// One layer's parameters, torch.nn.LSTM's weight_ih_l{k} [4H, F], weight_hh_l{k} [4H, H],
// bias_ih_l{k} and bias_hh_l{k} [4H], gate rows in the order i, f, g, o.
struct LstmLayerWeights {
  Tensor weight_ih, weight_hh, bias_ih, bias_hh;
};

// h and c of every layer, each [layers, N, H].
struct LstmState {
  Tensor h, c;
};

struct LstmOutput {
  Tensor outputs;   // [T, N, H]: the last layer's h at every step (after output dropout)
  LstmState state;  // after the last step (no dropout on it)
};

// The LSTM as a function: x [T, N, F] through the layers, from `initial` (zeros when its tensors
// are undefined). Each step computes gates = x_t W_ih^T + b_ih + b_hh + h W_hh^T (the input part
// for all steps in one matmul) and the fused lstm_cell. Masks and zoneout draws come from gen in
// training; in eval dropout is the identity and zoneout takes its expectation.
LstmOutput lstm(const Tensor& x, const std::vector<LstmLayerWeights>& layers, const LstmState& initial,
                const LstmRegularization& reg, bool training, Generator& gen);

class Lstm : public Module {
 public:
  // Every weight and bias ~ U(-1/sqrt(hidden), 1/sqrt(hidden)) from init_gen, in torch's order;
  // masks from dropout_gen (which must outlive the layer). Parameters of `dtype` (f64 for tests).
  Lstm(int64_t input_size, int64_t hidden, int64_t layers, const LstmRegularization& reg, Generator& init_gen,
       Generator& dropout_gen, DType dtype = DType::F32);
  // x [T, N, input_size] from a zero state -> outputs [T, N, hidden].
  Tensor forward(const Tensor& x) override;
  LstmOutput forward(const Tensor& x, const LstmState& initial);
  const std::vector<LstmLayerWeights>& weights() const { return weights_; }
  const LstmRegularization& regularization() const { return reg_; }

 private:
  LstmRegularization reg_;
  Generator& dropout_gen_;
  std::vector<LstmLayerWeights> weights_;
};

}  // namespace minidl
