// Batched matrix multiply. Transposed views are passed to the GEMM as transpose flags rather
// than copied; other layouts are made contiguous first. A contiguous batch times one matrix
// (Linear on a sequence) is one GEMM over the flattened rows, so its backward needs no sum over
// the batch.
// Under autocast (autocast.h) a product with an f32 operand on a CUDA device is computed in bf16
// and returned in bf16.
#include <algorithm>

#include "framework/autograd/node.h"
#include "framework/ops/autocast.h"
#include "framework/ops/backend.h"
#include "framework/ops/checks.h"
#include "framework/ops/gradients.h"
#include "framework/ops/ops.h"

namespace minidl {

namespace {

struct MatrixLayout {
  bool usable;
  bool trans;  // stored column-major, i.e. the transpose is row-major
  int64_t ld;
};

MatrixLayout matrix_layout(int64_t rows, int64_t cols, int64_t row_stride, int64_t col_stride) {
  if ((cols == 1 || col_stride == 1) && (rows == 1 || row_stride >= std::max<int64_t>(cols, 1)))
    return {true, false, rows == 1 ? std::max<int64_t>(cols, 1) : row_stride};
  if ((rows == 1 || row_stride == 1) && (cols == 1 || col_stride >= std::max<int64_t>(rows, 1)))
    return {true, true, cols == 1 ? std::max<int64_t>(rows, 1) : col_stride};
  return {false, false, 0};
}

// The single stride between consecutive matrices of the flattened batch, or -1 when the batch
// dims cannot be flattened into one stride.
int64_t batch_stride(const Tensor& x) {
  int64_t stride = 0, expected_next = -1;
  bool first = true;
  for (int64_t d = x.dim() - 3; d >= 0; --d) {
    if (x.size(d) == 1) continue;
    const int64_t s = x.strides()[d];
    if (first) {
      stride = s;
      first = false;
    } else if (s != expected_next) {
      return -1;
    }
    expected_next = s * x.size(d);
  }
  return stride;
}

struct Operand {
  Tensor t;
  MatrixLayout layout;
  int64_t stride;
};

// x expanded to batch + its matrix dims, in a layout the GEMM can read.
Operand prepare(const Tensor& x, const Shape& batch) {
  Shape full = batch;
  full.push_back(x.size(-2));
  full.push_back(x.size(-1));
  Tensor e = expand(x.detach(), full);
  for (int attempt = 0; attempt < 2; ++attempt) {
    const MatrixLayout layout = matrix_layout(e.size(-2), e.size(-1), e.strides()[e.dim() - 2], e.strides()[e.dim() - 1]);
    const int64_t stride = batch_stride(e);
    if (layout.usable && stride >= 0) return {e, layout, stride};
    e = clone(e);
  }
  MINIDL_FAIL("matmul: no GEMM layout for {}", e.describe());
}

// The batched GEMM of checked operands of one dtype.
Tensor batched_gemm(const Tensor& a, const Tensor& b) {
  const Shape batch = broadcast_shapes(Shape(a.shape().begin(), a.shape().end() - 2),
                                       Shape(b.shape().begin(), b.shape().end() - 2), "matmul (batch dims)");
  const Operand pa = prepare(a, batch), pb = prepare(b, batch);
  Shape out_shape = batch;
  out_shape.push_back(a.size(-2));
  out_shape.push_back(b.size(-1));
  Tensor out = Tensor::empty(out_shape, a.dtype(), a.device());
  const Backend::GemmBatch gemm{shape_numel(batch), a.size(-2),      b.size(-1),      a.size(-1), pa.layout.trans,
                             pb.layout.trans,    pa.layout.ld,     pb.layout.ld,    pa.stride,  pb.stride};
  backend_for(a.device()).matmul(gemm, out, pa.t, pb.t);
  record_op("matmul", {a, b}, out, {a, b},
            [](const Tensor& g, const std::vector<Tensor>& s) { return grad::matmul(g, s[0], s[1]); });
  return out;
}

}  // namespace

Tensor matmul(const Tensor& a_in, const Tensor& b_in) {
  check_defined(a_in, "matmul");
  check_defined(b_in, "matmul");
  Tensor a = a_in, b = b_in;
  const std::optional<DType> autocast = autocast_dtype();
  if (autocast && (a.dtype() == DType::F32 || b.dtype() == DType::F32)) {
    MINIDL_CHECK(a.device().type != DeviceType::CPU,
                 "matmul: autocast to {} runs on CUDA devices (cuda, cuda-emu), got {}: the CPU computes in f32",
                 dtype_name(*autocast), a.describe());
    if (a.dtype() == DType::F32) a = to_dtype(a, *autocast);
    if (b.dtype() == DType::F32) b = to_dtype(b, *autocast);
  }
  check_compatible(a, b, "matmul");
  check_floating(a, "matmul");
  MINIDL_CHECK(a.dim() >= 2 && b.dim() >= 2, "matmul: expected operands with at least 2 dims, got {} and {}",
               a.describe(), b.describe());
  MINIDL_CHECK(a.size(-1) == b.size(-2), "matmul: inner sizes differ: {} @ {} ({} vs {})", a.describe(),
               b.describe(), a.size(-1), b.size(-2));
  if (a.dim() > 2 && b.dim() == 2 && a.numel() > 0 && a.is_contiguous()) {
    Shape out_shape = a.shape();
    out_shape.back() = b.size(1);
    return reshape(batched_gemm(reshape(a, {-1, a.size(-1)}), b), out_shape);
  }
  return batched_gemm(a, b);
}

}  // namespace minidl
