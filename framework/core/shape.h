// Shapes, strides and the checks that name a bad dimension.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace minidl {

using Shape = std::vector<int64_t>;

std::string shape_str(const Shape& shape);
int64_t shape_numel(const Shape& shape);
Shape contiguous_strides(const Shape& shape);

// Wraps a possibly negative dimension index into [0, ndim); throws naming the op when out of range.
int64_t wrap_dim(int64_t dim, int64_t ndim, const char* op);

// The shape two operands broadcast to (numpy rules); throws naming both shapes when they don't.
Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op);

}  // namespace minidl
