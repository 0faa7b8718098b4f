// The dropout family, functional forms (docs/dropout.md has each one's formula, train and eval
// behaviour, reference and test). All draw from a Generator on the Philox contract, so every mask
// is identical on CPU, GPU and emulator and for any launch configuration, and backward
// regenerates it. Each takes `training`; in eval mode each does what its paper prescribes.
#pragma once

#include <cstdint>

#include "framework/core/tensor.h"
#include "framework/random/generator.h"

namespace minidl {

// Classic dropout (Hinton et al. 2012, Srivastava et al. 2014): no scaling in training, weights
// scaled by (1 - p) at test time: training keep ? x : 0, eval x * (1 - p).
Tensor classic_dropout(const Tensor& x, double p, bool training, Generator& gen = default_generator());

// Alpha dropout (Klambauer et al. 2017, SELU networks): dropped units take SELU's negative
// saturation alpha' = -lambda * alpha, then an affine map a x + b restores mean 0 and variance 1.
Tensor alpha_dropout(const Tensor& x, double p, bool training, Generator& gen = default_generator());
// The same with one draw per (sample, channel) of x [N, C, ...].
Tensor feature_alpha_dropout(const Tensor& x, double p, bool training, Generator& gen = default_generator());

// Spatial dropout (Tompson et al. 2015): one draw per (sample, channel) of x [N, C, *spatial],
// whole feature maps dropped and the rest scaled by 1 / (1 - p). spatial_dims is 1, 2 or 3
// (Dropout1d/2d/3d); x has 2 + spatial_dims dims.
Tensor spatial_dropout(const Tensor& x, double p, int spatial_dims, bool training, Generator& gen = default_generator());

// Gaussian dropout (Srivastava et al. 2014, section 10): x * (1 + sqrt(p / (1 - p)) z), z ~ N(0, 1):
// the same mean and variance as inverted Bernoulli dropout; identity in eval. p in [0, 1).
Tensor gaussian_dropout(const Tensor& x, double p, bool training, Generator& gen = default_generator());
// Additive Gaussian noise x + sigma z in training (input noise, weight noise); identity in eval.
Tensor additive_gaussian_noise(const Tensor& x, double sigma, bool training, Generator& gen = default_generator());

// DropConnect (Wan et al. 2013) for a linear layer y = x W^T + b: weights dropped instead of
// activations, kept weights scaled by 1 / (1 - p). per_sample: each row of x [N, in] gets its own
// weight mask (N masks of W's shape); else one mask for the batch. Eval: the plain layer.
Tensor drop_connect_linear(const Tensor& x, const Tensor& weight, const Tensor& bias, double p, bool per_sample,
                           bool training, Generator& gen = default_generator());

// Stochastic depth / DropPath (Huang et al. 2016; Larsson et al. 2017) on a residual branch's
// output x [N, ...]: per_sample ("row") drops whole samples, else the whole batch at once; kept
// samples scaled by 1 / (1 - p). The caller adds the residual. Identity in eval.
Tensor drop_path(const Tensor& x, double p, bool per_sample, bool training, Generator& gen = default_generator());
// The linear decay rule of stochastic depth: block l of L (1-based) drops with p_L * l / L.
double stochastic_depth_rate(double final_p, int64_t block, int64_t blocks);

// LayerDrop (Fan et al. 2019): whether to skip a whole layer this forward pass (training only),
// from one word of gen: true with probability p.
bool layer_drop(double p, bool training, Generator& gen = default_generator());

// Variational / locked dropout (Gal & Ghahramani 2016; Merity et al. 2018) on a sequence
// x [T, N, F]: one mask per (sample, feature), the same at every time step.
Tensor locked_dropout(const Tensor& x, double p, bool training, Generator& gen = default_generator());

// Zoneout (Krueger et al. 2017): each unit keeps its previous value with probability p:
// training h_prev + keep ? (h_new - h_prev) : 0 (drawn per element), eval h_prev + (1 - p)(h_new - h_prev).
Tensor zoneout(const Tensor& h_prev, const Tensor& h_new, double p, bool training, Generator& gen = default_generator());

// Embedding dropout (Gal & Ghahramani 2016): whole rows (words) of an embedding matrix
// weight [V, D] dropped, the rest scaled by 1 / (1 - p); returns the masked matrix to look up.
Tensor embedding_dropout(const Tensor& weight, double p, bool training, Generator& gen = default_generator());

// DropEdge (Rong et al. 2020) on a graph's edge weights [E, ...]: one draw per edge, kept edges
// scaled by 1 / (1 - p), so each node's weighted sum over its edges is unbiased. Each stored
// direction of an undirected edge is drawn on its own; the layers keep self loops out of it.
Tensor drop_edge(const Tensor& edge_weight, double p, bool training, Generator& gen = default_generator());

// DropNode (Feng et al. 2020): whole node feature rows of x [nodes, F] dropped, scaled by 1 / (1 - p).
Tensor drop_node(const Tensor& x, double p, bool training, Generator& gen = default_generator());

// Concrete dropout (Gal, Hron & Kendall 2017): the drop probability p = sigmoid(p_logit) is
// learned through a relaxed Bernoulli with temperature t: drop = sigmoid((logit p + log u -
// log(1 - u)) / t), u ~ U(0, 1); out = x (1 - drop) / (1 - p). Gradients reach x and p_logit (a
// scalar tensor, in x's dtype, or f32 for a bf16 x: the mask is computed in p_logit's dtype).
// Eval: identity.
Tensor concrete_dropout(const Tensor& x, const Tensor& p_logit, double temperature, bool training,
                        Generator& gen = default_generator());
// Its regularizer: weight_reg * sum(W^2) / (1 - p) + dropout_reg * input_dim * (p log p + (1 - p) log(1 - p)),
// i.e. the KL term of the paper (minus a constant) for the layer after the dropout.
Tensor concrete_dropout_penalty(const Tensor& weight, const Tensor& p_logit, double weight_reg, double dropout_reg,
                                int64_t input_dim);

// R-Drop (Liang et al. 2021): two forward passes with different dropout masks; the loss is their
// mean cross-entropy plus alpha times the symmetric KL divergence of their predictions:
// (CE1 + CE2) / 2 + alpha * (KL(P1 || P2) + KL(P2 || P1)) / 2, KL averaged over the batch.
Tensor rdrop_loss(const Tensor& logits1, const Tensor& logits2, const Tensor& target, double alpha);

}  // namespace minidl
