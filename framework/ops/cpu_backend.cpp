// The CPU backend: kernels/cpu reference loops, with OpenBLAS as the GEMM fast path.

#include <algorithm>
#include <span>
#include <variant>
#include <vector>

#include "framework/ops/blas.h"
#include "framework/ops/cpu_parallel.h"
#include "framework/ops/dispatch.h"
#include "framework/core/indexer.h"
#include "framework/ops/backend.h"
#include "kernels/cpu/conv.h"
#include "kernels/cpu/dropout.h"
#include "kernels/cpu/elementwise.h"
#include "kernels/cpu/loss.h"
#include "kernels/cpu/optim.h"
#include "kernels/cpu/pool.h"
#include "kernels/cpu/reduce.h"
#include "kernels/cpu/softmax.h"
#include "kernels/cpu/attention.h"
#include "kernels/cpu/index_rows.h"
#include "kernels/cpu/layer_norm.h"
#include "kernels/cpu/lstm.h"

namespace minidl {

namespace {

class CpuBackend final : public Backend {
 public:
  void copy(const Tensor& dst, const Tensor& src) override {
    const StridedIndexer id = make_indexer(dst), is = make_indexer(src);
    visit_dtype(src.dtype(), [&](auto s) {
      using S = decltype(s);
      if (dst.dtype() == DType::Bool) {
        parallel_for(dst.numel(), [&](int64_t b, int64_t e) {
          cpu::copy_to_bool<S>(b, e, dst.data<uint8_t>(), id, src.data<S>(), is);
        });
        return;
      }
      visit_dtype(dst.dtype(), [&](auto d) {
        using D = decltype(d);
        parallel_for(dst.numel(),
                     [&](int64_t b, int64_t e) { cpu::copy_cast<D, S>(b, e, dst.data<D>(), id, src.data<S>(), is); });
      });
    });
  }

  void fill(const Tensor& dst, double value) override {
    MINIDL_CHECK(dst.is_contiguous(), "fill: expected a contiguous tensor, got {}", dst.describe());
    visit_dtype(dst.dtype(), [&](auto tag) {
      using T = decltype(tag);
      cpu::fill<T>(dst.numel(), dst.data<T>(), dst.dtype() == DType::Bool ? T(value != 0) : static_cast<T>(value));
    });
  }

  void unary(UnaryKind kind, const Tensor& out, const Tensor& x) override {
    visit_floating(x.dtype(), "unary", operands(out, x), [&](auto tag) {
      using T = decltype(tag);
      const StridedIndexer ix = make_indexer(x);
      parallel_for(out.numel(),
                   [&](int64_t b, int64_t e) { cpu::unary_forward<T>(kind, b, e, out.data<T>(), x.data<T>(), ix); });
    });
  }

  void unary_backward(UnaryKind kind, const Tensor& gx, const Tensor& gy, const Tensor& x, const Tensor& y) override {
    visit_floating(x.dtype(), "unary backward", operands(gx, gy, x, y), [&](auto tag) {
      using T = decltype(tag);
      parallel_for(gx.numel(), [&](int64_t b, int64_t e) {
        cpu::unary_backward<T>(kind, b, e, gx.data<T>(), gy.data<T>(), x.data<T>(), y.data<T>());
      });
    });
  }

  void binary(BinaryKind kind, const Tensor& out, const Tensor& a, const Tensor& b) override {
    visit_floating(a.dtype(), "binary", operands(out, a, b), [&](auto tag) {
      using T = decltype(tag);
      const StridedIndexer ia = make_indexer(a), ib = make_indexer(b);
      parallel_for(out.numel(), [&](int64_t begin, int64_t end) {
        cpu::binary_forward<T>(kind, begin, end, out.data<T>(), a.data<T>(), ia, b.data<T>(), ib);
      });
    });
  }

  void binary_scalar(BinaryKind kind, const Tensor& out, const Tensor& a, double b) override {
    visit_floating(a.dtype(), "binary", operands(out, a), [&](auto tag) {
      using T = decltype(tag);
      const T value = static_cast<T>(b);
      StridedIndexer scalar;  // value broadcast to every element
      scalar.ndim = 1;
      scalar.sizes[0] = std::max<int64_t>(out.numel(), 1);
      scalar.contiguous = false;
      const StridedIndexer ia = make_indexer(a);
      parallel_for(out.numel(), [&](int64_t begin, int64_t end) {
        cpu::binary_forward<T>(kind, begin, end, out.data<T>(), a.data<T>(), ia, &value, scalar);
      });
    });
  }

  void reduce(ReduceKind kind, const Tensor& out, const Tensor& x, int64_t outer, int64_t extent,
              int64_t inner) override {
    visit_floating(x.dtype(), "reduce", operands(out, x), [&](auto tag) {
      using T = decltype(tag);
      cpu::reduce<T>(kind, outer, extent, inner, out.data<T>(), x.data<T>());
    });
  }

  void argmax_rows(const Tensor& out, const Tensor& x, int64_t cols) override {
    visit_floating(x.dtype(), "argmax", operands(out, x), [&](auto tag) {
      using T = decltype(tag);
      cpu::argmax_rows<T>(out.numel(), cols, out.data<int64_t>(), x.data<T>());
    });
  }

  void matmul(const GemmBatch& g, const Tensor& out, const Tensor& a, const Tensor& b) override {
    const KernelWork work{operands(out, a, b).bytes, 2.0 * static_cast<double>(g.batch * g.m * g.n * g.k)};
    visit_floating(a.dtype(), "matmul", work, [&](auto tag) {
      using T = decltype(tag);
      if (g.m == 0 || g.n == 0) return;
      for (int64_t i = 0; i < g.batch; ++i) {
        T* c = out.data<T>() + i * g.m * g.n;
        if (g.k == 0) {
          cpu::fill<T>(g.m * g.n, c, T(0));
          continue;
        }
        blas::gemm(g.trans_a, g.trans_b, g.m, g.n, g.k, a.data<T>() + i * g.stride_a, g.lda,
                   b.data<T>() + i * g.stride_b, g.ldb, c, g.n);
      }
    });
  }

  void softmax(bool log, const Tensor& y, const Tensor& x, int64_t cols) override {
    visit_floating(x.dtype(), "softmax", operands(y, x), [&](auto tag) {
      using T = decltype(tag);
      cpu::softmax_forward<T>(log, cols == 0 ? 0 : x.numel() / cols, cols, y.data<T>(), x.data<T>());
    });
  }

  void softmax_backward(bool log, const Tensor& gx, const Tensor& gy, const Tensor& y, int64_t cols) override {
    visit_floating(y.dtype(), "softmax backward", operands(gx, gy, y), [&](auto tag) {
      using T = decltype(tag);
      cpu::softmax_backward<T>(log, cols == 0 ? 0 : y.numel() / cols, cols, gx.data<T>(), gy.data<T>(), y.data<T>());
    });
  }

  void cross_entropy(const Tensor& loss, const Tensor& row_lse, const Tensor& logits, const Tensor& target) override {
    visit_floating(logits.dtype(), "cross_entropy", operands(loss, row_lse, logits, target), [&](auto tag) {
      using T = decltype(tag);
      cpu::cross_entropy_forward<T>(logits.size(0), logits.size(1), logits.data<T>(), target.data<int64_t>(),
                                    row_lse.data<T>(), loss.data<T>());
    });
  }

  void cross_entropy_backward(const Tensor& grad_logits, const Tensor& logits, const Tensor& target,
                              const Tensor& row_lse, const Tensor& grad_loss) override {
    const KernelWork work = operands(grad_logits, logits, target, row_lse, grad_loss);
    visit_floating(logits.dtype(), "cross_entropy backward", work, [&](auto tag) {
      using T = decltype(tag);
      cpu::cross_entropy_backward<T>(logits.size(0), logits.size(1), logits.data<T>(), target.data<int64_t>(),
                                     row_lse.data<T>(), *grad_loss.data<T>(), grad_logits.data<T>());
    });
  }

  void im2col(const Window2d& g, const Tensor& cols, const Tensor& x) override {
    visit_floating(x.dtype(), "im2col", operands(cols, x), [&](auto tag) {
      using T = decltype(tag);
      for_planes(g, [&](int64_t b, int64_t e) { cpu::im2col<T>(b, e, g, cols.data<T>(), x.data<T>()); });
    });
  }

  void col2im(const Window2d& g, const Tensor& x, const Tensor& cols) override {
    visit_floating(x.dtype(), "col2im", operands(x, cols), [&](auto tag) {
      using T = decltype(tag);
      for_planes(g, [&](int64_t b, int64_t e) { cpu::col2im<T>(b, e, g, x.data<T>(), cols.data<T>()); });
    });
  }

  void max_pool2d(const Window2d& g, const Tensor& y, const Tensor& indices, const Tensor& x) override {
    visit_floating(x.dtype(), "max_pool2d", operands(y, indices, x), [&](auto tag) {
      using T = decltype(tag);
      for_planes(g, [&](int64_t b, int64_t e) {
        cpu::max_pool2d_forward<T>(b, e, g, y.data<T>(), indices.data<int64_t>(), x.data<T>());
      });
    });
  }

  void max_pool2d_backward(const Window2d& g, const Tensor& gx, const Tensor& gy, const Tensor& indices) override {
    visit_floating(gx.dtype(), "max_pool2d backward", operands(gx, gy, indices), [&](auto tag) {
      using T = decltype(tag);
      for_planes(g, [&](int64_t b, int64_t e) {
        cpu::max_pool2d_backward<T>(b, e, g, gx.data<T>(), gy.data<T>(), indices.data<int64_t>());
      });
    });
  }

  void avg_pool2d(const Window2d& g, bool count_include_pad, const Tensor& y, const Tensor& x) override {
    visit_floating(x.dtype(), "avg_pool2d", operands(y, x), [&](auto tag) {
      using T = decltype(tag);
      for_planes(g, [&](int64_t b, int64_t e) {
        cpu::avg_pool2d_forward<T>(b, e, g, count_include_pad, y.data<T>(), x.data<T>());
      });
    });
  }

  void avg_pool2d_backward(const Window2d& g, bool count_include_pad, const Tensor& gx, const Tensor& gy) override {
    visit_floating(gx.dtype(), "avg_pool2d backward", operands(gx, gy), [&](auto tag) {
      using T = decltype(tag);
      for_planes(g, [&](int64_t b, int64_t e) {
        cpu::avg_pool2d_backward<T>(b, e, g, count_include_pad, gx.data<T>(), gy.data<T>());
      });
    });
  }

  void dropout_mask(const Tensor& mask, const PhiloxState& state, uint64_t threshold) override {
    parallel_for(mask.numel(), [&](int64_t b, int64_t e) {
      cpu::dropout_mask(b, e, state, threshold, mask.data<uint8_t>());
    });
  }

  void dropout_affine(const Tensor& out, const Tensor& x, const PhiloxState& state, uint64_t threshold,
                      const DropoutAffine& rule) override {
    visit_floating(x.dtype(), "dropout", operands(out, x), [&](auto tag) {
      using T = decltype(tag);
      parallel_for(x.numel(), [&](int64_t b, int64_t e) {
        cpu::dropout_affine<T>(b, e, state, threshold, rule, out.data<T>(), x.data<T>());
      });
    });
  }

  void dropout_pack_mask(const Tensor& bits, int64_t n, const PhiloxState& state, uint64_t threshold) override {
    uint32_t* words = reinterpret_cast<uint32_t*>(bits.data<int32_t>());
    parallel_for(bits.numel(), [&](int64_t b, int64_t e) { cpu::dropout_pack_mask(b, e, n, state, threshold, words); });
  }

  void dropout_apply_packed(const Tensor& out, const Tensor& x, const Tensor& bits, double scale) override {
    visit_floating(x.dtype(), "dropout", operands(out, x, bits), [&](auto tag) {
      using T = decltype(tag);
      const uint32_t* words = reinterpret_cast<const uint32_t*>(bits.data<int32_t>());
      parallel_for(x.numel(), [&](int64_t b, int64_t e) {
        cpu::dropout_apply_packed<T>(b, e, words, static_cast<T>(scale), out.data<T>(), x.data<T>());
      });
    });
  }

  void gaussian_noise(const Tensor& out, const Tensor& x, const PhiloxState& state, double mul_sigma,
                      double add_sigma) override {
    visit_floating(x.dtype(), "gaussian noise", operands(out, x), [&](auto tag) {
      using T = decltype(tag);
      const int64_t n = x.numel();
      parallel_for((n + 1) / 2, [&](int64_t b, int64_t e) {
        cpu::gaussian_noise<T>(b, e, n, state, static_cast<T>(mul_sigma), static_cast<T>(add_sigma), out.data<T>(),
                               x.data<T>());
      });
    });
  }

  void uniform_fill(const Tensor& out, const PhiloxState& state) override {
    visit_floating(out.dtype(), "rand", operands(out), [&](auto tag) {
      using T = decltype(tag);
      parallel_for(out.numel(), [&](int64_t b, int64_t e) { cpu::uniform_fill<T>(b, e, state, out.data<T>()); });
    });
  }

  void dropblock_mask(const Tensor& mask, const Tensor& draws, int64_t block) override {
    visit_floating(mask.dtype(), "dropblock", operands(mask, draws), [&](auto tag) {
      using T = decltype(tag);
      const int64_t height = mask.size(-2), width = mask.size(-1);
      const int64_t planes = height * width == 0 ? 0 : mask.numel() / (height * width);
      for (int64_t p = 0; p < planes; ++p)
        cpu::dropblock_mask<T>(p, p + 1, height, width, block, draws.data<uint8_t>(), mask.data<T>());
    });
  }

  void random_rule(RandomRule rule, const Tensor& out, const Tensor& x, const PhiloxState& state, double param,
                   bool slope_only) override {
    visit_floating(x.dtype(), "random rule", operands(out, x), [&](auto tag) {
      using T = decltype(tag);
      parallel_for(x.numel(), [&](int64_t b, int64_t e) {
        cpu::random_rule<T>(rule, b, e, state, static_cast<T>(param), slope_only, out.data<T>(), x.data<T>());
      });
    });
  }

  void bias_dropout_residual(const Tensor& out, const Tensor& x, const Tensor& bias, const Tensor& residual,
                             const PhiloxState& state, uint64_t threshold, double scale) override {
    visit_floating(x.dtype(), "bias_dropout_residual", operands(out, x, bias, residual), [&](auto tag) {
      using T = decltype(tag);
      parallel_for(x.numel(), [&](int64_t b, int64_t e) {
        cpu::bias_dropout_residual<T>(b, e, out.size(-1), state, threshold, static_cast<T>(scale), out.data<T>(),
                                      x.data<T>(), bias.data<T>(), residual.data<T>());
      });
    });
  }

  void layer_norm(const Tensor& y, const Tensor& mean, const Tensor& rstd, const Tensor& x, const Tensor& weight,
                  const Tensor& bias, double eps) override {
    visit_floating(x.dtype(), "layer_norm", operands(y, mean, rstd, x, weight, bias), [&](auto tag) {
      using T = decltype(tag);
      const int64_t cols = weight.numel();
      parallel_for(
          mean.numel(),
          [&](int64_t b, int64_t e) {
            cpu::layer_norm_forward<T>(b, e, cols, eps, y.data<T>(), mean.data<T>(), rstd.data<T>(), x.data<T>(),
                                       weight.data<T>(), bias.data<T>());
          },
          cols);
    });
  }

  void layer_norm_backward(const Tensor& gx, const Tensor& gy, const Tensor& x, const Tensor& weight,
                           const Tensor& mean, const Tensor& rstd) override {
    visit_floating(x.dtype(), "layer_norm backward", operands(gx, gy, x, weight, mean, rstd), [&](auto tag) {
      using T = decltype(tag);
      const int64_t cols = weight.numel();
      parallel_for(
          mean.numel(),
          [&](int64_t b, int64_t e) {
            cpu::layer_norm_backward<T>(b, e, cols, gx.data<T>(), gy.data<T>(), x.data<T>(), weight.data<T>(),
                                        mean.data<T>(), rstd.data<T>());
          },
          cols);
    });
  }

  void lstm_cell(const Tensor& y, const Tensor& gates, const Tensor& c_prev) override {
    visit_floating(gates.dtype(), "lstm_cell", operands(y, gates, c_prev), [&](auto tag) {
      using T = decltype(tag);
      const int64_t hidden = c_prev.size(1);
      parallel_for(
          c_prev.size(0),
          [&](int64_t b, int64_t e) { cpu::lstm_cell_forward<T>(b, e, hidden, y.data<T>(), gates.data<T>(), c_prev.data<T>()); },
          4 * hidden);
    });
  }

  void lstm_cell_backward(const Tensor& grad_gates, const Tensor& grad_c_prev, const Tensor& grad_y,
                          const Tensor& gates, const Tensor& c_prev, const Tensor& y) override {
    const KernelWork work = operands(grad_gates, grad_c_prev, grad_y, gates, c_prev, y);
    visit_floating(gates.dtype(), "lstm_cell backward", work, [&](auto tag) {
      using T = decltype(tag);
      const int64_t hidden = c_prev.size(1);
      parallel_for(
          c_prev.size(0),
          [&](int64_t b, int64_t e) {
            cpu::lstm_cell_backward<T>(b, e, hidden, grad_gates.data<T>(), grad_c_prev.data<T>(), grad_y.data<T>(),
                                       gates.data<T>(), c_prev.data<T>(), y.data<T>());
          },
          8 * hidden);
    });
  }

  void gather_rows(const Tensor& y, const Tensor& x, const Tensor& index) override {
    visit_floating(x.dtype(), "gather_rows", operands(y, x, index), [&](auto tag) {
      using T = decltype(tag);
      const int64_t cols = row_size(x);
      parallel_for(
          index.numel(),
          [&](int64_t b, int64_t e) { cpu::gather_rows<T>(b, e, cols, y.data<T>(), x.data<T>(), index.data<int64_t>()); },
          cols);
    });
  }

  void scatter_add_rows(const Tensor& y, const Tensor& src, const Tensor& ptr, const Tensor& order) override {
    visit_floating(src.dtype(), "scatter_add_rows", operands(y, src, ptr, order), [&](auto tag) {
      using T = decltype(tag);
      const int64_t cols = row_size(y);
      parallel_for(
          y.size(0),
          [&](int64_t b, int64_t e) {
            cpu::scatter_add_rows<T>(b, e, cols, y.data<T>(), src.data<T>(), ptr.data<int64_t>(), order.data<int64_t>());
          },
          cols * (1 + src.size(0) / std::max<int64_t>(1, y.size(0))));
    });
  }

  void segment_softmax(const Tensor& y, const Tensor& x, const Tensor& ptr, const Tensor& order) override {
    visit_floating(x.dtype(), "segment_softmax", operands(y, x, ptr, order), [&](auto tag) {
      using T = decltype(tag);
      const int64_t cols = row_size(x), groups = ptr.numel() - 1;
      parallel_for(
          groups,
          [&](int64_t b, int64_t e) {
            cpu::segment_softmax_forward<T>(b, e, cols, y.data<T>(), x.data<T>(), ptr.data<int64_t>(),
                                            order.data<int64_t>());
          },
          cols * (1 + x.size(0) / std::max<int64_t>(1, groups)));
    });
  }

  void segment_softmax_backward(const Tensor& gx, const Tensor& gy, const Tensor& y, const Tensor& ptr,
                                const Tensor& order) override {
    visit_floating(y.dtype(), "segment_softmax backward", operands(gx, gy, y, ptr, order), [&](auto tag) {
      using T = decltype(tag);
      const int64_t cols = row_size(y), groups = ptr.numel() - 1;
      parallel_for(
          groups,
          [&](int64_t b, int64_t e) {
            cpu::segment_softmax_backward<T>(b, e, cols, gx.data<T>(), gy.data<T>(), y.data<T>(), ptr.data<int64_t>(),
                                             order.data<int64_t>());
          },
          cols * (1 + y.size(0) / std::max<int64_t>(1, groups)));
    });
  }

  void softmax_dropout(const SoftmaxDropoutShape& shape, const Tensor& y, const Tensor& probs, const Tensor& x,
                       const PhiloxState& state, uint64_t threshold, double scale) override {
    visit_floating(x.dtype(), "softmax_dropout", operands(y, probs, x), [&](auto tag) {
      using T = decltype(tag);
      parallel_for(
          x.numel() / shape.cols,
          [&](int64_t b, int64_t e) {
            cpu::softmax_dropout_forward<T>(b, e, shape, state, threshold, static_cast<T>(scale), y.data<T>(),
                                            probs.data<T>(), x.data<T>());
          },
          shape.cols);
    });
  }

  void softmax_dropout_backward(const SoftmaxDropoutShape& shape, const Tensor& gx, const Tensor& gy,
                                const Tensor& probs, const PhiloxState& state, uint64_t threshold,
                                double scale) override {
    visit_floating(probs.dtype(), "softmax_dropout backward", operands(gx, gy, probs), [&](auto tag) {
      using T = decltype(tag);
      parallel_for(
          probs.numel() / shape.cols,
          [&](int64_t b, int64_t e) {
            cpu::softmax_dropout_backward<T>(b, e, shape, state, threshold, static_cast<T>(scale), gx.data<T>(),
                                             gy.data<T>(), probs.data<T>());
          },
          shape.cols);
    });
  }

  void flash_attention(const FlashAttentionShape& shape, const Tensor& out, const Tensor& lse, const Tensor& q,
                       const Tensor& k, const Tensor& v, const PhiloxState& state, uint64_t threshold,
                       double scale) override {
    const KernelWork work{operands(out, lse, q, k, v).bytes, flash_attention_flops(shape, false)};
    visit_floating(q.dtype(), "flash_attention", work, [&](auto tag) {
      using T = decltype(tag);
      parallel_for(
          shape.groups,
          [&](int64_t b, int64_t e) {
            cpu::flash_attention_forward<T>(b, e, shape, state, threshold, static_cast<T>(scale), out.data<T>(),
                                            lse.data<T>(), q.data<T>(), k.data<T>(), v.data<T>());
          },
          shape.scores.q_len * shape.scores.cols * shape.head_dim);
    });
  }

  void flash_attention_backward(const FlashAttentionShape& shape, const Tensor& gq, const Tensor& gk, const Tensor& gv,
                                const Tensor& gout, const Tensor& q, const Tensor& k, const Tensor& v,
                                const Tensor& out, const Tensor& lse, const PhiloxState& state, uint64_t threshold,
                                double scale) override {
    const KernelWork work{operands(gq, gk, gv, gout, q, k, v, out, lse).bytes, flash_attention_flops(shape, true)};
    visit_floating(q.dtype(), "flash_attention backward", work, [&](auto tag) {
      using T = decltype(tag);
      parallel_for(
          shape.groups,
          [&](int64_t b, int64_t e) {
            cpu::flash_attention_backward<T>(b, e, shape, state, threshold, static_cast<T>(scale), gq.data<T>(),
                                             gk.data<T>(), gv.data<T>(), gout.data<T>(), q.data<T>(), k.data<T>(),
                                             v.data<T>(), out.data<T>(), lse.data<T>());
          },
          shape.scores.q_len * shape.scores.cols * shape.head_dim);
    });
  }

  void optimizer_step(const OptimizerRule& rule, std::span<const OptimizerTensors> tensors) override {
    if (tensors.empty()) return;
    visit_floating(tensors[0].param.dtype(), "optimizer step", operands(tensors), [&](auto tag) {
      using T = decltype(tag);
      std::visit(
          [&](const auto& hp) {
            for (const OptimizerTensors& t : tensors) step_tensor(hp, param_buffers<T>(t));
          },
          rule);
    });
  }

  std::vector<double> grad_norms(NormKind kind, std::span<const Tensor> grads) override {
    std::vector<double> out(grads.size());
    for (size_t k = 0; k < grads.size(); ++k) {
      visit_floating(grads[k].dtype(), "gradient norm", operands(grads[k]), [&](auto tag) {
        using T = decltype(tag);
        out[k] = cpu::norm<T>(kind, grads[k].numel(), grads[k].data<T>());
      });
    }
    return out;
  }

  void clip_grads(const ClipParams& hp, std::span<const Tensor> out, std::span<const Tensor> grads) override {
    for (size_t k = 0; k < grads.size(); ++k) {
      visit_floating(grads[k].dtype(), "gradient clipping", operands(out[k], grads[k]), [&](auto tag) {
        using T = decltype(tag);
        parallel_for(grads[k].numel(), [&](int64_t b, int64_t e) {
          cpu::clip<T>(hp, b, e, out[k].data<T>(), grads[k].data<T>());
        });
      });
    }
  }

 private:
  // A window kernel's planes, split across threads; a plane costs a visit of each output's window.
  template <typename Fn>
  static void for_planes(const Window2d& g, Fn&& fn) {
    parallel_for(g.planes, fn, g.h.out * g.w.out * g.h.kernel * g.w.kernel + g.h.in * g.w.in);
  }

  // One tensor of an elementwise rule's step, split across threads.
  template <typename T, typename Params>
  static void step_tensor(const Params& hp, const ParamBuffers<T>& b) {
    parallel_for(b.numel, [&](int64_t begin, int64_t end) { cpu::optimizer_step<T>(hp, begin, end, b); });
  }

  // LAMB: the moments, the tensor's norms (serially, in the reference's chunk order), the update.
  template <typename T>
  static void step_tensor(const LambParams& hp, const ParamBuffers<T>& b) {
    parallel_for(b.numel, [&](int64_t begin, int64_t end) { cpu::lamb_moments<T>(hp, begin, end, b); });
    const double trust = lamb_trust_ratio(cpu::lamb_squares<T>(hp, b));
    parallel_for(b.numel, [&](int64_t begin, int64_t end) { cpu::lamb_apply<T>(hp, trust, begin, end, b); });
  }
};

}  // namespace

Backend& cpu_backend() {
  static CpuBackend backend;
  return backend;
}

}  // namespace minidl
