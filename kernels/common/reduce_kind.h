// The row reductions kernels implement.
#pragma once

namespace minidl {

enum class ReduceKind { Sum, Mean, Max };

}  // namespace minidl
