#include "framework/ops/checks.h"

#include "framework/core/warning.h"

namespace minidl {

void check_defined(const Tensor& x, const char* op) { MINIDL_CHECK(x.defined(), "{}: operand is an undefined tensor", op); }

void check_floating(const Tensor& x, const char* op) {
  check_defined(x, op);
  MINIDL_CHECK(is_floating(x.dtype()), "{}: expected a floating tensor (f32, f64 or bf16), got {}", op, x.describe());
}

void check_compatible(const Tensor& a, const Tensor& b, const char* op) {
  check_defined(a, op);
  check_defined(b, op);
  MINIDL_CHECK(a.device() == b.device(), "{}: operands on different devices: {} and {}", op, a.describe(),
               b.describe());
  MINIDL_CHECK(a.dtype() == b.dtype(), "{}: operands of different dtypes: {} and {}", op, a.describe(), b.describe());
}

void check_drop_probability(double p, bool training, const char* op) {
  MINIDL_CHECK(p >= 0.0 && p <= 1.0, "{}: p = {} is outside [0, 1]", op, p);
  if (training && p == 1.0)
    warn_once(fmt::format("{}: p = 1 in training drops everything it applies to, so no signal passes through "
                          "it, and no gradient flows back through it",
                          op));
}

}  // namespace minidl
