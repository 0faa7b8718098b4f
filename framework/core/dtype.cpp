#include "framework/core/dtype.h"

namespace minidl {

size_t dtype_size(DType dtype) {
  switch (dtype) {
    case DType::F32: case DType::I32: return 4;
    case DType::F64: case DType::I64: return 8;
    case DType::BF16: return 2;
    case DType::U8: case DType::Bool: return 1;
  }
  return 0;
}

std::string_view dtype_name(DType dtype) {
  switch (dtype) {
    case DType::F32: return "f32";
    case DType::F64: return "f64";
    case DType::I32: return "i32";
    case DType::I64: return "i64";
    case DType::U8: return "u8";
    case DType::Bool: return "bool";
    case DType::BF16: return "bf16";
  }
  return "?";
}

bool is_floating(DType dtype) { return dtype == DType::F32 || dtype == DType::F64 || dtype == DType::BF16; }

}  // namespace minidl
