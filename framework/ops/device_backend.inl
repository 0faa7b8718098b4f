// The Backend of a CUDA device, written once for both kernel builds: included by
// device_backend_emu.cpp (MINIDL_KERNELS_NS = emu, the SIMT emulator) and device_backend_cuda.cpp
// (MINIDL_KERNELS_NS = cuda, a real GPU). Each call unpacks tensors into raw pointers and
// indexers and runs the kernel's host launcher on the default stream. The including file defines
// device_gemm<T>(batch, a, b, c), the GEMM of its device.
#include <algorithm>
#include <span>
#include <type_traits>
#include <variant>
#include <vector>

#include "framework/core/indexer.h"
#include "framework/ops/backend.h"
#include "framework/ops/dispatch.h"
#include "kernels/cuda/launchers.h"

namespace minidl {

namespace {

namespace kernels = ::minidl::MINIDL_KERNELS_NS;
constexpr kernels::Stream kDefaultStream = nullptr;

class DeviceBackend final : public Backend {
 public:
  void copy(const Tensor& dst, const Tensor& src) override {
    const StridedIndexer id = make_indexer(dst), is = make_indexer(src);
    visit_dtype(src.dtype(), [&](auto s) {
      using S = decltype(s);
      if (dst.dtype() == DType::Bool) {
        kernels::copy_to_bool<S>(dst.numel(), dst.data<uint8_t>(), id, src.data<S>(), is, kDefaultStream);
        return;
      }
      visit_dtype(dst.dtype(), [&](auto d) {
        using D = decltype(d);
        kernels::copy_cast<D, S>(dst.numel(), dst.data<D>(), id, src.data<S>(), is, kDefaultStream);
      });
    });
  }

  void fill(const Tensor& dst, double value) override {
    visit_dtype(dst.dtype(), [&](auto tag) {
      using T = decltype(tag);
      const T v = dst.dtype() == DType::Bool ? T(value != 0) : static_cast<T>(value);
      kernels::fill<T>(dst.numel(), dst.data<T>(), v, kDefaultStream);
    });
  }

  void unary(UnaryKind kind, const Tensor& out, const Tensor& x) override {
    visit_floating<Bf16::Accepted>(x.dtype(), "unary", operands(out, x), [&](auto tag) {
      using T = decltype(tag);
      kernels::unary_forward<T>(kind, out.numel(), out.data<T>(), x.data<T>(), make_indexer(x), kDefaultStream);
    });
  }

  void unary_backward(UnaryKind kind, const Tensor& gx, const Tensor& gy, const Tensor& x, const Tensor& y) override {
    visit_floating<Bf16::Accepted>(x.dtype(), "unary backward", operands(gx, gy, x, y), [&](auto tag) {
      using T = decltype(tag);
      kernels::unary_backward<T>(kind, gx.numel(), gx.data<T>(), gy.data<T>(), x.data<T>(), y.data<T>(),
                                 kDefaultStream);
    });
  }

  void binary(BinaryKind kind, const Tensor& out, const Tensor& a, const Tensor& b) override {
    visit_floating<Bf16::Accepted>(a.dtype(), "binary", operands(out, a, b), [&](auto tag) {
      using T = decltype(tag);
      kernels::binary_forward<T>(kind, out.numel(), out.data<T>(), a.data<T>(), make_indexer(a), b.data<T>(),
                                 make_indexer(b), kDefaultStream);
    });
  }

  void binary_scalar(BinaryKind kind, const Tensor& out, const Tensor& a, double b) override {
    visit_floating<Bf16::Accepted>(a.dtype(), "binary", operands(out, a), [&](auto tag) {
      using T = decltype(tag);
      kernels::binary_scalar_forward<T>(kind, out.numel(), out.data<T>(), a.data<T>(), make_indexer(a),
                                        static_cast<compute_t<T>>(b), kDefaultStream);
    });
  }

  void reduce(ReduceKind kind, const Tensor& out, const Tensor& x, int64_t outer, int64_t extent,
              int64_t inner) override {
    // Only a split column reduction needs scratch; the others allocate nothing.
    const int64_t scratch_size = kernels::reduce_scratch_size(outer, extent, inner);
    const Tensor scratch = scratch_size > 0 ? device_scratch(scratch_size, x.device()) : Tensor();
    visit_floating<Bf16::Accepted>(x.dtype(), "reduce", operands(out, x), [&](auto tag) {
      using T = decltype(tag);
      kernels::reduce<T>(kind, outer, extent, inner, out.data<T>(), x.data<T>(),
                         scratch.defined() ? scratch.data<double>() : nullptr, kDefaultStream);
    });
  }

  void argmax_rows(const Tensor& out, const Tensor& x, int64_t cols) override {
    visit_floating<Bf16::Accepted>(x.dtype(), "argmax", operands(out, x), [&](auto tag) {
      using T = decltype(tag);
      kernels::argmax_rows<T>(out.numel(), cols, out.data<int64_t>(), x.data<T>(), kDefaultStream);
    });
  }

  void matmul(const GemmBatch& g, const Tensor& out, const Tensor& a, const Tensor& b) override {
    const KernelWork work{operands(out, a, b).bytes, 2.0 * static_cast<double>(g.batch * g.m * g.n * g.k)};
    visit_floating<Bf16::Accepted>(a.dtype(), "matmul", work, [&](auto tag) {
      using T = decltype(tag);
      device_gemm<T>(g, a.data<T>(), b.data<T>(), out.data<T>());
    });
  }

  void softmax(bool log, const Tensor& y, const Tensor& x, int64_t cols) override {
    visit_floating(x.dtype(), "softmax", operands(y, x), [&](auto tag) {
      using T = decltype(tag);
      kernels::softmax_forward<T>(log, cols == 0 ? 0 : x.numel() / cols, cols, y.data<T>(), x.data<T>(),
                                  kDefaultStream);
    });
  }

  void softmax_backward(bool log, const Tensor& gx, const Tensor& gy, const Tensor& y, int64_t cols) override {
    visit_floating(y.dtype(), "softmax backward", operands(gx, gy, y), [&](auto tag) {
      using T = decltype(tag);
      kernels::softmax_backward<T>(log, cols == 0 ? 0 : y.numel() / cols, cols, gx.data<T>(), gy.data<T>(),
                                   y.data<T>(), kDefaultStream);
    });
  }

  void cross_entropy(const Tensor& loss, const Tensor& row_lse, const Tensor& logits, const Tensor& target) override {
    visit_floating(logits.dtype(), "cross_entropy", operands(loss, row_lse, logits, target), [&](auto tag) {
      using T = decltype(tag);
      kernels::cross_entropy_forward<T>(logits.size(0), logits.size(1), logits.data<T>(), target.data<int64_t>(),
                                        row_lse.data<T>(), loss.data<T>(), kDefaultStream);
    });
  }

  void cross_entropy_backward(const Tensor& grad_logits, const Tensor& logits, const Tensor& target,
                              const Tensor& row_lse, const Tensor& grad_loss) override {
    const KernelWork work = operands(grad_logits, logits, target, row_lse, grad_loss);
    visit_floating(logits.dtype(), "cross_entropy backward", work, [&](auto tag) {
      using T = decltype(tag);
      kernels::cross_entropy_backward<T>(logits.size(0), logits.size(1), logits.data<T>(), target.data<int64_t>(),
                                         row_lse.data<T>(), grad_loss.data<T>(), grad_logits.data<T>(),
                                         kDefaultStream);
    });
  }

  void im2col(const Window2d& g, const Tensor& cols, const Tensor& x) override {
    visit_floating(x.dtype(), "im2col", operands(cols, x), [&](auto tag) {
      using T = decltype(tag);
      kernels::im2col<T>(g, cols.data<T>(), x.data<T>(), kDefaultStream);
    });
  }

  void col2im(const Window2d& g, const Tensor& x, const Tensor& cols) override {
    visit_floating(x.dtype(), "col2im", operands(x, cols), [&](auto tag) {
      using T = decltype(tag);
      kernels::col2im<T>(g, x.data<T>(), cols.data<T>(), kDefaultStream);
    });
  }

  void max_pool2d(const Window2d& g, const Tensor& y, const Tensor& indices, const Tensor& x) override {
    visit_floating(x.dtype(), "max_pool2d", operands(y, indices, x), [&](auto tag) {
      using T = decltype(tag);
      kernels::max_pool2d_forward<T>(g, y.data<T>(), indices.data<int64_t>(), x.data<T>(), kDefaultStream);
    });
  }

  void max_pool2d_backward(const Window2d& g, const Tensor& gx, const Tensor& gy, const Tensor& indices) override {
    visit_floating(gx.dtype(), "max_pool2d backward", operands(gx, gy, indices), [&](auto tag) {
      using T = decltype(tag);
      kernels::max_pool2d_backward<T>(g, gx.data<T>(), gy.data<T>(), indices.data<int64_t>(), kDefaultStream);
    });
  }

  void avg_pool2d(const Window2d& g, bool count_include_pad, const Tensor& y, const Tensor& x) override {
    visit_floating(x.dtype(), "avg_pool2d", operands(y, x), [&](auto tag) {
      using T = decltype(tag);
      kernels::avg_pool2d_forward<T>(g, count_include_pad, y.data<T>(), x.data<T>(), kDefaultStream);
    });
  }

  void avg_pool2d_backward(const Window2d& g, bool count_include_pad, const Tensor& gx, const Tensor& gy) override {
    visit_floating(gx.dtype(), "avg_pool2d backward", operands(gx, gy), [&](auto tag) {
      using T = decltype(tag);
      kernels::avg_pool2d_backward<T>(g, count_include_pad, gx.data<T>(), gy.data<T>(), kDefaultStream);
    });
  }

  void dropout_mask(const Tensor& mask, const PhiloxState& state, uint64_t threshold) override {
    kernels::dropout_mask(mask.numel(), state, threshold, mask.data<uint8_t>(), kDefaultStream);
  }

  void dropout_affine(const Tensor& out, const Tensor& x, const PhiloxState& state, uint64_t threshold,
                      const DropoutAffine& rule) override {
    visit_floating<Bf16::Accepted>(x.dtype(), "dropout", operands(out, x), [&](auto tag) {
      using T = decltype(tag);
      kernels::dropout_affine<T>(x.numel(), state, threshold, rule, out.data<T>(), x.data<T>(), kDefaultStream);
    });
  }

  void dropout_pack_mask(const Tensor& bits, int64_t n, const PhiloxState& state, uint64_t threshold) override {
    kernels::dropout_pack_mask(n, state, threshold, reinterpret_cast<uint32_t*>(bits.data<int32_t>()), kDefaultStream);
  }

  void dropout_apply_packed(const Tensor& out, const Tensor& x, const Tensor& bits, double scale) override {
    visit_floating(x.dtype(), "dropout", operands(out, x, bits), [&](auto tag) {
      using T = decltype(tag);
      kernels::dropout_apply_packed<T>(x.numel(), reinterpret_cast<const uint32_t*>(bits.data<int32_t>()),
                                       static_cast<T>(scale), out.data<T>(), x.data<T>(), kDefaultStream);
    });
  }

  void gaussian_noise(const Tensor& out, const Tensor& x, const PhiloxState& state, double mul_sigma,
                      double add_sigma) override {
    visit_floating(x.dtype(), "gaussian noise", operands(out, x), [&](auto tag) {
      using T = decltype(tag);
      kernels::gaussian_noise<T>(x.numel(), state, static_cast<T>(mul_sigma), static_cast<T>(add_sigma),
                                 out.data<T>(), x.data<T>(), kDefaultStream);
    });
  }

  void uniform_fill(const Tensor& out, const PhiloxState& state) override {
    visit_floating(out.dtype(), "rand", operands(out), [&](auto tag) {
      using T = decltype(tag);
      kernels::uniform_fill<T>(out.numel(), state, out.data<T>(), kDefaultStream);
    });
  }

  void dropblock_mask(const Tensor& mask, const Tensor& draws, int64_t block) override {
    visit_floating(mask.dtype(), "dropblock", operands(mask, draws), [&](auto tag) {
      using T = decltype(tag);
      const int64_t height = mask.size(-2), width = mask.size(-1);
      const int64_t planes = height * width == 0 ? 0 : mask.numel() / (height * width);
      kernels::dropblock_mask<T>(planes, height, width, block, draws.data<uint8_t>(), mask.data<T>(), kDefaultStream);
    });
  }

  void random_rule(RandomRule rule, const Tensor& out, const Tensor& x, const PhiloxState& state, double param,
                   bool slope_only) override {
    visit_floating(x.dtype(), "random rule", operands(out, x), [&](auto tag) {
      using T = decltype(tag);
      kernels::random_rule<T>(rule, x.numel(), state, static_cast<T>(param), slope_only, out.data<T>(), x.data<T>(),
                              kDefaultStream);
    });
  }

  void bias_dropout_residual(const Tensor& out, const Tensor& x, const Tensor& bias, const Tensor& residual,
                             const PhiloxState& state, uint64_t threshold, double scale) override {
    visit_floating(out.dtype(), "bias_dropout_residual", operands(out, x, bias, residual), [&](auto tag) {
      using T = decltype(tag);
      const auto run = [&](const auto* xs) {
        kernels::bias_dropout_residual<T>(x.numel(), out.size(-1), state, threshold, static_cast<T>(scale),
                                          out.data<T>(), xs, bias.data<T>(), residual.data<T>(), kDefaultStream);
      };
      if constexpr (std::is_same_v<T, float>) {
        if (x.dtype() == DType::BF16) return run(x.data<bf16>());
      }
      run(x.data<T>());
    });
  }

  void layer_norm(const Tensor& y, const Tensor& mean, const Tensor& rstd, const Tensor& x, const Tensor& weight,
                  const Tensor& bias, double eps) override {
    visit_floating(x.dtype(), "layer_norm", operands(y, mean, rstd, x, weight, bias), [&](auto tag) {
      using T = decltype(tag);
      kernels::layer_norm_forward<T>(mean.numel(), weight.numel(), eps, y.data<T>(), mean.data<T>(), rstd.data<T>(),
                                     x.data<T>(), weight.data<T>(), bias.data<T>(), kDefaultStream);
    });
  }

  void layer_norm_backward(const Tensor& gx, const Tensor& gy, const Tensor& x, const Tensor& weight,
                           const Tensor& mean, const Tensor& rstd) override {
    visit_floating(x.dtype(), "layer_norm backward", operands(gx, gy, x, weight, mean, rstd), [&](auto tag) {
      using T = decltype(tag);
      kernels::layer_norm_backward<T>(mean.numel(), weight.numel(), gx.data<T>(), gy.data<T>(), x.data<T>(),
                                      weight.data<T>(), mean.data<T>(), rstd.data<T>(), kDefaultStream);
    });
  }

  void lstm_cell(const Tensor& y, const Tensor& gates, const Tensor& c_prev) override {
    visit_floating(gates.dtype(), "lstm_cell", operands(y, gates, c_prev), [&](auto tag) {
      using T = decltype(tag);
      kernels::lstm_cell_forward<T>(c_prev.size(0), c_prev.size(1), y.data<T>(), gates.data<T>(), c_prev.data<T>(),
                                    kDefaultStream);
    });
  }

  void lstm_cell_backward(const Tensor& grad_gates, const Tensor& grad_c_prev, const Tensor& grad_y,
                          const Tensor& gates, const Tensor& c_prev, const Tensor& y) override {
    const KernelWork work = operands(grad_gates, grad_c_prev, grad_y, gates, c_prev, y);
    visit_floating(gates.dtype(), "lstm_cell backward", work, [&](auto tag) {
      using T = decltype(tag);
      kernels::lstm_cell_backward<T>(c_prev.size(0), c_prev.size(1), grad_gates.data<T>(), grad_c_prev.data<T>(),
                                     grad_y.data<T>(), gates.data<T>(), c_prev.data<T>(), y.data<T>(),
                                     kDefaultStream);
    });
  }

  void gather_rows(const Tensor& y, const Tensor& x, const Tensor& index) override {
    visit_floating(x.dtype(), "gather_rows", operands(y, x, index), [&](auto tag) {
      using T = decltype(tag);
      kernels::gather_rows<T>(index.numel(), row_size(x), y.data<T>(), x.data<T>(), index.data<int64_t>(),
                              kDefaultStream);
    });
  }

  void scatter_add_rows(const Tensor& y, const Tensor& src, const Tensor& ptr, const Tensor& order) override {
    visit_floating(src.dtype(), "scatter_add_rows", operands(y, src, ptr, order), [&](auto tag) {
      using T = decltype(tag);
      kernels::scatter_add_rows<T>(y.size(0), row_size(y), y.data<T>(), src.data<T>(), ptr.data<int64_t>(),
                                   order.data<int64_t>(), kDefaultStream);
    });
  }

  void segment_softmax(const Tensor& y, const Tensor& x, const Tensor& ptr, const Tensor& order) override {
    visit_floating(x.dtype(), "segment_softmax", operands(y, x, ptr, order), [&](auto tag) {
      using T = decltype(tag);
      kernels::segment_softmax_forward<T>(ptr.numel() - 1, row_size(x), y.data<T>(), x.data<T>(), ptr.data<int64_t>(),
                                          order.data<int64_t>(), kDefaultStream);
    });
  }

  void segment_softmax_backward(const Tensor& gx, const Tensor& gy, const Tensor& y, const Tensor& ptr,
                                const Tensor& order) override {
    visit_floating(y.dtype(), "segment_softmax backward", operands(gx, gy, y, ptr, order), [&](auto tag) {
      using T = decltype(tag);
      kernels::segment_softmax_backward<T>(ptr.numel() - 1, row_size(y), gx.data<T>(), gy.data<T>(), y.data<T>(),
                                           ptr.data<int64_t>(), order.data<int64_t>(), kDefaultStream);
    });
  }

  void softmax_dropout(const SoftmaxDropoutShape& shape, const Tensor& y, const Tensor& probs, const Tensor& x,
                       const PhiloxState& state, uint64_t threshold, double scale) override {
    visit_floating<Bf16::Accepted>(x.dtype(), "softmax_dropout", operands(y, probs, x), [&](auto tag) {
      using T = decltype(tag);
      kernels::softmax_dropout_forward<T>(x.numel() / shape.cols, shape, state, threshold,
                                          static_cast<compute_t<T>>(scale), y.data<T>(), probs.data<T>(), x.data<T>(),
                                          kDefaultStream);
    });
  }

  void softmax_dropout_backward(const SoftmaxDropoutShape& shape, const Tensor& gx, const Tensor& gy,
                                const Tensor& probs, const PhiloxState& state, uint64_t threshold,
                                double scale) override {
    visit_floating<Bf16::Accepted>(probs.dtype(), "softmax_dropout backward", operands(gx, gy, probs), [&](auto tag) {
      using T = decltype(tag);
      kernels::softmax_dropout_backward<T>(probs.numel() / shape.cols, shape, state, threshold,
                                           static_cast<compute_t<T>>(scale), gx.data<T>(), gy.data<T>(),
                                           probs.data<T>(), kDefaultStream);
    });
  }

  void flash_attention(const FlashAttentionShape& shape, const Tensor& out, const Tensor& lse, const Tensor& q,
                       const Tensor& k, const Tensor& v, const PhiloxState& state, uint64_t threshold,
                       double scale) override {
    const KernelWork work{operands(out, lse, q, k, v).bytes, flash_attention_flops(shape, false)};
    visit_floating<Bf16::Accepted>(q.dtype(), "flash_attention", work, [&](auto tag) {
      using T = decltype(tag);
      using C = compute_t<T>;  // lse's dtype
      kernels::flash_attention_forward<T>(shape, state, threshold, static_cast<C>(scale), out.data<T>(), lse.data<C>(),
                                          q.data<T>(), k.data<T>(), v.data<T>(), kDefaultStream);
    });
  }

  void flash_attention_backward(const FlashAttentionShape& shape, const Tensor& gq, const Tensor& gk, const Tensor& gv,
                                const Tensor& gout, const Tensor& q, const Tensor& k, const Tensor& v,
                                const Tensor& out, const Tensor& lse, const PhiloxState& state, uint64_t threshold,
                                double scale) override {
    const Tensor delta = Tensor::empty(lse.shape(), lse.dtype(), lse.device());  // the kernels' D = rowsum(gout * out)
    const KernelWork work{operands(gq, gk, gv, gout, q, k, v, out, lse).bytes, flash_attention_flops(shape, true)};
    visit_floating<Bf16::Accepted>(q.dtype(), "flash_attention backward", work, [&](auto tag) {
      using T = decltype(tag);
      using C = compute_t<T>;  // lse's and delta's dtype
      kernels::flash_attention_backward<T>(shape, state, threshold, static_cast<C>(scale), gq.data<T>(), gk.data<T>(),
                                           gv.data<T>(), delta.data<C>(), gout.data<T>(), q.data<T>(), k.data<T>(),
                                           v.data<T>(), out.data<T>(), lse.data<C>(), kDefaultStream);
    });
  }

  void optimizer_step(const OptimizerRule& rule, std::span<const OptimizerTensors> tensors) override {
    if (tensors.empty()) return;
    visit_floating(tensors[0].param.dtype(), "optimizer step", operands(tensors), [&](auto tag) {
      using T = decltype(tag);
      std::vector<ParamBuffers<T>> buffers;
      for (const OptimizerTensors& t : tensors) buffers.push_back(param_buffers<T>(t));
      const std::span<const ParamBuffers<T>> all(buffers);
      std::visit(
          [&](const auto& hp) {
            if constexpr (std::is_same_v<std::decay_t<decltype(hp)>, LambParams>) {
              const Tensor scratch = device_scratch(kernels::lamb_scratch_size(all), tensors[0].param.device());
              kernels::lamb_step<T>(hp, all, scratch.data<double>(), kDefaultStream);
            } else {
              kernels::optimizer_step<T>(hp, all, kDefaultStream);
            }
          },
          rule);
    });
  }

  std::vector<double> grad_norms(NormKind kind, std::span<const Tensor> grads) override {
    if (grads.empty()) return {};
    std::vector<int64_t> numels;
    for (const Tensor& g : grads) numels.push_back(g.numel());
    const Tensor out = device_scratch(static_cast<int64_t>(grads.size()), grads[0].device());
    const Tensor scratch = device_scratch(kernels::norms_scratch_size(numels), grads[0].device());
    visit_floating(grads[0].dtype(), "gradient norm", operands(grads), [&](auto tag) {
      using T = decltype(tag);
      std::vector<const T*> xs;
      for (const Tensor& g : grads) xs.push_back(g.data<T>());
      kernels::norms<T>(kind, xs, numels, scratch.data<double>(), out.data<double>(), kDefaultStream);
    });
    return out.to_vector<double>();
  }

  void clip_grads(const ClipParams& hp, std::span<const Tensor> out, std::span<const Tensor> grads) override {
    if (grads.empty()) return;
    visit_floating(grads[0].dtype(), "gradient clipping", operands(out, grads), [&](auto tag) {
      using T = decltype(tag);
      std::vector<T*> outs;
      std::vector<const T*> xs;
      std::vector<int64_t> numels;
      for (size_t k = 0; k < grads.size(); ++k) {
        outs.push_back(out[k].data<T>());
        xs.push_back(grads[k].data<T>());
        numels.push_back(grads[k].numel());
      }
      kernels::clip<T>(hp, outs, xs, numels, kDefaultStream);
    });
  }

 private:
  // f64 device memory for a multi-tensor pass, freed (in stream order) when the handle goes.
  static Tensor device_scratch(int64_t doubles, Device device) {
    return Tensor::empty({std::max<int64_t>(doubles, 1)}, DType::F64, device);
  }
};

}  // namespace

}  // namespace minidl
