// Elementwise ops: broadcasting binary arithmetic and the activations.
#include "framework/autograd/node.h"
#include "framework/ops/backend.h"
#include "framework/ops/checks.h"
#include "framework/ops/gradients.h"
#include "framework/ops/op_id.h"
#include "framework/ops/ops.h"

namespace minidl {

namespace {

std::string name_of(OpId op) { return std::string(op_name(op)); }

// A binary op's result and the operands it was computed from.
struct BinaryResult {
  Tensor out, a, b;
};

// Runs a binary kernel on a and b broadcast to their common shape. A bf16 operand meeting an f32
// or f64 one is widened to it first (bf16 is a storage type: arithmetic with a wider operand is
// done in the wider one, as in PyTorch), through to_dtype, so its gradient comes back in bf16.
// Other mixed dtypes are an error.
BinaryResult binary_forward(OpId op, BinaryKind kind, Tensor a, Tensor b) {
  const std::string name = name_of(op);
  check_defined(a, name.c_str());
  check_defined(b, name.c_str());
  if (a.dtype() == DType::BF16 && b.dtype() != DType::BF16 && is_floating(b.dtype())) a = to_dtype(a, b.dtype());
  if (b.dtype() == DType::BF16 && a.dtype() != DType::BF16 && is_floating(a.dtype())) b = to_dtype(b, a.dtype());
  check_compatible(a, b, name.c_str());
  check_floating(a, name.c_str());
  const Shape shape = broadcast_shapes(a.shape(), b.shape(), name.c_str());
  Tensor out = Tensor::empty(shape, a.dtype(), a.device());
  backend_for(a.device()).binary(kind, out, expand(a.detach(), shape), expand(b.detach(), shape));
  return {out, a, b};
}

Tensor unary_op(OpId op, UnaryKind kind, const Tensor& x) {
  const std::string name = name_of(op);
  check_floating(x, name.c_str());
  Tensor y = Tensor::empty(x.shape(), x.dtype(), x.device());
  backend_for(x.device()).unary(kind, y, x);
  record_op(name, {x}, y, {contiguous(x), y},
            [kind](const Tensor& g, const std::vector<Tensor>& s) { return grad::unary(kind, g, s[0], s[1]); });
  return y;
}

// a op b for a number b: one input, and b in a's compute type (f32 for bf16 a, as PyTorch's Python
// numbers), never rounded to bf16.
Tensor scalar_forward(OpId op, BinaryKind kind, const Tensor& a, double b) {
  const std::string name = name_of(op);
  check_floating(a, name.c_str());
  Tensor out = Tensor::empty(a.shape(), a.dtype(), a.device());
  backend_for(a.device()).binary_scalar(kind, out, a, b);
  return out;
}

}  // namespace

Tensor add(const Tensor& a, const Tensor& b) {
  const BinaryResult r = binary_forward(OpId::Add, BinaryKind::Add, a, b);
  record_op("add", {r.a, r.b}, r.out, {}, [](const Tensor& g, const std::vector<Tensor>&) { return grad::add(g); });
  return r.out;
}

Tensor sub(const Tensor& a, const Tensor& b) {
  const BinaryResult r = binary_forward(OpId::Sub, BinaryKind::Sub, a, b);
  record_op("sub", {r.a, r.b}, r.out, {}, [](const Tensor& g, const std::vector<Tensor>&) { return grad::sub(g); });
  return r.out;
}

Tensor mul(const Tensor& a, const Tensor& b) {
  const BinaryResult r = binary_forward(OpId::Mul, BinaryKind::Mul, a, b);
  record_op("mul", {r.a, r.b}, r.out, {r.a, r.b},
            [](const Tensor& g, const std::vector<Tensor>& s) { return grad::mul(g, s[0], s[1]); });
  return r.out;
}

Tensor div(const Tensor& a, const Tensor& b) {
  const BinaryResult r = binary_forward(OpId::Div, BinaryKind::Div, a, b);
  record_op("div", {r.a, r.b}, r.out, {r.a, r.b},
            [](const Tensor& g, const std::vector<Tensor>& s) { return grad::div(g, s[0], s[1]); });
  return r.out;
}

Tensor pow(const Tensor& a, const Tensor& b) {
  const BinaryResult r = binary_forward(OpId::Pow, BinaryKind::Pow, a, b);
  record_op("pow", {r.a, r.b}, r.out, {r.a, r.b, r.out},
            [](const Tensor& g, const std::vector<Tensor>& s) { return grad::pow(g, s[0], s[1], s[2]); });
  return r.out;
}

Tensor eq(const Tensor& a, const Tensor& b) { return binary_forward(OpId::Eq, BinaryKind::Eq, a, b).out; }

Tensor add(const Tensor& a, double b) {
  Tensor out = scalar_forward(OpId::Add, BinaryKind::Add, a, b);
  record_op("add", {a}, out, {}, [](const Tensor& g, const std::vector<Tensor>&) { return grad::add_scalar(g); });
  return out;
}

Tensor mul(const Tensor& a, double b) {
  Tensor out = scalar_forward(OpId::Mul, BinaryKind::Mul, a, b);
  record_op("mul", {a}, out, {}, [b](const Tensor& g, const std::vector<Tensor>&) { return grad::mul_scalar(g, b); });
  return out;
}

Tensor pow(const Tensor& a, double b) {
  Tensor out = scalar_forward(OpId::Pow, BinaryKind::Pow, a, b);
  record_op("pow", {a}, out, {a},
            [b](const Tensor& g, const std::vector<Tensor>& s) { return grad::pow_scalar(g, s[0], b); });
  return out;
}
Tensor operator+(const Tensor& a, const Tensor& b) { return add(a, b); }
Tensor operator-(const Tensor& a, const Tensor& b) { return sub(a, b); }
Tensor operator*(const Tensor& a, const Tensor& b) { return mul(a, b); }
Tensor operator/(const Tensor& a, const Tensor& b) { return div(a, b); }
Tensor operator-(const Tensor& a) { return neg(a); }
Tensor operator*(const Tensor& a, double b) { return mul(a, b); }
Tensor operator+(const Tensor& a, double b) { return add(a, b); }

Tensor neg(const Tensor& x) { return unary_op(OpId::Neg, UnaryKind::Neg, x); }
Tensor exp(const Tensor& x) { return unary_op(OpId::Exp, UnaryKind::Exp, x); }
Tensor log(const Tensor& x) { return unary_op(OpId::Log, UnaryKind::Log, x); }
Tensor sqrt(const Tensor& x) { return unary_op(OpId::Sqrt, UnaryKind::Sqrt, x); }
Tensor relu(const Tensor& x) { return unary_op(OpId::Relu, UnaryKind::Relu, x); }
Tensor gelu(const Tensor& x) { return unary_op(OpId::Gelu, UnaryKind::Gelu, x); }
Tensor tanh(const Tensor& x) { return unary_op(OpId::Tanh, UnaryKind::Tanh, x); }
Tensor sigmoid(const Tensor& x) { return unary_op(OpId::Sigmoid, UnaryKind::Sigmoid, x); }

}  // namespace minidl
