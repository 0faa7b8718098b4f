// CPU reference LSTM cell over a batch (the rules: kernels/common/lstm_rules.h). Contiguous
// arrays: gates [batch, 4 hidden] (input, forget, cell, output pre-activations), c_prev
// [batch, hidden], y [batch, 2 hidden] holding h then c. Rows [begin, end) of the batch.
#pragma once

#include <cstdint>

namespace minidl::cpu {

template <typename T>
void lstm_cell_forward(int64_t begin, int64_t end, int64_t hidden, T* y, const T* gates, const T* c_prev);

// grad_y [batch, 2 hidden] (for h, then c) to grad_gates [batch, 4 hidden] and grad_c_prev.
template <typename T>
void lstm_cell_backward(int64_t begin, int64_t end, int64_t hidden, T* grad_gates, T* grad_c_prev, const T* grad_y,
                        const T* gates, const T* c_prev, const T* y);

}  // namespace minidl::cpu
