// Element types. Bool is stored as one byte holding 0 or 1. BF16 is a storage type: CUDA kernels
// that have a bf16 form compute in f32 (kernels/common/bfloat16.h); on the CPU it only converts.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "kernels/common/bfloat16.h"

namespace minidl {

enum class DType : uint8_t { F32, F64, I32, I64, U8, Bool, BF16 };

size_t dtype_size(DType dtype);
std::string_view dtype_name(DType dtype);
bool is_floating(DType dtype);  // f32, f64 and bf16

template <typename T>
constexpr DType dtype_of();
template <> constexpr DType dtype_of<float>() { return DType::F32; }
template <> constexpr DType dtype_of<double>() { return DType::F64; }
template <> constexpr DType dtype_of<int32_t>() { return DType::I32; }
template <> constexpr DType dtype_of<int64_t>() { return DType::I64; }
template <> constexpr DType dtype_of<uint8_t>() { return DType::U8; }
template <> constexpr DType dtype_of<bf16>() { return DType::BF16; }

// Calls fn(T{}) with T the C++ type stored for dtype (uint8_t for U8 and Bool).
template <typename Fn>
decltype(auto) visit_dtype(DType dtype, Fn&& fn) {
  switch (dtype) {
    case DType::F32: return fn(float{});
    case DType::F64: return fn(double{});
    case DType::I32: return fn(int32_t{});
    case DType::I64: return fn(int64_t{});
    case DType::U8:
    case DType::Bool: return fn(uint8_t{});
    case DType::BF16: return fn(bf16{});
  }
  return fn(uint8_t{});
}

}  // namespace minidl
